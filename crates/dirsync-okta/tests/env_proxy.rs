//! The client ignores `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` (reqwest
//! reads them by default). Environment variables are process-wide, and
//! setting them is `unsafe` in edition 2024, so the check runs in a child
//! process of this test binary, started with every proxy variable pointing
//! at a trap: a listener that answers `418` to whatever reaches it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dirsync_okta::{ApiToken, OktaClient, OktaError, OrgUrl};

#[allow(dead_code)]
#[path = "http/server.rs"]
mod server;

use server::{Reply, Server, TOKEN, fast_config};

const CHILD: &str = "child_with_proxy_variables";
const CHILD_MARK: &str = "DIRSYNC_OKTA_ENV_PROXY_CHILD";

#[test]
fn proxies_from_the_environment_are_ignored() {
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    std::thread::spawn(move || {
        for stream in trap.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 418 Trap\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });

    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", CHILD, "--ignored", "--nocapture", "--test-threads=1"]);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        child.env(name, &trap_url);
    }
    // reqwest ignores HTTP_PROXY under CGI (`REQUEST_METHOD` set).
    for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        child.env_remove(name);
    }
    let output = child.env(CHILD_MARK, "1").output().unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test did not run:\n{stdout}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        2,
        "only the two control requests (reqwest's default client) may reach the trap"
    );
}

/// Runs only in the child started above, with the proxy variables set.
#[tokio::test]
#[ignore = "run in a child process by proxies_from_the_environment_are_ignored"]
async fn child_with_proxy_variables() {
    assert!(std::env::var_os(CHILD_MARK).is_some(), "run by the parent test only");
    let server = Server::start().await;
    server.on("/api/v1/users", vec![Reply::json(200, "[]")]);

    // Controls: reqwest's default client does obey the variables, so what
    // follows is not vacuous. Plain http goes to the trap as a proxy...
    let control = reqwest::Client::new();
    let response = control.get(server.url("/api/v1/users")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 418, "the control did not use HTTP_PROXY");
    // ...and https is tunnelled through it (which the trap refuses).
    let https = format!("https://localhost:{}/api/v1/users", server.addr.port());
    assert!(control.get(&https).send().await.is_err());
    assert_eq!(server.hits("/api/v1/users"), 0);

    // The insecure (test) client goes straight to the server.
    let client = server.client(fast_config());
    let page = client.users_page(&client.users_url(None, 200)).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(server.hits("/api/v1/users"), 1);

    // A secure client does not tunnel through the trap either: it resolves
    // the name itself, and its guard refuses `localhost`.
    let org = OrgUrl::parse(&format!("https://localhost:{}", server.addr.port()), true).unwrap();
    let secure = OktaClient::new(org, ApiToken::new(TOKEN), fast_config()).unwrap();
    let err = secure.users_page(&secure.users_url(None, 200)).await.unwrap_err();
    assert!(matches!(err, OktaError::Unreachable { .. }), "{err:?}");
    assert_eq!(server.hits("/api/v1/users"), 1);
}
