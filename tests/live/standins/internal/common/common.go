// Package common holds what the three stand-ins share: flags for the
// recorder, the admin endpoints (/_standin/...), a listener that can be taken
// down and brought back (the "down" fault), body decoding and the start-up
// line printed for a harness.
//
// This file follows no upstream code.
package common

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"otelplan/tests/live/standins/internal/record"
)

// RecorderFlags registers the recorder's flags on fs.
func RecorderFlags(fs *flag.FlagSet) func() (*record.Recorder, error) {
	idAttr := fs.String("id-attr", envOr("STANDIN_ID_ATTR", "test.id"), "attribute whose values are counted as test ids")
	dump := fs.String("dump", os.Getenv("STANDIN_DUMP"), "optional JSONL file: one line per accepted item")
	maxIDs := fs.Int("max-ids", 200000, "distinct ids kept in memory")
	secrets := fs.String("watch-secrets", os.Getenv("STANDIN_WATCH_SECRETS"), "comma-separated values that must appear only in Authorization headers (counted in secret_leaks when seen elsewhere)")
	return func() (*record.Recorder, error) {
		var ss []string
		for _, s := range strings.Split(*secrets, ",") {
			if s = strings.TrimSpace(s); s != "" {
				ss = append(ss, s)
			}
		}
		return record.New(record.Options{IDAttr: *idAttr, DumpPath: *dump, MaxIDs: *maxIDs, Secrets: ss})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// EnvOr returns the first non-empty environment variable of keys, else def.
func EnvOr(def string, keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return def
}

// Admin serves /_standin/{stats,reset,health} and any extra routes.
type Admin struct {
	Name, Emulates string
	Rec            *record.Recorder
	Extra          func() map[string]any
	Mux            *http.ServeMux
}

// NewAdmin returns the admin handler.
func NewAdmin(name, emulates string, rec *record.Recorder, extra func() map[string]any) *Admin {
	a := &Admin{Name: name, Emulates: emulates, Rec: rec, Extra: extra, Mux: http.NewServeMux()}
	a.Mux.HandleFunc("/_standin/stats", func(w http.ResponseWriter, r *http.Request) {
		st := a.Rec.Snapshot(a.Name, a.Emulates, r.URL.Query().Get("values") != "0")
		if a.Extra != nil {
			st.Extra = a.Extra()
		}
		WriteJSON(w, http.StatusOK, st)
	})
	a.Mux.HandleFunc("/_standin/reset", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		a.Rec.Reset()
		WriteJSON(w, http.StatusOK, map[string]any{"reset": true})
	})
	a.Mux.HandleFunc("/_standin/health", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "standin": a.Name})
	})
	return a
}

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.Mux.ServeHTTP(w, r) }

// IsAdminPath reports whether a request is for the admin endpoints.
func IsAdminPath(p string) bool { return strings.HasPrefix(p, "/_standin/") }

// WriteJSON writes v as JSON with the status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// ReadBody reads a request body, decompressing it by Content-Encoding
// (gzip, deflate; "" = as is). limit bounds the decoded size (0 = none); a
// body over the limit returns ErrTooLarge.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	var rd io.Reader = r.Body
	switch strings.ToLower(r.Header.Get("Content-Encoding")) {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		rd = gz
	case "deflate":
		zr, err := zlib.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("%w: %s", ErrEncoding, r.Header.Get("Content-Encoding"))
	}
	if limit > 0 {
		rd = io.LimitReader(rd, limit+1)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Errors of ReadBody.
var (
	ErrTooLarge = errors.New("request body too large")
	ErrEncoding = errors.New("unsupported content encoding")
)

// Gunzip decodes gzip data when it starts with the gzip magic bytes.
func Gunzip(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	return io.ReadAll(gz)
}

// StatusRecorder wraps a ResponseWriter to learn the status code.
type StatusRecorder struct {
	http.ResponseWriter
	Code int
}

// WriteHeader implements http.ResponseWriter.
func (s *StatusRecorder) WriteHeader(c int) {
	if s.Code == 0 {
		s.Code = c
	}
	s.ResponseWriter.WriteHeader(c)
}

// Write implements http.ResponseWriter.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Code == 0 {
		s.Code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack passes through to the underlying writer (needed for h2c hijacking).
func (s *StatusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("not a hijacker")
	}
	return h.Hijack()
}

// CountStatus wraps h so that every answered request (but admin ones) is
// counted by status code.
func CountStatus(rec *record.Recorder, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsAdminPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		sr := &StatusRecorder{ResponseWriter: w}
		h.ServeHTTP(sr, r)
		if sr.Code != 0 {
			rec.Request(sr.Code)
		}
	})
}

// Switchable is a TCP listener address served by an http.Server that can be
// taken down (listener and open connections closed) and brought back on the
// same address.
type Switchable struct {
	Addr string
	srv  *http.Server

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	downTil time.Time
	timer   *time.Timer
	closed  bool
}

// NewSwitchable listens on addr and serves h.
func NewSwitchable(addr string, h http.Handler, configure func(*http.Server)) (*Switchable, error) {
	s := &Switchable{conns: map[net.Conn]struct{}{}}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	if configure != nil {
		configure(s.srv)
	}
	s.srv.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns[c] = struct{}{}
		case http.StateClosed, http.StateHijacked:
			delete(s.conns, c)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	s.ln = ln
	go s.serve(ln)
	return s, nil
}

// Server is the underlying http.Server.
func (s *Switchable) Server() *http.Server { return s.srv }

func (s *Switchable) serve(ln net.Listener) {
	err := s.srv.Serve(ln)
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(os.Stderr, "serve %s: %v\n", s.Addr, err)
	}
}

// Down closes the listener and every open connection for d, then listens
// again on the same address (d <= 0: until Up).
func (s *Switchable) Down(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if d > 0 {
		s.downTil = time.Now().Add(d)
		s.timer = time.AfterFunc(d, func() { _ = s.Up() })
	} else {
		s.downTil = time.Time{}
	}
}

// Up listens again after Down.
func (s *Switchable) Up() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.ln != nil || s.closed {
		return nil
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly
		ln, err = net.Listen("tcp", s.Addr)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "relisten %s: %v\n", s.Addr, err)
		return err
	}
	s.ln = ln
	s.downTil = time.Time{}
	go s.serve(ln)
	return nil
}

// IsDown reports whether the listener is closed.
func (s *Switchable) IsDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln == nil
}

// Close shuts the server down (bounded).
func (s *Switchable) Close() {
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// Ready prints the start-up line a harness waits for: one JSON object.
func Ready(fields map[string]any) {
	b, _ := json.Marshal(fields)
	fmt.Printf("STANDIN_READY %s\n", b)
}

// WaitSignal blocks until SIGINT or SIGTERM.
func WaitSignal() os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return <-ch
}
