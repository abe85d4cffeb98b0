use crate::{
    harness::{TestEnv, spec},
    logs,
};
use dirsync_domain::{ErrorCode, RunState};
use dirsync_okta_sim::SimConfig;
use std::time::Instant;

const GOOD: &str = "tok-good-0a9f";
const WRONG: &str = "tok-WRONG-7c21e0";
const FORBIDDEN: &str = "tok-READONLY-51b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_or_forbidden_tokens_and_dead_urls_fail_fast_with_a_remedy_and_never_show_the_token() {
    let logs = logs::captured();
    let sim = SimConfig::default().with_token(GOOD).with_forbidden_token(FORBIDDEN);
    let env = TestEnv::start("bad", spec(200, 10, 3), sim).await;
    // A port nothing listens on: connection refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cases = [
        (env.tenant("wrong-token", WRONG).await, ErrorCode::InvalidToken, WRONG),
        (
            env.tenant("read-only", FORBIDDEN).await,
            ErrorCode::AccessDenied,
            FORBIDDEN,
        ),
        (
            env.tenant_at("dead-url", &dead, GOOD).await,
            ErrorCode::OrgNotFound,
            GOOD,
        ),
        (
            env.tenant_at("no-dns", "https://no-such-org.invalid", GOOD).await,
            ErrorCode::OrgNotFound,
            GOOD,
        ),
    ];
    let mut failed = Vec::new();
    for (tenant, expected, token) in cases {
        let started = Instant::now();
        let run = env.sync(tenant).await;
        failed.push((run.id, expected));
        assert_eq!(run.state(), RunState::Failed);
        assert_eq!(run.error(), Some(expected), "{:?}", run.error_message);
        assert!(started.elapsed().as_secs() < 30, "{expected} must not retry for long");
        let (line, exit) = dirsync::progress::outcome(&run);
        assert_eq!(exit, 2);
        assert!(
            line.contains(expected.as_str()) && line.contains(expected.remedy()),
            "{line}"
        );
        let message = run.error_message.clone().unwrap_or_default();
        assert!(
            !message.contains(token) && !line.contains(token),
            "the token leaked: {message}"
        );
    }
    for (run_id, expected) in &failed {
        // This test's run, not any of the parallel tests' failures.
        let lines = logs.lines_with(&run_id.to_string());
        assert!(
            lines
                .iter()
                .any(|l| l.contains("run failed") && l.contains(expected.as_str())),
            "the failure of run {run_id} ({expected}) was logged: {lines:#?}"
        );
    }
    let text = logs.text();
    for token in [GOOD, WRONG, FORBIDDEN] {
        assert!(!text.contains(token), "a token appears in the logs");
    }
    env.stop().await;
}
