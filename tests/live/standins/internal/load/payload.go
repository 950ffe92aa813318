package load

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The items look like what a Django service of the DKP stack sends through
// the Python SDK and the instrumentations otelplan configures: per request
// one server span with the HTTP semantic conventions' attributes, database
// and cache client spans with their query text, log records with the code
// location and the trace context, and the HTTP and database client metrics.

// Encode returns one OTLP export request of n items of signal, encoded as
// protobuf; variant changes the ids and numbers so that requests differ.
func Encode(signal, service string, variant, n int) []byte {
	var b []byte
	var err error
	switch signal {
	case "traces":
		b, err = ptraceotlp.NewExportRequestFromTraces(traces(service, variant, n)).MarshalProto()
	case "logs":
		b, err = plogotlp.NewExportRequestFromLogs(logs(service, variant, n)).MarshalProto()
	default:
		b, err = pmetricotlp.NewExportRequestFromMetrics(metrics(service, variant, n)).MarshalProto()
	}
	if err != nil {
		panic(err) // pdata always encodes what it built
	}
	return b
}

func resource(r pcommon.Resource, service string, variant int) {
	a := r.Attributes()
	a.PutStr("service.name", service)
	a.PutStr("service.version", "2026.12.1")
	a.PutStr("service.instance.id", fmt.Sprintf("3f6c1a52-9d4e-4b8a-a1c7-%012d", variant))
	a.PutStr("deployment.environment.name", "production")
	a.PutStr("telemetry.sdk.language", "python")
	a.PutStr("telemetry.sdk.name", "opentelemetry")
	a.PutStr("telemetry.sdk.version", "1.39.0")
	a.PutStr("host.name", fmt.Sprintf("%s-7d9f8b6c5-%05d", service, variant))
	a.PutInt("process.pid", int64(1000+variant))
	a.PutStr("process.runtime.name", "cpython")
	a.PutStr("process.runtime.version", "3.12.8")
}

func id16(variant, i int) pcommon.TraceID {
	var t [16]byte
	copy(t[:], fmt.Sprintf("%04x%012x", variant, i))
	return pcommon.TraceID(t)
}

func id8(variant, i int) pcommon.SpanID {
	var s [8]byte
	copy(s[:], fmt.Sprintf("%02x%06x", variant%256, i))
	return pcommon.SpanID(s)
}

const query = "SELECT orders.id, orders.customer_id, orders.status, orders.total_cents, orders.created_at " +
	"FROM orders_order AS orders WHERE orders.customer_id = %s AND orders.status IN (%s, %s) ORDER BY orders.created_at DESC LIMIT 21"

func traces(service string, variant, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	resource(rs.Resource(), service, variant)
	now := time.Now()
	scopes := map[string]ptrace.SpanSlice{}
	scope := func(name, version string) ptrace.SpanSlice {
		if s, ok := scopes[name]; ok {
			return s
		}
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(name)
		ss.Scope().SetVersion(version)
		scopes[name] = ss.Spans()
		return ss.Spans()
	}
	// Five spans per request: the server span, two queries, a cache call and an outgoing call.
	for i := 0; i < n; i++ {
		req, part := i/5, i%5
		start := now.Add(-time.Duration(40+i%17) * time.Millisecond)
		var sp ptrace.Span
		switch part {
		case 0:
			sp = scope("opentelemetry.instrumentation.django", "0.60b0").AppendEmpty()
			sp.SetName("GET /api/orders/<int:pk>/")
			sp.SetKind(ptrace.SpanKindServer)
			a := sp.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/api/orders/<int:pk>/")
			a.PutStr("url.path", fmt.Sprintf("/api/orders/%d/", 100000+req))
			a.PutStr("url.scheme", "https")
			a.PutStr("server.address", "dkp.example.com")
			a.PutInt("server.port", 443)
			a.PutStr("client.address", fmt.Sprintf("10.42.%d.%d", variant, req%250))
			a.PutStr("network.protocol.version", "1.1")
			a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
			a.PutInt("http.response.status_code", 200)
		case 1, 2:
			sp = scope("opentelemetry.instrumentation.psycopg", "0.60b0").AppendEmpty()
			sp.SetName("SELECT dkp")
			sp.SetKind(ptrace.SpanKindClient)
			a := sp.Attributes()
			a.PutStr("db.system.name", "postgresql")
			a.PutStr("db.namespace", "dkp")
			a.PutStr("db.operation.name", "SELECT")
			a.PutStr("db.query.text", fmt.Sprintf(query, "%s", "%s", "%s"))
			a.PutStr("server.address", "db")
			a.PutInt("server.port", 5432)
		case 3:
			sp = scope("opentelemetry.instrumentation.redis", "0.60b0").AppendEmpty()
			sp.SetName("GET")
			sp.SetKind(ptrace.SpanKindClient)
			a := sp.Attributes()
			a.PutStr("db.system.name", "redis")
			a.PutStr("db.operation.name", "GET")
			a.PutStr("db.query.text", fmt.Sprintf("GET session:%032x", req))
			a.PutStr("server.address", "cache")
			a.PutInt("server.port", 6379)
			a.PutInt("db.namespace", 0)
		default:
			sp = scope("opentelemetry.instrumentation.elasticsearch", "0.60b0").AppendEmpty()
			sp.SetName("search")
			sp.SetKind(ptrace.SpanKindClient)
			a := sp.Attributes()
			a.PutStr("db.system.name", "elasticsearch")
			a.PutStr("db.operation.name", "search")
			a.PutStr("http.request.method", "POST")
			a.PutStr("url.full", "http://search:9200/products/_search")
			a.PutStr("server.address", "search")
			a.PutInt("server.port", 9200)
		}
		sp.SetTraceID(id16(variant, req))
		sp.SetSpanID(id8(variant, i+1))
		if part > 0 {
			sp.SetParentSpanID(id8(variant, req*5+1))
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(1+i%9) * time.Millisecond)))
		sp.Status().SetCode(ptrace.StatusCodeUnset)
	}
	return td
}

func logs(service string, variant, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	resource(rl.Resource(), service, variant)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("django.request")
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(now)
		lr.SetObservedTimestamp(now)
		if i%10 == 9 {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARNING")
			lr.Body().SetStr(fmt.Sprintf("Order %d: payment provider answered slowly (1.8 s), retrying once", 100000+i))
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr(fmt.Sprintf("Order %d fetched for customer %d in 12 ms (cache hit)", 100000+i, 5000+i%300))
		}
		lr.SetTraceID(id16(variant, i/2))
		lr.SetSpanID(id8(variant, i/2*5+1))
		a := lr.Attributes()
		a.PutStr("code.file.path", "/app/dkp/orders/views.py")
		a.PutStr("code.function.name", "OrderDetailView.get")
		a.PutInt("code.line.number", 87)
		a.PutStr("logger.name", "dkp.orders")
	}
	return ld
}

// Duration buckets the HTTP semantic conventions advise, seconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func metrics(service string, variant, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	resource(rm.Resource(), service, variant)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("opentelemetry.instrumentation.django")
	now := time.Now()
	start := pcommon.NewTimestampFromTime(now.Add(-time.Hour))
	ts := pcommon.NewTimestampFromTime(now)
	// A third histograms of request durations per route and status, a third
	// connection-pool gauges, a third counters.
	hist := sm.Metrics().AppendEmpty()
	hist.SetName("http.server.request.duration")
	hist.SetUnit("s")
	h := hist.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	gauge := sm.Metrics().AppendEmpty()
	gauge.SetName("db.client.connection.count")
	g := gauge.SetEmptyGauge()
	sum := sm.Metrics().AppendEmpty()
	sum.SetName("http.server.active_requests")
	s := sum.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.Attributes().PutStr("http.request.method", "GET")
			dp.Attributes().PutStr("http.route", fmt.Sprintf("/api/route%d/<int:pk>/", i%97))
			dp.Attributes().PutInt("http.response.status_code", 200)
			dp.Attributes().PutStr("url.scheme", "https")
			dp.ExplicitBounds().FromRaw(buckets)
			counts := make([]uint64, len(buckets)+1)
			total := uint64(0)
			for k := range counts {
				counts[k] = uint64((i + k + variant) % 40)
				total += counts[k]
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(total)
			dp.SetSum(float64(total) * 0.042)
		case 1:
			dp := g.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.Attributes().PutStr("db.client.connection.pool.name", fmt.Sprintf("default-%d", i%31))
			dp.Attributes().PutStr("db.client.connection.state", "used")
			dp.SetIntValue(int64(i % 20))
		default:
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.Attributes().PutStr("http.request.method", "GET")
			dp.Attributes().PutStr("url.scheme", "https")
			dp.Attributes().PutStr("server.address", fmt.Sprintf("web-%d", i%53))
			dp.SetIntValue(int64(i % 7))
		}
	}
	return md
}
