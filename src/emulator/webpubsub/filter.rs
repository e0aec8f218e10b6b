//! The OData `filter` of Web PubSub's REST sends and `:addToGroups`/`:removeFromGroups`
//! (reference §4.1): identifiers `userId`, `connectionId` (strings) and `groups` (a collection),
//! case-insensitive; `not` > comparisons (`eq ne gt ge lt le`, `in`) > `and` > `or`; string
//! literals with `''` escapes, integers, `true`/`false`, `null`; and the string functions
//! `tolower toupper trim substring endswith startswith indexof length concat contains`.
//! [`Filter::parse`] reports the 1-based character position of the first mistake.

use std::fmt;

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

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Int(i64),
    Open,
    Close,
    Comma,
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Str(s) => write!(f, "the string '{s}'"),
            Token::Int(i) => write!(f, "the number {i}"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
            Token::End => f.write_str("the end of the filter"),
        }
    }
}

fn err(position: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        position,
        message: message.into(),
    }
}

/// Splits the text into tokens with their 1-based positions.
fn lex(text: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push((
                    match c {
                        '(' => Token::Open,
                        ')' => Token::Close,
                        _ => Token::Comma,
                    },
                    at,
                ));
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(at, "this string is not closed with `'`")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((Token::Str(s), at));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                let n = digits
                    .parse()
                    .map_err(|_| err(at, format!("`{digits}` is not a whole number")))?;
                out.push((Token::Int(n), at));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|ch| ch.is_alphanumeric() || *ch == '_')
                {
                    i += 1;
                }
                out.push((Token::Word(chars[start..i].iter().collect()), at));
            }
            other => return Err(err(at, format!("unexpected character `{other}`"))),
        }
    }
    out.push((Token::End, chars.len() + 1));
    Ok(out)
}

/// Deepest nesting of parentheses, `not` and function arguments in one filter.
pub const MAX_NESTING: usize = 32;
/// Most values and operators in one filter.
pub const MAX_TERMS: usize = 1024;

/// A recursive-descent parser. Parsing, evaluating and dropping a filter all recurse over it,
/// so nesting and size are bounded ([`MAX_NESTING`], [`MAX_TERMS`]): a few thousand `(` or
/// `not` (a 4 KB query string) would otherwise overflow the thread's stack and abort the
/// process (found by fuzzing, `fuzz/fuzz_targets/webpubsub_filter.rs`).
struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    /// Current nesting.
    depth: usize,
    /// Values and operators so far.
    terms: usize,
}

impl Parser {
    /// Runs `inner` one nesting level deeper, refusing more than [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, FilterError>,
    ) -> Result<T, FilterError> {
        if self.depth >= MAX_NESTING {
            return Err(err(
                self.position(),
                format!("the filter nests parentheses, `not` and function calls more than {MAX_NESTING} deep; write it flatter"),
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    /// Counts one value or operator, refusing more than [`MAX_TERMS`].
    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(err(
                self.position(),
                format!("the filter has more than {MAX_TERMS} values and operators; split the call or use groups"),
            ));
        }
        Ok(())
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.next].0
    }

    fn position(&self) -> usize {
        self.tokens[self.next].1
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.next].0.clone();
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, wanted: Token, what: &str) -> Result<(), FilterError> {
        if *self.peek() == wanted {
            self.bump();
            Ok(())
        } else {
            Err(err(
                self.position(),
                format!("expected {what}, found {}", self.peek()),
            ))
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.term()?;
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.term()?;
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") {
            self.term()?;
            self.bump();
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let left = self.primary()?;
        let op = match self.peek() {
            Token::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Some(Op::Eq),
                "ne" => Some(Op::Ne),
                "gt" => Some(Op::Gt),
                "ge" => Some(Op::Ge),
                "lt" => Some(Op::Lt),
                "le" => Some(Op::Le),
                "in" => None,
                _ => return Ok(left),
            },
            _ => return Ok(left),
        };
        self.term()?;
        self.bump();
        let right = self.primary()?;
        Ok(match op {
            Some(op) => Expr::Compare(op, Box::new(left), Box::new(right)),
            None => Expr::In(Box::new(left), Box::new(right)),
        })
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        self.term()?;
        let at = self.position();
        match self.bump() {
            Token::Str(s) => Ok(Expr::Literal(Value::Str(s))),
            Token::Int(n) => Ok(Expr::Literal(Value::Int(n))),
            Token::Open => self.nested(|p| {
                let first = p.or()?;
                if *p.peek() == Token::Comma {
                    let mut items = vec![first];
                    while *p.peek() == Token::Comma {
                        p.bump();
                        items.push(p.or()?);
                    }
                    p.expect(Token::Close, "`)` closing the list")?;
                    return Ok(Expr::List(items));
                }
                p.expect(Token::Close, "`)`")?;
                Ok(first)
            }),
            Token::Word(w) => self.word(w, at),
            other => Err(err(at, format!("expected a value, found {other}"))),
        }
    }

    fn word(&mut self, word: String, at: usize) -> Result<Expr, FilterError> {
        let lower = word.to_ascii_lowercase();
        let func = match lower.as_str() {
            "userid" => return Ok(Expr::Ident(Ident::UserId)),
            "connectionid" => return Ok(Expr::Ident(Ident::ConnectionId)),
            "groups" => return Ok(Expr::Ident(Ident::Groups)),
            "null" => return Ok(Expr::Literal(Value::Null)),
            "true" => return Ok(Expr::Literal(Value::Bool(true))),
            "false" => return Ok(Expr::Literal(Value::Bool(false))),
            "tolower" => (Func::ToLower, 1..=1),
            "toupper" => (Func::ToUpper, 1..=1),
            "trim" => (Func::Trim, 1..=1),
            "length" => (Func::Length, 1..=1),
            "substring" => (Func::Substring, 2..=3),
            "endswith" => (Func::EndsWith, 2..=2),
            "startswith" => (Func::StartsWith, 2..=2),
            "indexof" => (Func::IndexOf, 2..=2),
            "concat" => (Func::Concat, 2..=2),
            "contains" => (Func::Contains, 2..=2),
            _ => return Err(err(at, format!("unknown name `{word}`: use userId, connectionId, groups, a function, or a quoted string"))),
        };
        self.expect(Token::Open, &format!("`(` after `{word}`"))?;
        let args = self.nested(|p| {
            let mut args = vec![p.or()?];
            while *p.peek() == Token::Comma {
                p.bump();
                args.push(p.or()?);
            }
            p.expect(Token::Close, "`)` closing the arguments")?;
            Ok(args)
        })?;
        if !func.1.contains(&args.len()) {
            return Err(err(
                at,
                format!(
                    "`{word}` takes {} argument(s), got {}",
                    if func.1.start() == func.1.end() {
                        func.1.start().to_string()
                    } else {
                        format!("{} or {}", func.1.start(), func.1.end())
                    },
                    args.len()
                ),
            ));
        }
        Ok(Expr::Call(func.0, args))
    }
}

impl Filter {
    /// Parses `text`; an empty or blank filter is an error (the caller treats "no filter" as
    /// "everyone" before asking).
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut parser = Parser {
            tokens: lex(text)?,
            next: 0,
            depth: 0,
            terms: 0,
        };
        if *parser.peek() == Token::End {
            return Err(err(1, "the filter is empty"));
        }
        let expr = parser.or()?;
        if *parser.peek() != Token::End {
            return Err(err(
                parser.position(),
                format!(
                    "expected `and`, `or` or the end of the filter, found {}",
                    parser.peek()
                ),
            ));
        }
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
#[path = "filter_tests.rs"]
mod tests;
