//! API keys from the configuration; token keys rotated by `dirsync keys rotate`.

use super::*;
use crate::harness::{TestEnv, spec};
use dirsync_okta_sim::SimConfig;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_re_encrypts_every_token_under_the_active_key() {
    const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "HxwdHhobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQIDAAE=";
    let env = TestEnv::start_without_roles("api_keys", spec(10, 2, 1), SimConfig::default().with_token(GOOD)).await;
    // Tokens stored under the environment's key (`test`).
    let a = env.tenant("a", GOOD).await;
    let b = env.tenant("b", WRONG).await;
    let mut config = env.config.clone();
    assert_eq!(
        config
            .secrets
            .key
            .as_ref()
            .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
            .as_deref(),
        Some(OLD)
    );
    config.secrets.previous_keys.insert("test".into(), OLD.into());
    config.secrets.key_id = Some("k2".into());
    config.secrets.key = Some(NEW.into());

    let (report, line) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!((report.re_encrypted, report.already_current), (2, 0), "{line}");
    assert_eq!(line, "re-encrypted 2 token(s) under key `k2`; 0 already were");
    let (again, _) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!((again.re_encrypted, again.already_current), (0, 2), "idempotent");

    let key_ids: Vec<(String,)> = sqlx::query_as("SELECT token_key_id FROM tenants ORDER BY id")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    assert_eq!(key_ids, [("k2".to_owned(),), ("k2".to_owned(),)]);
    // Only the new key is needed now.
    let only_new = dirsync_store::TokenCipher::from_config(&dirsync_store::SecretsConfig {
        key_id: Some("k2".into()),
        key: Some(NEW.into()),
        ..Default::default()
    })
    .unwrap();
    for (tenant, token) in [(a, GOOD), (b, WRONG)] {
        let (_, back) = env.store.tenants().credentials(&only_new, tenant).await.unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(back.api_token().unwrap()), token);
    }

    // A token under a key nobody configured is reported, not lost.
    sqlx::query("UPDATE tenants SET token_key_id = 'lost' WHERE id = $1")
        .bind(a)
        .execute(env.store.pool())
        .await
        .unwrap();
    let (report, _) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, a);
    assert!(report.failed[0].1.contains("lost"));
    env.stop().await;
}

/// Whether the API's answer to `key` becomes `status` within ten seconds
/// (the file is re-read every second).
async fn becomes(api: &Api, key: &str, status: StatusCode) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = api
            .send(api.http.get(format!("{}/v1/tenants", api.base)).bearer_auth(key))
            .await;
        if reply.status == status {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replaces the file whole (written beside it, renamed over it), as a
/// secret mount or a careful operator does.
fn replace(file: &std::path::Path, text: &str) {
    let next = file.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_file_is_the_list_of_keys_and_fails_closed_never_open() {
    let env = TestEnv::start_without_roles("api_keys_file", spec(1, 1, 1), SimConfig::default().with_token(GOOD)).await;
    let dir = std::env::temp_dir().join(format!("dirsync-api-keys-e2e-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    replace(&file, &format!("# two keys\n{KEY}\n{OTHER_KEY}\n"));
    let config = ApiConfig {
        keys: Vec::new(),
        keys_file: Some(file.clone()),
        keys_reload_ms: 1_000,
        ..ApiConfig::default()
    };
    let policy = UrlPolicy {
        allow_insecure: true,
        resolver: Resolver::system(),
    };
    let api = Api::start_config(&env, policy, env.config.amqp.clone(), config.clone()).await;
    assert!(becomes(&api, KEY, StatusCode::OK).await);
    assert!(becomes(&api, OTHER_KEY, StatusCode::OK).await);
    let metrics = api.metrics().await;
    assert_eq!(metric(&metrics, "dirsync_api_keys_active"), 2);

    // KEY is revoked in the same edit that adds a line that is not a key:
    // the valid lines apply, the bad one is counted, never echoed.
    replace(&file, &format!("{OTHER_KEY}\nnot a key\n"));
    assert!(
        becomes(&api, KEY, StatusCode::FORBIDDEN).await,
        "a removed key stops working"
    );
    assert!(becomes(&api, OTHER_KEY, StatusCode::OK).await);
    let metrics = api.metrics().await;
    assert_eq!(metric(&metrics, "dirsync_api_keys_file_invalid_lines"), 1);
    assert_eq!(metric(&metrics, "dirsync_api_keys_active"), 1);
    assert_eq!(metric(&metrics, "dirsync_api_keys_reload_failures_total"), 0);

    // The file vanishes: its keys go with it (fail closed), and it counts.
    std::fs::remove_file(&file).unwrap();
    assert!(
        becomes(&api, OTHER_KEY, StatusCode::FORBIDDEN).await,
        "a vanished file keeps no key working"
    );
    let metrics = api.metrics().await;
    assert!(
        metric(&metrics, "dirsync_api_keys_reload_failures_total") >= 1,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "dirsync_api_keys_active"), 0);

    // Back with the file; then a file with no valid key locks everyone out too.
    replace(&file, &format!("{OTHER_KEY}\n"));
    assert!(becomes(&api, OTHER_KEY, StatusCode::OK).await);
    replace(&file, "# emptied by mistake\n");
    assert!(becomes(&api, OTHER_KEY, StatusCode::FORBIDDEN).await);

    // Nor does such a file start the API.
    let err = ApiKeys::load(&config).unwrap_err().to_string();
    assert!(err.contains("holds no valid key"), "{err}");
    replace(&file, "not-a-key\n");
    let err = ApiKeys::load(&config).unwrap_err().to_string();
    assert!(err.contains("1 line(s) refused") && !err.contains("not-a-key"), "{err}");
    std::fs::remove_file(&file).unwrap();
    assert!(ApiKeys::load(&config).unwrap_err().to_string().contains("cannot read"));

    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
    env.stop().await;
}

#[test]
fn api_keys_come_from_one_comma_separated_variable_or_a_file_setting() {
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let config = dirsync::Config::load_from(
        None,
        env(&[
            ("DIRSYNC_API__KEYS", "key-one-0123456789abc, key-two-0123456789abc"),
            ("DIRSYNC_API__KEYS_FILE", "/run/secrets/api-keys"),
        ]),
    )
    .unwrap();
    let keys: Vec<&str> = config
        .api
        .keys
        .iter()
        .map(secrecy::ExposeSecret::expose_secret)
        .collect();
    assert_eq!(keys, ["key-one-0123456789abc", "key-two-0123456789abc"]);
    assert_eq!(
        config.api.keys_file.as_deref(),
        Some(std::path::Path::new("/run/secrets/api-keys"))
    );
    let none = dirsync::Config::load_from(None, env(&[])).unwrap();
    let err = ApiKeys::load(&none.api).unwrap_err().to_string();
    assert!(err.contains("api.keys") && err.contains("DIRSYNC_API__KEYS"), "{err}");
}
