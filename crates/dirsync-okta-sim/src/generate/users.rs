//! Users: a status mix with every status present, and the timestamps Okta
//! keeps for each status (STAGED users never activated, logged in or set a
//! password; imported users may lack `activated`; and so on).

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::people::{self, ManagerRef, Person};
use super::{ANCHOR, DAY, OrgStyle};
use crate::ids;
use crate::model::{Provider, SimUser, UserStatus};
use crate::timestamp::Millis;

/// Share of each non-ACTIVE status, in per mille; ACTIVE takes the rest.
const STATUS_SHARES: &[(UserStatus, usize)] = &[
    (UserStatus::Staged, 40),
    (UserStatus::Provisioned, 40),
    (UserStatus::Recovery, 20),
    (UserStatus::PasswordExpired, 20),
    (UserStatus::LockedOut, 20),
    (UserStatus::Suspended, 30),
    (UserStatus::Deprovisioned, 60),
];

/// Statuses for `n` users, shuffled. From 8 users on, every status occurs
/// at least once, so any org of realistic size exercises all of them.
fn statuses(rng: &mut ChaCha8Rng, n: usize) -> Vec<UserStatus> {
    let mut out = Vec::with_capacity(n);
    for &(status, per_mille) in STATUS_SHARES {
        let quota = (n * per_mille).div_ceil(1000);
        let quota = if n >= 8 {
            quota.max(1)
        } else {
            quota.min(1) * usize::from(rng.random_bool(0.3))
        };
        out.extend(std::iter::repeat_n(status, quota.min(n - out.len())));
    }
    out.resize(n, UserStatus::Active);
    out.shuffle(rng);
    out
}

/// The instants Okta reports for one user.
struct Timeline {
    created: Millis,
    activated: Option<Millis>,
    status_changed: Option<Millis>,
    last_login: Option<Millis>,
    last_updated: Millis,
    password_changed: Option<Millis>,
}

/// Whole seconds: Okta's stored instants mostly end in `.000Z`.
fn between(rng: &mut ChaCha8Rng, lo: Millis, hi: Millis) -> Millis {
    let hi = hi.max(lo + 1000);
    rng.random_range(lo / 1000..hi / 1000) * 1000
}

fn timeline(rng: &mut ChaCha8Rng, status: UserStatus, org_created: Millis, has_password: bool) -> Timeline {
    let end = ANCHOR - DAY;
    let created = between(rng, org_created + DAY, end - DAY);
    let (activated, status_changed) = match status {
        UserStatus::Staged => (None, None),
        // Users imported as ACTIVE carry neither (see the spec's example).
        UserStatus::Active if rng.random_bool(0.1) => (None, None),
        UserStatus::Active | UserStatus::Provisioned => {
            let at = created + rng.random_range(1..5) * 1000;
            (Some(at), Some(at))
        }
        UserStatus::Deprovisioned if rng.random_bool(0.15) => (None, Some(between(rng, created, end))),
        _ => {
            let at = created + rng.random_range(1..5) * 1000;
            (Some(at), Some(between(rng, at, end)))
        }
    };
    let since = status_changed.unwrap_or(created);
    // Active users keep changing passwords; others stopped when their status did.
    let password_until = if status == UserStatus::Active {
        end
    } else {
        since.max(created + DAY)
    };
    let password_changed = (has_password && status != UserStatus::Staged)
        .then(|| between(rng, activated.unwrap_or(created), password_until));
    let last_login = match status {
        UserStatus::Staged | UserStatus::Provisioned => None,
        UserStatus::Active if rng.random_bool(0.85) => Some(between(rng, since, end)),
        UserStatus::Active => None,
        _ if activated.is_some() && rng.random_bool(0.7) => Some(between(rng, created, since)),
        _ => None,
    };
    let changed = [Some(since), password_changed]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(created);
    // Profile edits move lastUpdated past the lifecycle events for many users.
    let last_updated = if rng.random_bool(0.6) {
        between(rng, changed, end)
    } else {
        changed
    };
    Timeline {
        created,
        activated,
        status_changed,
        last_login,
        last_updated,
        password_changed,
    }
}

pub(crate) fn generate_users(rng: &mut ChaCha8Rng, style: &OrgStyle, n: usize) -> Vec<SimUser> {
    let persons = people::generate_people(rng, style, n);
    let statuses = statuses(rng, n);
    let ids: Vec<String> = (0..n).map(|_| ids::okta_id(rng, "00u", &style.tail)).collect();
    persons
        .iter()
        .zip(&statuses)
        .zip(&ids)
        .map(|((person, &status), id)| {
            let manager = person.manager.map(|m| manager_ref(style, &persons[m], &ids[m]));
            build_user(rng, style, person, status, id.clone(), manager)
        })
        .collect()
}

fn manager_ref(style: &OrgStyle, manager: &Person, id: &str) -> ManagerRef {
    ManagerRef {
        id_or_login: if style.manager_by_id {
            id.to_owned()
        } else {
            manager.login.clone()
        },
        display_name: people::display_name(manager),
    }
}

fn build_user(
    rng: &mut ChaCha8Rng,
    style: &OrgStyle,
    person: &Person,
    status: UserStatus,
    id: String,
    manager: Option<ManagerRef>,
) -> SimUser {
    let provider = match style.ad_domain {
        Some(domain) if rng.random_bool(0.3) => Provider::ActiveDirectory(domain.to_owned()),
        _ => Provider::Okta,
    };
    // STAGED and PROVISIONED users have not set a password yet.
    let has_password = !matches!(status, UserStatus::Staged | UserStatus::Provisioned);
    let t = timeline(rng, status, style.created, has_password && provider == Provider::Okta);
    SimUser {
        id,
        status,
        created: t.created,
        activated: t.activated,
        status_changed: t.status_changed,
        last_login: t.last_login,
        last_updated: t.last_updated,
        password_changed: t.password_changed,
        type_id: style.type_id.clone(),
        realm_id: style.realm_id.clone(),
        profile: people::profile(rng, style, person, manager),
        has_password,
        provider,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_status_occurs_from_eight_users_on() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [8, 9, 50, 100, 1000] {
            let got = statuses(&mut rng, n);
            assert_eq!(got.len(), n);
            for status in UserStatus::ALL {
                assert!(got.contains(&status), "{status:?} missing for n={n}");
            }
        }
    }
}
