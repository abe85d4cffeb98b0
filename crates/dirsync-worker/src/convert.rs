//! Okta's models to the records the writer stores.

use dirsync_domain::{GroupRecord, UserRecord};
use dirsync_okta::{Group, User};

pub(crate) fn user_record(user: User) -> UserRecord {
    UserRecord {
        status: user.status.as_str().to_owned(),
        created: Some(user.created),
        activated: user.activated,
        status_changed: user.status_changed,
        last_login: user.last_login,
        last_updated: Some(user.last_updated),
        password_changed: user.password_changed,
        user_type_id: user.user_type_id,
        profile: serde_json::Value::Object(user.profile.into_attributes()),
        okta_id: user.id.into(),
    }
}

pub(crate) fn group_record(group: Group) -> GroupRecord {
    GroupRecord {
        group_type: group.group_type.as_str().to_owned(),
        created: Some(group.created),
        last_updated: Some(group.last_updated),
        last_membership_updated: Some(group.last_membership_updated),
        object_class: group.object_class,
        profile: serde_json::Value::Object(group.profile),
        okta_id: group.id.into(),
    }
}
