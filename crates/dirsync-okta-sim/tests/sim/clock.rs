use std::time::Duration;

use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig, generate};
use reqwest::header::DATE;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::helpers::Client;

const TWENTY_MINUTES_MS: i64 = 20 * 60 * 1000;

/// `Date: Thu, 27 Aug 2020 18:15:49 GMT` as epoch seconds.
pub fn date_of(response: &reqwest::Response) -> i64 {
    let text = response.headers()[DATE].to_str().unwrap();
    let format =
        format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    PrimitiveDateTime::parse(text, format)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .assume_utc()
        .unix_timestamp()
}

fn reset_of(response: &reqwest::Response) -> i64 {
    response.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn now_s() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Updates a user through `with_org`, then checks that the change stamp,
/// `Date` and the rate-limit reset all read a clock `offset_ms` from ours.
async fn assert_okta_clock_is_off_by(sim: &OktaSim, offset_ms: i64) {
    let client = Client::new(sim);
    let offset_s = offset_ms / 1000;
    let id = sim.org().users()[3].id().to_owned();

    let before = now_s();
    let changes = json!({"title": "Horloger"}).as_object().unwrap().clone();
    sim.with_org(|org| org.update_user(&id, changes)).unwrap();
    let response = client.get(&format!("/api/v1/users/{id}")).await;
    let after = now_s();

    let date = date_of(&response);
    assert!(
        (before + offset_s - 1..=after + offset_s + 1).contains(&date),
        "Date {date} is not our {before}..{after} moved by {offset_s} s"
    );
    let reset = reset_of(&response);
    assert!(
        (59..=61).contains(&(reset - date)),
        "reset - Date is the window's true wait: {}",
        reset - date
    );
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["profile"]["title"], "Horloger");
    let stamped = OffsetDateTime::parse(user["lastUpdated"].as_str().unwrap(), &Rfc3339)
        .unwrap()
        .unix_timestamp();
    assert!(
        (before + offset_s - 1..=after + offset_s + 1).contains(&stamped),
        "lastUpdated {stamped} is not our {before}..{after} moved by {offset_s} s"
    );
}

#[tokio::test]
async fn an_okta_clock_20_minutes_behind_stamps_changes_and_dates_20_minutes_early() {
    let org = generate(&OrgSpec {
        users: 20,
        groups: 2,
        seed: 91,
    });
    let sim = OktaSim::start(org, SimConfig::default()).await.unwrap();

    sim.set_clock_offset(-TWENTY_MINUTES_MS);

    assert_okta_clock_is_off_by(&sim, -TWENTY_MINUTES_MS).await;
}

#[tokio::test]
async fn an_okta_clock_20_minutes_ahead_stamps_changes_and_dates_20_minutes_late() {
    let org = generate(&OrgSpec {
        users: 20,
        groups: 2,
        seed: 92,
    });
    let config = SimConfig::default().with_clock_offset(TWENTY_MINUTES_MS);

    let sim = OktaSim::start(org, config).await.unwrap();

    assert_okta_clock_is_off_by(&sim, TWENTY_MINUTES_MS).await;
}

#[tokio::test]
async fn a_storms_reset_minus_date_is_the_true_wait_on_a_skewed_clock() {
    let org = generate(&OrgSpec {
        users: 20,
        groups: 2,
        seed: 93,
    });
    let sim = OktaSim::start(org, SimConfig::default().with_clock_offset(-TWENTY_MINUTES_MS))
        .await
        .unwrap();
    let client = Client::new(&sim);

    sim.start_429_storm(Duration::from_secs(30));
    let response = client.get("/api/v1/groups").await;

    assert_eq!(response.status(), 429);
    let wait = reset_of(&response) - date_of(&response);
    assert!((29..=31).contains(&wait), "reset - Date = {wait}");
    assert!((date_of(&response) - (now_s() - 1200)).abs() <= 2);
}
