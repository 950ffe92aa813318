//! Emit stage: the files of a deployed Elasticsearch's setup job — `setup.sh`, which sends the
//! plan's requests in order, and one JSON body per request. The same files serve both targets
//! (the job gets Elasticsearch's URL and the passwords from its environment); compose mounts
//! `elasticsearch/setup/`, Kubernetes a ConfigMap generated from its copy under `kubernetes/`.

use std::fmt::Write as _;

use crate::emit::yaml::HEADER;
use crate::plan::es_setup::{EsRequest, EsSetup, SUPERUSER_PASSWORD_VAR};
use crate::plan::workload::{SETUP_SCRIPT, SETUP_URL_VAR};

/// The directory of the files, relative to the tree (and to `kubernetes/`).
pub(crate) const DIR: &str = "elasticsearch/setup";

/// A word for the shell, single-quoted.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The functions every script has: bounded requests, the password added to a body as JSON
/// (`@SUPERUSER@` stands for the superuser's password variable).
const FUNCTIONS: &str = r#"
# status CURL-ARGUMENTS...: the HTTP status of one request as the superuser, 000 when none came
# back; curl gives up after 5 s without a connection and after 30 s in all.
status() {
  curl -sS --connect-timeout 5 --max-time 30 -u "elastic:${@SUPERUSER@}" -w '%{http_code}' "$@" || true
}

# with_password VARIABLE FILE: the JSON object in FILE with "password" set to $VARIABLE, its
# backslashes and quotes escaped for JSON.
with_password() {
  local pw=${!1} body
  pw=${pw//\\/\\\\}
  pw=${pw//\"/\\\"}
  body=$(<"$2")
  body=${body#\{}
  if [[ $body =~ ^[[:space:]]*\}[[:space:]]*$ ]]; then
    printf '{"password":"%s"}' "$pw"
  else
    printf '{"password":"%s",%s' "$pw" "$body"
  fi
}

# send WHAT METHOD PATH FILE [PASSWORD-VARIABLE]: one request with FILE as its body; anything
# but 200 stops the job, with the response in its log. The response is kept in a variable rather
# than written to stderr's device path: reopening stderr by path fails when it is a file or socket
# the job's user may not open (and truncates a file it may), and the root filesystem is read-only.
send() {
  local body out code
  if [ $# -eq 5 ]; then body=$(with_password "$5" "$4"); else body=$(<"$4"); fi
  out=$(printf '%s' "$body" | status -X "$2" -H 'Content-Type: application/json' \
    --data-binary @- "${ELASTICSEARCH_URL}$3")
  code=${out:(-3)}
  if [ "$code" != 200 ]; then
    printf '%s\n' "${out%???}" >&2
    echo "setup: $1: $2 $3 answered $code" >&2
    exit 1
  fi
  echo "setup: $1"
}
"#;

fn send_line(r: &EsRequest) -> String {
    let mut line = format!("send {} {} {} {}", quoted(&r.what), r.method.as_str(), quoted(&r.path), quoted(&r.file));
    if let Some(var) = &r.password {
        line.push(' ');
        line.push_str(var);
    }
    line
}

/// `setup.sh`.
pub(crate) fn script(setup: &EsSetup) -> String {
    let mut out = format!(
        "#!/usr/bin/env bash\n# {HEADER}\n\
         # Sets up the sandbox Elasticsearch at ${SETUP_URL_VAR} as its `elastic` superuser, once it\n\
         # answers: each request below, in order, sends the JSON file of the same name beside this\n\
         # script. Every request is idempotent, so the job can run again after a re-render. It gives up\n\
         # when Elasticsearch has not answered after {attempts} attempts {pause} s apart, or when a request is\n\
         # refused.\n\
         set -euo pipefail\n\
         cd \"$(dirname \"$0\")\"\n\
         : \"${{{SETUP_URL_VAR}:?}}\" \"${{{SUPERUSER_PASSWORD_VAR}:?}}\"\n",
        attempts = setup.wait_attempts,
        pause = setup.wait_pause_seconds,
    );
    out.push_str(&FUNCTIONS.replace("@SUPERUSER@", SUPERUSER_PASSWORD_VAR));
    let _ = write!(
        out,
        "\nattempt=1\n\
         until [ \"$(status -o /dev/null \"${{{SETUP_URL_VAR}}}/_cluster/health?wait_for_status=yellow&timeout=20s\")\" = 200 ]; do\n  \
         if [ \"$attempt\" -ge {attempts} ]; then\n    \
         echo \"setup: no answer from ${{{SETUP_URL_VAR}}} after {attempts} attempts\" >&2\n    \
         exit 1\n  \
         fi\n  \
         echo \"setup: waiting for ${{{SETUP_URL_VAR}}} ($attempt of {attempts})\"\n  \
         attempt=$((attempt + 1))\n  \
         sleep {pause}\n\
         done\n\n",
        attempts = setup.wait_attempts,
        pause = setup.wait_pause_seconds,
    );
    for r in &setup.requests {
        out.push_str(&send_line(r));
        out.push('\n');
    }
    out
}

/// Every file of the job, by name: the script, then the bodies.
pub(crate) fn files(setup: &EsSetup) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = vec![(SETUP_SCRIPT.to_string(), script(setup))];
    for r in &setup.requests {
        let mut body = serde_json::to_string_pretty(&r.body)?;
        body.push('\n');
        out.push((r.file.clone(), body));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    #[test]
    fn the_script_sends_every_request_and_is_bounded() {
        let plan = plan(DKP, TopologyId::parse("D").unwrap());
        let setup = plan.deployment.elasticsearch_setup.as_ref().unwrap();
        let text = script(setup);
        assert!(text.starts_with("#!/usr/bin/env bash\n"));
        assert!(text.contains("--connect-timeout 5 --max-time 30"), "every request is bounded");
        assert!(text.contains("if [ \"$attempt\" -ge 60 ]"), "the wait gives up");
        for r in &setup.requests {
            assert!(text.contains(&format!("{} '{}' '{}'", r.method.as_str(), r.path, r.file)), "{}", r.path);
        }
        assert!(text.contains("'/_security/user/otelcol_writer' '") && text.contains(" OTELCOL_WRITER_PASSWORD\n"));
        let names: Vec<String> = files(setup).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), setup.requests.len() + 1);
        for (name, body) in files(setup).unwrap().into_iter().skip(1) {
            let _: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn the_password_is_added_as_json() {
        // The function the script uses, run by bash on awkward passwords.
        let Ok(bash) = which("bash") else { return };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("user.json"), "{\n  \"roles\": [\"w\"]\n}\n").unwrap();
        std::fs::write(dir.path().join("empty.json"), "{}\n").unwrap();
        for pw in ["simple", "quo\"te", "back\\slash", "per%cent $HOME `x` 'y'"] {
            for file in ["user.json", "empty.json"] {
                let out = std::process::Command::new(&bash)
                    .arg("-c")
                    .arg(format!("{FUNCTIONS}\ncd {}\nwith_password PW {file}", dir.path().display()))
                    .env("PW", pw)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(v["password"], pw, "{file}");
                if file == "user.json" {
                    assert_eq!(v["roles"][0], "w");
                }
            }
        }
    }

    /// `send` with a stand-in for curl that answers `$CODE` with `$BODY` and records what it got:
    /// the job's stderr a regular file (as under a runtime that does not hand it a pipe).
    fn send_with(code: &str) -> (std::process::Output, String, String) {
        let bash = which("bash").expect("bash");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("role.json"), "{\"cluster\": [\"monitor\"]}\n").unwrap();
        let err = dir.path().join("stderr.log");
        std::fs::write(&err, "before\n").unwrap();
        let script = format!(
            "{FUNCTIONS}\ncurl() {{ cat > sent; printf '%s%s' \"$BODY\" \"$CODE\"; }}\n\
             cd {}\nsend 'role `w`' PUT '/_security/role/w' role.json",
            dir.path().display()
        )
        .replace("@SUPERUSER@", SUPERUSER_PASSWORD_VAR);
        let out = std::process::Command::new(&bash)
            .arg("-c")
            .arg(script)
            .env(SETUP_URL_VAR, "http://es:9200")
            .env(SUPERUSER_PASSWORD_VAR, "pw")
            .env("CODE", code)
            .env("BODY", "{\"error\":\"no\"}")
            .stderr(std::fs::OpenOptions::new().append(true).open(&err).unwrap())
            .output()
            .unwrap();
        let sent = std::fs::read_to_string(dir.path().join("sent")).unwrap();
        (out, sent, std::fs::read_to_string(&err).unwrap())
    }

    #[test]
    fn a_refused_request_stops_the_job_with_the_response_in_its_log() {
        assert!(!FUNCTIONS.contains("/dev/stderr"), "the script must not reopen its stderr");
        let (out, sent, err) = send_with("200");
        assert!(out.status.success(), "{err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "setup: role `w`\n");
        assert_eq!(sent, "{\"cluster\": [\"monitor\"]}");
        assert_eq!(err, "before\n", "nothing on stderr when it worked, and the log is not truncated");
        let (out, _, err) = send_with("400");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(err, "before\n{\"error\":\"no\"}\nsetup: role `w`: PUT /_security/role/w answered 400\n");
        let (out, _, err) = send_with("000");
        assert_eq!(out.status.code(), Some(1), "no answer stops it too");
        assert!(err.ends_with("answered 000\n"), "{err}");
    }

    fn which(program: &str) -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
            .ok_or(())
    }
}
