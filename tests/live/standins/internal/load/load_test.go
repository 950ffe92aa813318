package load

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func TestMixSharesSumToOne(t *testing.T) {
	w, err := parseMix("mixed", "5:2:3")
	if err != nil {
		t.Fatal(err)
	}
	if w["traces"] != 0.5 || w["logs"] != 0.2 || w["metrics"] != 0.3 {
		t.Fatalf("shares %v", w)
	}
	if w, _ := parseMix("logs", "ignored"); len(w) != 1 || w["logs"] != 1 {
		t.Fatalf("single signal %v", w)
	}
	for _, bad := range []string{"1:2", "a:b:c", "0:0:0", "-1:1:1"} {
		if _, err := parseMix("mixed", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseMix("profiles", ""); err == nil {
		t.Error("unknown signal accepted")
	}
}

func TestPayloadsDecodeWithTheirItemCount(t *testing.T) {
	const n = 512
	tr := ptraceotlp.NewExportRequest()
	if err := tr.UnmarshalProto(Encode("traces", "web", 3, n)); err != nil || tr.Traces().SpanCount() != n {
		t.Fatalf("traces: %v, %d spans", err, tr.Traces().SpanCount())
	}
	lg := plogotlp.NewExportRequest()
	if err := lg.UnmarshalProto(Encode("logs", "web", 3, n)); err != nil || lg.Logs().LogRecordCount() != n {
		t.Fatalf("logs: %v, %d records", err, lg.Logs().LogRecordCount())
	}
	mt := pmetricotlp.NewExportRequest()
	if err := mt.UnmarshalProto(Encode("metrics", "web", 3, n)); err != nil || mt.Metrics().DataPointCount() != n {
		t.Fatalf("metrics: %v, %d points", err, mt.Metrics().DataPointCount())
	}
	// Variants differ (ids and numbers), so requests are not byte-identical.
	if string(Encode("traces", "web", 1, 5)) == string(Encode("traces", "web", 2, 5)) {
		t.Error("variants are identical")
	}
}
