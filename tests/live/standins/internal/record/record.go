// Package record counts what a stand-in accepted, so that a live test can
// check delivery: items per signal, per service.name and per tenant/index,
// the unique values of one attribute (e.g. test.id) with duplicates, and the
// Authorization headers seen. Memory is bounded: at most MaxIDs distinct ids
// and MaxAuth distinct auth values are kept; beyond that only totals grow.
//
// This file follows no upstream code: it is the stand-ins' own bookkeeping.
package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Signals.
const (
	Traces  = "traces"
	Metrics = "metrics"
	Logs    = "logs"
	Other   = "other"
)

// Options configure a Recorder.
type Options struct {
	IDAttr       string   // attribute holding the test id (default "test.id")
	MaxIDs       int      // distinct ids kept (default 200000)
	MaxAuth      int      // distinct Authorization values kept (default 64)
	DumpPath     string   // optional JSONL file, one line per accepted item
	DumpMaxBytes int64    // stop writing the dump past this size (default 256 MiB)
	Secrets      []string // values that must appear only in Authorization headers
}

// Item is one accepted span, data point, log record or document.
type Item struct {
	Signal  string `json:"signal"`
	Service string `json:"service,omitempty"`
	ID      string `json:"id,omitempty"`
	Group   string `json:"group,omitempty"` // tenant (Loki), index (Elasticsearch), transport (APM)
	Name    string `json:"name,omitempty"`  // span name, metric name, log body (cut)
}

type sigStats struct {
	Items    int64 `json:"items"`
	Requests int64 `json:"requests"`
}

type authStat struct {
	Scheme string `json:"scheme"`
	Value  string `json:"value"`
	Count  int64  `json:"count"`
}

// Recorder is safe for concurrent use.
type Recorder struct {
	opts Options

	mu           sync.Mutex
	started      time.Time
	requests     int64
	byStatus     map[string]int64
	signals      map[string]*sigStats
	services     map[string]map[string]int64
	groups       map[string]int64
	ids          map[string]int64
	idsTotal     int64
	idsOverflow  int64
	auth         map[string]*authStat
	authOverflow int64
	authMissing  int64
	rejected     map[string]int64 // reason -> count
	leaks        map[string]int64 // where a secret was seen -> count
	lastItemAt   time.Time

	dumpMu    sync.Mutex
	dumpF     *os.File
	dumpW     *bufio.Writer
	dumpBytes int64
}

// New returns a Recorder; it opens the dump file when DumpPath is set.
func New(o Options) (*Recorder, error) {
	if o.IDAttr == "" {
		o.IDAttr = "test.id"
	}
	if o.MaxIDs <= 0 {
		o.MaxIDs = 200000
	}
	if o.MaxAuth <= 0 {
		o.MaxAuth = 64
	}
	if o.DumpMaxBytes <= 0 {
		o.DumpMaxBytes = 256 << 20
	}
	var secrets []string
	for _, s := range o.Secrets {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	o.Secrets = secrets
	r := &Recorder{opts: o}
	r.resetLocked()
	if o.DumpPath != "" {
		f, err := os.OpenFile(o.DumpPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		r.dumpF = f
		r.dumpW = bufio.NewWriterSize(f, 64<<10)
	}
	return r, nil
}

// IDAttr is the attribute whose values are counted.
func (r *Recorder) IDAttr() string { return r.opts.IDAttr }

func (r *Recorder) resetLocked() {
	r.started = time.Now()
	r.requests = 0
	r.byStatus = map[string]int64{}
	r.signals = map[string]*sigStats{}
	r.services = map[string]map[string]int64{}
	r.groups = map[string]int64{}
	r.ids = map[string]int64{}
	r.idsTotal, r.idsOverflow = 0, 0
	r.auth = map[string]*authStat{}
	r.authOverflow, r.authMissing = 0, 0
	r.rejected = map[string]int64{}
	r.leaks = map[string]int64{}
	r.lastItemAt = time.Time{}
}

// Reset clears every counter (the dump file is kept as it is).
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resetLocked()
}

// Request counts one answered request with its status code.
func (r *Recorder) Request(status int) { r.RequestKey(itoa(status)) }

// RequestKey counts one answered request under a status key (e.g. "grpc:OK").
func (r *Recorder) RequestKey(key string) {
	r.mu.Lock()
	r.requests++
	r.byStatus[key]++
	r.mu.Unlock()
}

// Rejected counts a refused request or item by reason.
func (r *Recorder) Rejected(reason string) {
	r.mu.Lock()
	r.rejected[reason]++
	r.mu.Unlock()
}

// Auth records an Authorization header value ("" = none sent).
func (r *Recorder) Auth(header string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if header == "" {
		r.authMissing++
		return
	}
	if a, ok := r.auth[header]; ok {
		a.Count++
		return
	}
	if len(r.auth) >= r.opts.MaxAuth {
		r.authOverflow++
		return
	}
	scheme, value := header, ""
	if i := strings.IndexByte(header, ' '); i > 0 {
		scheme, value = header[:i], header[i+1:]
	}
	r.auth[header] = &authStat{Scheme: scheme, Value: value, Count: 1}
}

// CheckLeaks looks for the configured secrets in every header but
// Authorization and in the (decoded) body, counting where they were found.
func (r *Recorder) CheckLeaks(h http.Header, body []byte) {
	if len(r.opts.Secrets) == 0 {
		return
	}
	var found []string
	for name, vals := range h {
		if strings.EqualFold(name, "Authorization") {
			continue
		}
		for _, v := range vals {
			for _, s := range r.opts.Secrets {
				if strings.Contains(v, s) {
					found = append(found, "header:"+strings.ToLower(name))
				}
			}
		}
	}
	for _, s := range r.opts.Secrets {
		if len(body) > 0 && bytes.Contains(body, []byte(s)) {
			found = append(found, "body")
		}
	}
	if len(found) == 0 {
		return
	}
	r.mu.Lock()
	for _, f := range found {
		r.leaks[f]++
	}
	r.mu.Unlock()
}

// Batch counts one accepted request carrying items of a signal.
func (r *Recorder) Batch(signal string, items []Item) {
	r.mu.Lock()
	s := r.signals[signal]
	if s == nil {
		s = &sigStats{}
		r.signals[signal] = s
	}
	s.Requests++
	r.addLocked(items)
	r.mu.Unlock()
	r.dump(items)
}

func (r *Recorder) addLocked(items []Item) {
	if len(items) > 0 {
		r.lastItemAt = time.Now()
	}
	for _, it := range items {
		s := r.signals[it.Signal]
		if s == nil {
			s = &sigStats{}
			r.signals[it.Signal] = s
		}
		s.Items++
		svc := it.Service
		if svc == "" {
			svc = "(none)"
		}
		m := r.services[svc]
		if m == nil {
			m = map[string]int64{}
			r.services[svc] = m
		}
		m[it.Signal]++
		if it.Group != "" {
			r.groups[it.Group]++
		}
		if it.ID != "" {
			r.idsTotal++
			if _, ok := r.ids[it.ID]; ok || len(r.ids) < r.opts.MaxIDs {
				r.ids[it.ID]++
			} else {
				r.idsOverflow++
			}
		}
	}
}

func (r *Recorder) dump(items []Item) {
	if r.dumpW == nil || len(items) == 0 {
		return
	}
	r.dumpMu.Lock()
	defer r.dumpMu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, it := range items {
		if r.dumpBytes >= r.opts.DumpMaxBytes {
			return
		}
		line, _ := json.Marshal(struct {
			At string `json:"at"`
			Item
		}{now, it})
		line = append(line, '\n')
		n, _ := r.dumpW.Write(line)
		r.dumpBytes += int64(n)
	}
	_ = r.dumpW.Flush()
}

// Close flushes and closes the dump file.
func (r *Recorder) Close() error {
	r.dumpMu.Lock()
	defer r.dumpMu.Unlock()
	if r.dumpW == nil {
		return nil
	}
	_ = r.dumpW.Flush()
	err := r.dumpF.Close()
	r.dumpW, r.dumpF = nil, nil
	return err
}

// Stats is the JSON served at /_standin/stats.
type Stats struct {
	Standin    string                      `json:"standin"`
	Emulates   string                      `json:"emulates"`
	Since      time.Time                   `json:"since"`
	LastItemAt *time.Time                  `json:"last_item_at,omitempty"`
	Requests   int64                       `json:"requests"`
	ByStatus   map[string]int64            `json:"requests_by_status"`
	Signals    map[string]sigStats         `json:"signals"`
	Services   map[string]map[string]int64 `json:"services"`
	Groups     map[string]int64            `json:"groups,omitempty"`
	IDs        IDStats                     `json:"ids"`
	Auth       AuthStats                   `json:"auth"`
	Rejected   map[string]int64            `json:"rejected"`
	Leaks      map[string]int64            `json:"secret_leaks"`
	Extra      map[string]any              `json:"extra,omitempty"`
}

// IDStats reports the values of the id attribute.
type IDStats struct {
	Attribute  string           `json:"attribute"`
	Total      int64            `json:"total"`
	Unique     int              `json:"unique"`
	Duplicates int64            `json:"duplicates"`
	Overflow   int64            `json:"overflow"`
	Values     map[string]int64 `json:"values,omitempty"`
}

// AuthStats reports the Authorization headers seen.
type AuthStats struct {
	Seen     []authStat `json:"seen"`
	Missing  int64      `json:"missing"`
	Overflow int64      `json:"overflow"`
}

// Snapshot returns the counters; withValues includes the per-id counts.
func (r *Recorder) Snapshot(name, emulates string, withValues bool) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{
		Standin:  name,
		Emulates: emulates,
		Since:    r.started,
		Requests: r.requests,
		ByStatus: map[string]int64{},
		Signals:  map[string]sigStats{},
		Services: map[string]map[string]int64{},
		Groups:   map[string]int64{},
		Rejected: map[string]int64{},
		Leaks:    map[string]int64{},
	}
	if !r.lastItemAt.IsZero() {
		t := r.lastItemAt
		st.LastItemAt = &t
	}
	for k, v := range r.byStatus {
		st.ByStatus[k] = v
	}
	for k, v := range r.signals {
		st.Signals[k] = *v
	}
	for k, v := range r.services {
		m := map[string]int64{}
		for s, n := range v {
			m[s] = n
		}
		st.Services[k] = m
	}
	for k, v := range r.groups {
		st.Groups[k] = v
	}
	for k, v := range r.rejected {
		st.Rejected[k] = v
	}
	for k, v := range r.leaks {
		st.Leaks[k] = v
	}
	st.IDs = IDStats{
		Attribute:  r.opts.IDAttr,
		Total:      r.idsTotal,
		Unique:     len(r.ids),
		Duplicates: r.idsTotal - r.idsOverflow - int64(len(r.ids)),
		Overflow:   r.idsOverflow,
	}
	if withValues {
		st.IDs.Values = make(map[string]int64, len(r.ids))
		for k, v := range r.ids {
			st.IDs.Values[k] = v
		}
	}
	for _, a := range r.auth {
		st.Auth.Seen = append(st.Auth.Seen, *a)
	}
	sort.Slice(st.Auth.Seen, func(i, j int) bool { return st.Auth.Seen[i].Count > st.Auth.Seen[j].Count })
	st.Auth.Missing = r.authMissing
	st.Auth.Overflow = r.authOverflow
	return st
}

func itoa(i int) string { return strconv.Itoa(i) }
