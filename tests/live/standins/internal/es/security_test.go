package es

import (
	"encoding/base64"
	"strings"
	"testing"
)

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// The requests otelplan's Elasticsearch setup job sends, in its order, then
// the writer it created at work.
func TestSetupJobAndItsWriter(t *testing.T) {
	s, rec := start(t, Config{User: "elastic", Password: "superpw"})
	base := "http://" + s.Addr
	su := basic("elastic", "superpw")
	steps := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/_cluster/health?wait_for_status=yellow&timeout=20s", "", 200, `"status":"green"`},
		{"PUT", "/_ilm/policy/otelplan-traces", `{"policy":{"phases":{"hot":{"actions":{"rollover":{"max_age":"1d"}}},"delete":{"min_age":"7d","actions":{"delete":{}}}}}}`, 200, `{"acknowledged":true}`},
		{"PUT", "/_component_template/traces@custom", `{"template":{"settings":{"index":{"lifecycle":{"name":"otelplan-traces","prefer_ilm":true}}}}}`, 200, `{"acknowledged":true}`},
		{"PUT", "/_security/role/otelcol_writer", `{"cluster":["monitor"],"indices":[{"names":["logs-*-*","metrics-*-*","traces-*-*"],"privileges":["auto_configure","create_doc"]}],"metadata":{"managed_by":"otelplan"}}`, 200, `{"role":{"created":true}}`},
		{"PUT", "/_security/role/otelcol_writer", `{"cluster":["monitor"],"indices":[{"names":["logs-*-*","metrics-*-*","traces-*-*"],"privileges":["auto_configure","create_doc"]}]}`, 200, `{"role":{"created":false}}`},
		{"PUT", "/_security/user/otelcol_writer", `{"password":"writerpw","roles":["otelcol_writer"],"full_name":"telemetry writer"}`, 200, `{"created":true}`},
		{"PUT", "/_security/user/otelcol_writer", `{"password":"writerpw","roles":["otelcol_writer"]}`, 200, `{"created":false}`},
		{"POST", "/_security/user/kibana_system/_password", `{"password":"kibanapw"}`, 200, `{}`},
		// what Elasticsearch refuses
		{"PUT", "/_security/role/bad", `{"cluster":["monitr"]}`, 400, `unknown cluster privilege [monitr]`},
		{"PUT", "/_security/role/bad", `{"indices":[{"names":["x"],"privileges":["create_docs"]}]}`, 400, `unknown index privilege [create_docs]`},
		{"PUT", "/_security/user/short", `{"password":"12345","roles":[]}`, 400, `at least [6] characters`},
		{"PUT", "/_security/user/nopw", `{"roles":["x"]}`, 400, `password is required`},
		{"PUT", "/_security/user/kibana_system", `{"password":"kibanapw","roles":[]}`, 400, `reserved`},
		{"PUT", "/_ilm/policy/p", `{"phases":{}}`, 400, `Required [policy]`},
	}
	for _, st := range steps {
		resp, raw := doRaw(t, st.method, base+st.path, su, st.body)
		if resp != st.code || !strings.Contains(raw, st.want) {
			t.Fatalf("%s %s: %d %s (want %d %s)", st.method, st.path, resp, raw, st.code, st.want)
		}
	}

	w := basic("otelcol_writer", "writerpw")
	if code, raw := doRaw(t, "GET", base+"/", w, ""); code != 200 {
		t.Fatalf("writer GET / (monitor): %d %s", code, raw)
	}
	if code, _ := doRaw(t, "GET", base+"/", basic("otelcol_writer", "wrong1"), ""); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, raw := doRaw(t, "PUT", base+"/_security/role/x", w, `{}`); code != 403 || !strings.Contains(raw, "manage_security") {
		t.Fatalf("writer PUT role: %d %s", code, raw)
	}
	if code, raw := doRaw(t, "PUT", base+"/_component_template/x", w, `{"template":{}}`); code != 403 {
		t.Fatalf("writer PUT template: %d %s", code, raw)
	}
	body := `{"create":{"_index":"traces-generic.otel-default"}}
{"attributes":{"test.id":"w-1"},"resource":{"attributes":{"service.name":"web"}}}
{"create":{"_index":"apm-7.17-span"}}
{"attributes":{"test.id":"w-2"}}
{"index":{"_index":"logs-generic.otel-default"}}
{"attributes":{"test.id":"w-3"}}
`
	code, m := do(t, "POST", base+"/_bulk", w, []byte(body), false)
	if code.StatusCode != 200 || m["errors"] != true {
		t.Fatalf("bulk: %d %v", code.StatusCode, m)
	}
	items := m["items"].([]any)
	st := func(i int, op string) (float64, string) {
		it := items[i].(map[string]any)[op].(map[string]any)
		reason := ""
		if e, ok := it["error"].(map[string]any); ok {
			reason, _ = e["reason"].(string)
		}
		return it["status"].(float64), reason
	}
	if c, _ := st(0, "create"); c != 201 {
		t.Fatalf("item 0: %v", items[0])
	}
	if c, r := st(1, "create"); c != 403 || !strings.Contains(r, "on indices [apm-7.17-span]") {
		t.Fatalf("item 1: %v", items[1])
	}
	if c, r := st(2, "index"); c != 403 || !strings.Contains(r, "index privileges [index,write,all]") {
		t.Fatalf("item 2 (index op needs index): %v", items[2])
	}
	if got := rec.Snapshot("", "", false).IDs.Unique; got != 1 {
		t.Fatalf("unique ids %d", got)
	}

	// a role with create_doc but without auto_configure cannot create a data stream
	doRaw(t, "PUT", base+"/_security/role/noauto", su, `{"indices":[{"names":["logs-*"],"privileges":["create_doc"]}]}`)
	doRaw(t, "PUT", base+"/_security/user/noauto", su, `{"password":"noautopw","roles":["noauto"]}`)
	doRaw(t, "POST", base+"/_bulk", su, "{\"create\":{\"_index\":\"logs-generic.otel-default\"}}\n{\"a\":1}\n") // the superuser creates it
	code, m = do(t, "POST", base+"/_bulk", basic("noauto", "noautopw"), []byte(`{"create":{"_index":"logs-new-default"}}
{"a":1}
{"create":{"_index":"logs-generic.otel-default"}}
{"a":1}
`), false)
	items = m["items"].([]any)
	if c, r := st(0, "create"); c != 403 || !strings.Contains(r, "indices:admin/auto_create") {
		t.Fatalf("auto create: %v", items[0])
	}
	if c, _ := st(1, "create"); c != 201 {
		t.Fatalf("existing stream: %v", items[1])
	}
	if code, _ := doRaw(t, "GET", base+"/", basic("noauto", "noautopw"), ""); code != 403 {
		t.Fatalf("no monitor: GET / %d", code)
	}

	// kibana_system authenticates only once its password is set; elastic's can change
	if code, _ := doRaw(t, "GET", base+"/_security/_authenticate", basic("kibana_system", "kibanapw"), ""); code != 200 {
		t.Fatalf("kibana_system: %d", code)
	}
	if code, _ := doRaw(t, "POST", base+"/_security/user/_password", su, `{"password":"newsuperpw"}`); code != 200 {
		t.Fatalf("own password: %d", code)
	}
	if code, _ := doRaw(t, "GET", base+"/", su, ""); code != 401 {
		t.Fatalf("old superuser password still works: %d", code)
	}
}

func TestReservedUsersWithoutPasswordCannotLogIn(t *testing.T) {
	s, _ := start(t, Config{User: "elastic", Password: "superpw"})
	if code, _ := doRaw(t, "GET", "http://"+s.Addr+"/_security/_authenticate", basic("kibana_system", ""), ""); code != 401 {
		t.Fatalf("kibana_system without a password: %d", code)
	}
}

func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		ok     bool
	}{{"traces-*-*", "traces-generic.otel-default", true}, {"traces-*-*", "traces-apm", false}, {"traces-apm*", "traces-apm.rum-default", true},
		{"logs-?", "logs-a", true}, {"logs-?", "logs-ab", false}, {".apm-agent-configuration", ".apm-agent-configuration", true}} {
		if wildcardMatch(c.pat, c.s) != c.ok {
			t.Errorf("%s ~ %s: want %v", c.pat, c.s, c.ok)
		}
	}
}

// Elasticsearch keeps users and roles on its data path: a writer the setup job
// created logs in after the store restarts.
func TestSecuritySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s, _ := start(t, Config{User: "elastic", Password: "superpw", DataDir: dir})
	su := basic("elastic", "superpw")
	doRaw(t, "PUT", "http://"+s.Addr+"/_security/role/w", su, `{"cluster":["monitor"],"indices":[{"names":["logs-*-*"],"privileges":["auto_configure","create_doc"]}]}`)
	doRaw(t, "PUT", "http://"+s.Addr+"/_security/user/w", su, `{"password":"writerpw","roles":["w"]}`)
	s.Close()
	s2, _ := start(t, Config{User: "elastic", Password: "superpw", DataDir: dir})
	if code, raw := doRaw(t, "GET", "http://"+s2.Addr+"/", basic("w", "writerpw"), ""); code != 200 {
		t.Fatalf("after a restart: %d %s", code, raw)
	}
	s3, _ := start(t, Config{User: "elastic", Password: "superpw"})
	if code, _ := doRaw(t, "GET", "http://"+s3.Addr+"/", basic("w", "writerpw"), ""); code != 401 {
		t.Fatalf("without a data directory nothing is kept: %d", code)
	}
}
