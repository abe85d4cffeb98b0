//! How the binary says what went wrong: one line, each cause once.
//!
//! Printing an error with its chain of sources (anyhow's `{:#}`) repeats a
//! cause whenever an error both shows its source in its own message and
//! returns it from `source()`, as ours with a `: {source}` do, and as
//! sqlx's and lapin's do: a missing database came out three times. So a
//! cause whose message the previous one already ends with is left out,
//! and line breaks (PostgreSQL's details) become spaces.

use std::fmt;

/// `err` and its causes, `: `-separated, each said once, on one line.
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = one_line(&self.0.to_string());
        f.write_str(&previous)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = one_line(&cause.to_string());
            if !text.is_empty() && !previous.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
            source = cause.source();
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach the database: {source}")]
    struct Outer {
        source: Middle,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: {0}")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("database \"x\" does not exist")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("loading the configuration")]
    struct Plain(#[source] Inner);

    #[test]
    fn a_cause_already_in_its_effects_message_is_said_once() {
        let err = anyhow::Error::new(Outer { source: Middle(Inner) }).context("applying migrations");
        let text = Report(err.as_ref()).to_string();
        assert_eq!(
            text,
            "applying migrations: cannot reach the database: error returned from database: database \"x\" does not exist"
        );
        assert_eq!(text.matches("does not exist").count(), 1);
    }

    #[test]
    fn a_cause_not_in_the_message_is_added_and_lines_are_joined() {
        let err = anyhow::Error::new(Plain(Inner)).context("first line\n  second line");
        assert_eq!(
            Report(err.as_ref()).to_string(),
            "first line second line: loading the configuration: database \"x\" does not exist"
        );
    }
}
