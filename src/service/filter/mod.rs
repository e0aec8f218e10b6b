//! The OData `filter` of Web PubSub's REST sends and `:addToGroups`/`:removeFromGroups`
//! (`docs/webpubsub.md` §3): identifiers `userId`, `connectionId` (strings) and `groups` (a collection),
//! case-insensitive; `not` > comparisons (`eq ne gt ge lt le`, `in`) > `and` > `or`; string
//! literals with `''` escapes, integers, `true`/`false`, `null`; and the string functions
//! `tolower toupper trim substring endswith startswith indexof length concat contains`.
//! [`Filter::parse`] reports the 1-based character position of the first mistake.

use std::fmt;

mod parse;

pub use parse::{MAX_NESTING, MAX_TERMS};

/// What a filter is evaluated against: one connection.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The connection's user, if any.
    pub user_id: Option<&'a str>,
    /// The connection's id.
    pub connection_id: &'a str,
    /// The groups the connection is in.
    pub groups: &'a [&'a str],
}

/// A filter that does not parse, with the position of the mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the filter is invalid at position {position}: {message}")]
pub struct FilterError {
    /// 1-based character position in the filter text.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

/// A parsed filter.
#[derive(Debug, Clone)]
pub struct Filter(Expr);

#[derive(Debug, Clone)]
enum Expr {
    Literal(Value),
    Ident(Ident),
    List(Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Op, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy)]
enum Ident {
    UserId,
    ConnectionId,
    Groups,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy)]
enum Func {
    ToLower,
    ToUpper,
    Trim,
    Substring,
    EndsWith,
    StartsWith,
    IndexOf,
    Length,
    Concat,
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Str(_) => "a string",
            Value::List(_) => "a collection",
        })
    }
}

fn err(position: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        position,
        message: message.into(),
    }
}

impl Filter {
    /// Parses `text`; an empty or blank filter is an error (the caller treats "no filter" as
    /// "everyone" before asking).
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let expr = parse::expression(text)?;
        // Type check: evaluate once against a sample subject.
        let sample = Subject {
            user_id: Some("u"),
            connection_id: "c",
            groups: &["g"],
        };
        match eval(&expr, &sample) {
            Ok(Value::Bool(_)) => Ok(Self(expr)),
            Ok(other) => Err(err(
                1,
                format!("the filter must be a condition (true or false), not {other}"),
            )),
            Err(message) => Err(err(1, message)),
        }
    }

    /// Whether `subject` matches.
    pub fn matches(&self, subject: &Subject<'_>) -> bool {
        matches!(eval(&self.0, subject), Ok(Value::Bool(true)))
    }
}

fn eval(expr: &Expr, s: &Subject<'_>) -> Result<Value, String> {
    Ok(match expr {
        Expr::Literal(v) => v.clone(),
        Expr::Ident(Ident::UserId) => s.user_id.map_or(Value::Null, |u| Value::Str(u.into())),
        Expr::Ident(Ident::ConnectionId) => Value::Str(s.connection_id.into()),
        Expr::Ident(Ident::Groups) => {
            Value::List(s.groups.iter().map(|g| Value::Str((*g).into())).collect())
        }
        Expr::List(items) => {
            Value::List(items.iter().map(|e| eval(e, s)).collect::<Result<_, _>>()?)
        }
        Expr::Not(e) => Value::Bool(!boolean(&eval(e, s)?, "not")?),
        Expr::And(a, b) => {
            Value::Bool(boolean(&eval(a, s)?, "and")? && boolean(&eval(b, s)?, "and")?)
        }
        Expr::Or(a, b) => Value::Bool(boolean(&eval(a, s)?, "or")? || boolean(&eval(b, s)?, "or")?),
        Expr::Compare(op, a, b) => compare(*op, &eval(a, s)?, &eval(b, s)?)?,
        Expr::In(a, b) => {
            let needle = eval(a, s)?;
            match eval(b, s)? {
                Value::List(items) => Value::Bool(items.contains(&needle)),
                other => return Err(format!("`in` needs a collection on its right, not {other}")),
            }
        }
        Expr::Call(func, args) => {
            let values = args
                .iter()
                .map(|e| eval(e, s))
                .collect::<Result<Vec<_>, _>>()?;
            call(*func, &values)?
        }
    })
}

fn boolean(value: &Value, op: &str) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("`{op}` needs conditions, not {other}")),
    }
}

fn compare(op: Op, a: &Value, b: &Value) -> Result<Value, String> {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Value::Null) => None,
        (x, y) => return Err(format!("cannot compare {x} with {y}")),
    };
    Ok(Value::Bool(match (op, ordering) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
    }))
}

fn text(value: &Value) -> Result<Option<&str>, String> {
    match value {
        Value::Str(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        other => Err(format!("string functions need strings, not {other}")),
    }
}

fn call(func: Func, args: &[Value]) -> Result<Value, String> {
    let strings = args
        .iter()
        .take(if matches!(func, Func::Substring) {
            1
        } else {
            2
        })
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    // A null argument (a connection without a user) makes the whole call null.
    if strings.iter().any(Option::is_none) {
        return Ok(Value::Null);
    }
    let a = strings[0].unwrap_or_default();
    let b = strings.get(1).copied().flatten().unwrap_or_default();
    Ok(match func {
        Func::ToLower => Value::Str(a.to_lowercase()),
        Func::ToUpper => Value::Str(a.to_uppercase()),
        Func::Trim => Value::Str(a.trim().into()),
        Func::Length => Value::Int(i64::try_from(a.chars().count()).unwrap_or(i64::MAX)),
        Func::EndsWith => Value::Bool(a.ends_with(b)),
        Func::StartsWith => Value::Bool(a.starts_with(b)),
        Func::Contains => Value::Bool(a.contains(b)),
        Func::Concat => Value::Str(format!("{a}{b}")),
        Func::IndexOf => Value::Int(a.find(b).map_or(-1, |byte| {
            i64::try_from(a[..byte].chars().count()).unwrap_or(i64::MAX)
        })),
        Func::Substring => return substring(a, args),
    })
}

fn substring(a: &str, args: &[Value]) -> Result<Value, String> {
    let number = |v: &Value| match v {
        Value::Int(n) => Ok(usize::try_from(*n).unwrap_or(0)),
        other => Err(format!(
            "substring needs numbers after the string, not {other}"
        )),
    };
    let start = number(&args[1])?;
    let rest = a.chars().skip(start);
    Ok(Value::Str(match args.get(2) {
        Some(len) => rest.take(number(len)?).collect(),
        None => rest.collect(),
    }))
}

#[cfg(test)]
mod tests;
