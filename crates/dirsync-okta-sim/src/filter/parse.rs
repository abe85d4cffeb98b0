//! Tokens and grammar of filter expressions: comparisons joined by `and`
//! (binding tighter) and `or`, grouped with parentheses. Keywords and
//! operators are case-insensitive; attribute names and values are not.

use super::FilterError;

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

fn string_literal(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, FilterError> {
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

    pub(crate) fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// A literal as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawLit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
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
            Some(Tok::Word(w)) => Op::parse(&w).ok_or_else(|| FilterError(format!("unknown operator {w}")))?,
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

pub(crate) fn parse(input: &str) -> Result<Raw, FilterError> {
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
    fn escaped_quotes_stay_in_the_string() {
        let raw = parse(r#"profile.lastName eq "O\"Brien""#).unwrap();
        assert_eq!(
            raw,
            Raw::Cmp("profile.lastName".into(), Op::Eq, RawLit::Str("O\"Brien".into()))
        );
    }
}
