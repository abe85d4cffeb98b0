//! Okta's `filter` and `search` expressions: a small SCIM-like language,
//! `status eq "ACTIVE" and (lastUpdated gt "2024-01-01T00:00:00.000Z" or …)`.
//!
//! Parsing is dialect-free; `compile` then checks the expression against
//! what the endpoint supports (the users `filter` accepts far less than the
//! users `search`) and pre-parses timestamps, so evaluating a page is just
//! comparisons. Anything Okta would reject becomes `FilterError`, which the
//! server answers with `400 E0000031`.

use serde_json::Value;

use crate::model::{SimGroup, SimUser};
use crate::timestamp::{self, Millis};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid search criteria: {0}")]
pub(crate) struct FilterError(pub(crate) String);

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Str(String),
}

fn tokenize(input: &str) -> Result<Vec<Tok>, FilterError> {
    let mut toks = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                toks.push(if c == '(' { Tok::Open } else { Tok::Close });
            }
            '"' => {
                chars.next();
                toks.push(Tok::Str(string_literal(&mut chars)?));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                toks.push(Tok::Word(word));
            }
        }
    }
    Ok(toks)
}

fn string_literal(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<String, FilterError> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => return err("unterminated string"),
            Some('"') => return Ok(s),
            Some('\\') => match chars.next() {
                Some(escaped) => s.push(escaped),
                None => return err("dangling escape"),
            },
            Some(c) => s.push(c),
        }
    }
}

/// Comparison operators, case-insensitive in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    Sw,
    Co,
    Pr,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "pr" => Op::Pr,
            _ => return None,
        })
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// A literal as written.
#[derive(Debug, Clone, PartialEq)]
enum RawLit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    None,
}

#[derive(Debug, Clone, PartialEq)]
enum Raw {
    And(Box<Raw>, Box<Raw>),
    Or(Box<Raw>, Box<Raw>),
    Cmp(String, Op, RawLit),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn or(&mut self) -> Result<Raw, FilterError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            left = Raw::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Raw, FilterError> {
        let mut left = self.primary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            left = Raw::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Raw, FilterError> {
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => err("missing )"),
                }
            }
            Some(Tok::Word(attr)) => self.comparison(attr),
            other => err(format!("expected an attribute, found {other:?}")),
        }
    }

    fn comparison(&mut self, attr: String) -> Result<Raw, FilterError> {
        let op = match self.next() {
            Some(Tok::Word(w)) => {
                Op::parse(&w).ok_or_else(|| FilterError(format!("unknown operator {w}")))?
            }
            other => return err(format!("expected an operator, found {other:?}")),
        };
        if op == Op::Pr {
            return Ok(Raw::Cmp(attr, op, RawLit::None));
        }
        let lit = match self.next() {
            Some(Tok::Str(s)) => RawLit::Str(s),
            Some(Tok::Word(w)) => bare_literal(&w)?,
            other => return err(format!("expected a value, found {other:?}")),
        };
        Ok(Raw::Cmp(attr, op, lit))
    }
}

fn bare_literal(word: &str) -> Result<RawLit, FilterError> {
    match word {
        "true" => Ok(RawLit::Bool(true)),
        "false" => Ok(RawLit::Bool(false)),
        "null" => Ok(RawLit::Null),
        _ => word
            .parse::<f64>()
            .map(RawLit::Num)
            .map_err(|_| FilterError(format!("bad value {word}"))),
    }
}

fn parse(input: &str) -> Result<Raw, FilterError> {
    let toks = tokenize(input)?;
    if toks.is_empty() {
        return err("empty expression");
    }
    let mut parser = Parser { toks, pos: 0 };
    let expr = parser.or()?;
    if parser.pos != parser.toks.len() {
        return err("trailing input");
    }
    Ok(expr)
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
    compile_raw(parse(input)?, dialect)
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
    let attr = resolve_attr(name, dialect)
        .ok_or_else(|| FilterError(format!("unsupported attribute {name}")))?;
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
            if field.is_empty() || (!search && !(users && filterable.contains(&field))) {
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
        Dialect::UsersFilter | Dialect::GroupsFilter => {
            op == Op::Eq || (op.is_ordering() && attr.is_timestamp())
        }
        Dialect::UsersSearch | Dialect::GroupsSearch => match op {
            Op::Co => {
                matches!(attr, Attr::Profile(f) if ["firstName", "lastName", "email", "login", "name", "description"].contains(&f.as_str()))
            }
            _ => true,
        },
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_or_with_and_binding_tighter() {
        let raw = parse(r#"status eq "ACTIVE" or status eq "STAGED" and id eq "x""#).unwrap();
        assert!(matches!(raw, Raw::Or(_, b) if matches!(*b, Raw::And(_, _))));
    }

    #[test]
    fn parentheses_group() {
        let raw = parse(r#"(status eq "ACTIVE" or status eq "STAGED") and id eq "x""#).unwrap();
        assert!(matches!(raw, Raw::And(a, _) if matches!(*a, Raw::Or(_, _))));
    }

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
    fn escaped_quotes_stay_in_the_string() {
        let raw = parse(r#"profile.lastName eq "O\"Brien""#).unwrap();
        assert_eq!(
            raw,
            Raw::Cmp(
                "profile.lastName".into(),
                Op::Eq,
                RawLit::Str("O\"Brien".into())
            )
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
            assert!(
                compile(bad, Dialect::UsersFilter).is_err(),
                "{bad:?} accepted"
            );
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
