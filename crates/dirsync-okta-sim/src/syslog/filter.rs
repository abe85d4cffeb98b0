//! The `filter` of `GET /api/v1/logs`: the same SCIM-like grammar as the
//! users and groups filters (`filter/parse.rs`), over the event attributes
//! a log consumer filters on: `eventType`, `target.id`, `target.type`,
//! `actor.id`, `outcome.result`, `severity` and `uuid`, compared with `eq`
//! (`co` and `sw` too on strings, as Okta allows every operator there).
//! Anything else is Okta's `400 E0000031`.

use super::{LogEvent, LogTarget};
use crate::filter::FilterError;
use crate::filter::parse::{self, Op, Raw, RawLit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    EventType,
    TargetId,
    TargetType,
    ActorId,
    OutcomeResult,
    Severity,
    Uuid,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LogExpr {
    And(Box<LogExpr>, Box<LogExpr>),
    Or(Box<LogExpr>, Box<LogExpr>),
    Cmp(Field, Op, String),
}

pub(crate) fn compile(input: &str) -> Result<LogExpr, FilterError> {
    compile_raw(parse::parse(input)?)
}

fn compile_raw(raw: Raw) -> Result<LogExpr, FilterError> {
    Ok(match raw {
        Raw::And(a, b) => LogExpr::And(Box::new(compile_raw(*a)?), Box::new(compile_raw(*b)?)),
        Raw::Or(a, b) => LogExpr::Or(Box::new(compile_raw(*a)?), Box::new(compile_raw(*b)?)),
        Raw::Cmp(name, op, lit) => {
            let field = match name.as_str() {
                "eventType" => Field::EventType,
                "target.id" => Field::TargetId,
                "target.type" => Field::TargetType,
                "actor.id" => Field::ActorId,
                "outcome.result" => Field::OutcomeResult,
                "severity" => Field::Severity,
                "uuid" => Field::Uuid,
                _ => return Err(FilterError(format!("unsupported attribute {name}"))),
            };
            if !matches!(op, Op::Eq | Op::Co | Op::Sw) {
                return Err(FilterError(format!("operator {op:?} not supported for {name}")));
            }
            let RawLit::Str(value) = lit else {
                return Err(FilterError(format!("{name} needs a quoted string")));
            };
            LogExpr::Cmp(field, op, value)
        }
    })
}

impl LogExpr {
    pub(crate) fn matches(&self, event: &LogEvent, actor: &LogTarget) -> bool {
        match self {
            LogExpr::And(a, b) => a.matches(event, actor) && b.matches(event, actor),
            LogExpr::Or(a, b) => a.matches(event, actor) || b.matches(event, actor),
            LogExpr::Cmp(field, op, value) => {
                let hit = |candidate: &str| match op {
                    Op::Co => candidate.contains(value.as_str()),
                    Op::Sw => candidate.starts_with(value.as_str()),
                    _ => candidate == value,
                };
                match field {
                    Field::EventType => hit(event.event_type.as_str()),
                    Field::TargetId => event.targets.iter().any(|t| hit(&t.id)),
                    Field::TargetType => event.targets.iter().any(|t| hit(t.kind)),
                    Field::ActorId => hit(&actor.id),
                    Field::OutcomeResult => hit("SUCCESS"),
                    Field::Severity => hit("INFO"),
                    Field::Uuid => hit(&event.uuid),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_combine_with_or_and_targets_with_and() {
        let ok = [
            r#"eventType eq "user.lifecycle.create""#,
            r#"eventType eq "user.lifecycle.create" or eventType eq "group.user_membership.add""#,
            r#"(eventType eq "a" or eventType sw "group.") and target.id eq "00u1""#,
        ];
        for expr in ok {
            assert!(compile(expr).is_ok(), "{expr}");
        }
        let rejected = [
            r#"published gt "2024-01-01T00:00:00.000Z""#,
            r#"eventType gt "a""#,
            r#"eventType eq 3"#,
            r#"eventType eq "a" or"#,
            "",
        ];
        for expr in rejected {
            assert!(compile(expr).is_err(), "{expr}");
        }
    }
}
