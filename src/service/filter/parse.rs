//! The filter's text to its expression: a lexer and a recursive-descent parser over the
//! precedence of [`super`]'s grammar, with bounded nesting and size.

use std::fmt;

use super::{err, Expr, FilterError, Func, Ident, Op, Value};

/// Parses `text` to an expression; the caller type-checks it.
pub(super) fn expression(text: &str) -> Result<Expr, FilterError> {
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
    Ok(expr)
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
