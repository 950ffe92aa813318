package apm

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	"otelplan/tests/live/standins/internal/record"
	"otelplan/tests/live/standins/internal/send"
)

const token = "t0ken-123"

func start(t *testing.T) (*Server, *record.Recorder) {
	t.Helper()
	rec, err := record.New(record.Options{Secrets: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", SecretToken: token, APIKeys: []string{"kid:kval"}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rec
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func bearer(v string) map[string]string { return map[string]string{"Authorization": "Bearer " + v} }

func TestGRPCOversizeIsResourceExhausted(t *testing.T) {
	s, rec := start(t)
	req := send.Build(send.Options{Signal: "traces", Service: "web", PadBytes: 4<<20 + 1024})
	code, msg := send.SendGRPC(ctx(t), s.Addr, "traces", req, bearer(token), false)
	if code != codes.ResourceExhausted.String() {
		t.Fatalf("code = %s (%s), want ResourceExhausted", code, msg)
	}
	// just under the limit passes
	req = send.Build(send.Options{Signal: "traces", Service: "web", PadBytes: 4<<20 - 4096})
	if code, msg := send.SendGRPC(ctx(t), s.Addr, "traces", req, bearer(token), false); code != "OK" {
		t.Fatalf("under the limit: %s %s", code, msg)
	}
	st := rec.Snapshot("", "", false)
	if st.Signals[record.Traces].Items != 1 || st.Rejected["grpc_message_too_large"] != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestGRPCAuth(t *testing.T) {
	s, rec := start(t)
	req := send.Build(send.Options{Signal: "logs", Service: "web", IDAttr: "test.id", IDs: []string{"a", "a", "b"}})
	for _, h := range []map[string]string{nil, bearer("wrong"), {"Authorization": "Basic eDp5"}, {"Authorization": "ApiKey bm9wZTpub3Bl"}} {
		if code, _ := send.SendGRPC(ctx(t), s.Addr, "logs", req, h, false); code != codes.Unauthenticated.String() {
			t.Fatalf("auth %v: code %s, want Unauthenticated", h, code)
		}
	}
	if code, msg := send.SendGRPC(ctx(t), s.Addr, "logs", req, bearer(token), true); code != "OK" {
		t.Fatalf("gzip with token: %s %s", code, msg)
	}
	apiKey := map[string]string{"Authorization": "ApiKey a2lkOmt2YWw="} // base64("kid:kval")
	if code, msg := send.SendGRPC(ctx(t), s.Addr, "logs", req, apiKey, false); code != "OK" {
		t.Fatalf("api key: %s %s", code, msg)
	}
	st := rec.Snapshot("", "", true)
	if st.IDs.Total != 6 || st.IDs.Unique != 2 || st.IDs.Duplicates != 4 || st.IDs.Values["a"] != 4 {
		t.Fatalf("ids = %+v", st.IDs)
	}
	if st.Services["web"][record.Logs] != 6 {
		t.Fatalf("services = %+v", st.Services)
	}
	if len(st.Leaks) != 0 {
		t.Fatalf("unexpected leaks %v", st.Leaks)
	}
}

func TestHTTP(t *testing.T) {
	s, rec := start(t)
	base := "http://" + s.Addr
	req := send.Build(send.Options{Signal: "metrics", Service: "worker", Metric: "m", Count: 3})

	code, _, err := send.SendHTTP(ctx(t), base+"/v1/metrics", req, bearer("nope"), false, false)
	if err != nil || code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %v", code, err)
	}
	// JSON is not accepted: APM Server only unmarshals protobuf.
	code, body, err := send.SendHTTP(ctx(t), base+"/v1/metrics", req, bearer(token), true, false)
	if err != nil || code != http.StatusBadRequest {
		t.Fatalf("json: %d %v", code, err)
	}
	var st spb.Status
	if err := proto.Unmarshal(body, &st); err != nil || codes.Code(st.Code) != codes.InvalidArgument {
		t.Fatalf("json error body: %v %+v", err, &st)
	}
	code, _, err = send.SendHTTP(ctx(t), base+"/v1/metrics", req, bearer(token), false, true)
	if err != nil || code != http.StatusOK {
		t.Fatalf("gzip protobuf: %d %v", code, err)
	}
	hdr := bearer(token)
	hdr["X-Extra"] = "copy of " + token
	if code, _, _ = send.SendHTTP(ctx(t), base+"/v1/metrics", req, hdr, false, false); code != http.StatusOK {
		t.Fatalf("second: %d", code)
	}
	snap := rec.Snapshot("", "", false)
	if snap.Signals[record.Metrics].Items != 6 || snap.Leaks["header:x-extra"] != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	if snap.ByStatus["401"] != 1 || snap.ByStatus["400"] != 1 || snap.ByStatus["200"] != 2 {
		t.Fatalf("by status %v", snap.ByStatus)
	}
}

func TestRoot(t *testing.T) {
	s, _ := start(t)
	get := func(method, auth string) (int, string) {
		r, _ := http.NewRequest(method, "http://"+s.Addr+"/", nil)
		r.Header.Set("Accept", "application/json")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, b := get("GET", ""); c != 200 || b != "" {
		t.Fatalf("anonymous GET /: %d %q", c, b)
	}
	if c, b := get("GET", "Bearer "+token); c != 200 || !strings.Contains(b, `"version": "9.5.2"`) {
		t.Fatalf("authorized GET /: %d %q", c, b)
	}
	if c, _ := get("POST", "Bearer "+token); c != 405 {
		t.Fatalf("POST /: %d", c)
	}
	if c, _ := get("HEAD", ""); c != 200 {
		t.Fatal("HEAD /")
	}
	r, _ := http.Get("http://" + s.Addr + "/intake/v3/unknown")
	if r.StatusCode != 404 {
		t.Fatalf("unknown path: %d", r.StatusCode)
	}
	r.Body.Close()
}
