//! The JSON Okta returns for users and groups, field for field.
//!
//! Shapes follow the recordings in `okta-reference/recorded/`: a user in a
//! collection carries only the `self` link, a user fetched by id carries the
//! lifecycle links its status allows; groups look the same in both places.
//! Serialization goes through borrowed structs (not `serde_json::Value`) so a
//! 1000-user page is written without copying every profile, and the fields
//! come out in Okta's order.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

use crate::model::{GroupType, Provider, SimGroup, SimUser, UserStatus};
use crate::timestamp::Ts;

const OKTA_LOGO_MEDIUM: &str =
    "https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-medium.30ce6d4085dff29412984e4c191bc874.png";
const OKTA_LOGO_LARGE: &str =
    "https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-large.c3cb8cda8ae0add1b4fe928f5844dbe3.png";
// The recordings hold no AD group; the spec's example names these files.
const AD_LOGO_MEDIUM: &str =
    "https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/active_directory-medium.png";
const AD_LOGO_LARGE: &str = "https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/active_directory-large.png";

/// `http://host:port` without a trailing slash, the prefix of every href.
pub(crate) fn origin(base: &Url) -> &str {
    base.as_str().trim_end_matches('/')
}

/// HAL links in a fixed order (Okta's), unlike a `serde_json::Map`.
pub(crate) struct Links(Vec<(&'static str, LinkVal)>);

pub(crate) enum LinkVal {
    Href(String),
    /// A lifecycle operation: `{"href": …, "method": "POST"}`.
    Action(String),
    /// `{"href": …, "method": "DELETE"}` (a DEPROVISIONED user's `delete`).
    Delete(String),
    Logos(&'static str, &'static str),
}

impl Serialize for Links {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, link) in &self.0 {
            map.serialize_entry(name, link)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Href<'a> {
    href: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
}

#[derive(Serialize)]
struct Logo {
    name: &'static str,
    href: &'static str,
    #[serde(rename = "type")]
    mime: &'static str,
}

impl Serialize for LinkVal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LinkVal::Href(href) => Href { href, method: None }.serialize(s),
            LinkVal::Action(href) => Href {
                href,
                method: Some("POST"),
            }
            .serialize(s),
            LinkVal::Delete(href) => Href {
                href,
                method: Some("DELETE"),
            }
            .serialize(s),
            LinkVal::Logos(medium, large) => {
                let mut seq = s.serialize_seq(Some(2))?;
                for (name, href) in [("medium", medium), ("large", large)] {
                    let mime = "image/png";
                    seq.serialize_element(&Logo { name, href, mime })?;
                }
                seq.end()
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserOut<'a> {
    id: &'a str,
    status: &'static str,
    created: Ts,
    activated: Option<Ts>,
    status_changed: Option<Ts>,
    last_login: Option<Ts>,
    last_updated: Ts,
    password_changed: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm_id: Option<&'a str>,
    #[serde(rename = "type")]
    user_type: IdRef<'a>,
    profile: &'a Map<String, Value>,
    credentials: CredentialsOut<'a>,
    #[serde(rename = "_links")]
    links: Links,
}

#[derive(Serialize)]
struct IdRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct EmailOut<'a> {
    value: &'a str,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct ProviderOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct CredentialsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emails: Option<[EmailOut<'a>; 1]>,
    provider: ProviderOut<'a>,
}

impl SimUser {
    /// Exactly the object the server returns for this user in a collection
    /// (`GET /api/v1/users`, `GET /api/v1/groups/{id}/users`) when reached
    /// at `base` (hrefs are absolute and use the request's host).
    pub fn to_json(&self, base: &Url) -> Value {
        serde_json::to_value(self.out(origin(base), false)).unwrap_or(Value::Null)
    }

    /// Exactly the object `GET /api/v1/users/{id}` returns: the same fields
    /// with the full set of lifecycle links for the user's status.
    pub fn to_detail_json(&self, base: &Url) -> Value {
        serde_json::to_value(self.out(origin(base), true)).unwrap_or(Value::Null)
    }

    pub(crate) fn out<'a>(&'a self, origin: &str, detail: bool) -> UserOut<'a> {
        let links = if detail {
            user_detail_links(self, origin)
        } else {
            Links(vec![("self", LinkVal::Href(user_href(origin, &self.id)))])
        };
        UserOut {
            id: &self.id,
            status: self.status.as_str(),
            created: Ts(self.created),
            activated: self.activated.map(Ts),
            status_changed: self.status_changed.map(Ts),
            last_login: self.last_login.map(Ts),
            last_updated: Ts(self.last_updated),
            password_changed: self.password_changed.map(Ts),
            realm_id: self.realm_id.as_deref(),
            user_type: IdRef { id: &self.type_id },
            profile: &self.profile,
            credentials: self.credentials_out(),
            links,
        }
    }

    fn credentials_out(&self) -> CredentialsOut<'_> {
        let provider = match &self.provider {
            Provider::Okta => ProviderOut {
                kind: "OKTA",
                name: "OKTA",
            },
            Provider::ActiveDirectory(domain) => ProviderOut {
                kind: "ACTIVE_DIRECTORY",
                name: domain,
            },
        };
        let email = self.profile.get("email").and_then(Value::as_str);
        let emails = match (self.has_password, email) {
            (true, Some(value)) => Some([EmailOut {
                value,
                status: "VERIFIED",
                kind: "PRIMARY",
            }]),
            _ => None,
        };
        CredentialsOut {
            password: self.has_password.then_some(Empty {}),
            emails,
            provider,
        }
    }
}

fn user_href(origin: &str, id: &str) -> String {
    format!("{origin}/api/v1/users/{id}")
}

/// Which lifecycle operations Okta links for a user fetched by id. STAGED,
/// PROVISIONED, ACTIVE and DEPROVISIONED come from the recordings; the
/// others follow the operations the lifecycle API allows in that status.
fn user_detail_links(user: &SimUser, origin: &str) -> Links {
    let me = user_href(origin, &user.id);
    let action = |op: &str| LinkVal::Action(format!("{me}/lifecycle/{op}"));
    let cred = |op: &str| LinkVal::Action(format!("{me}/credentials/{op}"));
    let schema_id = format!("osc{}", user.type_id.get(3..).unwrap_or_default());
    let schema = LinkVal::Href(format!("{origin}/api/v1/meta/schemas/user/{schema_id}"));
    let user_type = LinkVal::Href(format!("{origin}/api/v1/meta/types/user/{}", user.type_id));
    let own_password = user.has_password && user.provider == Provider::Okta;
    let mut links: Vec<(&'static str, LinkVal)> = Vec::with_capacity(12);
    match user.status {
        UserStatus::Staged => links.extend([("schema", schema), ("activate", action("activate"))]),
        UserStatus::Deprovisioned => links.extend([("schema", schema), ("activate", action("activate"))]),
        UserStatus::Suspended => links.extend([("schema", schema), ("unsuspend", action("unsuspend"))]),
        UserStatus::LockedOut => links.extend([
            ("unlock", action("unlock")),
            ("schema", schema),
            ("resetPassword", action("reset_password")),
        ]),
        _ => {
            links.extend([("suspend", action("suspend")), ("schema", schema)]);
            links.push(("resetPassword", action("reset_password")));
            if user.status == UserStatus::Provisioned {
                links.push(("reactivate", action("reactivate")));
            }
            if own_password && user.status == UserStatus::Active {
                links.push(("forgotPassword", cred("forgot_password")));
                links.push(("expirePassword", action("expire_password")));
                links.push(("changeRecoveryQuestion", cred("change_recovery_question")));
            }
        }
    }
    links.push(("self", LinkVal::Href(me.clone())));
    links.extend(tail_links(user, own_password, user_type, &me));
    Links(links)
}

/// The links after `self`: factors, type, password and the way out.
fn tail_links(user: &SimUser, own_password: bool, user_type: LinkVal, me: &str) -> Vec<(&'static str, LinkVal)> {
    let action = |op: &str| LinkVal::Action(format!("{me}/lifecycle/{op}"));
    let mut links = Vec::with_capacity(4);
    let active_like = !matches!(
        user.status,
        UserStatus::Staged | UserStatus::Deprovisioned | UserStatus::Suspended
    );
    if active_like {
        links.push(("resetFactors", action("reset_factors")));
    }
    links.push(("type", user_type));
    if own_password && user.status == UserStatus::Active {
        let href = format!("{me}/credentials/change_password");
        links.push(("changePassword", LinkVal::Action(href)));
    }
    match user.status {
        UserStatus::Staged => {}
        UserStatus::Deprovisioned => links.push(("delete", delete_link(me))),
        _ => links.push(("deactivate", action("deactivate"))),
    }
    links
}

fn delete_link(me: &str) -> LinkVal {
    LinkVal::Delete(me.to_owned())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupOut<'a> {
    id: &'a str,
    created: Ts,
    last_updated: Ts,
    last_membership_updated: Ts,
    object_class: [&'static str; 1],
    #[serde(rename = "type")]
    group_type: &'static str,
    profile: &'a Map<String, Value>,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    embedded: Option<Embedded>,
    #[serde(rename = "_links")]
    links: Links,
}

#[derive(Serialize)]
struct Embedded {
    stats: Stats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    users_count: usize,
    apps_count: u32,
    group_push_mappings_count: u32,
    has_admin_privilege: bool,
    #[serde(rename = "_links")]
    links: Links,
}

impl SimGroup {
    /// Exactly the object the server returns for this group (list or get)
    /// when reached at `base`; `expand=stats` adds `_embedded.stats`.
    pub fn to_json(&self, base: &Url, expand_stats: bool) -> Value {
        serde_json::to_value(self.out(origin(base), expand_stats)).unwrap_or(Value::Null)
    }

    pub(crate) fn out<'a>(&'a self, origin: &str, expand_stats: bool) -> GroupOut<'a> {
        let me = format!("{origin}/api/v1/groups/{}", self.id);
        let embedded = expand_stats.then(|| Embedded {
            stats: Stats {
                users_count: self.members.len(),
                apps_count: self.apps_count,
                group_push_mappings_count: self.push_mappings_count,
                has_admin_privilege: self.has_admin_privilege,
                links: Links(vec![("self", LinkVal::Href(format!("{me}/stats")))]),
            },
        });
        GroupOut {
            id: &self.id,
            created: Ts(self.created),
            last_updated: Ts(self.last_updated),
            last_membership_updated: Ts(self.last_membership_updated),
            object_class: [self.object_class],
            group_type: self.group_type.as_str(),
            profile: &self.profile,
            embedded,
            links: self.links(origin, &me),
        }
    }

    fn links(&self, origin: &str, me: &str) -> Links {
        let logos = match self.group_type {
            GroupType::AppGroup => LinkVal::Logos(AD_LOGO_MEDIUM, AD_LOGO_LARGE),
            _ => LinkVal::Logos(OKTA_LOGO_MEDIUM, OKTA_LOGO_LARGE),
        };
        let mut links = vec![("logo", logos)];
        if let Some(app) = &self.source_app {
            let href = format!("{origin}/api/v1/apps/{app}");
            links.push(("source", LinkVal::Href(href)));
        }
        links.push(("owners", LinkVal::Href(format!("{me}/owners"))));
        links.push(("users", LinkVal::Href(format!("{me}/users"))));
        links.push(("apps", LinkVal::Href(format!("{me}/apps"))));
        Links(links)
    }
}
