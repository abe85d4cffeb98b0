use dirsync_okta::ClientConfig;
use serde::Deserialize;
use std::time::Duration;

/// `worker.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Runs this process works on at once (each is one tenant).
    pub concurrency: usize,
    /// Member chains of one run fetched at once.
    pub chain_concurrency: usize,
    /// `lastUpdated` ranges a full run pages side by side...
    pub user_slices: u16,
    /// ...each of at least this many (known) users.
    pub min_users_per_slice: i64,
    /// A lease not renewed for this long is taken over by another worker.
    pub lease_ttl_ms: u64,
    /// A run whose lease lapsed this often (its worker died or hung each
    /// time) fails as `internal`; graceful handoffs do not count.
    pub max_attempts: u32,
    pub users_page_size: u32,
    pub groups_page_size: u32,
    /// Okta's maximum for group members is 1000: fewer requests.
    pub members_page_size: u32,
    /// Fair share: a run gives its worker slot back after this long, goes
    /// to the back of its queue and resumes from its checkpoints, so a few
    /// large orgs never hold every slot while small ones wait.
    pub slice_secs: u64,
    /// A run still fetching this long after it first started fails
    /// (`okta_unavailable`, naming this setting): no tenant's Okta can hold
    /// a worker forever.
    pub run_deadline_secs: u64,
    /// Pages one chain may have. Member chains are bounded tighter by their
    /// group's `usersCount` (with slack); this caps user and group listings
    /// (at 200 a page, 50,000 pages is 10 million users).
    pub max_pages_per_chain: u32,
    /// Chains (one per group with members, plus the listings) one run may have.
    pub max_chains_per_run: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            chain_concurrency: 4,
            user_slices: 4,
            min_users_per_slice: 2_000,
            lease_ttl_ms: 30_000,
            max_attempts: 20,
            users_page_size: 200,
            groups_page_size: 200,
            members_page_size: 1000,
            slice_secs: 300,
            run_deadline_secs: 6 * 3600,
            max_pages_per_chain: 50_000,
            max_chains_per_run: 200_000,
        }
    }
}

impl WorkerConfig {
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms)
    }

    pub fn slice(&self) -> Duration {
        Duration::from_secs(self.slice_secs.max(1))
    }

    pub fn run_deadline(&self) -> Duration {
        Duration::from_secs(self.run_deadline_secs.max(1))
    }
}

/// `okta.*` settings: how every role talks to (and validates) Okta orgs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OktaSettings {
    /// Accept `http://` and loopback or private instance URLs. Only for the
    /// simulator and tests: never in production (`DIRSYNC_OKTA__ALLOW_INSECURE_URLS`).
    pub allow_insecure_urls: bool,
    #[serde(flatten)]
    pub client: ClientConfig,
}
