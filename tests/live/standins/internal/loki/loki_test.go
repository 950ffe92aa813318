package loki

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"otelplan/tests/live/standins/internal/record"
	"otelplan/tests/live/standins/internal/send"
)

func start(t *testing.T, auth bool) (*Server, *record.Recorder) {
	t.Helper()
	rec, err := record.New(record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", AuthEnabled: auth}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rec
}

func TestTenantRequired(t *testing.T) {
	s, rec := start(t, true)
	url := "http://" + s.Addr + "/otlp/v1/logs"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := send.Build(send.Options{Signal: "logs", Service: "web", IDAttr: "test.id", IDs: []string{"x", "y", "x"}})

	code, body, err := send.SendHTTP(ctx, url, req, nil, false, false)
	if err != nil || code != http.StatusUnauthorized || strings.TrimSpace(string(body)) != "no org id" {
		t.Fatalf("no tenant: %d %q %v", code, body, err)
	}
	tenant := map[string]string{"X-Scope-OrgID": "team-a"}
	for _, tc := range []struct{ json, gz bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		code, body, err = send.SendHTTP(ctx, url, req, tenant, tc.json, tc.gz)
		if err != nil || code != http.StatusNoContent {
			t.Fatalf("%+v: %d %q %v", tc, code, body, err)
		}
	}
	st := rec.Snapshot("", "", true)
	if st.Signals[record.Logs].Items != 12 || st.Groups["team-a"] != 12 || st.IDs.Values["x"] != 8 || st.IDs.Unique != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestContentType(t *testing.T) {
	s, _ := start(t, false)
	r, _ := http.NewRequest("POST", "http://"+s.Addr+"/otlp/v1/logs", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st spb.Status
	if resp.StatusCode != 400 || proto.Unmarshal(b, &st) != nil || !strings.Contains(st.Message, "content type: text/plain is not supported") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	// no tenant needed when auth is off
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, _ := send.SendHTTP(ctx, "http://"+s.Addr+"/otlp/v1/logs", send.Build(send.Options{Signal: "logs"}), nil, false, false)
	if code != http.StatusNoContent {
		t.Fatalf("auth off: %d", code)
	}
	ready, _ := http.Get("http://" + s.Addr + "/ready")
	if ready.StatusCode != 200 {
		t.Fatalf("ready %d", ready.StatusCode)
	}
	ready.Body.Close()
}
