// Package loki is a stand-in for Grafana Loki 3.x's OTLP log intake.
//
// Upstream code it follows (read, not copied), grafana/loki at tag v3.7.6:
//   - pkg/loki/modules.go: POST /otlp/v1/logs behind the HTTP auth middleware;
//     pkg/util/fakeauth/fake_auth.go: with auth_enabled the middleware is
//     grafana/dskit's middleware.AuthenticateUser (no X-Scope-OrgID: 401,
//     text "no org id"), without it every request is tenant "fake".
//   - pkg/loghttp/push/otlp.go (extractLogs): Content-Encoding "" or gzip (zstd
//     and lz4 too upstream, not here: they are answered 400); the compressed
//     body is limited by distributor.max-recv-msg-size (100 MiB), the
//     decompressed one by max-decompressed-size (50x); Content-Type must be
//     exactly application/x-protobuf or application/json, else 400
//     "content type: X is not supported".
//   - pkg/distributor/http.go (pushHandler): success is 204 No Content;
//     errors go through push.OTLPError (pkg/loghttp/push/push.go): status code
//     in the header (500 mapped to 503), body a protobuf google.rpc.Status
//     with code 0 and the message.
//   - pkg/loki/loki.go readyHandler: GET /ready is 200 "ready" once running.
//
// Differences: nothing is stored or queryable; limits (labels, line size,
// rate, timestamps) are not enforced; tenant ids are not validated beyond
// being non-empty.
package loki

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"otelplan/tests/live/standins/internal/common"
	"otelplan/tests/live/standins/internal/record"
)

// Config configures the stand-in.
type Config struct {
	Listen         string
	AuthEnabled    bool  // require X-Scope-OrgID
	MaxRecvMsgSize int64 // compressed body limit, default 100 MiB
}

// Server is a running stand-in.
type Server struct {
	cfg   Config
	rec   *record.Recorder
	admin *common.Admin
	http  *common.Switchable
	Addr  string
	close sync.Once
}

// New starts the stand-in.
func New(cfg Config, rec *record.Recorder) (*Server, error) {
	if cfg.MaxRecvMsgSize <= 0 {
		cfg.MaxRecvMsgSize = 100 << 20
	}
	s := &Server{cfg: cfg, rec: rec}
	s.admin = common.NewAdmin("loki", "Grafana Loki 3.7.6 (OTLP log intake)", rec, func() map[string]any {
		return map[string]any{"auth_enabled": cfg.AuthEnabled}
	})
	mux := http.NewServeMux()
	mux.Handle("/_standin/", s.admin)
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("POST /otlp/v1/logs", s.otlpLogs)
	sw, err := common.NewSwitchable(cfg.Listen, common.CountStatus(rec, mux), nil)
	if err != nil {
		return nil, err
	}
	s.http, s.Addr = sw, sw.Addr
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.close.Do(func() { s.http.Close() }) }

func otlpError(w http.ResponseWriter, msg string, code int) {
	if code == http.StatusInternalServerError {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	b, _ := proto.Marshal(status.New(codes.OK, msg).Proto())
	_, _ = w.Write(b)
}

func (s *Server) otlpLogs(w http.ResponseWriter, r *http.Request) {
	s.rec.Auth(r.Header.Get("Authorization"))
	tenant := "fake"
	if s.cfg.AuthEnabled {
		tenant = r.Header.Get("X-Scope-OrgID")
		if tenant == "" {
			s.rec.Rejected("no_org_id")
			http.Error(w, "no org id", http.StatusUnauthorized)
			return
		}
	}
	if strings.Contains(tenant, "|") {
		// multi-tenant pushes are refused by the distributor (tenant.TenantID)
		s.rec.Rejected("multiple_tenants")
		otlpError(w, "multiple org IDs present", http.StatusBadRequest)
		return
	}

	// compressed size first, as extractLogs does
	raw, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxRecvMsgSize+1))
	if err != nil {
		s.rec.Rejected("bad_body")
		otlpError(w, err.Error(), http.StatusBadRequest)
		return
	}
	if int64(len(raw)) > s.cfg.MaxRecvMsgSize {
		s.rec.Rejected("too_large")
		otlpError(w, fmt.Sprintf("message size too large than max (%d vs %d)", len(raw), s.cfg.MaxRecvMsgSize), http.StatusRequestEntityTooLarge)
		return
	}
	var body []byte
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
		body = raw
	case "gzip":
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(strings.NewReader(string(raw)))
		body, err = common.ReadBody(r2, s.cfg.MaxRecvMsgSize*50)
		if errors.Is(err, common.ErrTooLarge) {
			s.rec.Rejected("too_large")
			otlpError(w, "decompressed message size too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			s.rec.Rejected("bad_body")
			otlpError(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		s.rec.Rejected("bad_encoding")
		otlpError(w, fmt.Sprintf("unsupported content encoding %s: only gzip is supported by the stand-in", enc), http.StatusBadRequest)
		return
	}
	s.rec.CheckLeaks(r.Header, body)

	req := plogotlp.NewExportRequest()
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-protobuf":
		err = req.UnmarshalProto(body)
	case "application/json":
		err = req.UnmarshalJSON(body)
	default:
		err = fmt.Errorf("content type: %s is not supported", ct)
	}
	if err != nil {
		s.rec.Rejected("bad_body")
		otlpError(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.rec.Batch(record.Logs, s.rec.LogItems(req.Logs(), tenant))
	w.WriteHeader(http.StatusNoContent)
}
