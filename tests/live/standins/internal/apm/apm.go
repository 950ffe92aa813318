// Package apm is a stand-in for Elastic APM Server 9.x as an OTLP receiver.
//
// What it does on the wire follows elastic/apm-server at tag v9.5.2 (read,
// not copied):
//   - internal/beater/beater.go: the gRPC server is grpc.NewServer with
//     interceptors only, no grpc.MaxRecvMsgSize option, so grpc-go's default
//     4 MiB receive limit applies (larger messages: codes.ResourceExhausted);
//     gzip is registered (google.golang.org/grpc/encoding/gzip).
//   - internal/beater/http.go with elastic/gmux (mux.go, ConfigureServer):
//     gRPC shares the HTTP listener; without TLS every HTTP/2 prior-knowledge
//     (h2c) connection is handed whole to the gRPC server, HTTP/1.1 requests
//     go to the HTTP routes.
//   - internal/beater/api/mux.go: routes "/" (exact), /v1/traces,
//     /v1/metrics, /v1/logs; other paths 404 "404 page not found".
//   - internal/beater/otlp/http.go: OTLP/HTTP bodies are only unmarshalled
//     as protobuf (no JSON); a bad body is 400 with a protobuf google.rpc.Status
//     (InvalidArgument); success is 200 with an empty protobuf ExportResponse.
//   - internal/beater/request/context.go: Content-Encoding gzip or deflate,
//     or sniffed from the first bytes.
//   - internal/beater/auth/authenticator.go, auth/header.go,
//     middleware/auth_middleware.go, interceptors/auth.go: "Authorization:
//     Bearer <secret_token>" or "ApiKey <base64(id:key)>"; no method
//     configured = everyone allowed; failures are 401 on HTTP (JSON
//     {"error": ...} when Accept allows JSON, else text) and
//     codes.Unauthenticated on gRPC; "/" is 200 for anyone, with the server
//     information only for an authorized caller (api/root/handler.go); methods
//     other than GET/HEAD on "/" are 405.
//
// Differences: API keys are compared with configured values instead of being
// verified against Elasticsearch; nothing is forwarded to an output; the
// Elastic intake (/intake/v2/...), RUM, agent config and TLS are absent.
package apm

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // as apm-server's beater.go
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"otelplan/tests/live/standins/internal/common"
	"otelplan/tests/live/standins/internal/record"
)

// Config configures the stand-in.
type Config struct {
	Listen      string
	SecretToken string   // apm-server.auth.secret_token
	APIKeys     []string // accepted "ApiKey" credentials: base64(id:key) or id:key
	Version     string   // reported by GET /
	// PathPrefix also mounts the OTLP/HTTP routes under this prefix: the capacity
	// bench uses the stand-in as a plain OTLP sink where a store serves OTLP under
	// a path (Prometheus's /api/v1/otlp). Empty: APM Server's routes only.
	PathPrefix string
}

const expectedAuthHeaderFormat = "expected 'Authorization: Bearer secret_token' or 'Authorization: ApiKey base64(API key ID:API key)'"

var (
	errAuthFailed  = errors.New("authentication failed")
	errAuthMissing = fmt.Errorf("%w: missing or improperly formatted Authorization header: %s", errAuthFailed, expectedAuthHeaderFormat)
)

// Server is a running stand-in.
type Server struct {
	cfg   Config
	rec   *record.Recorder
	admin *common.Admin
	start time.Time

	grpc  *grpc.Server
	glis  *chanListener
	http  *common.Switchable
	Addr  string
	close sync.Once
}

// New starts the stand-in on cfg.Listen.
func New(cfg Config, rec *record.Recorder) (*Server, error) {
	if cfg.Version == "" {
		cfg.Version = "9.5.2"
	}
	s := &Server{cfg: cfg, rec: rec, start: time.Now()}
	s.admin = common.NewAdmin("apm-server", "Elastic APM Server "+cfg.Version+" (OTLP intake)", rec, nil)

	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.authInterceptor),
		grpc.StatsHandler(&grpcStats{rec: rec}),
	)
	ptraceotlp.RegisterGRPCServer(s.grpc, &traceSvc{s: s})
	pmetricotlp.RegisterGRPCServer(s.grpc, &metricSvc{s: s})
	plogotlp.RegisterGRPCServer(s.grpc, &logSvc{s: s})
	s.glis = newChanListener()
	go func() { _ = s.grpc.Serve(s.glis) }()

	sw, err := common.NewSwitchable(cfg.Listen, s.h2cToGRPC(common.CountStatus(rec, s.routes())), nil)
	if err != nil {
		s.grpc.Stop()
		return nil, err
	}
	s.http = sw
	s.Addr = sw.Addr
	return s, nil
}

// Close stops the servers.
func (s *Server) Close() {
	s.close.Do(func() {
		s.http.Close()
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			s.grpc.Stop()
		}
		s.glis.Close()
	})
}

// ---- authentication (auth/authenticator.go) ----

func (s *Server) authRequired() bool { return s.cfg.SecretToken != "" || len(s.cfg.APIKeys) > 0 }

func (s *Server) authenticate(header string) (bool, error) {
	if !s.authRequired() {
		return true, nil
	}
	kind, token := "", ""
	if i := strings.IndexRune(header, ' '); i > 0 {
		kind, token = header[:i], header[i+1:]
	}
	switch kind {
	case "":
		return false, errAuthMissing
	case "ApiKey":
		if len(s.cfg.APIKeys) > 0 {
			if s.apiKeyOK(token) {
				return true, nil
			}
			return false, fmt.Errorf("%w: API key not found or not valid", errAuthFailed)
		}
	case "Bearer":
		if s.cfg.SecretToken != "" && subtle.ConstantTimeCompare([]byte(s.cfg.SecretToken), []byte(token)) == 1 {
			return true, nil
		}
	default:
		return false, fmt.Errorf("%w: unknown Authentication header %s: %s", errAuthFailed, kind, expectedAuthHeaderFormat)
	}
	return false, errAuthFailed
}

func (s *Server) apiKeyOK(token string) bool {
	decoded, _ := base64.StdEncoding.DecodeString(token)
	for _, k := range s.cfg.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(token)) == 1 ||
			(len(decoded) > 0 && subtle.ConstantTimeCompare([]byte(k), decoded) == 1) {
			return true
		}
	}
	return false
}

// ---- HTTP side ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/_standin/", s.admin)
	mux.HandleFunc("/{$}", s.root)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeResult(w, r, http.StatusNotFound, "404 page not found")
	})
	mux.HandleFunc("/v1/traces", s.otlpHTTP(record.Traces))
	mux.HandleFunc("/v1/metrics", s.otlpHTTP(record.Metrics))
	mux.HandleFunc("/v1/logs", s.otlpHTTP(record.Logs))
	if p := strings.TrimSuffix(s.cfg.PathPrefix, "/"); p != "" {
		mux.HandleFunc(p+"/v1/traces", s.otlpHTTP(record.Traces))
		mux.HandleFunc(p+"/v1/metrics", s.otlpHTTP(record.Metrics))
		mux.HandleFunc(p+"/v1/logs", s.otlpHTTP(record.Logs))
	}
	return mux
}

// writeResult mimics request.Context.WriteResult: failures are wrapped as
// {"error": msg}; JSON when Accept allows it, else plain text.
func writeResult(w http.ResponseWriter, r *http.Request, code int, body any) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if body == nil {
		w.WriteHeader(code)
		return
	}
	if code >= 400 {
		if str, ok := body.(string); ok {
			body = map[string]string{"error": str}
		}
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "*/*") || strings.Contains(accept, "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(body)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	switch b := body.(type) {
	case map[string]string:
		_, _ = io.WriteString(w, b["error"]+"\n")
	default:
		enc := json.NewEncoder(w)
		_ = enc.Encode(b)
	}
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	ok, err := s.authenticate(r.Header.Get("Authorization"))
	if err != nil && !errors.Is(err, errAuthFailed) {
		writeResult(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		writeResult(w, r, http.StatusMethodNotAllowed, "this is the server information endpoint; did you mean to send data to another endpoint instead?")
		return
	}
	if !ok {
		writeResult(w, r, http.StatusOK, nil)
		return
	}
	writeResult(w, r, http.StatusOK, map[string]any{
		"build_date":    s.start.UTC().Format(time.RFC3339),
		"build_sha":     "standin",
		"version":       s.cfg.Version,
		"publish_ready": true,
	})
}

func (s *Server) otlpHTTP(signal string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		s.rec.Auth(auth)
		if _, err := s.authenticate(auth); err != nil {
			s.rec.Rejected("unauthorized")
			writeResult(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.rec.Rejected("bad_body")
			writeOTLPError(w, status.New(codes.InvalidArgument, fmt.Sprintf("failed to read request body: %v", err)), http.StatusBadRequest)
			return
		}
		s.rec.CheckLeaks(r.Header, body)
		var items []record.Item
		var resp interface{ MarshalProto() ([]byte, error) }
		switch signal {
		case record.Traces:
			req := ptraceotlp.NewExportRequest()
			if err = req.UnmarshalProto(body); err == nil {
				items = s.rec.TraceItems(req.Traces(), "http")
				resp = ptraceotlp.NewExportResponse()
			}
		case record.Metrics:
			req := pmetricotlp.NewExportRequest()
			if err = req.UnmarshalProto(body); err == nil {
				items = s.rec.MetricItems(req.Metrics(), "http")
				resp = pmetricotlp.NewExportResponse()
			}
		case record.Logs:
			req := plogotlp.NewExportRequest()
			if err = req.UnmarshalProto(body); err == nil {
				items = s.rec.LogItems(req.Logs(), "http")
				resp = plogotlp.NewExportResponse()
			}
		}
		if err != nil {
			s.rec.Rejected("bad_body")
			writeOTLPError(w, status.New(codes.InvalidArgument, fmt.Sprintf("failed to unmarshal request body: %v", err)), http.StatusBadRequest)
			return
		}
		s.rec.Batch(signal, items)
		b, _ := resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	}
}

// readBody decodes by Content-Encoding, else sniffs gzip/zlib magic bytes
// (request/context.go decodeRequestBody).
//
// maxBody is the stand-in's own guard (upstream sets no OTLP/HTTP body limit):
// larger bodies are refused as unreadable, to keep memory bounded.
const maxBody = 100 << 20

func readBody(r *http.Request) ([]byte, error) {
	enc := r.Header.Get("Content-Encoding")
	if enc == "gzip" || enc == "deflate" {
		return common.ReadBody(r, maxBody)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxBody {
		return nil, common.ErrTooLarge
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		return common.Gunzip(raw)
	}
	if len(raw) >= 2 && raw[0]&0x0f == 8 && (uint16(raw[0])<<8|uint16(raw[1]))%31 == 0 {
		r2 := *r
		r2.Body = io.NopCloser(bytes.NewReader(raw))
		r2.Header = r.Header.Clone()
		r2.Header.Set("Content-Encoding", "deflate")
		return common.ReadBody(&r2, maxBody)
	}
	return raw, nil
}

func writeOTLPError(w http.ResponseWriter, st *status.Status, code int) {
	msg, err := proto.Marshal(st.Proto())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"code": 13, "message": "failed to marshal error message"}`))
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(code)
	_, _ = w.Write(msg)
}

// ---- gRPC side ----

func (s *Server) authInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	var auth string
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		auth = v[0]
	}
	s.rec.Auth(auth)
	if _, err := s.authenticate(auth); err != nil {
		s.rec.Rejected("unauthorized")
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if h := mdHeader(md); h != nil {
		var body []byte
		if m, ok := req.(interface{ MarshalProto() ([]byte, error) }); ok {
			body, _ = m.MarshalProto()
		}
		s.rec.CheckLeaks(h, body)
	}
	return handler(ctx, req)
}

func mdHeader(md metadata.MD) http.Header {
	h := http.Header{}
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

type traceSvc struct {
	ptraceotlp.UnimplementedGRPCServer
	s *Server
}

func (t *traceSvc) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	t.s.rec.Batch(record.Traces, t.s.rec.TraceItems(req.Traces(), "grpc"))
	return ptraceotlp.NewExportResponse(), nil
}

type metricSvc struct {
	pmetricotlp.UnimplementedGRPCServer
	s *Server
}

func (m *metricSvc) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	m.s.rec.Batch(record.Metrics, m.s.rec.MetricItems(req.Metrics(), "grpc"))
	return pmetricotlp.NewExportResponse(), nil
}

type logSvc struct {
	plogotlp.UnimplementedGRPCServer
	s *Server
}

func (l *logSvc) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	l.s.rec.Batch(record.Logs, l.s.rec.LogItems(req.Logs(), "grpc"))
	return plogotlp.NewExportResponse(), nil
}

// grpcStats counts every finished RPC by status code, including those that
// grpc-go refuses before the handler runs (e.g. ResourceExhausted).
type grpcStats struct{ rec *record.Recorder }

func (g *grpcStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (g *grpcStats) HandleRPC(_ context.Context, st stats.RPCStats) {
	if end, ok := st.(*stats.End); ok {
		c := status.Code(end.Error)
		g.rec.RequestKey("grpc:" + c.String())
		if c == codes.ResourceExhausted {
			g.rec.Rejected("grpc_message_too_large")
		}
	}
}
func (g *grpcStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (g *grpcStats) HandleConn(context.Context, stats.ConnStats) {}

// ---- h2c hand-off to the gRPC server (as gmux does without TLS) ----

const clientPrefaceStart = "PRI * HTTP/2.0\r\n\r\n"

func (s *Server) h2cToGRPC(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && r.Method == "PRI" && len(r.Header) == 0 && r.URL.Path == "*" && r.Proto == "HTTP/2.0" {
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "h2c not supported", http.StatusHTTPVersionNotSupported)
				return
			}
			conn, rw, err := hj.Hijack()
			if err != nil {
				return
			}
			var buffered []byte
			if n := rw.Reader.Buffered(); n > 0 {
				b, _ := rw.Reader.Peek(n)
				buffered = append([]byte(nil), b...)
			}
			pc := &prefacedConn{Conn: conn, r: io.MultiReader(strings.NewReader(clientPrefaceStart), bytes.NewReader(buffered), conn)}
			if !s.glis.deliver(pc) {
				conn.Close()
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

type prefacedConn struct {
	net.Conn
	r io.Reader
}

func (p *prefacedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed with hijacked connections.
type chanListener struct {
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	closed bool
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
