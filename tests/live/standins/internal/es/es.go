// Package es is a stand-in for Elasticsearch 9.x as the telemetry store that
// the collector's `elasticsearch` exporter and APM Server write to.
//
// Upstream code it follows (read, not copied):
//
//   - open-telemetry/opentelemetry-collector-contrib v0.152.0,
//     exporter/elasticsearchexporter/esclient.go: no request at start unless
//     discover.on_start (then GET /_nodes/http); the product check is the
//     "X-Elastic-Product: Elasticsearch" header of the first 2xx response;
//     bulkindexer.go: documents go through go-docappender.
//
//   - elastic/go-docappender v2.14.1, bulk_indexer.go: POST /_bulk, NDJSON,
//     Content-Encoding gzip, query filter_path=items.*._index,items.*.status,
//     items.*.failure_store,items.*.error.type,items.*.error.reason; an item
//     with status > 201 or an error.type is a failed document (429 retried by
//     document when configured); a whole-request status > 299 is a flush
//     failure (429 "too many", >= 500 server error).
//
//   - elastic/elasticsearch (9.x) server/.../action/bulk/BulkItemResponse.java
//     and BulkResponse: {"errors","took","items":[{"<op>":{"_index","_id",
//     "_version","result","_shards","_seq_no","_primary_term","status"}}]},
//     failures {"_index","_id","status","error":{"type","reason"}}; error
//     bodies {"error":{"root_cause":[...],"type","reason"},"status":N}; the
//     REST layer adds X-Elastic-Product to its answers; security answers 401
//     with WWW-Authenticate for Basic and ApiKey.
//
//   - elastic/apm-server v9.5.2 internal/beater/beater.go (waitReady:
//     GET / for cluster_uuid) and license.go (GET /_license when tail-based
//     sampling is on).
//
//   - security.go: users, roles, privileges and the setup job's APIs.
//
// Differences: nothing is stored or searchable; templates, pipelines and
// ILM policies are checked for their required top-level key, remembered by
// name and otherwise ignored; every index accepts every document its writer
// may write.
package es

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"otelplan/tests/live/standins/internal/common"
	"otelplan/tests/live/standins/internal/record"
)

// Config configures the stand-in.
type Config struct {
	Listen      string
	AdminListen string // separate admin listener (needed for the "down" fault); "" = none
	User        string // Basic auth user (with Password); empty = no Basic
	Password    string
	APIKeys     []string // accepted "ApiKey" credentials: base64(id:key) or id:key
	Version     string   // e.g. 9.5.2
	ClusterName string
	LicenseType string // basic, trial, platinum...
	MaxBodySize int64  // http.max_content_length, default 100 MiB
	DataDir     string // where users, roles and templates survive a restart ("" = memory only)
}

// Fault modes.
const (
	FaultNone    = "none"
	Fault429     = "429"
	Fault503     = "503"
	FaultPartial = "partial"
	FaultDown    = "down"
)

type fault struct {
	Mode    string    `json:"mode"`
	Until   time.Time `json:"until,omitzero"`
	Pattern string    `json:"pattern,omitempty"` // partial: per item, o=ok 4=429 0=400
}

// Server is a running stand-in.
type Server struct {
	cfg         Config
	rec         *record.Recorder
	admin       *common.Admin
	main        *common.Switchable
	adminSrv    *common.Switchable
	Addr        string
	AdminAddr   string
	clusterUUID string
	nodeID      string
	seqNo       atomic.Int64
	partialPos  atomic.Int64

	mu    sync.Mutex
	fault fault
	timer *time.Timer
	close sync.Once

	// security.go: users, roles, and what the setup job created
	secMu     sync.Mutex
	users     map[string]*user
	roles     map[string]*role
	indices   map[string]bool // data streams that exist (auto-created by a bulk request)
	policies  map[string]bool // ILM policies
	templates map[string]bool // "<kind>/<name>": component and index templates, pipelines
}

// New starts the stand-in.
func New(cfg Config, rec *record.Recorder) (*Server, error) {
	if cfg.Version == "" {
		cfg.Version = "9.5.2"
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "docker-cluster"
	}
	if cfg.LicenseType == "" {
		cfg.LicenseType = "basic"
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 100 << 20
	}
	s := &Server{cfg: cfg, rec: rec, clusterUUID: randID(22), nodeID: randID(22)}
	s.fault = fault{Mode: FaultNone}
	s.initSecurity()
	s.policies, s.templates = map[string]bool{}, map[string]bool{}
	if err := s.loadState(); err != nil {
		return nil, err
	}
	s.admin = common.NewAdmin("elasticsearch", "Elasticsearch "+cfg.Version+" (bulk ingest)", rec, s.extra)
	s.admin.Mux.HandleFunc("/_standin/fault", s.handleFault)

	m, err := common.NewSwitchable(cfg.Listen, common.CountStatus(rec, http.HandlerFunc(s.serveMain)), nil)
	if err != nil {
		return nil, err
	}
	s.main, s.Addr = m, m.Addr
	if cfg.AdminListen != "" {
		a, err := common.NewSwitchable(cfg.AdminListen, s.admin, nil)
		if err != nil {
			m.Close()
			return nil, err
		}
		s.adminSrv, s.AdminAddr = a, a.Addr
	}
	return s, nil
}

// Close stops the servers.
func (s *Server) Close() {
	s.close.Do(func() {
		s.mu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
		s.main.Close()
		if s.adminSrv != nil {
			s.adminSrv.Close()
		}
	})
}

func randID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func (s *Server) extra() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{"fault": s.fault, "listening": !s.main.IsDown(), "version": s.cfg.Version}
	out["security"] = s.securityState() // takes secMu only
	return out
}

// ---- faults ----

// SetFault switches the fault mode for d (d <= 0: until changed).
func (s *Server) SetFault(mode string, d time.Duration, pattern string) error {
	switch mode {
	case FaultNone, Fault429, Fault503, FaultPartial, FaultDown:
	case "":
		mode = FaultNone
	default:
		return fmt.Errorf("unknown fault mode %q (none, 429, 503, partial, down)", mode)
	}
	if mode == FaultPartial {
		if pattern == "" {
			pattern = "o4o0"
		}
		if strings.Trim(pattern, "o40") != "" {
			return fmt.Errorf("pattern %q: use only o (ok), 4 (429), 0 (400)", pattern)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	prev := s.fault.Mode
	s.fault = fault{Mode: mode, Pattern: pattern}
	s.partialPos.Store(0)
	if d > 0 {
		s.fault.Until = time.Now().Add(d)
		s.timer = time.AfterFunc(d, func() {
			s.mu.Lock()
			wasDown := s.fault.Mode == FaultDown
			s.fault = fault{Mode: FaultNone}
			s.timer = nil
			s.mu.Unlock()
			if wasDown {
				_ = s.main.Up()
			}
		})
	}
	if mode == FaultDown {
		s.main.Down(0)
	} else if prev == FaultDown {
		_ = s.main.Up()
	}
	return nil
}

func (s *Server) currentFault() fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// handleFault: GET shows the fault; POST sets it from query parameters or a
// JSON body: mode=none|429|503|partial|down, seconds=N (0 = until changed),
// pattern=o4o0 (partial).
func (s *Server) handleFault(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		common.WriteJSON(w, http.StatusOK, s.currentFault())
		return
	}
	var req struct {
		Mode    string  `json:"mode"`
		Seconds float64 `json:"seconds"`
		Pattern string  `json:"pattern"`
	}
	q := r.URL.Query()
	if q.Get("mode") != "" {
		req.Mode = q.Get("mode")
		req.Seconds, _ = strconv.ParseFloat(q.Get("seconds"), 64)
		req.Pattern = q.Get("pattern")
	} else if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "mode required (query or JSON body)", http.StatusBadRequest)
		return
	}
	if err := s.SetFault(req.Mode, time.Duration(req.Seconds*float64(time.Second)), req.Pattern); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	common.WriteJSON(w, http.StatusOK, s.currentFault())
}

// ---- helpers for Elasticsearch-shaped answers ----

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}

func esError(typ, reason string, status int, extra map[string]any) map[string]any {
	cause := map[string]any{"type": typ, "reason": reason}
	for k, v := range extra {
		cause[k] = v
	}
	top := map[string]any{"root_cause": []any{cause}}
	for k, v := range cause {
		top[k] = v
	}
	return map[string]any{"error": top, "status": status}
}

func base64Decode(token string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(token)
	return string(b), err
}

func readSmallBody(r *http.Request) ([]byte, error) { return common.ReadBody(r, 1<<20) }

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, reason string) {
	hdr := map[string]any{"WWW-Authenticate": []string{`Basic realm="security", charset="UTF-8"`, "ApiKey"}}
	w.Header().Add("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
	w.Header().Add("WWW-Authenticate", "ApiKey")
	s.writeJSON(w, r, http.StatusUnauthorized, esError("security_exception", reason, http.StatusUnauthorized, map[string]any{"header": hdr}))
}

// ---- routing ----

var (
	bulkPath     = regexp.MustCompile(`^/(?:([^/_][^/]*)/)?_bulk/?$`)
	templatePath = regexp.MustCompile(`^/(_index_template|_component_template|_ingest/pipeline|_template|_ilm/policy)/([^/]+)$`)
	dataStream   = regexp.MustCompile(`^(logs|metrics|traces|synthetics|profiling)-[^-]+-[^-]+$`)
)

func (s *Server) serveMain(w http.ResponseWriter, r *http.Request) {
	if common.IsAdminPath(r.URL.Path) {
		s.admin.ServeHTTP(w, r)
		return
	}
	f := s.currentFault()
	switch f.Mode {
	case Fault429:
		s.rec.Rejected("fault_429")
		s.writeJSON(w, r, http.StatusTooManyRequests, esError("es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]",
			http.StatusTooManyRequests, nil))
		return
	case Fault503:
		s.rec.Rejected("fault_503")
		s.writeJSON(w, r, http.StatusServiceUnavailable, esError("cluster_block_exception",
			"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];", http.StatusServiceUnavailable, nil))
		return
	}
	who, reason := s.authenticate(r)
	if r.URL.Path == "/_bulk" || strings.HasSuffix(r.URL.Path, "/_bulk") {
		s.rec.Auth(r.Header.Get("Authorization"))
	}
	if who == nil {
		s.rec.Rejected("unauthorized")
		s.unauthorized(w, r, reason)
		return
	}
	p := r.URL.Path
	monitor := func(action string) bool { return s.requireCluster(w, r, who, action, "monitor", "manage") }
	switch {
	case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if monitor("cluster:monitor/main") {
			s.writeJSON(w, r, http.StatusOK, s.info())
		}
	case bulkPath.MatchString(p) && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.bulk(w, r, who, bulkPath.FindStringSubmatch(p)[1])
	case p == "/_license" && r.Method == http.MethodGet:
		if monitor("cluster:monitor/xpack/license/get") {
			s.writeJSON(w, r, http.StatusOK, s.license())
		}
	case (p == "/_cluster/health" || strings.HasPrefix(p, "/_cluster/health/")) && r.Method == http.MethodGet:
		if monitor("cluster:monitor/health") {
			s.writeJSON(w, r, http.StatusOK, map[string]any{
				"cluster_name": s.cfg.ClusterName, "status": "green", "timed_out": false,
				"number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 0, "active_shards": 0,
				"relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0, "unassigned_primary_shards": 0,
				"delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
				"task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0,
			})
		}
	case strings.HasPrefix(p, "/_nodes") && r.Method == http.MethodGet:
		if monitor("cluster:monitor/nodes/info") {
			s.writeJSON(w, r, http.StatusOK, s.nodes(r))
		}
	case strings.HasPrefix(p, "/_security/") && s.securityRoute(w, r, who):
	case templatePath.MatchString(p):
		m := templatePath.FindStringSubmatch(p)
		s.template(w, r, who, m[1], m[2])
	case strings.HasPrefix(p, "/_data_stream/") && r.Method == http.MethodPut:
		name := strings.TrimPrefix(p, "/_data_stream/")
		if !s.indexAllowed(who, name, []string{"create_index", "manage"}) {
			s.forbidden(w, r, deniedIndex("indices:admin/data_stream/create", who, name, []string{"create_index", "manage", "all"}))
			return
		}
		s.secMu.Lock()
		s.indices[name] = true
		s.saveLocked()
		s.secMu.Unlock()
		s.writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true})
	case strings.HasSuffix(p, "/_refresh") || p == "/_refresh":
		s.writeJSON(w, r, http.StatusOK, map[string]any{"_shards": map[string]int{"total": 1, "successful": 1, "failed": 0}})
	default:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			idx := strings.Trim(p, "/")
			if !strings.Contains(idx, "/") && !strings.HasPrefix(idx, "_") {
				s.writeJSON(w, r, http.StatusNotFound, esError("index_not_found_exception",
					fmt.Sprintf("no such index [%s]", idx), http.StatusNotFound,
					map[string]any{"resource.type": "index_or_alias", "resource.id": idx, "index_uuid": "_na_", "index": idx}))
				return
			}
		}
		s.writeJSON(w, r, http.StatusBadRequest, map[string]any{
			"error":  fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method),
			"status": http.StatusBadRequest,
		})
	}
}

// template serves index, component and legacy templates, ingest pipelines and
// ILM policies: PUT stores the body (it must be a JSON object; a component
// template needs `template`, an ILM policy `policy`, as their request parsers
// require) and answers {"acknowledged":true}; GET finds it; DELETE forgets it.
// Upstream (9.x): PutComponentTemplateAction, ILM's RestPutLifecycleAction and
// PutLifecycleRequest (a policy body is {"policy":{...}}), AcknowledgedResponse.
func (s *Server) template(w http.ResponseWriter, r *http.Request, who *principal, kind, name string) {
	var manage []string
	var action string
	switch kind {
	case "_ilm/policy":
		manage, action = []string{"manage_ilm", "manage"}, "cluster:admin/ilm/put"
	case "_ingest/pipeline":
		manage, action = []string{"manage_pipeline", "manage_ingest_pipelines", "manage"}, "cluster:admin/ingest/pipeline/put"
	default:
		manage, action = []string{"manage_index_templates", "manage"}, "indices:admin/index_template/put"
	}
	key := kind + "/" + name
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		if !s.requireCluster(w, r, who, action, manage...) {
			return
		}
		m, ok := s.readJSONBody(w, r)
		if !ok {
			return
		}
		required := map[string]string{"_ilm/policy": "policy", "_component_template": "template"}[kind]
		if _, has := m[required]; required != "" && !has {
			s.writeJSON(w, r, http.StatusBadRequest, esError("x_content_parse_exception",
				fmt.Sprintf("[1:2] Required [%s]", required), http.StatusBadRequest, nil))
			return
		}
		s.secMu.Lock()
		if kind == "_ilm/policy" {
			s.policies[name] = true
		} else {
			s.templates[key] = true
		}
		s.saveLocked()
		s.secMu.Unlock()
		s.writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true})
	case http.MethodDelete:
		if !s.requireCluster(w, r, who, strings.Replace(action, "/put", "/delete", 1), manage...) {
			return
		}
		s.secMu.Lock()
		delete(s.policies, name)
		delete(s.templates, key)
		s.saveLocked()
		s.secMu.Unlock()
		s.writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		if !s.requireCluster(w, r, who, strings.Replace(action, "/put", "/get", 1), append(manage, "monitor")...) {
			return
		}
		s.secMu.Lock()
		found := s.policies[name] && kind == "_ilm/policy" || s.templates[key]
		s.secMu.Unlock()
		if found {
			s.writeJSON(w, r, http.StatusOK, map[string]any{name: map[string]any{}})
			return
		}
		s.writeJSON(w, r, http.StatusNotFound, esError("resource_not_found_exception",
			fmt.Sprintf("%s [%s] not found", strings.TrimPrefix(kind, "_"), name), http.StatusNotFound, nil))
	}
}

func (s *Server) info() map[string]any {
	return map[string]any{
		"name":         "standin-es-0",
		"cluster_name": s.cfg.ClusterName,
		"cluster_uuid": s.clusterUUID,
		"version": map[string]any{
			"number":                              s.cfg.Version,
			"build_flavor":                        "default",
			"build_type":                          "docker",
			"build_hash":                          "0000000000000000000000000000000000000000",
			"build_date":                          "2026-08-13T00:00:00.000000000Z",
			"build_snapshot":                      false,
			"lucene_version":                      "10.3.1",
			"minimum_wire_compatibility_version":  "8.19.0",
			"minimum_index_compatibility_version": "8.0.0",
		},
		"tagline": "You Know, for Search",
	}
}

func (s *Server) license() map[string]any {
	now := time.Now()
	return map[string]any{"license": map[string]any{
		"status":               "active",
		"uid":                  "00000000-0000-4000-8000-000000000000",
		"type":                 s.cfg.LicenseType,
		"issue_date":           now.UTC().Format(time.RFC3339),
		"issue_date_in_millis": now.UnixMilli(),
		"max_nodes":            1000,
		"max_resource_units":   nil,
		"issued_to":            s.cfg.ClusterName,
		"issuer":               "elasticsearch",
		"start_date_in_millis": -1,
	}}
}

func (s *Server) nodes(r *http.Request) map[string]any {
	host := r.Host
	if host == "" {
		host = s.Addr
	}
	return map[string]any{
		"_nodes":       map[string]int{"total": 1, "successful": 1, "failed": 0},
		"cluster_name": s.cfg.ClusterName,
		"nodes": map[string]any{s.nodeID: map[string]any{
			"name": "standin-es-0", "transport_address": "127.0.0.1:9300", "host": "127.0.0.1", "ip": "127.0.0.1",
			"version": s.cfg.Version, "roles": []string{"data", "ingest", "master"},
			"http": map[string]any{"bound_address": []string{host}, "publish_address": host, "max_content_length_in_bytes": s.cfg.MaxBodySize},
		}},
	}
}

// ---- _bulk ----

type bulkAction struct {
	op    string
	index string
	id    string
	doc   []byte
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, who *principal, pathIndex string) {
	start := time.Now()
	body, err := common.ReadBody(r, s.cfg.MaxBodySize)
	if err == common.ErrTooLarge {
		s.rec.Rejected("too_large")
		s.writeJSON(w, r, http.StatusRequestEntityTooLarge, esError("content_too_long_exception",
			fmt.Sprintf("entity content is too long [>%d] for the configured buffer limit [%d]", s.cfg.MaxBodySize, s.cfg.MaxBodySize), 413, nil))
		return
	}
	if err != nil {
		s.rec.Rejected("bad_body")
		s.writeJSON(w, r, http.StatusBadRequest, esError("parse_exception", "request body is required or could not be decoded: "+err.Error(), 400, nil))
		return
	}
	s.rec.CheckLeaks(r.Header, body)
	actions, perr := parseBulk(body, pathIndex)
	if perr != nil {
		s.rec.Rejected("bad_bulk")
		s.writeJSON(w, r, http.StatusBadRequest, esError("illegal_argument_exception", perr.Error(), 400, nil))
		return
	}
	if len(actions) == 0 {
		s.rec.Rejected("bad_bulk")
		s.writeJSON(w, r, http.StatusBadRequest, esError("action_request_validation_exception", "Validation Failed: 1: no requests added;", 400, nil))
		return
	}
	f := s.currentFault()
	requireDS := r.URL.Query().Get("require_data_stream") == "true"
	items := make([]any, 0, len(actions))
	accepted := make([]record.Item, 0, len(actions))
	hasErrors := false
	for _, a := range actions {
		outcome := byte('o')
		denied := ""
		if a.index != "" {
			denied = s.bulkDenied(who, a)
		}
		if denied != "" {
			outcome = 'f'
		} else if f.Mode == FaultPartial && f.Pattern != "" {
			pos := s.partialPos.Add(1) - 1
			outcome = f.Pattern[int(pos)%len(f.Pattern)]
		}
		isDS := dataStream.MatchString(a.index)
		if a.index == "" {
			outcome = 'i'
		} else if requireDS && !isDS && a.op != "delete" {
			outcome = 'd'
		}
		switch outcome {
		case 'o':
			seq := s.seqNo.Add(1) - 1
			id := a.id
			if id == "" {
				id = randID(20)
			}
			idx := a.index
			if isDS {
				idx = ".ds-" + a.index + "-" + time.Now().UTC().Format("2006.01.02") + "-000001"
			}
			result, code := "created", http.StatusCreated
			switch a.op {
			case "update":
				result, code = "updated", http.StatusOK
			case "delete":
				result, code = "not_found", http.StatusNotFound
			}
			items = append(items, map[string]any{a.op: map[string]any{
				"_index": idx, "_id": id, "_version": 1, "result": result,
				"_shards": map[string]int{"total": 1, "successful": 1, "failed": 0},
				"_seq_no": seq, "_primary_term": 1, "status": code,
			}})
			if a.op != "delete" {
				accepted = append(accepted, s.docItem(a))
			}
		case 'f':
			hasErrors = true
			s.rec.Rejected("item_403")
			items = append(items, failItem(a, http.StatusForbidden, "security_exception", denied, ""))
		case '4':
			hasErrors = true
			s.rec.Rejected("item_429")
			items = append(items, failItem(a, http.StatusTooManyRequests, "es_rejected_execution_exception",
				"rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=1, max_coordinating_and_primary_bytes=0]", ""))
		case '0':
			hasErrors = true
			s.rec.Rejected("item_400")
			fs := ""
			if isDS {
				fs = "not_enabled"
			}
			items = append(items, failItem(a, http.StatusBadRequest, "document_parsing_exception",
				"[1:1] failed to parse: stand-in partial failure", fs))
		case 'i':
			hasErrors = true
			s.rec.Rejected("item_400")
			items = append(items, failItem(a, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index is missing;", ""))
		case 'd':
			hasErrors = true
			s.rec.Rejected("item_404")
			items = append(items, failItem(a, http.StatusNotFound, "index_not_found_exception",
				fmt.Sprintf("no such index [%s] and [require_data_stream] request flag is [true] and [%s] is not a data stream", a.index, a.index), ""))
		}
	}
	resp := map[string]any{"errors": hasErrors, "took": time.Since(start).Milliseconds(), "items": items}
	if fp := r.URL.Query().Get("filter_path"); fp != "" {
		resp = filterPath(resp, fp)
	}
	if len(accepted) > 0 {
		s.rec.Batch(signalOf(accepted), accepted)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

// bulkDenied is why who may not write item a ("" = allowed): the item's
// write privilege on its index, and, for a data stream that does not exist
// yet, the privilege to create it (TransportBulkAction auto-creates it as
// indices:admin/auto_create before writing; a denial fails that index's
// items with 403).
func (s *Server) bulkDenied(who *principal, a bulkAction) string {
	write := []string{"create_doc", "create", "index", "write"}
	switch a.op {
	case "index", "update":
		write = []string{"index", "write"}
	case "delete":
		write = []string{"delete", "write"}
	}
	if !s.indexAllowed(who, a.index, write) {
		return deniedIndex("indices:data/write/bulk[s]", who, a.index, append(write, "all"))
	}
	if a.op == "delete" {
		return ""
	}
	s.secMu.Lock()
	exists := s.indices[a.index]
	s.secMu.Unlock()
	if exists {
		return ""
	}
	create := []string{"auto_configure", "create_index", "manage"}
	if !s.indexAllowed(who, a.index, create) {
		return deniedIndex("indices:admin/auto_create", who, a.index, append(create, "all"))
	}
	s.secMu.Lock()
	s.indices[a.index] = true
	s.saveLocked()
	s.secMu.Unlock()
	return ""
}

func failItem(a bulkAction, status int, typ, reason, failureStore string) map[string]any {
	m := map[string]any{"_index": a.index, "_id": a.id, "status": status,
		"error": map[string]any{"type": typ, "reason": reason}}
	if a.id == "" {
		m["_id"] = nil
	}
	if failureStore != "" {
		m["failure_store"] = failureStore
	}
	return map[string]any{a.op: m}
}

func signalOf(items []record.Item) string {
	if len(items) == 0 {
		return record.Other
	}
	sig := items[0].Signal
	for _, it := range items[1:] {
		if it.Signal != sig {
			return "mixed"
		}
	}
	return sig
}

func parseBulk(body []byte, pathIndex string) ([]bulkAction, error) {
	var out []bulkAction
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		var meta map[string]map[string]any
		if err := json.Unmarshal(l, &meta); err != nil || len(meta) != 1 {
			return nil, fmt.Errorf("Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]", line)
		}
		var a bulkAction
		for op, m := range meta {
			switch op {
			case "create", "index", "update", "delete":
			default:
				return nil, fmt.Errorf("Action/metadata line [%d] contains an unknown parameter [%s]", line, op)
			}
			a.op = op
			a.index, _ = m["_index"].(string)
			a.id, _ = m["_id"].(string)
		}
		if a.index == "" {
			a.index = pathIndex
		}
		if a.op != "delete" {
			if !sc.Scan() {
				return nil, fmt.Errorf("The bulk request must be terminated by a newline [\\n]")
			}
			line++
			a.doc = append([]byte(nil), bytes.TrimSpace(sc.Bytes())...)
			if !json.Valid(a.doc) {
				return nil, fmt.Errorf("Malformed document on line [%d]", line)
			}
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// docItem extracts signal, service.name and the id attribute from a document
// written in the exporter's otel mode (resource.attributes / attributes),
// in ECS style (service.name, labels.*) as APM Server writes, or flattened.
func (s *Server) docItem(a bulkAction) record.Item {
	var doc map[string]any
	_ = json.Unmarshal(a.doc, &doc)
	it := record.Item{Signal: signalFromIndex(a.index), Group: a.index}
	it.Service = firstString(doc,
		[]string{"resource", "attributes", "service.name"},
		[]string{"service", "name"}, []string{"service.name"})
	key := s.rec.IDAttr()
	it.ID = firstString(doc,
		[]string{"attributes", key},
		[]string{"labels", strings.ReplaceAll(key, ".", "_")},
		[]string{"numeric_labels", strings.ReplaceAll(key, ".", "_")},
		[]string{key},
		strings.Split(key, "."),
		[]string{"resource", "attributes", key})
	if v, ok := doc["name"].(string); ok {
		it.Name = v
	} else if sp, ok := doc["span"].(map[string]any); ok {
		it.Name, _ = sp["name"].(string)
	}
	return it
}

func signalFromIndex(idx string) string {
	i := strings.TrimPrefix(idx, ".ds-")
	switch {
	case strings.HasPrefix(i, "traces-"):
		return record.Traces
	case strings.HasPrefix(i, "metrics-"):
		return record.Metrics
	case strings.HasPrefix(i, "logs-"):
		return record.Logs
	}
	return record.Other
}

func firstString(doc map[string]any, paths ...[]string) string {
	for _, p := range paths {
		var cur any = doc
		for _, k := range p {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[k]
		}
		switch v := cur.(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}

// filterPath applies Elasticsearch's filter_path (comma-separated dotted
// paths, "*" matching any one key) to a response.
func filterPath(resp map[string]any, fp string) map[string]any {
	var pats [][]string
	for _, p := range strings.Split(fp, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pats = append(pats, strings.Split(p, "."))
		}
	}
	out, _ := filterValue(resp, pats).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func filterValue(v any, pats [][]string) any {
	for _, p := range pats {
		if len(p) == 0 {
			return v // a full match keeps the whole value
		}
	}
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, child := range t {
			var sub [][]string
			for _, p := range pats {
				if p[0] == "*" || p[0] == k {
					sub = append(sub, p[1:])
				}
			}
			if len(sub) == 0 {
				continue
			}
			if fv := filterValue(child, sub); fv != nil {
				out[k] = fv
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, child := range t {
			if fv := filterValue(child, pats); fv != nil {
				out = append(out, fv)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	default:
		return nil
	}
}
