use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dirsync_okta_sim::{GroupType, OrgSpec, UserStatus, generate};
use serde_json::Value;

fn base() -> url::Url {
    url::Url::parse("http://okta.test/").unwrap()
}

#[test]
fn the_same_seed_generates_the_same_org() {
    let spec = OrgSpec {
        users: 300,
        groups: 25,
        seed: 42,
    };
    let (a, b) = (generate(&spec), generate(&spec));
    let json = |org: &dirsync_okta_sim::Org| -> Vec<Value> {
        let users = org.users().iter().map(|u| u.to_detail_json(&base()));
        let groups = org.groups().iter().map(|g| g.to_json(&base(), true));
        users.chain(groups).collect()
    };
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.id(), b.id());
    let other = generate(&OrgSpec { seed: 43, ..spec });
    assert_ne!(json(&a), json(&other));
}

#[test]
fn every_status_is_present_in_an_org_of_a_hundred() {
    for seed in 0..20 {
        let org = generate(&OrgSpec {
            users: 100,
            groups: 5,
            seed,
        });
        let present: HashSet<UserStatus> = org.users().iter().map(|u| u.status()).collect();
        assert_eq!(present.len(), UserStatus::ALL.len(), "seed {seed}: {present:?}");
        let active = org.users().iter().filter(|u| u.status() == UserStatus::Active).count();
        assert!(active > 60, "most users are ACTIVE, got {active}");
    }
}

#[test]
fn ids_and_timestamps_look_like_oktas() {
    let org = generate(&OrgSpec {
        users: 200,
        groups: 10,
        seed: 1,
    });
    assert!(org.id().starts_with("00o") && org.id().len() == 20);
    let tail = &org.id()[17..];
    for user in org.users() {
        assert!(user.id().starts_with("00u") && user.id().len() == 20, "{}", user.id());
        assert!(user.id().ends_with(tail), "ids of one org share a tail");
        let json = user.to_json(&base());
        for field in ["created", "lastUpdated"] {
            let ts = json[field].as_str().unwrap();
            assert_eq!(ts.len(), 24, "{ts}");
            assert!(ts.ends_with(".000Z") || ts.ends_with('Z'));
        }
        assert!(json["type"]["id"].as_str().unwrap().starts_with("oty"));
    }
    for group in org.groups() {
        assert!(group.id().starts_with("00g") && group.id().len() == 20);
    }
    let sorted: Vec<&str> = org.users().iter().map(|u| u.id()).collect();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "users are kept in id order");
}

#[test]
fn timestamps_are_null_where_okta_has_null() {
    let org = generate(&OrgSpec {
        users: 500,
        groups: 5,
        seed: 2,
    });
    for user in org.users() {
        let json = user.to_json(&base());
        match user.status() {
            UserStatus::Staged => {
                for field in ["activated", "statusChanged", "lastLogin", "passwordChanged"] {
                    assert!(json[field].is_null(), "STAGED {field}: {}", json[field]);
                }
                assert!(json["credentials"].get("password").is_none());
            }
            UserStatus::Provisioned => {
                assert!(json["lastLogin"].is_null() && json["passwordChanged"].is_null());
                assert!(json["activated"].is_string());
            }
            _ => {}
        }
        // Every field Okta always sends is there, null or not.
        for field in [
            "activated",
            "statusChanged",
            "lastLogin",
            "passwordChanged",
            "created",
            "lastUpdated",
        ] {
            assert!(json.get(field).is_some(), "{field} missing");
        }
        assert!(json["lastUpdated"].as_str() >= json["created"].as_str());
    }
    let null_status_changed = org.users().iter().filter(|u| u.status_changed().is_none()).count();
    assert!(null_status_changed > 0);
}

#[test]
fn names_are_unicode_with_apostrophes_hyphens_and_accents() {
    let org = generate(&OrgSpec {
        users: 1000,
        groups: 5,
        seed: 3,
    });
    let profiles: Vec<_> = org.users().iter().map(|u| u.profile()).collect();
    let names: Vec<String> = profiles
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["firstName"].as_str().unwrap(),
                p["lastName"].as_str().unwrap()
            )
        })
        .collect();
    assert!(names.iter().any(|n| n.contains('\'')), "an apostrophe (O'Brien)");
    assert!(names.iter().any(|n| n.contains('-')), "a hyphen");
    assert!(
        names
            .iter()
            .any(|n| n.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "CJK"
    );
    assert!(
        names
            .iter()
            .any(|n| n.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c))),
        "Arabic"
    );
    assert!(names.iter().any(|n| n.contains('é') || n.contains('ü')), "accents");
}

#[test]
fn profiles_have_gaps_nulls_and_custom_attributes_of_every_type() {
    let org = generate(&OrgSpec {
        users: 1000,
        groups: 5,
        seed: 3,
    });
    let profiles: Vec<_> = org.users().iter().map(|u| u.profile()).collect();
    for p in &profiles {
        assert!(
            p.contains_key("mobilePhone") && p.contains_key("secondEmail"),
            "always sent"
        );
        assert!(p["login"].as_str().unwrap().contains('@'));
    }
    let count = |f: &dyn Fn(&serde_json::Map<String, Value>) -> bool| profiles.iter().filter(|p| f(p)).count();
    assert!(count(&|p| !p.contains_key("title")) > 0, "some titles missing");
    assert!(count(&|p| p.get("title") == Some(&Value::Null) || p.get("displayName") == Some(&Value::Null)) > 0);
    assert!(
        count(&|p| p.get("startYear").is_some_and(Value::is_i64)) > 0,
        "integer custom"
    );
    assert!(
        count(&|p| p.get("ftePercent").is_some_and(Value::is_f64)) > 0,
        "float custom"
    );
    assert!(
        count(&|p| p.get("isContractor").is_some_and(Value::is_boolean)) > 0,
        "boolean custom"
    );
    assert!(
        count(&|p| p.get("skills").is_some_and(Value::is_array)) > 0,
        "array custom"
    );
    for key in [
        "department",
        "city",
        "countryCode",
        "employeeNumber",
        "costCenter",
        "timezone",
        "locale",
    ] {
        assert!(count(&|p| p.get(key).is_some_and(Value::is_string)) > 0, "{key}");
    }
}

#[test]
fn managers_point_at_other_users() {
    for seed in 0..6 {
        let org = generate(&OrgSpec {
            users: 300,
            groups: 0,
            seed,
        });
        let by_login: HashMap<&str, &str> = org.users().iter().map(|u| (u.login(), u.id())).collect();
        let with_manager: Vec<_> = org
            .users()
            .iter()
            .filter_map(|u| u.profile().get("managerId"))
            .collect();
        assert!(with_manager.len() > 200, "most people have a manager");
        for manager in with_manager {
            let manager = manager.as_str().unwrap();
            assert!(
                org.user(manager).is_some() || by_login.contains_key(manager),
                "{manager}"
            );
        }
    }
}

#[test]
fn groups_are_built_in_okta_and_app_groups_with_skewed_sizes() {
    let org = generate(&OrgSpec {
        users: 2000,
        groups: 60,
        seed: 4,
    });
    assert_eq!(org.groups().len(), 62, "two BUILT_IN groups on top");
    let everyone = org.everyone();
    assert_eq!(everyone.group_type(), GroupType::BuiltIn);
    assert_eq!(everyone.member_count(), org.users().len());
    let of = |t: GroupType| org.groups().iter().filter(|g| g.group_type() == t).count();
    assert_eq!(of(GroupType::BuiltIn), 2);
    assert!(of(GroupType::OktaGroup) > 0);
    let sizes: Vec<usize> = org
        .groups()
        .iter()
        .filter(|g| g.group_type() != GroupType::BuiltIn)
        .map(|g| g.member_count())
        .collect();
    assert!(sizes.contains(&0), "some empty groups");
    assert!(
        sizes.iter().filter(|s| **s <= 20).count() > sizes.len() / 3,
        "many small groups"
    );
    assert!(sizes.iter().all(|s| *s <= 1200), "at most 60% of the org");
    for group in org.groups() {
        let json = group.to_json(&base(), false);
        assert!(json["lastMembershipUpdated"].as_str() >= json["created"].as_str());
        assert!(json["profile"]["name"].is_string());
        assert!(json["profile"].get("description").is_some());
    }
}

#[test]
fn app_groups_carry_their_directory_attributes() {
    let org = (0..10)
        .map(|seed| {
            generate(&OrgSpec {
                users: 50,
                groups: 40,
                seed,
            })
        })
        .find(|org| org.groups().iter().any(|g| g.group_type() == GroupType::AppGroup))
        .expect("some seed imports AD groups");
    let group = org
        .groups()
        .iter()
        .find(|g| g.group_type() == GroupType::AppGroup)
        .unwrap();
    let json = group.to_json(&base(), false);
    assert_eq!(
        json["objectClass"],
        serde_json::json!(["okta:windows_security_principal"])
    );
    for key in [
        "samAccountName",
        "dn",
        "windowsDomainQualifiedName",
        "externalId",
        "groupType",
        "groupScope",
        "objectSid",
    ] {
        assert!(json["profile"][key].is_string(), "{key}");
    }
    assert!(
        json["_links"]["source"]["href"]
            .as_str()
            .unwrap()
            .contains("/api/v1/apps/0oa")
    );
}

#[test]
fn five_thousand_users_generate_quickly() {
    let started = Instant::now();
    let org = generate(&OrgSpec {
        users: 5000,
        groups: 200,
        seed: 5,
    });
    let elapsed = started.elapsed();
    assert_eq!(org.users().len(), 5000);
    // Well under a second in release; generous for an unoptimised build.
    let budget = if cfg!(debug_assertions) { 5.0 } else { 0.5 };
    assert!(elapsed.as_secs_f64() < budget, "took {elapsed:?}");
}
