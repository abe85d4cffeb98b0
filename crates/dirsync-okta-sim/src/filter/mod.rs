//! Okta's `filter` and `search` expressions: a small SCIM-like language,
//! `status eq "ACTIVE" and (lastUpdated gt "2024-01-01T00:00:00.000Z" or …)`.
//!
//! Parsing is dialect-free; `compile` then checks the expression against
//! what the endpoint supports (the users `filter` accepts far less than the
//! users `search`) and pre-parses timestamps, so evaluating a page is just
//! comparisons. Anything Okta would reject becomes `FilterError`, which the
//! server answers with `400 E0000031`.

mod eval;
pub(crate) mod parse;

use parse::{Op, Raw, RawLit};

use crate::timestamp::{self, Millis};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid search criteria: {0}")]
pub(crate) struct FilterError(pub(crate) String);

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

/// Which parameter of which endpoint the expression came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    UsersFilter,
    UsersSearch,
    GroupsFilter,
    GroupsSearch,
}

/// An attribute a compiled expression can read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr {
    Id,
    Status,
    Created,
    Activated,
    StatusChanged,
    LastUpdated,
    LastLogin,
    PasswordChanged,
    LastMembershipUpdated,
    TypeId,
    GroupType,
    SourceId,
    Profile(String),
}

impl Attr {
    fn is_timestamp(&self) -> bool {
        matches!(
            self,
            Attr::Created
                | Attr::Activated
                | Attr::StatusChanged
                | Attr::LastUpdated
                | Attr::LastLogin
                | Attr::PasswordChanged
                | Attr::LastMembershipUpdated
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Ts(Millis),
    Num(f64),
    Bool(bool),
    Null,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp {
        attr: Attr,
        op: Op,
        value: Lit,
        /// `search` compares string values case-insensitively.
        fold_case: bool,
    },
}

/// Parses and checks an expression for one endpoint's parameter.
pub(crate) fn compile(input: &str, dialect: Dialect) -> Result<Expr, FilterError> {
    compile_raw(parse::parse(input)?, dialect)
}

fn compile_raw(raw: Raw, dialect: Dialect) -> Result<Expr, FilterError> {
    match raw {
        Raw::And(a, b) => Ok(Expr::And(
            Box::new(compile_raw(*a, dialect)?),
            Box::new(compile_raw(*b, dialect)?),
        )),
        Raw::Or(a, b) => Ok(Expr::Or(
            Box::new(compile_raw(*a, dialect)?),
            Box::new(compile_raw(*b, dialect)?),
        )),
        Raw::Cmp(name, op, lit) => compile_cmp(&name, op, lit, dialect),
    }
}

fn compile_cmp(name: &str, op: Op, lit: RawLit, dialect: Dialect) -> Result<Expr, FilterError> {
    let attr = resolve_attr(name, dialect).ok_or_else(|| FilterError(format!("unsupported attribute {name}")))?;
    if !op_allowed(&attr, op, dialect) {
        return err(format!("operator {op:?} not supported for {name}"));
    }
    let value = match lit {
        RawLit::Str(s) if attr.is_timestamp() => {
            Lit::Ts(timestamp::parse(&s).ok_or_else(|| FilterError(format!("bad timestamp {s}")))?)
        }
        RawLit::Str(s) => Lit::Str(s),
        _ if attr.is_timestamp() && op != Op::Pr => {
            return err(format!("{name} needs a quoted timestamp"));
        }
        RawLit::Num(n) => Lit::Num(n),
        RawLit::Bool(b) => Lit::Bool(b),
        RawLit::Null => Lit::Null,
        RawLit::None => Lit::None,
    };
    let fold_case = matches!(dialect, Dialect::UsersSearch | Dialect::GroupsSearch);
    Ok(Expr::Cmp {
        attr,
        op,
        value,
        fold_case,
    })
}

fn resolve_attr(name: &str, dialect: Dialect) -> Option<Attr> {
    let search = matches!(dialect, Dialect::UsersSearch | Dialect::GroupsSearch);
    let users = matches!(dialect, Dialect::UsersFilter | Dialect::UsersSearch);
    let attr = match (name, users, search) {
        ("id", _, _) => Attr::Id,
        ("lastUpdated", _, _) => Attr::LastUpdated,
        ("status", true, _) => Attr::Status,
        ("created", _, true) => Attr::Created,
        ("activated", true, true) => Attr::Activated,
        ("statusChanged", true, true) => Attr::StatusChanged,
        ("lastLogin", true, true) => Attr::LastLogin,
        ("passwordChanged", true, true) => Attr::PasswordChanged,
        ("type.id", true, true) => Attr::TypeId,
        ("type", false, _) => Attr::GroupType,
        ("lastMembershipUpdated", false, _) => Attr::LastMembershipUpdated,
        ("source.id", false, true) => Attr::SourceId,
        _ => {
            let field = name.strip_prefix("profile.")?;
            // The users filter only knows four profile attributes; search
            // knows them all.
            let filterable = ["login", "email", "firstName", "lastName"];
            let known = search || (users && filterable.contains(&field));
            if field.is_empty() || !known {
                return None;
            }
            Attr::Profile(field.to_owned())
        }
    };
    Some(attr)
}

fn op_allowed(attr: &Attr, op: Op, dialect: Dialect) -> bool {
    match dialect {
        // `filter` allows only eq, plus ordering on the timestamps.
        Dialect::UsersFilter | Dialect::GroupsFilter => op == Op::Eq || (op.is_ordering() && attr.is_timestamp()),
        Dialect::UsersSearch | Dialect::GroupsSearch => match op {
            Op::Co => {
                matches!(attr, Attr::Profile(f) if ["firstName", "lastName", "email", "login", "name", "description"].contains(&f.as_str()))
            }
            _ => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_keywords_are_case_insensitive() {
        assert!(
            compile(
                r#"status EQ "ACTIVE" AND lastUpdated Gt "2024-01-01T00:00:00.000Z""#,
                Dialect::UsersFilter
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_expressions_are_rejected() {
        for bad in [
            "",
            "status",
            r#"status eq"#,
            r#"status eq "ACTIVE"#,
            r#"(status eq "ACTIVE""#,
            r#"status eq "ACTIVE")"#,
            r#"status eq "ACTIVE" and"#,
            r#"status equals "ACTIVE""#,
            r#"status eq "ACTIVE" status eq "STAGED""#,
        ] {
            assert!(compile(bad, Dialect::UsersFilter).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn users_filter_supports_only_what_okta_documents() {
        let ok = [
            r#"lastUpdated ge "2024-01-01T00:00:00.000Z""#,
            r#"profile.login eq "a@b.c""#,
            r#"id eq "00u1""#,
        ];
        for expr in ok {
            assert!(compile(expr, Dialect::UsersFilter).is_ok(), "{expr}");
        }
        let rejected = [
            r#"status gt "ACTIVE""#,
            r#"profile.title eq "CEO""#,
            r#"created gt "2024-01-01T00:00:00.000Z""#,
            r#"lastUpdated gt "not a date""#,
            r#"profile.firstName sw "A""#,
        ];
        for expr in rejected {
            assert!(compile(expr, Dialect::UsersFilter).is_err(), "{expr}");
            // ...while search accepts the profile and created ones.
        }
        assert!(compile(r#"profile.title eq "CEO""#, Dialect::UsersSearch).is_ok());
        assert!(compile(r#"profile.firstName sw "A""#, Dialect::UsersSearch).is_ok());
    }

    #[test]
    fn groups_filter_knows_type_and_membership_time() {
        assert!(compile(r#"type eq "APP_GROUP""#, Dialect::GroupsFilter).is_ok());
        assert!(
            compile(
                r#"lastMembershipUpdated gt "2024-01-01T00:00:00.000Z""#,
                Dialect::GroupsFilter
            )
            .is_ok()
        );
        assert!(compile(r#"status eq "ACTIVE""#, Dialect::GroupsFilter).is_err());
    }
}
