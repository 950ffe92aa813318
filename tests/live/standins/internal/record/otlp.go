package record

// Turning OTLP payloads (pdata, go.opentelemetry.io/collector/pdata v1.58.0)
// into counted items: one item per span, per metric data point and per log
// record, with the resource's service.name and the id attribute looked up on
// the item first, then on its resource.

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func attrString(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}

func (r *Recorder) idFrom(item, resource pcommon.Map) string {
	if id := attrString(item, r.opts.IDAttr); id != "" {
		return id
	}
	return attrString(resource, r.opts.IDAttr)
}

// TraceItems lists one item per span.
func (r *Recorder) TraceItems(td ptrace.Traces, group string) []Item {
	items := make([]Item, 0, td.SpanCount())
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		svc := attrString(res, "service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				items = append(items, Item{Signal: Traces, Service: svc, ID: r.idFrom(sp.Attributes(), res), Group: group, Name: sp.Name()})
			}
		}
	}
	return items
}

// MetricItems lists one item per data point.
func (r *Recorder) MetricItems(md pmetric.Metrics, group string) []Item {
	items := make([]Item, 0, md.DataPointCount())
	for _, rm := range md.ResourceMetrics().All() {
		res := rm.Resource().Attributes()
		svc := attrString(res, "service.name")
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				add := func(attrs pcommon.Map) {
					items = append(items, Item{Signal: Metrics, Service: svc, ID: r.idFrom(attrs, res), Group: group, Name: m.Name()})
				}
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for _, dp := range m.Gauge().DataPoints().All() {
						add(dp.Attributes())
					}
				case pmetric.MetricTypeSum:
					for _, dp := range m.Sum().DataPoints().All() {
						add(dp.Attributes())
					}
				case pmetric.MetricTypeHistogram:
					for _, dp := range m.Histogram().DataPoints().All() {
						add(dp.Attributes())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for _, dp := range m.ExponentialHistogram().DataPoints().All() {
						add(dp.Attributes())
					}
				case pmetric.MetricTypeSummary:
					for _, dp := range m.Summary().DataPoints().All() {
						add(dp.Attributes())
					}
				}
			}
		}
	}
	return items
}

// LogItems lists one item per log record.
func (r *Recorder) LogItems(ld plog.Logs, group string) []Item {
	items := make([]Item, 0, ld.LogRecordCount())
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		svc := attrString(res, "service.name")
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				body := lr.Body().AsString()
				if len(body) > 80 {
					body = body[:80]
				}
				items = append(items, Item{Signal: Logs, Service: svc, ID: r.idFrom(lr.Attributes(), res), Group: group, Name: body})
			}
		}
	}
	return items
}
