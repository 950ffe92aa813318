package es

// Users, roles and privileges, as far as a setup job and the writers it
// creates need them: the native realm's user and role APIs, the reserved
// users' passwords, Basic auth for every user with a password, and the
// privilege checks that decide whether a writer's request is allowed.
//
// Upstream code it follows (read, not copied), elastic/elasticsearch 9.x:
//   - x-pack/plugin/security/.../rest/action/role/RestPutRoleAction.java:
//     PUT|POST /_security/role/{name} answers 200 {"role":{"created":bool}}
//     (PutRoleResponse), also when the role existed (created false).
//   - .../rest/action/user/RestPutUserAction.java and
//     x-pack/plugin/core/.../action/user/PutUserResponse.java:
//     PUT|POST /_security/user/{username} answers 200 {"created":bool};
//     PutUserRequest.validate: a new user needs a password, passwords have
//     at least 6 characters, reserved users (ReservedRealm: elastic, kibana,
//     kibana_system, logstash_system, beats_system, apm_system,
//     remote_monitoring_user) accept only a password change.
//   - .../rest/action/user/RestChangePasswordAction.java:
//     PUT|POST /_security/user/{username}/_password and
//     /_security/user/_password (the caller) answer 200 {}.
//   - x-pack/plugin/core/.../authz/privilege/ClusterPrivilegeResolver.java
//     and IndexPrivilege.java: the privilege names; `monitor` grants
//     cluster:monitor/* (GET / is cluster:monitor/main, GET /_license
//     cluster:monitor/xpack/license/get); `create_doc` grants writing new
//     documents; `auto_configure` grants indices:admin/auto_create, which a
//     bulk request needs for a data stream that does not exist yet.
//   - x-pack/plugin/security/.../authz/AuthorizationDenialMessages.java:
//     403 security_exception "action [A] is unauthorized for user [U] with
//     effective roles [R][ on indices [I]], this action is granted by the
//     cluster|index privileges [P]"; in a bulk request the denial is the
//     failed item's error (status 403), the request itself answers 200.
//   - ReservedRealm: reserved users other than `elastic` (whose password is
//     bootstrap.password until changed) cannot authenticate before their
//     password is set.
//
// Like Elasticsearch, which keeps users and roles in its .security index and
// templates, policies and data streams in the cluster state, all on its data
// path, the stand-in keeps them across a restart when given a data directory
// (Config.DataDir, the image's /usr/share/elasticsearch/data volume): a
// writer the setup job created still logs in after the store comes back.
//
// Differences: passwords are kept in clear (in memory and in that file); role descriptors are
// kept as given except cluster and index privileges; field and document
// level security, run_as, applications, remote indices and restricted
// (system) indices are not modelled; index patterns understand `*` and `?`
// (not Lucene regular expressions).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// reservedUsers are ReservedRealm's users.
var reservedUsers = []string{"elastic", "kibana", "kibana_system", "logstash_system", "beats_system", "apm_system", "remote_monitoring_user"}

// Predefined privileges (ClusterPrivilegeResolver, IndexPrivilege in 9.x).
var clusterPrivileges = setOf("all", "cancel_task", "create_snapshot", "cross_cluster_replication", "cross_cluster_search",
	"delegate_pki", "grant_api_key", "manage", "manage_api_key", "manage_autoscaling", "manage_behavioral_analytics",
	"manage_ccr", "manage_connector", "manage_data_frame_transforms", "manage_data_stream_global_retention", "manage_enrich",
	"manage_esql", "manage_ilm", "manage_index_templates", "manage_inference", "manage_ingest_pipelines",
	"manage_logstash_pipelines", "manage_ml", "manage_oidc", "manage_own_api_key", "manage_pipeline", "manage_rollup",
	"manage_saml", "manage_search_application", "manage_search_query_rules", "manage_search_synonyms", "manage_security",
	"manage_service_account", "manage_slm", "manage_token", "manage_transform", "manage_user_profile", "manage_watcher",
	"monitor", "monitor_connector", "monitor_data_frame_transforms", "monitor_data_stream_global_retention", "monitor_enrich",
	"monitor_esql", "monitor_inference", "monitor_ml", "monitor_rollup", "monitor_snapshot", "monitor_stats",
	"monitor_text_structure", "monitor_transform", "monitor_watcher", "none", "post_behavioral_analytics_event", "read_ccr",
	"read_connector_secrets", "read_fleet_secrets", "read_ilm", "read_pipeline", "read_security", "read_slm",
	"transport_client", "write_connector_secrets", "write_fleet_secrets")

var indexPrivileges = setOf("all", "auto_configure", "create", "create_doc", "create_index", "cross_cluster_replication",
	"cross_cluster_replication_internal", "delete", "delete_index", "index", "maintenance", "manage",
	"manage_data_stream_lifecycle", "manage_failure_store", "manage_follow_index", "manage_ilm", "manage_leader_index",
	"monitor", "none", "read", "read_cross_cluster", "read_failure_store", "view_index_metadata", "write")

func setOf(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// names is a role's `names`: one string or a list.
type names []string

func (n *names) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*n = names{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("[names] must be a string or an array of strings")
	}
	*n = many
	return nil
}

type indexGrant struct {
	Names      names    `json:"names"`
	Privileges []string `json:"privileges"`
}

type role struct {
	Cluster  []string       `json:"cluster"`
	Indices  []indexGrant   `json:"indices"`
	Metadata map[string]any `json:"metadata,omitempty"`
	rest     map[string]json.RawMessage
}

type user struct {
	password string // "" = cannot authenticate (a reserved user before its password is set)
	roles    []string
	fullName any
	email    any
	metadata map[string]any
	enabled  bool
	reserved bool
}

// principal is who a request runs as.
type principal struct {
	name  string
	roles []string
	all   bool // superuser, an API key, or security off
}

func (p *principal) rolesText() string { return strings.Join(p.roles, ",") }

// initSecurity creates the reserved users and the superuser role.
func (s *Server) initSecurity() {
	s.users = map[string]*user{}
	s.roles = map[string]*role{}
	s.indices = map[string]bool{}
	for _, n := range reservedUsers {
		u := &user{enabled: true, reserved: true, metadata: map[string]any{"_reserved": true}}
		switch n {
		case "elastic":
			u.roles = []string{"superuser"}
			u.password = s.cfg.Password
		case "kibana", "kibana_system":
			u.roles = []string{"kibana_system"}
		default:
			u.roles = []string{n}
		}
		s.users[n] = u
	}
	if s.cfg.User != "" && s.cfg.User != "elastic" {
		s.users[s.cfg.User] = &user{password: s.cfg.Password, roles: []string{"superuser"}, enabled: true}
	}
}

// authenticate returns the caller, or why it is refused.
func (s *Server) authenticate(r *http.Request) (*principal, string) {
	if s.cfg.User == "" && len(s.cfg.APIKeys) == 0 {
		return &principal{name: "_anonymous", roles: []string{"superuser"}, all: true}, "" // security disabled
	}
	h := r.Header.Get("Authorization")
	kind, token, _ := strings.Cut(h, " ")
	switch strings.ToLower(kind) {
	case "basic":
		name, pw, ok := r.BasicAuth()
		if ok && s.cfg.User != "" {
			s.secMu.Lock()
			u := s.users[name]
			var p *principal
			if u != nil && u.enabled && u.password != "" && u.password == pw {
				p = &principal{name: name, roles: append([]string(nil), u.roles...)}
				for _, r := range u.roles {
					if r == "superuser" {
						p.all = true
					}
				}
			}
			s.secMu.Unlock()
			if p != nil {
				return p, ""
			}
		}
		return nil, fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", name, r.URL.Path)
	case "apikey":
		decoded, _ := base64Decode(token)
		for _, k := range s.cfg.APIKeys {
			if k == token || (len(decoded) > 0 && k == decoded) {
				id, _, _ := strings.Cut(decoded, ":")
				return &principal{name: "apikey:" + id, roles: []string{"superuser"}, all: true}, ""
			}
		}
		return nil, "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
	}
	return nil, fmt.Sprintf("missing authentication credentials for REST request [%s]", r.URL.RequestURI())
}

// clusterAllowed says whether p holds one of privs (or `all`).
func (s *Server) clusterAllowed(p *principal, privs []string) bool {
	if p.all {
		return true
	}
	s.secMu.Lock()
	defer s.secMu.Unlock()
	for _, rn := range p.roles {
		ro := s.roles[rn]
		if ro == nil {
			continue
		}
		for _, have := range ro.Cluster {
			if have == "all" {
				return true
			}
			for _, want := range privs {
				if have == want {
					return true
				}
			}
		}
	}
	return false
}

// indexAllowed says whether p holds one of privs (or `all`) on index.
func (s *Server) indexAllowed(p *principal, index string, privs []string) bool {
	if p.all {
		return true
	}
	s.secMu.Lock()
	defer s.secMu.Unlock()
	for _, rn := range p.roles {
		ro := s.roles[rn]
		if ro == nil {
			continue
		}
		for _, g := range ro.Indices {
			matched := false
			for _, pat := range g.Names {
				if wildcardMatch(pat, index) {
					matched = true
					break
				}
			}
			if !matched {
				continue
			}
			for _, have := range g.Privileges {
				if have == "all" {
					return true
				}
				for _, want := range privs {
					if have == want {
						return true
					}
				}
			}
		}
	}
	return false
}

// wildcardMatch matches `*` (any run) and `?` (one character).
func wildcardMatch(pat, s string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcardMatch(pat[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcardMatch(pat[1:], s[1:])
	default:
		return s != "" && s[0] == pat[0] && wildcardMatch(pat[1:], s[1:])
	}
}

func deniedCluster(action string, p *principal, privs []string) string {
	return fmt.Sprintf("action [%s] is unauthorized for user [%s] with effective roles [%s], this action is granted by the cluster privileges [%s]",
		action, p.name, p.rolesText(), strings.Join(privs, ","))
}

func deniedIndex(action string, p *principal, index string, privs []string) string {
	return fmt.Sprintf("action [%s] is unauthorized for user [%s] with effective roles [%s] on indices [%s], this action is granted by the index privileges [%s]",
		action, p.name, p.rolesText(), index, strings.Join(privs, ","))
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, reason string) {
	s.rec.Rejected("forbidden")
	s.writeJSON(w, r, http.StatusForbidden, esError("security_exception", reason, http.StatusForbidden, nil))
}

// requireCluster answers 403 and returns false when p lacks every one of privs.
func (s *Server) requireCluster(w http.ResponseWriter, r *http.Request, p *principal, action string, privs ...string) bool {
	if s.clusterAllowed(p, privs) {
		return true
	}
	s.forbidden(w, r, deniedCluster(action, p, append(privs, "all")))
	return false
}

func validationError(msgs ...string) map[string]any {
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, m := range msgs {
		fmt.Fprintf(&b, "%d: %s;", i+1, m)
	}
	return esError("action_request_validation_exception", b.String(), http.StatusBadRequest, nil)
}

func isReserved(name string) bool {
	for _, n := range reservedUsers {
		if n == name {
			return true
		}
	}
	return false
}

// securityRoute serves /_security/role/..., /_security/user/... and
// /_security/_authenticate; false when the path is none of them.
func (s *Server) securityRoute(w http.ResponseWriter, r *http.Request, p *principal) bool {
	path := r.URL.Path
	switch {
	case path == "/_security/_authenticate" && r.Method == http.MethodGet:
		s.writeJSON(w, r, http.StatusOK, map[string]any{
			"username": p.name, "roles": p.roles, "full_name": nil, "email": nil, "metadata": map[string]any{},
			"enabled": true, "authentication_realm": map[string]any{"name": "standin", "type": "standin"},
			"lookup_realm": map[string]any{"name": "standin", "type": "standin"}, "authentication_type": "realm",
		})
	case strings.HasPrefix(path, "/_security/role/"):
		name := strings.TrimPrefix(path, "/_security/role/")
		if name == "" || strings.Contains(name, "/") {
			return false
		}
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			if s.requireCluster(w, r, p, "cluster:admin/xpack/security/role/put", "manage_security") {
				s.putRole(w, r, name)
			}
		case http.MethodGet:
			if s.requireCluster(w, r, p, "cluster:admin/xpack/security/role/get", "read_security", "manage_security") {
				s.getRole(w, r, name)
			}
		default:
			return false
		}
	case path == "/_security/user/_password" || (strings.HasPrefix(path, "/_security/user/") && strings.HasSuffix(path, "/_password")):
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			return false
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/_security/user/"), "/_password")
		if name == "" || name == "_password" {
			name = p.name
		}
		// Changing one's own password needs no privilege (change_password is
		// granted to every user for itself); anyone else's needs manage_security.
		if name == p.name || s.requireCluster(w, r, p, "cluster:admin/xpack/security/user/change_password", "manage_security") {
			s.changePassword(w, r, name)
		}
	case strings.HasPrefix(path, "/_security/user/"):
		name := strings.TrimPrefix(path, "/_security/user/")
		if name == "" || strings.Contains(name, "/") {
			return false
		}
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			if s.requireCluster(w, r, p, "cluster:admin/xpack/security/user/put", "manage_security") {
				s.putUser(w, r, name)
			}
		case http.MethodGet:
			if s.requireCluster(w, r, p, "cluster:admin/xpack/security/user/get", "read_security", "manage_security") {
				s.getUser(w, r, name)
			}
		default:
			return false
		}
	default:
		return false
	}
	return true
}

func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	body, err := readSmallBody(r)
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		s.writeJSON(w, r, http.StatusBadRequest, esError("parse_exception", "request body is required", http.StatusBadRequest, nil))
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		s.writeJSON(w, r, http.StatusBadRequest, esError("x_content_parse_exception", "failed to parse the request body: "+err.Error(), http.StatusBadRequest, nil))
		return nil, false
	}
	return m, true
}

func (s *Server) putRole(w http.ResponseWriter, r *http.Request, name string) {
	m, ok := s.readJSONBody(w, r)
	if !ok {
		return
	}
	if name == "superuser" || strings.HasPrefix(name, "_") {
		s.writeJSON(w, r, http.StatusBadRequest, validationError(fmt.Sprintf("Role [%s] is reserved and may not be used.", name)))
		return
	}
	ro := &role{rest: map[string]json.RawMessage{}}
	for k, v := range m {
		var err error
		switch k {
		case "cluster":
			err = json.Unmarshal(v, &ro.Cluster)
		case "indices":
			err = json.Unmarshal(v, &ro.Indices)
		case "metadata":
			err = json.Unmarshal(v, &ro.Metadata)
		case "applications", "run_as", "global", "remote_indices", "remote_cluster", "description", "transient_metadata":
			ro.rest[k] = v
		default:
			err = fmt.Errorf("failed to parse role [%s]. unexpected field [%s]", name, k)
		}
		if err != nil {
			s.writeJSON(w, r, http.StatusBadRequest, esError("parse_exception", err.Error(), http.StatusBadRequest, nil))
			return
		}
	}
	for _, c := range ro.Cluster {
		if !clusterPrivileges[c] && !strings.HasPrefix(c, "cluster:") {
			s.writeJSON(w, r, http.StatusBadRequest, esError("illegal_argument_exception",
				fmt.Sprintf("unknown cluster privilege [%s]. a privilege must be either one of the predefined cluster privilege names or a pattern over one of the available cluster actions", c),
				http.StatusBadRequest, nil))
			return
		}
	}
	for _, g := range ro.Indices {
		if len(g.Names) == 0 || len(g.Privileges) == 0 {
			s.writeJSON(w, r, http.StatusBadRequest, esError("parse_exception",
				fmt.Sprintf("failed to parse indices privileges for role [%s]. missing required [names] or [privileges] fields", name), http.StatusBadRequest, nil))
			return
		}
		for _, priv := range g.Privileges {
			if !indexPrivileges[priv] && !strings.HasPrefix(priv, "indices:") {
				s.writeJSON(w, r, http.StatusBadRequest, esError("illegal_argument_exception",
					fmt.Sprintf("unknown index privilege [%s]. a privilege must be either one of the predefined fixed indices privileges or a pattern over one of the available index actions", priv),
					http.StatusBadRequest, nil))
				return
			}
		}
	}
	s.secMu.Lock()
	_, existed := s.roles[name]
	s.roles[name] = ro
	s.saveLocked()
	s.secMu.Unlock()
	s.writeJSON(w, r, http.StatusOK, map[string]any{"role": map[string]any{"created": !existed}})
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, name string) {
	s.secMu.Lock()
	ro := s.roles[name]
	s.secMu.Unlock()
	if ro == nil {
		s.writeJSON(w, r, http.StatusNotFound, map[string]any{})
		return
	}
	out := map[string]any{"cluster": ro.Cluster, "indices": ro.Indices, "metadata": ro.Metadata}
	for k, v := range ro.rest {
		out[k] = v
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{name: out})
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request, name string) {
	m, ok := s.readJSONBody(w, r)
	if !ok {
		return
	}
	var (
		password string
		hasPw    bool
		roles    []string
		hasRoles bool
		errs     []string
		nu       = &user{enabled: true}
	)
	for k, v := range m {
		var err error
		switch k {
		case "password":
			hasPw = true
			err = json.Unmarshal(v, &password)
		case "password_hash":
			errs = append(errs, "the stand-in does not take password hashes")
		case "roles":
			hasRoles = true
			err = json.Unmarshal(v, &roles)
		case "full_name":
			err = json.Unmarshal(v, &nu.fullName)
		case "email":
			err = json.Unmarshal(v, &nu.email)
		case "metadata":
			err = json.Unmarshal(v, &nu.metadata)
		case "enabled":
			err = json.Unmarshal(v, &nu.enabled)
		default:
			err = fmt.Errorf("failed to parse add user request. unexpected field [%s]", k)
		}
		if err != nil {
			s.writeJSON(w, r, http.StatusBadRequest, esError("parse_exception", err.Error(), http.StatusBadRequest, nil))
			return
		}
	}
	if isReserved(name) {
		errs = append(errs, fmt.Sprintf("user [%s] is reserved and only the password can be changed", name))
	}
	if !hasRoles {
		errs = append(errs, "roles are missing")
	}
	if hasPw && len(password) < 6 {
		errs = append(errs, "passwords must be at least [6] characters long")
	}
	s.secMu.Lock()
	old := s.users[name]
	if old == nil && !hasPw {
		errs = append(errs, "the password is required to create a user")
	}
	if len(errs) > 0 {
		s.secMu.Unlock()
		s.writeJSON(w, r, http.StatusBadRequest, validationError(errs...))
		return
	}
	nu.roles = roles
	nu.password = password
	if !hasPw {
		nu.password = old.password // an update without a password keeps it
	}
	s.users[name] = nu
	s.saveLocked()
	s.secMu.Unlock()
	s.writeJSON(w, r, http.StatusOK, map[string]any{"created": old == nil})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, name string) {
	s.secMu.Lock()
	u := s.users[name]
	s.secMu.Unlock()
	if u == nil {
		s.writeJSON(w, r, http.StatusNotFound, map[string]any{})
		return
	}
	md := u.metadata
	if md == nil {
		md = map[string]any{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{name: map[string]any{
		"username": name, "roles": u.roles, "full_name": u.fullName, "email": u.email, "metadata": md, "enabled": u.enabled,
	}})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, name string) {
	m, ok := s.readJSONBody(w, r)
	if !ok {
		return
	}
	var password string
	raw, has := m["password"]
	if !has || json.Unmarshal(raw, &password) != nil {
		s.writeJSON(w, r, http.StatusBadRequest, validationError("password is missing"))
		return
	}
	if len(password) < 6 {
		s.writeJSON(w, r, http.StatusBadRequest, validationError("passwords must be at least [6] characters long"))
		return
	}
	s.secMu.Lock()
	u := s.users[name]
	if u != nil {
		u.password = password
		s.saveLocked()
	}
	s.secMu.Unlock()
	if u == nil {
		s.writeJSON(w, r, http.StatusNotFound, esError("resource_not_found_exception",
			fmt.Sprintf("user must exist in order to change password [%s]", name), http.StatusNotFound, nil))
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{})
}

// securityState is what the admin endpoint shows: who exists, never passwords.
func (s *Server) securityState() map[string]any {
	s.secMu.Lock()
	defer s.secMu.Unlock()
	users := map[string]any{}
	for n, u := range s.users {
		users[n] = map[string]any{"roles": u.roles, "password_set": u.password != "", "reserved": u.reserved}
	}
	roles := make([]string, 0, len(s.roles))
	for n := range s.roles {
		roles = append(roles, n)
	}
	sort.Strings(roles)
	policies := make([]string, 0, len(s.policies))
	for n := range s.policies {
		policies = append(policies, n)
	}
	sort.Strings(policies)
	templates := make([]string, 0, len(s.templates))
	for n := range s.templates {
		templates = append(templates, n)
	}
	sort.Strings(templates)
	return map[string]any{"users": users, "roles": roles, "ilm_policies": policies, "templates": templates}
}

// persisted is what survives a restart (the file standin-security.json in Config.DataDir).
type persisted struct {
	Users map[string]struct {
		Password string         `json:"password"`
		Roles    []string       `json:"roles"`
		FullName any            `json:"full_name,omitempty"`
		Email    any            `json:"email,omitempty"`
		Metadata map[string]any `json:"metadata,omitempty"`
		Enabled  bool           `json:"enabled"`
		Reserved bool           `json:"reserved"`
	} `json:"users"`
	Roles     map[string]json.RawMessage `json:"roles"`
	Indices   []string                   `json:"indices"`
	Policies  []string                   `json:"policies"`
	Templates []string                   `json:"templates"`
}

func (s *Server) statePath() string {
	if s.cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(s.cfg.DataDir, "standin-security.json")
}

// loadState reads what an earlier run of the stand-in kept; nothing when there is none.
func (s *Server) loadState() error {
	path := s.statePath()
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	s.secMu.Lock()
	defer s.secMu.Unlock()
	for n, u := range p.Users {
		s.users[n] = &user{password: u.Password, roles: u.Roles, fullName: u.FullName, email: u.Email,
			metadata: u.Metadata, enabled: u.Enabled, reserved: u.Reserved}
	}
	for n, raw := range p.Roles {
		var ro role
		if err := json.Unmarshal(raw, &ro); err != nil {
			return fmt.Errorf("%s: role %s: %w", path, n, err)
		}
		s.roles[n] = &ro
	}
	for _, x := range p.Indices {
		s.indices[x] = true
	}
	for _, x := range p.Policies {
		s.policies[x] = true
	}
	for _, x := range p.Templates {
		s.templates[x] = true
	}
	return nil
}

// saveLocked writes the state (secMu held); atomically, so a kill mid-write keeps the old file.
func (s *Server) saveLocked() {
	path := s.statePath()
	if path == "" {
		return
	}
	var p persisted
	p.Users = map[string]struct {
		Password string         `json:"password"`
		Roles    []string       `json:"roles"`
		FullName any            `json:"full_name,omitempty"`
		Email    any            `json:"email,omitempty"`
		Metadata map[string]any `json:"metadata,omitempty"`
		Enabled  bool           `json:"enabled"`
		Reserved bool           `json:"reserved"`
	}{}
	for n, u := range s.users {
		e := p.Users[n]
		e.Password, e.Roles, e.FullName, e.Email, e.Metadata, e.Enabled, e.Reserved =
			u.password, u.roles, u.fullName, u.email, u.metadata, u.enabled, u.reserved
		p.Users[n] = e
	}
	p.Roles = map[string]json.RawMessage{}
	for n, ro := range s.roles {
		b, _ := json.Marshal(ro)
		p.Roles[n] = b
	}
	for x := range s.indices {
		p.Indices = append(p.Indices, x)
	}
	for x := range s.policies {
		p.Policies = append(p.Policies, x)
	}
	for x := range s.templates {
		p.Templates = append(p.Templates, x)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		_ = os.Rename(tmp, path)
	}
}
