package es

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-docappender/v2"

	"otelplan/tests/live/standins/internal/record"
)

func start(t *testing.T, cfg Config) (*Server, *record.Recorder) {
	t.Helper()
	rec, err := record.New(record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	s, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rec
}

const bulkBody = `{"create":{"_index":"logs-generic.otel-default"}}
{"@timestamp":"2026-12-07T00:00:00Z","body":{"text":"a"},"attributes":{"test.id":"id-1"},"resource":{"attributes":{"service.name":"web"}}}
{"create":{"_index":"logs-generic.otel-default"}}
{"@timestamp":"2026-12-07T00:00:00Z","body":{"text":"b"},"attributes":{"test.id":"id-2"},"resource":{"attributes":{"service.name":"web"}}}
{"create":{"_index":"logs-generic.otel-default"}}
{"@timestamp":"2026-12-07T00:00:00Z","body":{"text":"c"},"attributes":{"test.id":"id-3"},"resource":{"attributes":{"service.name":"web"}}}
{"create":{"_index":"traces-apm-default"}}
{"@timestamp":"2026-12-07T00:00:00Z","service":{"name":"api"},"labels":{"test_id":"id-4"},"span":{"name":"GET /"}}
`

func do(t *testing.T, method, u, auth string, body []byte, gz bool) (*http.Response, map[string]any) {
	t.Helper()
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write(body)
		_ = w.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

func TestInfoAndAuth(t *testing.T) {
	s, _ := start(t, Config{User: "elastic", Password: "pw", APIKeys: []string{"id1:key1"}})
	base := "http://" + s.Addr
	resp, m := do(t, "GET", base+"/", "", nil, false)
	if resp.StatusCode != 401 || len(resp.Header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("no auth: %d %v", resp.StatusCode, resp.Header)
	}
	if e, _ := m["error"].(map[string]any); e["type"] != "security_exception" {
		t.Fatalf("401 body %v", m)
	}
	resp, _ = do(t, "GET", base+"/", "Basic ZWxhc3RpYzp3cm9uZw==", nil, false) // elastic:wrong
	if resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, m = do(t, "GET", base+"/", "Basic ZWxhc3RpYzpwdw==", nil, false) // elastic:pw
	if resp.StatusCode != 200 || resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatalf("basic: %d %v", resp.StatusCode, resp.Header)
	}
	if v, _ := m["version"].(map[string]any); !strings.HasPrefix(v["number"].(string), "9.") || m["cluster_uuid"] == "" {
		t.Fatalf("info %v", m)
	}
	resp, _ = do(t, "GET", base+"/_license", "ApiKey aWQxOmtleTE=", nil, false) // id1:key1
	if resp.StatusCode != 200 {
		t.Fatalf("api key: %d", resp.StatusCode)
	}
}

func TestBulkShape(t *testing.T) {
	s, rec := start(t, Config{})
	resp, m := do(t, "POST", "http://"+s.Addr+"/_bulk", "", []byte(bulkBody), true)
	if resp.StatusCode != 200 || m["errors"] != false || resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatalf("bulk: %d %v", resp.StatusCode, m)
	}
	items := m["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("items %v", items)
	}
	first := items[0].(map[string]any)["create"].(map[string]any)
	if first["status"].(float64) != 201 || first["result"] != "created" || !strings.HasPrefix(first["_index"].(string), ".ds-logs-generic.otel-default-") {
		t.Fatalf("item %v", first)
	}
	st := rec.Snapshot("", "", true)
	if st.Signals[record.Logs].Items != 3 || st.Signals[record.Traces].Items != 1 || st.Services["web"][record.Logs] != 3 || st.Services["api"][record.Traces] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st.IDs.Unique != 4 || st.IDs.Values["id-4"] != 1 {
		t.Fatalf("ids %+v", st.IDs)
	}
}

func TestBulkPartialFailureShape(t *testing.T) {
	s, rec := start(t, Config{})
	if err := s.SetFault(FaultPartial, 0, "o40o"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"filter_path": {"items.*._index,items.*.status,items.*.failure_store,items.*.error.type,items.*.error.reason"}}
	resp, m := do(t, "POST", "http://"+s.Addr+"/_bulk?"+q.Encode(), "", []byte(bulkBody), false)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, ok := m["errors"]; ok {
		t.Fatalf("filter_path should drop errors: %v", m)
	}
	items := m["items"].([]any)
	want := []float64{201, 429, 400, 201}
	for i, it := range items {
		c := it.(map[string]any)["create"].(map[string]any)
		if c["status"].(float64) != want[i] {
			t.Fatalf("item %d: %v", i, c)
		}
		if _, ok := c["_id"]; ok {
			t.Fatalf("filter_path should drop _id: %v", c)
		}
		if want[i] == 429 && c["error"].(map[string]any)["type"] != "es_rejected_execution_exception" {
			t.Fatalf("429 item %v", c)
		}
		if want[i] == 400 && (c["error"].(map[string]any)["type"] != "document_parsing_exception" || c["failure_store"] != "not_enabled") {
			t.Fatalf("400 item %v", c)
		}
	}
	st := rec.Snapshot("", "", false)
	if st.Signals[record.Logs].Items+st.Signals[record.Traces].Items != 2 || st.Rejected["item_429"] != 1 || st.Rejected["item_400"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// The client the collector's elasticsearch exporter and APM Server use.
func TestDocappenderClient(t *testing.T) {
	s, rec := start(t, Config{User: "elastic", Password: "pw"})
	u, _ := url.Parse("http://" + s.Addr)
	tp, err := elastictransport.New(elastictransport.Config{URLs: []*url.URL{u}, Username: "elastic", Password: "pw", DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	bi, err := docappender.NewBulkIndexer(docappender.BulkIndexerConfig{Client: tp, CompressionLevel: 1, RetryOnDocumentStatus: []int{429}, MaxDocumentRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	add := func(n int) {
		for i := 0; i < n; i++ {
			doc := `{"@timestamp":"2026-12-07T00:00:00Z","attributes":{"test.id":"d` + string(rune('a'+i)) + `"},"resource":{"attributes":{"service.name":"web"}}}`
			if err := bi.Add(docappender.BulkIndexerItem{Index: "logs-generic.otel-default", Body: strings.NewReader(doc)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_ = s.SetFault(FaultPartial, 0, "o40o")
	add(4)
	stat, err := bi.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stat.Indexed != 2 || len(stat.FailedDocs) != 1 || stat.RetriedDocs != 1 || stat.FailureStoreDocs.NotEnabled != 1 {
		t.Fatalf("partial: %+v", stat)
	}
	if stat.FailedDocs[0].Status != 400 || stat.FailedDocs[0].Error.Type != "document_parsing_exception" {
		t.Fatalf("failed doc %+v", stat.FailedDocs[0])
	}
	// the 429 document was kept for retry: flush it with the fault cleared
	_ = s.SetFault(FaultNone, 0, "")
	stat, err = bi.Flush(ctx)
	if err != nil || stat.Indexed != 1 {
		t.Fatalf("retry: %+v %v", stat, err)
	}
	if got := rec.Snapshot("", "", false).IDs.Unique; got != 3 {
		t.Fatalf("unique ids %d, want 3", got)
	}

	for _, mode := range []string{Fault429, Fault503} {
		_ = s.SetFault(mode, 0, "")
		add(1)
		_, err = bi.Flush(ctx)
		var ff docappender.ErrorFlushFailed
		if !asFlushFailed(err, &ff) {
			t.Fatalf("%s: err %v", mode, err)
		}
		if (mode == Fault429 && ff.StatusCode() != 429) || (mode == Fault503 && ff.StatusCode() != 503) {
			t.Fatalf("%s: %v", mode, ff)
		}
	}
}

func TestDownFault(t *testing.T) {
	s, _ := start(t, Config{})
	admin := "http://" + s.AdminAddr
	resp, err := http.Post(admin+"/_standin/fault?mode=down&seconds=0.5", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set down: %v", err)
	}
	resp.Body.Close()
	c := &http.Client{Timeout: time.Second}
	if _, err := c.Get("http://" + s.Addr + "/"); err == nil {
		t.Fatal("main port still answers while down")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := c.Get("http://" + s.Addr + "/")
		if err == nil {
			r.Body.Close()
			if r.StatusCode != 200 {
				t.Fatalf("after down: %d", r.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not come back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// 429 for every request, set from the admin endpoint with a JSON body
	resp, _ = http.Post(admin+"/_standin/fault", "application/json", strings.NewReader(`{"mode":"429","seconds":30}`))
	resp.Body.Close()
	r, _ := c.Get("http://" + s.Addr + "/")
	if r.StatusCode != 429 || r.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatalf("429 mode: %d", r.StatusCode)
	}
	r.Body.Close()
}

func asFlushFailed(err error, out *docappender.ErrorFlushFailed) bool { return errors.As(err, out) }

func doRaw(t *testing.T, method, u, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
