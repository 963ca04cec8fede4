//! The dashboard's guard and API against a real server on 127.0.0.1.

use std::net::SocketAddr;

use super::*;
use crate::tui::bench::write_synthetic_thread;

/// Serves `project` on a free loopback port; the address and the page's token.
async fn start(project: PathBuf) -> (SocketAddr, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (guard, _) = guard::Guard::for_addr(addr, false).unwrap();
    let token = guard.token.clone();
    let app = router(vec![project], guard);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, token)
}

fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    write_synthetic_thread(&project, "demo", 30).unwrap();
    (dir, project.canonicalize().unwrap())
}

#[tokio::test]
async fn foreign_hosts_origins_and_untokened_writes_are_refused() {
    let (_dir, project) = project();
    let (addr, token) = start(project).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/threads");
    let ok = client.get(&url).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let rebound = client
        .get(&url)
        .header("host", "evil.example:7878")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    let foreign = client
        .get(&url)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let control = format!("http://{addr}/api/p/0/t/demo/control");
    let untokened = client
        .post(&control)
        .json(&serde_json::json!({"op": "pause"}))
        .send()
        .await
        .unwrap();
    assert_eq!(untokened.status(), 401);
    let tokened = client
        .post(&control)
        .header(TOKEN_HEADER, &token)
        .json(&serde_json::json!({"op": "pause"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tokened.status(), 200);
    let reply: serde_json::Value = tokened.json().await.unwrap();
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("no process runs"),
        "{reply}"
    );
    let page = client.get(format!("http://{addr}/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains(&token));
}

#[test]
fn a_non_loopback_bind_needs_allow_remote() {
    let error = guard::Guard::for_addr("0.0.0.0:7878".parse().unwrap(), false).unwrap_err();
    assert!(error.to_string().contains("--allow-remote"), "{error}");
}

#[tokio::test]
async fn steps_come_in_pages_and_evidence_paths_stay_inside() {
    let (_dir, project) = project();
    let (addr, _) = start(project).await;
    let client = reqwest::Client::new();
    let page: serde_json::Value = client
        .get(format!(
            "http://{addr}/api/p/0/t/demo/steps?offset=10&limit=5"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 31);
    assert_eq!(page["rows"].as_array().unwrap().len(), 5);
    assert_eq!(page["rows"][0]["step"], 10);
    let step: serde_json::Value = client
        .get(format!("http://{addr}/api/p/0/t/demo/step/7"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        step["text"].as_str().unwrap().contains("✗ failed"),
        "{step}"
    );
    let escape = client
        .get(format!(
            "http://{addr}/api/p/0/evidence/..%2F..%2Fetc/run/passwd.png"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(escape.status(), 400);
}
