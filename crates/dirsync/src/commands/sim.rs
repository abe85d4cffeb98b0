use crate::cli::SimArgs;
use dirsync_okta_sim::{OrgSpec, SimConfig};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

pub(super) async fn run(args: SimArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let spec = OrgSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    eprintln!(
        "okta-sim: {} users, {} groups (seed {}) on http://{addr}",
        args.users, args.groups, args.seed
    );
    // The `/__sim/` surface lets tests in another process change the org
    // and register OAuth service apps (scripts/okta-sdk-check.sh); the
    // simulator listens on loopback only.
    let config = SimConfig {
        token: args.token,
        admin_api: true,
        ..SimConfig::default()
    };
    dirsync_okta_sim::run_standalone(addr, &spec, config, shutdown).await?;
    Ok(())
}
