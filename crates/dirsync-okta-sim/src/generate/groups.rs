//! Groups: the BUILT_IN ones, OKTA_GROUPs and groups imported from Active
//! Directory, with the skewed sizes real orgs have (many small groups, a
//! few holding most of the org, some empty).

use std::collections::BTreeSet;

use rand::Rng;
use rand::seq::{IndexedRandom, index};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::names::{AD_GROUP_NAMES, OKTA_GROUP_NAMES};
use super::{ANCHOR, DAY, OrgStyle};
use crate::ids;
use crate::model::{GroupType, SimGroup, SimUser, UserStatus};
use crate::timestamp::Millis;

pub(crate) fn generate_groups(rng: &mut ChaCha8Rng, style: &OrgStyle, users: &[SimUser], n: usize) -> Vec<SimGroup> {
    let mut groups = vec![everyone(rng, style, users), administrators(rng, style, users)];
    let ad_app = style.ad_domain.map(|_| ids::okta_id(rng, "0oa", &style.tail));
    let mut names_taken = BTreeSet::new();
    for i in 0..n {
        let from_ad = ad_app.is_some() && rng.random_bool(0.25);
        let name = unique_name(rng, from_ad, i, &mut names_taken);
        let members = pick_members(rng, users);
        let mut group = if from_ad {
            ad_group(rng, style, name, ad_app.clone())
        } else {
            okta_group(rng, style, name)
        };
        group.last_membership_updated = membership_time(rng, group.created, &members, users);
        group.members = members;
        groups.push(group);
    }
    groups
}

fn blank_group(rng: &mut ChaCha8Rng, style: &OrgStyle, group_type: GroupType, created: Millis) -> SimGroup {
    SimGroup {
        id: ids::okta_id(rng, "00g", &style.tail),
        group_type,
        created,
        last_updated: created,
        last_membership_updated: created,
        object_class: "okta:user_group",
        profile: Map::new(),
        source_app: None,
        apps_count: 0,
        push_mappings_count: 0,
        has_admin_privilege: false,
        members: BTreeSet::new(),
    }
}

fn everyone(rng: &mut ChaCha8Rng, style: &OrgStyle, users: &[SimUser]) -> SimGroup {
    let mut g = blank_group(rng, style, GroupType::BuiltIn, style.created);
    g.profile.insert("name".into(), json!("Everyone"));
    g.profile
        .insert("description".into(), json!("All users in your organization"));
    g.members = users.iter().map(|u| u.id.clone()).collect();
    g.last_membership_updated = users.iter().map(|u| u.created).max().unwrap_or(style.created);
    g.apps_count = rng.random_range(1..20);
    g
}

/// Newer orgs have a second BUILT_IN group (see the groups recording); a
/// client must not take "the BUILT_IN group" to mean Everyone.
fn administrators(rng: &mut ChaCha8Rng, style: &OrgStyle, users: &[SimUser]) -> SimGroup {
    let mut g = blank_group(rng, style, GroupType::BuiltIn, style.created + 2000);
    g.profile.insert("name".into(), json!("Okta Administrators"));
    let description = "Okta manages this group, which contains all administrators in your organization.";
    g.profile.insert("description".into(), json!(description));
    let active: Vec<&SimUser> = users.iter().filter(|u| u.status == UserStatus::Active).collect();
    let count = rng.random_range(1..=3).min(active.len());
    g.members = active.choose_multiple(rng, count).map(|u| u.id.clone()).collect();
    g.last_membership_updated = g
        .members
        .iter()
        .filter_map(|id| find(users, id))
        .map(|u| u.created)
        .max()
        .unwrap_or(g.created);
    g.has_admin_privilege = true;
    g
}

/// `users` is sorted by id by the time groups are generated.
fn find<'a>(users: &'a [SimUser], id: &str) -> Option<&'a SimUser> {
    users
        .binary_search_by(|u| u.id.as_str().cmp(id))
        .ok()
        .map(|i| &users[i])
}

fn unique_name(rng: &mut ChaCha8Rng, from_ad: bool, i: usize, taken: &mut BTreeSet<String>) -> String {
    let pool = if from_ad { AD_GROUP_NAMES } else { OKTA_GROUP_NAMES };
    let base = pool.choose(rng).copied().unwrap_or("Group");
    let mut name = base.to_owned();
    if !taken.insert(name.clone()) {
        name = format!("{base} {}", i + 2);
        taken.insert(name.clone());
    }
    name
}

fn description(rng: &mut ChaCha8Rng, name: &str) -> Value {
    // Okta returns null for groups created without one, "" for some tools.
    match rng.random_range(0..10) {
        0 | 1 => Value::Null,
        2 => json!(""),
        _ => json!(format!("Members of {name}")),
    }
}

fn okta_group(rng: &mut ChaCha8Rng, style: &OrgStyle, name: String) -> SimGroup {
    let created = rng.random_range(style.created / 1000..(ANCHOR - DAY) / 1000) * 1000;
    let mut g = blank_group(rng, style, GroupType::OktaGroup, created);
    g.profile.insert("description".into(), description(rng, &name));
    g.profile.insert("name".into(), json!(name));
    if rng.random_bool(0.3) {
        // Renamed or re-described since creation.
        g.last_updated = rng.random_range(created / 1000..(ANCHOR - DAY) / 1000) * 1000;
    }
    g.apps_count = rng.random_range(0..6);
    g.push_mappings_count = u32::from(rng.random_bool(0.1));
    g
}

/// An AD security group as Okta imports it: `objectClass`
/// `okta:windows_security_principal`, the AD attributes in `profile`, and a
/// `source` link to the directory integration.
fn ad_group(rng: &mut ChaCha8Rng, style: &OrgStyle, name: String, app: Option<String>) -> SimGroup {
    let mut g = okta_group(rng, style, name.clone());
    g.group_type = GroupType::AppGroup;
    g.object_class = "okta:windows_security_principal";
    g.source_app = app;
    g.push_mappings_count = 0;
    let p = &mut g.profile;
    p.insert(
        "groupType".into(),
        json!(["Security", "Distribution"][usize::from(rng.random_bool(0.2))]),
    );
    p.insert("samAccountName".into(), json!(name));
    let rid = rng.random_range(1100..99_999);
    p.insert(
        "objectSid".into(),
        json!(format!("S-1-5-21-717838489-685202119-709183397-{rid}")),
    );
    p.insert(
        "groupScope".into(),
        json!(["Global", "Universal", "DomainLocal"][rng.random_range(0..3)]),
    );
    p.insert(
        "dn".into(),
        json!(format!("CN={name},OU=Groups,DC=corp,DC=example,DC=com")),
    );
    p.insert("windowsDomainQualifiedName".into(), json!(format!("CORP\\{name}")));
    p.insert("externalId".into(), json!(guid_base64(rng)));
    g
}

/// An `objectGUID` the way Okta shows it: 16 bytes, base64.
fn guid_base64(rng: &mut ChaCha8Rng) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s: String = (0..22).map(|_| char::from(B64[rng.random_range(0..64)])).collect();
    s.push_str("==");
    s
}

/// Sizes skewed the way real orgs are: a tenth empty, most tiny, a few
/// covering up to 60% of the org.
fn pick_members(rng: &mut ChaCha8Rng, users: &[SimUser]) -> BTreeSet<String> {
    let n = users.len();
    if n == 0 {
        return BTreeSet::new();
    }
    let roll: f64 = rng.random();
    let max = if roll < 0.1 {
        0
    } else if roll < 0.6 {
        n.min(20)
    } else if roll < 0.85 {
        (n / 20).max(1)
    } else if roll < 0.97 {
        (n / 4).max(1)
    } else {
        (n * 3 / 5).max(1)
    };
    let count = if max == 0 { 0 } else { rng.random_range(1..=max) };
    index::sample(rng, n, count)
        .into_iter()
        .map(|i| users[i].id.clone())
        .collect()
}

fn membership_time(rng: &mut ChaCha8Rng, created: Millis, members: &BTreeSet<String>, users: &[SimUser]) -> Millis {
    if members.is_empty() {
        return created;
    }
    let latest_member = members
        .iter()
        .filter_map(|id| find(users, id))
        .map(|u| u.created)
        .max()
        .unwrap_or(created);
    let from = created.max(latest_member);
    let until = (ANCHOR - DAY).max(from + 1000);
    rng.random_range(from / 1000..until / 1000) * 1000
}
