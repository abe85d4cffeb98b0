//! The `dirsync` binary as an operator runs it: real processes for the
//! worker, the writer and the CLI commands, okta-sim in this process, and
//! the machine's PostgreSQL and RabbitMQ (own database, own queue prefix).

use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig};
use dirsync_store::testing::TestDatabase;
use std::process::{Child, Command, Output, Stdio};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const GOOD: &str = "cli-good-token-93b1";
const WRONG: &str = "cli-wrong-token-5d0e";

struct Env {
    vars: Vec<(&'static str, String)>,
    dir: std::path::PathBuf,
}

impl Env {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirsync"));
        cmd.args(args)
            .envs(self.vars.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("RUST_LOG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run dirsync")
    }

    fn spawn(&self, role: &str) -> Child {
        self.command(&[role])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a role")
    }

    fn add_tenant(&self, name: &str, url: &str, token: &str) -> String {
        let file = self.dir.join(format!("{name}.token"));
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let out = self.run(&[
            "tenant",
            "add",
            "--name",
            name,
            "--okta-url",
            url,
            "--token-file",
            file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "tenant add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_succeeds_for_a_good_token_and_explains_a_wrong_one_without_printing_it() {
    let server = std::env::var("DIRSYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (db, store) = TestDatabase::create(&server, "cli").await.unwrap();
    let sim = OktaSim::start(
        dirsync_okta_sim::generate(&OrgSpec {
            users: 300,
            groups: 12,
            seed: 5,
        }),
        SimConfig::default().with_token(GOOD),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("dirsync-cli-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("t_cli_{}", uuid::Uuid::now_v7().simple());
    let env = Env {
        vars: vec![
            ("DATABASE_URL", db.url.clone()),
            ("DIRSYNC_AMQP__PREFIX", prefix.clone()),
            ("DIRSYNC_OKTA__ALLOW_INSECURE_URLS", "true".into()),
            ("DIRSYNC_SECRETS__KEY", KEY.into()),
            // Two role processes on one host: probes on free ports.
            ("DIRSYNC_TELEMETRY__LISTEN", "127.0.0.1:0".into()),
        ],
        dir,
    };
    let mut roles = [env.spawn("worker"), env.spawn("writer")];
    let url = sim.base_url().to_string();

    let good = env.add_tenant("good", &url, GOOD);
    let out = env.run(&["sync", &good, "--wait", "--timeout", "120"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sync --wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("succeeded") && stdout.contains("300 users"), "{stdout}");

    let wrong = env.add_tenant("wrong", &url, WRONG);
    let out = env.run(&["sync", "wrong", "--wait", "--timeout", "60"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid_token") && stderr.contains("Create a new token as a Super Admin"),
        "{stderr}"
    );
    assert!(!stderr.contains(WRONG) && !String::from_utf8_lossy(&out.stdout).contains(WRONG));
    let _ = wrong;

    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    env.add_tenant("gone", &refused, GOOD);
    let out = env.run(&["sync", "gone", "--wait", "--timeout", "60"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("org_not_found"), "{stderr}");

    let out = env.run(&[
        "tenant",
        "add",
        "--name",
        "x",
        "--okta-url",
        "ftp://nope",
        "--token-file",
        "/dev/null",
    ]);
    assert!(!out.status.success());

    for role in &mut roles {
        let _ = role.kill();
        let _ = role.wait();
    }
    let queue = dirsync_queue::QueueConfig {
        prefix,
        ..Default::default()
    };
    if let Ok(broker) = dirsync_queue::Broker::connect(&queue, "dirsync-test-cleanup").await {
        let _ = broker.delete_topology().await;
        broker.close().await;
    }
    db.drop_database(store).await.unwrap();
}
