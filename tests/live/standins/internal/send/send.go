// Package send is a tiny OTLP client for smoke tests: it builds one request
// of traces, metrics (a gauge) or logs and sends it over OTLP/gRPC or
// OTLP/HTTP (protobuf or JSON, optionally gzip), printing the answer.
//
// It follows the OTLP specification's transport rules (opentelemetry-proto
// v1.x, docs/specification.md: POST with Content-Type
// application/x-protobuf or application/json; gRPC services
// opentelemetry.proto.collector.*.v1.*Service/Export) and uses the pdata
// request types of go.opentelemetry.io/collector/pdata v1.58.0.
package send

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Options describe one request.
type Options struct {
	Signal   string // traces, metrics, logs
	Service  string
	IDAttr   string
	IDs      []string // one item per id (at least one item)
	Count    int      // items when no ids are given
	PadBytes int      // size of an extra attribute, to make large requests
	Metric   string   // gauge name
}

type marshaler interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// Build returns the export request for o.
func Build(o Options) marshaler {
	n := len(o.IDs)
	if n == 0 {
		n = max(o.Count, 1)
	}
	pad := strings.Repeat("x", o.PadBytes)
	setAttrs := func(m pcommon.Map, i int) {
		if len(o.IDs) > 0 && o.IDAttr != "" {
			m.PutStr(o.IDAttr, o.IDs[i])
		}
		if pad != "" {
			m.PutStr("padding", pad)
		}
	}
	now := pcommon.NewTimestampFromTime(time.Now())
	switch o.Signal {
	case "metrics":
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", o.Service)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(o.Metric)
		g := m.SetEmptyGauge()
		for i := 0; i < n; i++ {
			dp := g.DataPoints().AppendEmpty()
			dp.SetTimestamp(now)
			dp.SetDoubleValue(float64(i + 1))
			dp.Attributes().PutInt("n", int64(i))
			setAttrs(dp.Attributes(), i)
		}
		return pmetricotlp.NewExportRequestFromMetrics(md)
	case "logs":
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", o.Service)
		sl := rl.ScopeLogs().AppendEmpty()
		for i := 0; i < n; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(now)
			lr.SetObservedTimestamp(now)
			lr.SetSeverityText("INFO")
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(fmt.Sprintf("standin send log %d", i))
			setAttrs(lr.Attributes(), i)
		}
		return plogotlp.NewExportRequestFromLogs(ld)
	default:
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", o.Service)
		ss := rs.ScopeSpans().AppendEmpty()
		start := time.Now().Add(-50 * time.Millisecond)
		var tid [16]byte
		copy(tid[:], fmt.Sprintf("%016x", time.Now().UnixNano()))
		for i := 0; i < n; i++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(fmt.Sprintf("standin-span-%d", i))
			sp.SetTraceID(pcommon.TraceID(tid))
			var sid [8]byte
			copy(sid[:], fmt.Sprintf("%08x", i+1))
			sp.SetSpanID(pcommon.SpanID(sid))
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(now)
			setAttrs(sp.Attributes(), i)
		}
		return ptraceotlp.NewExportRequestFromTraces(td)
	}
}

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ",") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// Main runs `standins send`.
func Main(args []string) int {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	sig := fs.String("signal", "traces", "traces, metrics or logs")
	proto := fs.String("protocol", "http", "grpc or http")
	endpoint := fs.String("endpoint", "", "grpc: host:port; http: full URL (e.g. http://127.0.0.1:4318/v1/traces)")
	asJSON := fs.Bool("json", false, "http: send JSON instead of protobuf")
	gz := fs.Bool("gzip", false, "compress the request")
	svc := fs.String("service", "standin-send", "service.name")
	idAttr := fs.String("id-attr", "test.id", "attribute carrying the ids")
	ids := fs.String("ids", "", "comma-separated ids: one item each")
	count := fs.Int("count", 1, "items when no ids are given")
	pad := fs.Int("pad-bytes", 0, "add a string attribute of this size to every item")
	metric := fs.String("metric", "standin_smoke", "gauge name (metrics)")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	var headers headerList
	fs.Var(&headers, "header", "extra header Key=Value (repeatable)")
	_ = fs.Parse(args)
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "send: --endpoint is required")
		return 2
	}
	var idList []string
	for _, s := range strings.Split(*ids, ",") {
		if s = strings.TrimSpace(s); s != "" {
			idList = append(idList, s)
		}
	}
	req := Build(Options{Signal: *sig, Service: *svc, IDAttr: *idAttr, IDs: idList, Count: *count, PadBytes: *pad, Metric: *metric})
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	hdr := map[string]string{}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, "=")
		hdr[k] = v
	}
	if *proto == "grpc" {
		code, msg := SendGRPC(ctx, *endpoint, *sig, req, hdr, *gz)
		fmt.Printf("grpc status=%s message=%q\n", code, msg)
		if code != "OK" {
			return 1
		}
		return 0
	}
	code, body, err := SendHTTP(ctx, *endpoint, req, hdr, *asJSON, *gz)
	if err != nil {
		fmt.Printf("http error=%v\n", err)
		return 1
	}
	fmt.Printf("http status=%d body_bytes=%d\n", code, len(body))
	if code/100 != 2 && len(body) > 0 {
		fmt.Printf("body: %q\n", body)
	}
	if code/100 != 2 {
		return 1
	}
	return 0
}

// SendHTTP posts req and returns the status code and body.
func SendHTTP(ctx context.Context, url string, req marshaler, hdr map[string]string, asJSON, gz bool) (int, []byte, error) {
	var b []byte
	var err error
	ct := "application/x-protobuf"
	if asJSON {
		b, err = req.MarshalJSON()
		ct = "application/json"
	} else {
		b, err = req.MarshalProto()
	}
	if err != nil {
		return 0, nil, err
	}
	if gz {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		b = buf.Bytes()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	hr.Header.Set("Content-Type", ct)
	if gz {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range hdr {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, nil
}

// SendGRPC exports req over an insecure gRPC connection and returns the
// status code name and message.
func SendGRPC(ctx context.Context, target, signal string, req marshaler, hdr map[string]string, gz bool) (string, string) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "Unavailable", err.Error()
	}
	defer conn.Close()
	var md []string
	for k, v := range hdr {
		md = append(md, strings.ToLower(k), v)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	var opts []grpc.CallOption
	if gz {
		opts = append(opts, grpc.UseCompressor(grpcgzip.Name))
	}
	switch r := req.(type) {
	case ptraceotlp.ExportRequest:
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, r, opts...)
	case pmetricotlp.ExportRequest:
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, r, opts...)
	case plogotlp.ExportRequest:
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, r, opts...)
	default:
		return "Internal", "unknown request type for " + signal
	}
	st := status.Convert(err)
	return st.Code().String(), st.Message()
}
