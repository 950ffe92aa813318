// Command standins runs stand-ins for programs the live tests cannot build
// here: Elastic APM Server 9.x (`standins apm`), Elasticsearch 9.x
// (`standins es`) and Grafana Loki 3.x (`standins loki`), plus a small OTLP
// sender (`standins send`) for smoke tests. Each stand-in prints one line
// "STANDIN_READY {json}" once it listens, and serves counters at
// GET /_standin/stats. See README.md beside this file.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"otelplan/tests/live/standins/internal/apm"
	"otelplan/tests/live/standins/internal/common"
	"otelplan/tests/live/standins/internal/es"
	"otelplan/tests/live/standins/internal/load"
	"otelplan/tests/live/standins/internal/loki"
	"otelplan/tests/live/standins/internal/send"
)

func usage() {
	fmt.Fprintf(os.Stderr, `usage: standins <command> [flags]

commands:
  apm    Elastic APM Server 9.x stand-in (OTLP gRPC + HTTP on one port)
  es     Elasticsearch 9.x stand-in (_bulk, product check, faults)
  loki   Grafana Loki 3.x stand-in (OTLP/HTTP logs, tenants)
  send   send one OTLP request (traces, metrics or logs) and print the answer
  load   offer OTLP load at a fixed rate for a while and report what was accepted

'standins <command> -h' lists the command's flags.
`)
	os.Exit(2)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "apm":
		runAPM(args)
	case "es", "elasticsearch":
		runES(args)
	case "loki":
		runLoki(args)
	case "send":
		os.Exit(send.Main(args))
	case "load":
		os.Exit(load.Main(args))
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", cmd)
		usage()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "standins:", err)
	os.Exit(1)
}

func runAPM(args []string) {
	fs := flag.NewFlagSet("apm", flag.ExitOnError)
	listen := fs.String("listen", common.EnvOr("127.0.0.1:8200", "APM_STANDIN_LISTEN"), "listen address (HTTP/1.1 and h2c gRPC)")
	token := fs.String("secret-token", common.EnvOr("", "APM_STANDIN_SECRET_TOKEN", "ELASTIC_APM_SECRET_TOKEN"), "apm-server.auth.secret_token (empty: none)")
	keys := fs.String("api-keys", common.EnvOr("", "APM_STANDIN_API_KEYS"), "comma-separated accepted API keys, base64(id:key) or id:key (empty: API keys off)")
	version := fs.String("version", "9.5.2", "version reported by GET /")
	prefix := fs.String("path-prefix", "", "also serve the OTLP/HTTP routes under this prefix (a plain OTLP sink, e.g. /api/v1/otlp)")
	newRec := common.RecorderFlags(fs)
	_ = fs.Parse(args)
	rec, err := newRec()
	if err != nil {
		fail(err)
	}
	s, err := apm.New(apm.Config{Listen: *listen, SecretToken: *token, APIKeys: splitList(*keys), Version: *version, PathPrefix: *prefix}, rec)
	if err != nil {
		fail(err)
	}
	common.Ready(map[string]any{"standin": "apm", "listen": s.Addr, "admin": s.Addr, "auth": *token != "" || *keys != ""})
	common.WaitSignal()
	s.Close()
	_ = rec.Close()
}

func runES(args []string) {
	fs := flag.NewFlagSet("es", flag.ExitOnError)
	listen := fs.String("listen", common.EnvOr("127.0.0.1:9200", "ES_STANDIN_LISTEN"), "listen address")
	admin := fs.String("admin-listen", common.EnvOr("127.0.0.1:0", "ES_STANDIN_ADMIN_LISTEN"), "separate admin listener (stays up during the down fault); empty: none")
	user := fs.String("user", common.EnvOr("", "ES_STANDIN_USER"), "Basic auth user (empty with no api keys: security off)")
	pass := fs.String("password", common.EnvOr("", "ES_STANDIN_PASSWORD", "ELASTIC_PASSWORD"), "Basic auth password")
	keys := fs.String("api-keys", common.EnvOr("", "ES_STANDIN_API_KEYS"), "comma-separated accepted API keys, base64(id:key) or id:key")
	version := fs.String("version", "9.5.2", "Elasticsearch version reported")
	license := fs.String("license", "basic", "license type reported by GET /_license")
	dataDir := fs.String("data-dir", "", "directory where users, roles, templates and data streams survive a restart (Elasticsearch's data path)")
	faultMode := fs.String("fault", "none", "initial fault: none, 429, 503, partial, down")
	faultSecs := fs.Float64("fault-seconds", 0, "initial fault duration (0: until changed)")
	newRec := common.RecorderFlags(fs)
	_ = fs.Parse(args)
	rec, err := newRec()
	if err != nil {
		fail(err)
	}
	s, err := es.New(es.Config{Listen: *listen, AdminListen: *admin, User: *user, Password: *pass,
		APIKeys: splitList(*keys), Version: *version, LicenseType: *license, DataDir: *dataDir}, rec)
	if err != nil {
		fail(err)
	}
	if err := s.SetFault(*faultMode, time.Duration(*faultSecs*float64(time.Second)), ""); err != nil {
		fail(err)
	}
	common.Ready(map[string]any{"standin": "es", "listen": s.Addr, "admin": s.AdminAddr, "auth": *user != "" || *keys != ""})
	common.WaitSignal()
	s.Close()
	_ = rec.Close()
}

func runLoki(args []string) {
	fs := flag.NewFlagSet("loki", flag.ExitOnError)
	listen := fs.String("listen", common.EnvOr("127.0.0.1:3100", "LOKI_STANDIN_LISTEN"), "listen address")
	auth := fs.Bool("auth-enabled", os.Getenv("LOKI_STANDIN_AUTH_ENABLED") == "true", "require X-Scope-OrgID (Loki's auth_enabled)")
	newRec := common.RecorderFlags(fs)
	_ = fs.Parse(args)
	rec, err := newRec()
	if err != nil {
		fail(err)
	}
	s, err := loki.New(loki.Config{Listen: *listen, AuthEnabled: *auth}, rec)
	if err != nil {
		fail(err)
	}
	common.Ready(map[string]any{"standin": "loki", "listen": s.Addr, "admin": s.Addr, "auth_enabled": *auth})
	common.WaitSignal()
	s.Close()
	_ = rec.Close()
}
