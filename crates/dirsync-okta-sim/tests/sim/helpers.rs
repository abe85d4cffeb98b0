use dirsync_okta_sim::{OktaSim, Org, OrgSpec, SimConfig, generate};
use reqwest::header::{AUTHORIZATION, LINK};
use serde_json::Value;

pub async fn start(users: usize, groups: usize, seed: u64) -> (OktaSim, Org) {
    let org = generate(&OrgSpec { users, groups, seed });
    let sim = OktaSim::start(org.clone(), SimConfig::default())
        .await
        .expect("sim starts");
    (sim, org)
}

pub struct Client {
    http: reqwest::Client,
    pub base: url::Url,
    token: String,
}

impl Client {
    pub fn new(sim: &OktaSim) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
            token: sim.token().to_owned(),
        }
    }

    pub fn with_token(sim: &OktaSim, token: &str) -> Client {
        Client {
            token: token.to_owned(),
            ..Client::new(sim)
        }
    }

    /// GET a path (with query) relative to the org URL, or an absolute URL.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
        };
        self.http
            .get(url)
            .header(AUTHORIZATION, format!("SSWS {}", self.token))
            .send()
            .await
            .expect("request completes")
    }

    /// Follows `rel="next"` from `first` to the end; returns every item and
    /// the number of pages.
    pub async fn get_all(&self, first: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(first.to_owned());
        while let Some(url) = next {
            let response = self.get(&url).await;
            assert_eq!(response.status(), 200, "{url}");
            next = link(&response, "next");
            let page: Vec<Value> = response.json().await.expect("a JSON array");
            items.extend(page);
            pages += 1;
            assert!(pages < 10_000, "runaway paging");
        }
        (items, pages)
    }
}

/// The URL of the `Link` field with relation `rel`, from separate fields.
pub fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    response.headers().get_all(LINK).iter().find_map(|value| {
        let value = value.to_str().ok()?;
        let (url, params) = value.split_once(';')?;
        (params.trim() == format!("rel=\"{rel}\""))
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// `[A-Za-z0-9_-]`
pub fn url_safe(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
