// Package load offers OTLP load at a fixed rate, as the DKP services' SDKs
// would send it, and reports what the receiver accepted: the capacity bench
// (benches/capacity.sh) drives a collector with it.
//
// The load is open-loop: requests start on a schedule whatever the answers, so
// a receiver that slows down shows up as requests that could not start on time
// ("late") instead of hiding a lower rate. Payloads are built and encoded once
// (a few variants per signal), so the generator spends its CPU on the wire.
// Requests follow the OTLP specification's transports (opentelemetry-proto
// v1.x docs/specification.md): gRPC unary calls to
// opentelemetry.proto.collector.<signal>.v1.<Signal>Service/Export, and
// HTTP POST of application/x-protobuf to <base>/v1/<signal>.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// rawCodec passes already-encoded protobuf bytes through gRPC: requests are
// encoded once, and answers are only counted.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var grpcMethods = map[string]string{
	"traces":  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	"metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	"logs":    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}

// Signals in the order of a mix ratio.
var Signals = []string{"traces", "logs", "metrics"}

// Result is what one run reports (JSON on stdout).
type Result struct {
	Signal          string           `json:"signal"`
	Protocol        string           `json:"protocol"`
	OfferedPerSec   float64          `json:"offered_per_second"`
	Seconds         float64          `json:"seconds"`
	Items           map[string]int64 `json:"items_accepted"`
	ItemsRefused    int64            `json:"items_refused"`
	ItemsFailed     int64            `json:"items_failed"`
	ItemsLate       int64            `json:"items_late"`
	Requests        int64            `json:"requests"`
	Answers         map[string]int64 `json:"answers"`
	LatencyP50Ms    float64          `json:"latency_p50_ms"`
	LatencyP99Ms    float64          `json:"latency_p99_ms"`
	BytesPerItem    map[string]int   `json:"bytes_per_item"`
	ItemsPerRequest int              `json:"items_per_request"`
}

type job struct {
	signal string
	body   *[]byte
	items  int
}

// Main runs `standins load`.
func Main(args []string) int {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	proto := fs.String("protocol", "grpc", "grpc or http")
	endpoint := fs.String("endpoint", "127.0.0.1:4317", "grpc: host:port; http: base URL (http://127.0.0.1:4318)")
	signal := fs.String("signal", "traces", "traces, logs, metrics or mixed")
	mix := fs.String("mix", "5:2:3", "mixed: the share of traces:logs:metrics items")
	rate := fs.Float64("rate", 1000, "items per second offered (all signals together)")
	duration := fs.Duration("duration", 10*time.Second, "how long to offer the load")
	batch := fs.Int("batch", 512, "items per request (the Python SDK's batch processors export up to 512)")
	workers := fs.Int("workers", 16, "requests in flight at most")
	service := fs.String("service", "web", "service.name of the items")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	_ = fs.Parse(args)

	shares, err := parseMix(*signal, *mix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 2
	}
	payloads := map[string][]*[]byte{}
	res := Result{Signal: *signal, Protocol: *proto, OfferedPerSec: *rate, Items: map[string]int64{},
		Answers: map[string]int64{}, BytesPerItem: map[string]int{}, ItemsPerRequest: *batch}
	for sig := range shares {
		for v := 0; v < 8; v++ {
			b := Encode(sig, *service, v, *batch)
			payloads[sig] = append(payloads[sig], &b)
		}
		res.BytesPerItem[sig] = len(*payloads[sig][0]) / *batch
	}

	send, closeFn, err := sender(*proto, *endpoint, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 2
	}
	defer closeFn()

	jobs := make(chan job, *workers)
	var mu sync.Mutex
	var latencies []time.Duration
	var refused, failed, requests atomic.Int64
	accepted := map[string]*atomic.Int64{}
	for _, s := range Signals {
		accepted[s] = &atomic.Int64{}
	}
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				t0 := time.Now()
				answer, ok, retryable := send(j.signal, j.body)
				d := time.Since(t0)
				requests.Add(1)
				mu.Lock()
				latencies = append(latencies, d)
				res.Answers[answer]++
				mu.Unlock()
				switch {
				case ok:
					accepted[j.signal].Add(int64(j.items))
				case retryable:
					refused.Add(int64(j.items))
				default:
					failed.Add(int64(j.items))
				}
			}
		}()
	}

	// The schedule: request k of signal s starts at k*batch/(rate*share) seconds.
	start := time.Now()
	end := start.Add(*duration)
	next := map[string]time.Time{}
	interval := map[string]time.Duration{}
	for sig, share := range shares {
		per := *rate * share / float64(*batch)
		interval[sig] = time.Duration(float64(time.Second) / per)
		next[sig] = start
	}
	var late int64
	variant := 0
	for {
		sig, at := "", end
		for s, t := range next {
			if t.Before(at) || (t.Equal(at) && s < sig) {
				sig, at = s, t
			}
		}
		if sig == "" {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		variant++
		select {
		case jobs <- job{signal: sig, body: payloads[sig][variant%len(payloads[sig])], items: *batch}:
		default:
			late += int64(*batch) // every worker is waiting on the receiver
		}
		next[sig] = at.Add(interval[sig])
	}
	close(jobs)
	wg.Wait()

	res.Seconds = time.Since(start).Seconds()
	for s, n := range accepted {
		if n.Load() > 0 {
			res.Items[s] = n.Load()
		}
	}
	res.ItemsRefused, res.ItemsFailed, res.ItemsLate, res.Requests = refused.Load(), failed.Load(), late, requests.Load()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		res.LatencyP50Ms = float64(latencies[n/2].Microseconds()) / 1000
		res.LatencyP99Ms = float64(latencies[n*99/100].Microseconds()) / 1000
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

func parseMix(signal, mix string) (map[string]float64, error) {
	if signal != "mixed" {
		for _, s := range Signals {
			if s == signal {
				return map[string]float64{s: 1}, nil
			}
		}
		return nil, fmt.Errorf("unknown signal %q (traces, logs, metrics or mixed)", signal)
	}
	parts := strings.Split(mix, ":")
	if len(parts) != len(Signals) {
		return nil, fmt.Errorf("--mix takes traces:logs:metrics, got %q", mix)
	}
	total := 0.0
	w := map[string]float64{}
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--mix: %q is not a share", p)
		}
		if v > 0 {
			w[Signals[i]] = v
		}
		total += v
	}
	if total == 0 {
		return nil, fmt.Errorf("--mix: every share is zero")
	}
	for s := range w {
		w[s] /= total
	}
	return w, nil
}

// sender returns a function sending one encoded request, answering its code,
// whether it was accepted and whether the refusal is one a client retries
// (OTLP: gRPC Unavailable/ResourceExhausted…, HTTP 429/502/503/504).
func sender(proto, endpoint string, timeout time.Duration) (func(string, *[]byte) (string, bool, bool), func(), error) {
	switch proto {
	case "grpc":
		conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			return nil, nil, err
		}
		return func(sig string, body *[]byte) (string, bool, bool) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var reply []byte
			err := conn.Invoke(ctx, grpcMethods[sig], body, &reply)
			c := status.Code(err)
			switch c {
			case codes.OK:
				return "OK", true, false
			case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.Canceled,
				codes.DeadlineExceeded, codes.OutOfRange, codes.DataLoss:
				return c.String(), false, true
			}
			return c.String(), false, false
		}, func() { _ = conn.Close() }, nil
	case "http":
		base := strings.TrimSuffix(endpoint, "/")
		client := &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		return func(sig string, body *[]byte) (string, bool, bool) {
			resp, err := client.Post(base+"/v1/"+sig, "application/x-protobuf", bytes.NewReader(*body))
			if err != nil {
				return "error", false, true
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			code := strconv.Itoa(resp.StatusCode)
			switch {
			case resp.StatusCode/100 == 2:
				return code, true, false
			case resp.StatusCode == 429 || resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 504:
				return code, false, true
			}
			return code, false, false
		}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown protocol %q (grpc or http)", proto)
}
