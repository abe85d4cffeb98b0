//! Running the simulator: `OktaSim` for tests (own port, shut down on
//! drop), `serve` and `run_standalone` for the `dirsync okta-sim` command.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::SimConfig;
use crate::errors::SimError;
use crate::faults::{FaultState, Faults};
use crate::generate::{OrgSpec, generate};
use crate::hooks::{Hooks, RequestMatch};
use crate::listener::{Conn, SimListener};
use crate::model::SimGroup;
use crate::oauth::OAuthState;
use crate::org::Org;
use crate::ratelimit::Limiter;
use crate::render;
use crate::routes;
use crate::stats::{RequestLog, RequestRecord, RequestStats};
use crate::tls::{TlsIdentity, TlsSimListener};

/// State shared by every request of one simulator.
pub(crate) struct Shared {
    org: RwLock<Org>,
    pub(crate) config: SimConfig,
    pub(crate) log: RequestLog,
    pub(crate) limiter: Limiter,
    faults: Mutex<FaultState>,
    /// Okta's clock minus ours, in ms; the org keeps a copy for its stamps.
    clock_offset: AtomicI64,
    /// `OktaSim::revoke_token`: the configured token no longer works.
    token_revoked: AtomicBool,
    pub(crate) hooks: Hooks,
    /// OAuth 2.0 service apps and the access tokens issued to them.
    pub(crate) oauth: OAuthState,
    local_addr: SocketAddr,
    /// Set when serving HTTPS (`OktaSim::start_tls`).
    tls: Option<TlsIdentity>,
    pub(crate) shutdown: CancellationToken,
}

impl Shared {
    pub(crate) fn org(&self) -> RwLockReadGuard<'_, Org> {
        self.org.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn org_mut(&self) -> RwLockWriteGuard<'_, Org> {
        self.org.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fault_state(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Okta's clock minus ours, in milliseconds.
    pub(crate) fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::SeqCst)
    }

    /// Moves Okta's clock for the headers and for the org's stamps alike.
    pub(crate) fn set_clock_offset(&self, offset_ms: i64) {
        let mut org = self.org_mut();
        org.clock_offset = offset_ms;
        self.clock_offset.store(offset_ms, Ordering::SeqCst);
    }

    pub(crate) fn token_revoked(&self) -> bool {
        self.token_revoked.load(Ordering::SeqCst)
    }

    pub(crate) fn set_token_revoked(&self, revoked: bool) {
        self.token_revoked.store(revoked, Ordering::SeqCst);
    }

    /// Where a truncated member listing of `group` stops: the first member
    /// id it hides.
    pub(crate) fn members_cutoff(&self, group: &SimGroup) -> Option<String> {
        let percent = self.fault_state().truncate_members?;
        let keep = group.members.len() * usize::from(percent.min(100)) / 100;
        group.members.iter().nth(keep).cloned()
    }

    /// Where a truncated users listing stops: the first id it hides.
    pub(crate) fn users_cutoff(&self, org: &Org) -> Option<String> {
        let percent = self.fault_state().truncate_users?;
        let keep = org.users.len() * usize::from(percent.min(100)) / 100;
        org.users.get(keep).map(|u| u.id.clone())
    }

    /// `http` or `https`, as this simulator serves.
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `http://host:port` as the client addressed us, so that every link
    /// we hand out leads back the same way.
    pub(crate) fn origin(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.public_url {
            return render::origin(url).to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| self.local_addr.to_string(), str::to_owned);
        format!("{}://{host}", self.scheme())
    }
}

/// A running simulator. Dropping it stops the server.
pub struct OktaSim {
    addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl OktaSim {
    /// Serves `org` on `127.0.0.1` at a free port.
    pub async fn start(org: Org, config: SimConfig) -> io::Result<OktaSim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), org, config).await
    }

    /// Serves `org` on a given address (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, org: Org, config: SimConfig) -> io::Result<OktaSim> {
        Self::start_with_listener(TcpListener::bind(addr).await?, org, config).await
    }

    /// Serves `org` on an already bound listener.
    pub async fn start_with_listener(listener: TcpListener, org: Org, config: SimConfig) -> io::Result<OktaSim> {
        Self::launch(listener, org, config, None)
    }

    /// Serves `org` over HTTPS on `127.0.0.1` at a free port, with a
    /// certificate signed by an authority made now: a client must trust
    /// [`OktaSim::tls_ca_pem`]. Links and `base_url` say `https`.
    pub async fn start_tls(org: Org, config: SimConfig) -> io::Result<OktaSim> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        Self::launch(listener, org, config, Some(TlsIdentity::generate()?))
    }

    fn launch(listener: TcpListener, mut org: Org, config: SimConfig, tls: Option<TlsIdentity>) -> io::Result<OktaSim> {
        let addr = listener.local_addr()?;
        let faults = Mutex::new(FaultState::new(config.faults.clone()));
        org.clock_offset = config.clock_offset_ms;
        let shared = Arc::new(Shared {
            org: RwLock::new(org),
            clock_offset: AtomicI64::new(config.clock_offset_ms),
            config,
            log: RequestLog::new(),
            limiter: Limiter::default(),
            faults,
            token_revoked: AtomicBool::new(false),
            hooks: Hooks::default(),
            oauth: OAuthState::default(),
            local_addr: addr,
            tls,
            shutdown: CancellationToken::new(),
        });
        let task = tokio::spawn(serve_shared(listener, shared.clone()));
        tracing::debug!(%addr, "okta-sim listening");
        Ok(OktaSim {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT/` (`https` from `start_tls`), the org URL a
    /// client is configured with.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("{}://{}/", self.shared.scheme(), self.addr)).expect("a socket address forms a valid URL")
    }

    /// The PEM of the authority that signed the HTTPS certificate (for
    /// `REQUESTS_CA_BUNDLE` or `reqwest::Certificate::from_pem`); `None`
    /// when serving plain HTTP.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.shared.tls.as_ref().map(TlsIdentity::ca_pem)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// A snapshot of the org as it is now.
    pub fn org(&self) -> Org {
        self.shared.org().clone()
    }

    /// Requests served so far, per endpoint family.
    pub fn requests(&self) -> RequestStats {
        self.shared.log.stats()
    }

    /// Every request served so far, in arrival order.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.log.records()
    }

    /// Forgets the requests served so far and the rate-limit windows
    /// (between two phases of a test).
    pub fn reset_request_log(&self) {
        self.shared.log.clear();
        self.shared.limiter.reset();
    }

    /// Changes the org between syncs: `sim.with_org(|org|
    /// org.deactivate_user(id))`. Requests see the change immediately.
    pub fn with_org<R>(&self, change: impl FnOnce(&mut Org) -> R) -> R {
        change(&mut self.shared.org_mut())
    }

    /// Replaces the faults in force (the draw restarts from their seed).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.fault_state().set(faults);
    }

    /// Every request gets `429 E0000047` for `length`, with
    /// `X-Rate-Limit-Reset` at the storm's end.
    pub fn start_429_storm(&self, length: Duration) {
        self.shared.fault_state().start_storm(length);
    }

    /// Makes `GET /api/v1/users` end (no `next` link) after `percent` of
    /// the org's users, as a listing cut short would; `None` restores it.
    /// Users stay reachable by id, which is what a deletion guard checks.
    pub fn truncate_users_listing(&self, percent: Option<u8>) {
        self.shared.fault_state().truncate_users = percent;
    }

    /// Makes `GET /api/v1/groups/{id}/users` end (no `next` link) after
    /// `percent` of each group's members, as a member listing cut short
    /// would; `None` restores it. The group's `expand=stats` `usersCount`
    /// and `GET /api/v1/users/{id}/groups` keep telling the truth.
    pub fn truncate_member_listings(&self, percent: Option<u8>) {
        self.shared.fault_state().truncate_members = percent;
    }

    /// Sets Okta's clock `offset_ms` from ours (negative: Okta's is
    /// behind), as `SimConfig::with_clock_offset` does from the start.
    /// From then on the org stamps its changes (`lastUpdated`,
    /// `statusChanged`, …, `with_org` ones included) on Okta's clock, and
    /// `Date` and `X-Rate-Limit-Reset` read it, so `reset - Date` is still
    /// the true wait. Like Okta's, the org's clock never goes backwards: a
    /// change after the offset moved back is stamped 1 ms after the last.
    pub fn set_clock_offset(&self, offset_ms: i64) {
        self.shared.set_clock_offset(offset_ms);
    }

    /// Revokes the token (`SimConfig::token`) mid-run: from now on every
    /// `/api/v1` request with it gets `401 E0000011 "Invalid token
    /// provided"`, exactly as a wrong token does. The forbidden token keeps
    /// its 403, and `/.well-known/okta-organization` needs no token.
    pub fn revoke_token(&self) {
        self.shared.set_token_revoked(true);
    }

    /// Undoes `revoke_token`.
    pub fn restore_token(&self) {
        self.shared.set_token_revoked(false);
    }

    /// Changes the org while a client is reading it: `change` runs once,
    /// just before the simulator serves the request `matcher` picks (the
    /// `nth` match counted from now, among requests that pass the token
    /// check, rate limits and faults), so that request already sees the
    /// change. Hooks are independent; each fires once, in registration
    /// order when several are due on one request.
    ///
    /// ```no_run
    /// # use dirsync_okta_sim::{OktaSim, RequestMatch};
    /// # fn example(sim: &OktaSim, group: String) {
    /// let members = format!("/api/v1/groups/{group}/users");
    /// sim.on_request(RequestMatch::path(members), move |org| {
    ///     org.delete_group(&group).expect("an OKTA_GROUP");
    /// });
    /// # }
    /// ```
    pub fn on_request(&self, matcher: RequestMatch, change: impl FnOnce(&mut Org) + Send + 'static) {
        self.shared.hooks.add(matcher, Box::new(change));
    }

    /// Hooks registered with `on_request` that have not fired yet.
    pub fn pending_hooks(&self) -> usize {
        self.shared.hooks.pending()
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), stops.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for OktaSim {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve_shared(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    let stop = shared.shutdown.clone();
    let tls = shared.tls.as_ref().map(TlsIdentity::acceptor);
    let app = routes::router(shared).into_make_service_with_connect_info::<Conn>();
    let listener = SimListener(listener);
    match tls {
        Some(acceptor) => {
            axum::serve(TlsSimListener::new(listener, acceptor), app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    }
}

/// Serves `org` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, org: Org, config: SimConfig, shutdown: CancellationToken) -> io::Result<()> {
    let sim = OktaSim::start_with_listener(listener, org, config).await?;
    shutdown.cancelled().await;
    sim.shutdown().await;
    Ok(())
}

/// The one call behind `dirsync okta-sim --port P --users N --groups G
/// --seed S`: generates the org, serves it on `addr` until `shutdown`.
pub async fn run_standalone(
    addr: SocketAddr,
    spec: &OrgSpec,
    config: SimConfig,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let org = generate(spec);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(SimError::Serve)?;
    tracing::info!(
        url = %format!("http://{local}"),
        users = spec.users,
        groups = spec.groups,
        seed = spec.seed,
        "okta-sim serving"
    );
    serve(listener, org, config, shutdown).await.map_err(SimError::Serve)
}
