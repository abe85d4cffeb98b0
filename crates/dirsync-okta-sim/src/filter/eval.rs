//! Evaluating a compiled expression against a user or a group.

use serde_json::Value;

use super::parse::Op;
use super::{Attr, Expr, Lit};
use crate::model::{SimGroup, SimUser};
use crate::timestamp::Millis;

/// A value an expression reads from a user or group.
pub(crate) enum Val<'a> {
    Str(&'a str),
    Ts(Millis),
    Json(&'a Value),
    Missing,
}

/// Something a filter can be evaluated against.
pub(crate) trait Subject {
    fn value(&self, attr: &Attr) -> Val<'_>;
}

impl Expr {
    pub(crate) fn matches(&self, subject: &impl Subject) -> bool {
        match self {
            Expr::And(a, b) => a.matches(subject) && b.matches(subject),
            Expr::Or(a, b) => a.matches(subject) || b.matches(subject),
            Expr::Cmp {
                attr,
                op,
                value,
                fold_case,
            } => compare(&subject.value(attr), *op, value, *fold_case),
        }
    }
}

fn compare(val: &Val<'_>, op: Op, lit: &Lit, fold: bool) -> bool {
    match (val, lit) {
        (Val::Missing | Val::Json(Value::Null), Lit::Null) => op == Op::Eq,
        (Val::Missing | Val::Json(Value::Null), _) => false,
        (_, Lit::None) => op == Op::Pr,
        (Val::Ts(t), Lit::Ts(l)) => ordering(op, t.cmp(l)),
        (Val::Str(s), Lit::Str(l)) => compare_str(s, op, l, fold),
        (Val::Json(json), _) => compare_json(json, op, lit, fold),
        _ => false,
    }
}

fn compare_json(json: &Value, op: Op, lit: &Lit, fold: bool) -> bool {
    match (json, lit) {
        (Value::String(s), Lit::Str(l)) => compare_str(s, op, l, fold),
        (Value::Number(n), Lit::Num(l)) => n
            .as_f64()
            .and_then(|n| n.partial_cmp(l))
            .is_some_and(|o| ordering(op, o)),
        (Value::Bool(b), Lit::Bool(l)) => op == Op::Eq && b == l,
        // SCIM: an array matches when any element does.
        (Value::Array(items), _) => items.iter().any(|item| compare_json(item, op, lit, fold)),
        _ => false,
    }
}

fn compare_str(s: &str, op: Op, lit: &str, fold: bool) -> bool {
    if fold {
        return compare_plain(&s.to_lowercase(), op, &lit.to_lowercase());
    }
    compare_plain(s, op, lit)
}

fn compare_plain(s: &str, op: Op, lit: &str) -> bool {
    match op {
        Op::Sw => s.starts_with(lit),
        Op::Co => s.contains(lit),
        _ => ordering(op, s.cmp(lit)),
    }
}

fn ordering(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::Eq => o == Equal,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
        Op::Lt => o == Less,
        Op::Le => o != Greater,
        Op::Sw | Op::Co | Op::Pr => false,
    }
}

fn ts(t: Option<Millis>) -> Val<'static> {
    t.map_or(Val::Missing, Val::Ts)
}

fn profile_value<'a>(profile: &'a serde_json::Map<String, Value>, field: &str) -> Val<'a> {
    profile.get(field).map_or(Val::Missing, Val::Json)
}

impl Subject for SimUser {
    fn value(&self, attr: &Attr) -> Val<'_> {
        match attr {
            Attr::Id => Val::Str(&self.id),
            Attr::Status => Val::Str(self.status.as_str()),
            Attr::Created => Val::Ts(self.created),
            Attr::Activated => ts(self.activated),
            Attr::StatusChanged => ts(self.status_changed),
            Attr::LastUpdated => Val::Ts(self.last_updated),
            Attr::LastLogin => ts(self.last_login),
            Attr::PasswordChanged => ts(self.password_changed),
            Attr::TypeId => Val::Str(&self.type_id),
            Attr::Profile(field) => profile_value(&self.profile, field),
            Attr::LastMembershipUpdated | Attr::GroupType | Attr::SourceId => Val::Missing,
        }
    }
}

impl Subject for SimGroup {
    fn value(&self, attr: &Attr) -> Val<'_> {
        match attr {
            Attr::Id => Val::Str(&self.id),
            Attr::Created => Val::Ts(self.created),
            Attr::LastUpdated => Val::Ts(self.last_updated),
            Attr::LastMembershipUpdated => Val::Ts(self.last_membership_updated),
            Attr::GroupType => Val::Str(self.group_type.as_str()),
            Attr::SourceId => self.source_app.as_deref().map_or(Val::Missing, Val::Str),
            Attr::Profile(field) => profile_value(&self.profile, field),
            _ => Val::Missing,
        }
    }
}
