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
# but 200 stops the job (the response is in its log).
send() {
  local body code
  if [ $# -eq 5 ]; then body=$(with_password "$5" "$4"); else body=$(<"$4"); fi
  code=$(printf '%s' "$body" | status -o /dev/stderr -X "$2" -H 'Content-Type: application/json' \
    --data-binary @- "${ELASTICSEARCH_URL}$3")
  if [ "$code" != 200 ]; then
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

    fn which(program: &str) -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
            .ok_or(())
    }
}
