//! `run` and `http` checks against a real project: a shell script and a small JSON API started
//! by `app.start`. No browser is needed, and a project with only `run` checks starts no app.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use baton_verify::{BrowserOptions, FeatureList, Outcome, verify_features};

const SERVER: &str = r"
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
todos = []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, value):
        body = json.dumps(value).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == '/todos': self.send(200, {'items': todos})
        else: self.send(404, {'error': 'not found'})
    def do_POST(self):
        data = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        if not data.get('title'): return self.send(400, {'error': 'title required'})
        todos.append({'title': data['title'], 'done': False})
        self.send(201, todos[-1])
HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.py"), SERVER).unwrap();
    std::fs::write(
        dir.path().join("count.sh"),
        "#!/usr/bin/env bash\nset -o pipefail\nwc -w < \"$1\" | tr -d ' '\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("words.txt"), "one two three\n").unwrap();
    dir
}

fn outcome(report: &baton_verify::VerifyReport, id: &str) -> (Outcome, String) {
    let result = report.results.iter().find(|r| r.feature_id == id).unwrap();
    (
        result.outcome,
        result
            .failure
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    )
}

#[test]
fn run_checks_need_no_app_and_judge_exit_and_stdout() {
    let dir = project();
    // No app header and no init.sh: starting an app would fail, so none may be started.
    let list = FeatureList::parse(
        r#"[
      {"id":"count","category":"cli","description":"counts words","steps":["run it"],"passes":false,
       "checks":[{"run":{"command":"bash count.sh words.txt","expect_stdout":{"equals":"3"}}}]},
      {"id":"wrong-count","category":"cli","description":"d","steps":["s"],"passes":false,
       "checks":[{"run":{"command":"bash count.sh words.txt","expect_stdout":{"regex":"^4"}}}]},
      {"id":"missing-file","category":"cli","description":"d","steps":["s"],"passes":false,
       "checks":[{"run":{"command":"bash count.sh nope.txt"}}]},
      {"id":"exit-code","category":"cli","description":"d","steps":["s"],"passes":false,
       "checks":[{"run":{"command":"bash count.sh nope.txt","expect_exit":1}}]},
      {"id":"hangs","category":"cli","description":"d","steps":["s"],"passes":false,
       "checks":[{"run":{"command":"sleep 30","timeout_ms":300}}]}
    ]"#,
    )
    .unwrap();
    let report =
        verify_features(dir.path(), &list, None, None, &BrowserOptions::default()).unwrap();
    assert!(report.app_log.is_none());
    assert_eq!(outcome(&report, "count").0, Outcome::Passed);
    assert_eq!(outcome(&report, "exit-code").0, Outcome::Passed);
    let (wrong, why) = outcome(&report, "wrong-count");
    assert_eq!(wrong, Outcome::Failed);
    assert!(why.contains("\"3\\n\""), "{why}");
    let (missing, why) = outcome(&report, "missing-file");
    assert_eq!(missing, Outcome::Failed);
    assert!(why.contains("exit 1") && why.contains("nope.txt"), "{why}");
    let (hangs, why) = outcome(&report, "hangs");
    assert_eq!(hangs, Outcome::Failed);
    assert!(why.contains("killed"), "{why}");
    let count = report
        .results
        .iter()
        .find(|r| r.feature_id == "count")
        .unwrap();
    let transcript = std::fs::read_to_string(&count.transcripts[0]).unwrap();
    assert!(
        transcript.contains("$ bash count.sh words.txt") && transcript.contains("[exit 0"),
        "{transcript}"
    );
    let saved = std::fs::read_to_string(count.evidence_dir.join("result.json")).unwrap();
    assert!(saved.contains("check-0-run.txt"), "{saved}");
}

#[test]
fn http_checks_talk_to_the_started_app() {
    let dir = project();
    let list = FeatureList::parse(
        r#"{"app": {"start": "python3 server.py", "url": "http://127.0.0.1:{port}/"},
      "features": [
      {"id":"add","category":"api","description":"adds a todo","steps":["post"],"passes":false,
       "checks":[
         {"http":{"method":"POST","path":"/todos","body":{"title":"Buy milk"},"expect_status":201,
                  "expect_json":{"pointer":"/title","equals":"Buy milk"}}},
         {"http":{"path":"/todos","expect_status":200,"expect_json":{"pointer":"/items/0/done","equals":false}}},
         {"run":{"command":"true"}}]},
      {"id":"validation","category":"api","description":"refuses an empty title","steps":["post"],"passes":false,
       "checks":[{"http":{"method":"POST","path":"/todos","body":{"title":""},"expect_status":201}}]},
      {"id":"json","category":"api","description":"d","steps":["s"],"passes":false,
       "checks":[{"http":{"path":"/nothing","expect_json":{"pointer":"/error","contains":"found"}}},
                 {"http":{"path":"/nothing","expect_json":{"pointer":"/items","equals":[]}}}]}
    ]}"#,
    )
    .unwrap();
    let report =
        verify_features(dir.path(), &list, None, None, &BrowserOptions::default()).unwrap();
    assert!(report.app_log.is_some());
    let (add, why) = outcome(&report, "add");
    assert_eq!(add, Outcome::Passed, "{why}");
    let (validation, why) = outcome(&report, "validation");
    assert_eq!(validation, Outcome::Failed);
    assert!(
        why.contains("400") && why.contains("title required"),
        "{why}"
    );
    let (json, why) = outcome(&report, "json");
    assert_eq!(json, Outcome::Failed);
    assert!(
        why.contains("check #1") && why.contains("nothing at \"/items\""),
        "{why}"
    );
    let add = report
        .results
        .iter()
        .find(|r| r.feature_id == "add")
        .unwrap();
    let exchange = std::fs::read_to_string(&add.transcripts[0]).unwrap();
    assert!(
        exchange.contains("> POST /todos") && exchange.contains("< 201"),
        "{exchange}"
    );
}
