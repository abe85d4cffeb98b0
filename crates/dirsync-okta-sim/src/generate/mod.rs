//! Deterministic org generation: the same `OrgSpec` always yields the same
//! org, byte for byte, so a failing test can be replayed from its seed.

mod groups;
mod names;
mod people;
mod users;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ids;
use crate::org::Org;
use crate::syslog::SystemLog;
use crate::timestamp::Millis;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSpec {
    /// Number of users, every status included.
    pub users: usize,
    /// Number of OKTA_GROUP and APP_GROUP groups. The BUILT_IN groups
    /// (`Everyone`, `Okta Administrators`) come on top.
    pub groups: usize,
    /// Same seed, same org.
    pub seed: u64,
}

impl Default for OrgSpec {
    fn default() -> Self {
        OrgSpec {
            users: 200,
            groups: 20,
            seed: 1,
        }
    }
}

/// Every generated timestamp lies before this instant (2026-01-01T00:00:00Z),
/// which keeps the org independent of the wall clock while leaving the
/// wall clock strictly later for changes made during a test.
pub(crate) const ANCHOR: Millis = 1_767_225_600_000;
const DAY: Millis = 86_400_000;

/// Org-wide choices drawn once from the seed.
pub(crate) struct OrgStyle {
    pub(crate) tail: String,
    pub(crate) created: Millis,
    pub(crate) type_id: String,
    pub(crate) realm_id: Option<String>,
    pub(crate) email_domain: &'static str,
    pub(crate) company: &'static str,
    /// `Some(domain)` when part of the org authenticates against AD.
    pub(crate) ad_domain: Option<&'static str>,
    /// Whether `managerId` holds the manager's Okta id (else their login).
    pub(crate) manager_by_id: bool,
}

const DOMAINS: &[&str] = &["example.com", "acme-corp.example", "globex.example", "initech.example"];
const COMPANIES: &[&str] = &[
    "Acme Corporation",
    "Müller & Söhne GmbH",
    "Société d'Exemple S.A.",
    "Globex Ltd.",
    "株式会社サンプル",
];

fn org_style(rng: &mut ChaCha8Rng) -> OrgStyle {
    let tail = ids::org_tail(rng);
    let created = ANCHOR - rng.random_range(3 * 365..8 * 365) * DAY;
    let type_id = ids::okta_id(rng, "oty", &tail);
    // Newer orgs (and every recording from 2026) show `realmId` on users.
    let realm_id = rng.random_bool(0.5).then(|| ids::okta_id(rng, "guo", &tail));
    OrgStyle {
        created,
        type_id,
        realm_id,
        email_domain: DOMAINS[rng.random_range(0..DOMAINS.len())],
        company: COMPANIES[rng.random_range(0..COMPANIES.len())],
        ad_domain: rng.random_bool(0.6).then_some("corp.example.com"),
        manager_by_id: rng.random_bool(0.5),
        tail,
    }
}

/// Generates an org. A few thousand users take milliseconds in release.
pub fn generate(spec: &OrgSpec) -> Org {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let style = org_style(&mut rng);
    let org_id = ids::okta_id(&mut rng, "00o", &style.tail);
    let mut users = users::generate_users(&mut rng, &style, spec.users);
    users.sort_by(|a, b| a.id.cmp(&b.id));
    users.dedup_by(|a, b| a.id == b.id);
    let mut groups = groups::generate_groups(&mut rng, &style, &users, spec.groups);
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    let clock = latest_timestamp(&users, &groups);
    Org {
        id: org_id,
        tail: style.tail.clone(),
        user_type_id: style.type_id.clone(),
        realm_id: style.realm_id.clone(),
        email_domain: style.email_domain.to_owned(),
        users,
        groups,
        clock,
        clock_offset: 0,
        rng,
        system_log: SystemLog::default(),
    }
}

fn latest_timestamp(users: &[crate::SimUser], groups: &[crate::SimGroup]) -> Millis {
    let user_max = users.iter().flat_map(|u| {
        [
            Some(u.created),
            u.activated,
            u.status_changed,
            u.last_login,
            Some(u.last_updated),
            u.password_changed,
        ]
        .into_iter()
        .flatten()
    });
    let group_max = groups
        .iter()
        .flat_map(|g| [g.created, g.last_updated, g.last_membership_updated]);
    user_max.chain(group_max).max().unwrap_or(ANCHOR)
}
