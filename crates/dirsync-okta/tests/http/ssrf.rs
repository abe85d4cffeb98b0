//! The SSRF guard of secure (https) clients: names are resolved at every
//! connection and non-public addresses dropped, so a name that resolves to
//! loopback is never connected to. `localhost` stands in for a name
//! re-pointed at an internal address (DNS rebinding); nothing here leaves
//! the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OktaError, OrgUrl};
use tokio::net::TcpListener;

use crate::server::{TOKEN, fast_config};

/// A plain TCP listener on 127.0.0.1 (no TLS, no HTTP) that counts the
/// connections it accepts and drops them.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A client for `url`, parsed leniently so that the guard, not `OrgUrl`,
/// is what refuses it; `https` makes it a secure client.
fn client(url: &str, config: ClientConfig) -> OktaClient {
    let org = OrgUrl::parse(url, true).unwrap();
    OktaClient::new(org, ApiToken::new(TOKEN), config).unwrap()
}

fn assert_refused_resolution(err: &OktaError) {
    let OktaError::Unreachable { host, reason, .. } = err else {
        panic!("not Unreachable: {err:?}");
    };
    assert_eq!(host, "localhost");
    assert!(
        reason.starts_with("`localhost` resolves only to private, loopback or other non-public addresses"),
        "{reason}"
    );
    assert!(reason.contains("127.0.0.1: loopback"), "{reason}");
    assert!(!err.to_string().contains(TOKEN), "Display leaks the token: {err}");
    assert!(!format!("{err:?}").contains(TOKEN), "Debug leaks the token: {err:?}");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_never_connected_to() {
    let listener = Listener::start().await;
    let secure = client(&format!("https://localhost:{}", listener.port), fast_config());
    assert!(!secure.org_url().is_insecure());

    // Anonymous and with the token; each attempt (with its retries)
    // resolves again and is refused again.
    let err = secure.organization().await.unwrap_err();
    assert_refused_resolution(&err);
    let err = secure.users_page(&secure.users_url(None, 200)).await.unwrap_err();
    assert_refused_resolution(&err);
    let err = secure.get_user("00u1").await.unwrap_err();
    assert_refused_resolution(&err);

    assert_eq!(listener.accepted(), 0, "the guard let a connection through");
    let stats = secure.stats();
    assert_eq!((stats.requests, stats.network_errors), (9, 9), "{stats:?}");

    // The control: the same name and port without the guard (plain http,
    // insecure mode) does reach the listener, so the test above proves the
    // guard, not an unreachable port.
    let insecure = client(
        &format!("http://localhost:{}", listener.port),
        ClientConfig {
            max_retries: 0,
            ..fast_config()
        },
    );
    assert!(insecure.org_url().is_insecure());
    let err = insecure.organization().await.unwrap_err();
    assert!(matches!(err, OktaError::Transient { .. }), "{err:?}");
    assert_eq!(listener.accepted(), 1);
}

#[tokio::test]
async fn a_forbidden_ip_literal_is_refused_before_connecting() {
    let listener = Listener::start().await;
    for host in ["127.0.0.1".to_owned(), "[::ffff:127.0.0.1]".to_owned()] {
        let secure = client(&format!("https://{host}:{}", listener.port), fast_config());

        let err = secure.users_page(&secure.users_url(None, 200)).await.unwrap_err();

        let OktaError::Unreachable { reason, .. } = &err else {
            panic!("{host}: not Unreachable: {err:?}");
        };
        assert!(
            reason.contains("loopback") || reason.contains("IPv4-mapped"),
            "{reason}"
        );
        assert!(reason.contains("not connecting"), "{reason}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
        // Refused before any request, and never retried.
        assert_eq!(secure.stats().requests, 0, "{host}");
    }
    assert_eq!(listener.accepted(), 0);
}
