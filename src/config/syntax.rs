//! The php-fpm.conf syntax, sans-IO: text in, statements with line numbers out.
//!
//! php-fpm reads its files with PHP's own INI parser in "normal" mode, and feeds it
//! **one line at a time** (`fpm_conf_load_ini_file` in php-src `sapi/fpm/fpm/fpm_conf.c`
//! reads up to `\n`, appends `\n` and calls `zend_parse_ini_string` on that line), so a
//! value never spans lines and every statement knows its line. This module re-implements
//! that scanner (`Zend/zend_ini_scanner.l`) and grammar (`Zend/zend_ini_parser.y`) as PHP
//! 8.2 behaves; `tests` below pin the observed results of `parse_ini_string(…,
//! INI_SCANNER_NORMAL)` of PHP 8.2.36, which runs the same code.
//!
//! What the INI layer does before php-fpm sees a value:
//! - `;` starts a comment; unquoted values lose surrounding blanks;
//! - bare `yes`/`on`/`true` become `1`, `no`/`off`/`false`/`none`/`null` become the empty
//!   string (case-insensitive, only as the whole value);
//! - `"…"` strings take the escapes `\"`, `\\` and `\$`; `'…'` strings are raw; pieces
//!   written next to each other are concatenated (`"a"b` is `ab`), and blanks next to a
//!   quote are dropped;
//! - `${NAME}` is replaced by the environment variable (unset: empty), also inside `"…"`;
//! - a bare constant name is replaced by its value (the `E_*` error levels here), and
//!   `|`, `&`, `^`, `~`, `!`, `(…)` compute an integer (`E_ALL & ~E_NOTICE` is `32759`);
//! - `name[key] = value` is an array entry (`php_value[memory_limit]`, `env[PATH]`,
//!   `access.suppress_path[]`).
//!
//! A line whose first non-blank character is `#` is reported as a [`Line::hash_comment`]
//! instead of being parsed: php-fpm 8.2 rejects such lines (they parse as a key without
//! a value), sfpm skips them and the loader warns.

/// One statement of a line, as the INI parser hands it to php-fpm's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `[name]`: the `[global]` section or a pool.
    Section(String),
    /// `name = value`. `value` is `None` for a key written without `=` (php-fpm: "value is
    /// NULL for a ZEND_INI_PARSER_ENTRY").
    Entry {
        /// The key, blanks trimmed, case kept.
        name: String,
        /// The value after INI processing.
        value: Option<String>,
    },
    /// `name[key] = value`; `key` is empty for `name[]`.
    Array {
        /// The array's name (`php_value`, `env`, …).
        name: String,
        /// The key inside the brackets.
        key: String,
        /// The value after INI processing.
        value: String,
    },
}

/// One non-empty line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in its file.
    pub number: usize,
    /// Statements completed on this line, in order (usually one).
    pub events: Vec<Event>,
    /// A syntax error found after `events`; php-fpm handles the statements before it,
    /// then fails the file.
    pub error: Option<String>,
    /// The line starts with `#` (see the module documentation).
    pub hash_comment: bool,
}

/// Looks up an environment variable for `${NAME}`.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Splits `text` into lines as php-fpm does and parses each one. Empty lines are skipped
/// but counted; a `\r` before the `\n` is part of the line (and ends it for the scanner).
pub fn parse(text: &[u8], env: EnvLookup<'_>) -> Vec<Line> {
    let mut lines = Vec::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        if raw.is_empty() {
            continue;
        }
        let first = raw.iter().find(|&&b| b != b' ' && b != b'\t');
        if first == Some(&b'#') {
            lines.push(Line { number: index + 1, events: Vec::new(), error: None, hash_comment: true });
            continue;
        }
        let (events, error) = parse_line(raw, env);
        lines.push(Line { number: index + 1, events, error, hash_comment: false });
    }
    lines
}

/// Parses one line (without its `\n`) the way php-fpm does: the line plus `\n`, cut at
/// the first NUL byte (php-fpm passes a C string).
pub fn parse_line(line: &[u8], env: EnvLookup<'_>) -> (Vec<Event>, Option<String>) {
    let mut buf: Vec<u8> = line.to_vec();
    match buf.iter().position(|&b| b == 0) {
        Some(nul) => buf.truncate(nul),
        None => buf.push(b'\n'),
    }
    let tokens = Lexer::new(&buf).tokens();
    let mut parser = Parser { tokens, pos: 0, env, events: Vec::new() };
    let error = parser.statements().err();
    (parser.events, error)
}

// ---------------------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------------------

/// A token of `zend_ini_parser.y`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// `[` opening a section.
    Section,
    /// A key (`TC_LABEL`).
    Label(Vec<u8>),
    /// A key followed by `[` (`TC_OFFSET`).
    Offset(Vec<u8>),
    /// `'raw'` contents.
    Raw(Vec<u8>),
    /// A constant name, looked up in values and array keys.
    Constant(Vec<u8>),
    /// A number, kept as text.
    Number(Vec<u8>),
    /// Other value text.
    Str(Vec<u8>),
    /// Blanks inside a value.
    Whitespace(Vec<u8>),
    /// `${`.
    DollarCurly,
    /// The name inside `${…}`.
    VarName(Vec<u8>),
    /// Contents of a `"…"` piece, escapes applied.
    Quoted(Vec<u8>),
    /// `yes`/`on`/`true`.
    True,
    /// `no`/`off`/`false`/`none`.
    False,
    /// `null`.
    Null,
    /// End of a statement.
    EndOfLine,
    /// A single-character token: `=`, `]`, `"`, `}`, operators, …
    Char(u8),
    /// End of input, or a character no rule takes (the scanner's `return 0`).
    End,
}

impl Tok {
    /// The name bison prints in "unexpected …".
    fn describe(&self) -> String {
        match self {
            Tok::Section => "TC_SECTION".into(),
            Tok::Label(_) => "TC_LABEL".into(),
            Tok::Offset(_) => "TC_OFFSET".into(),
            Tok::Raw(_) => "TC_RAW".into(),
            Tok::Constant(_) => "TC_CONSTANT".into(),
            Tok::Number(_) => "TC_NUMBER".into(),
            Tok::Str(_) => "TC_STRING".into(),
            Tok::Whitespace(_) => "TC_WHITESPACE".into(),
            Tok::DollarCurly => "TC_DOLLAR_CURLY".into(),
            Tok::VarName(_) => "TC_VARNAME".into(),
            Tok::Quoted(_) => "TC_QUOTED_STRING".into(),
            Tok::True => "BOOL_TRUE".into(),
            Tok::False => "BOOL_FALSE".into(),
            Tok::Null => "NULL_NULL".into(),
            Tok::EndOfLine => "END_OF_LINE".into(),
            Tok::Char(c) => format!("'{}'", char::from(*c)),
            Tok::End => "end of file".into(),
        }
    }
}

/// Scanner states (`%x` conditions of `zend_ini_scanner.l`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between statements: keys, sections, comments.
    Initial,
    /// After `=`.
    Value,
    /// Inside `key[…]`.
    Offset,
    /// Inside `[…]`.
    SectionValue,
    /// Inside `"…"`.
    DoubleQuotes,
    /// Inside `${…}`.
    VarName,
}

/// What a rule does once chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    SectionStart,
    OffsetStart,
    True,
    False,
    Null,
    Label,
    Equals,
    TokenChar,
    Blanks,
    Newline,
    Comment,
    Raw,
    DollarCurly,
    ValueEnd,
    Constant,
    Number,
    Operator,
    EqualsInValue,
    ValueText,
    SectionText,
    QuoteStart,
    QuoteEnd,
    QuotedText,
    Whitespace,
    OffsetEnd,
    SectionEnd,
    VarName,
    VarEnd,
    AnyEndsValue,
    Unknown,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `LABEL` characters of PHP 8.2: everything but `=\n\r\t;&|^$~(){}!"[`.
fn is_label_char(c: u8) -> bool {
    !matches!(
        c,
        b'=' | b'\n'
            | b'\r'
            | b'\t'
            | b';'
            | b'&'
            | b'|'
            | b'^'
            | b'$'
            | b'~'
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b'!'
            | b'"'
            | b'['
    )
}

/// `TOKENS`: characters that are single tokens outside values.
fn is_token_char(c: u8) -> bool {
    b":,.[]\"'()&|^+-/*=%$!~<>?@{}".contains(&c)
}

struct Lexer<'a> {
    buf: &'a [u8],
    pos: usize,
    state: State,
    stack: Vec<State>,
}

impl<'a> Lexer<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Lexer { buf, pos: 0, state: State::Initial, stack: Vec::new() }
    }

    fn tokens(mut self) -> Vec<Tok> {
        let mut out = Vec::new();
        loop {
            let tok = self.next_token();
            let end = tok == Tok::End;
            out.push(tok);
            if end {
                return out;
            }
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.buf.get(i).copied()
    }

    fn blanks_from(&self, i: usize) -> usize {
        self.buf[i.min(self.buf.len())..].iter().take_while(|&&c| is_blank(c)).count()
    }

    /// Length of a `NEWLINE` at `i` (`\r`, `\n` or `\r\n`).
    fn newline_at(&self, i: usize) -> usize {
        match (self.at(i), self.at(i + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b'\r' | b'\n'), _) => 1,
            _ => 0,
        }
    }

    /// `word{TABS_AND_SPACES}*`, case-insensitive, for the boolean words.
    fn word_at(&self, i: usize, words: &[&str]) -> usize {
        words
            .iter()
            .filter(|w| {
                self.buf.len() >= i + w.len() && self.buf[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
            })
            .map(|w| w.len() + self.blanks_from(i + w.len()))
            .max()
            .unwrap_or(0)
    }

    fn label_run(&self, i: usize) -> usize {
        self.buf[i.min(self.buf.len())..].iter().take_while(|&&c| is_label_char(c)).count()
    }

    fn constant_at(&self, i: usize) -> usize {
        match self.at(i) {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                1 + self.buf[i + 1..].iter().take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_').count()
            }
            _ => 0,
        }
    }

    /// `NUMBER`: `-?[0-9]+`, `[0-9]*.[0-9]+` or `[0-9]+.[0-9]*`, the longest.
    fn number_at(&self, i: usize) -> usize {
        let digits =
            |j: usize| self.buf[j.min(self.buf.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut best = 0;
        let sign = usize::from(self.at(i) == Some(b'-'));
        let lnum = digits(i + sign);
        if lnum > 0 {
            best = sign + lnum;
        }
        let int = digits(i);
        if self.at(i + int) == Some(b'.') {
            let frac = digits(i + int + 1);
            if int > 0 || frac > 0 {
                best = best.max(int + 1 + frac);
            }
        }
        best
    }

    /// `LITERAL_DOLLAR` at `i` (a `$` not opening `${`): its length, or 0.
    fn literal_dollar_at(&self, i: usize) -> usize {
        match (self.at(i), self.at(i + 1), self.at(i + 2)) {
            (Some(b'$'), Some(b'\\'), Some(_)) => 3,
            (Some(b'$'), Some(c), _) if c != b'{' => 2,
            _ => 0,
        }
    }

    /// `VALUE_CHARS+`.
    fn value_text_at(&self, i: usize) -> usize {
        let mut j = i;
        while let Some(c) = self.at(j) {
            if c == b'$' {
                let n = self.literal_dollar_at(j);
                if n == 0 {
                    break;
                }
                j += n;
            } else if matches!(
                c,
                b'=' | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
                    | b';'
                    | b'&'
                    | b'|'
                    | b'^'
                    | b'~'
                    | b'('
                    | b')'
                    | b'!'
                    | b'"'
                    | b'\''
            ) {
                break;
            } else {
                j += 1;
            }
        }
        j - i
    }

    /// `SECTION_VALUE_CHARS+`; `None` when a trailing `\` would read past the line.
    fn section_text_at(&self, i: usize) -> Option<usize> {
        let mut j = i;
        while let Some(c) = self.at(j) {
            match c {
                b'\\' => {
                    self.at(j + 1)?;
                    j += 2;
                }
                b'$' => {
                    let n = self.literal_dollar_at(j);
                    if n == 0 {
                        break;
                    }
                    j += n;
                }
                b'\n' | b'\r' | b';' | b'"' | b'\'' | b']' => break,
                _ => j += 1,
            }
        }
        Some(j - i)
    }

    /// `'…'` with at least one character inside: `Some(len)`, `Some(0)` for no match,
    /// `None` when the scan would run past the line (PHP then returns end of file).
    fn raw_at(&self, i: usize) -> Option<usize> {
        if self.at(i) != Some(b'\'') {
            return Some(0);
        }
        match self.at(i + 1) {
            Some(b'\'') => Some(0),
            None => None,
            Some(_) => {
                let close = self.buf[i + 2..].iter().position(|&c| c == b'\'')?;
                Some(close + 3)
            }
        }
    }

    /// `{TABS_AND_SPACES}*[;][^\r\n]*{NEWLINE}`; `None` when no newline ends it.
    fn comment_at(&self, i: usize) -> Option<usize> {
        let blanks = self.blanks_from(i);
        if self.at(i + blanks) != Some(b';') {
            return Some(0);
        }
        let body = self.buf[i + blanks..].iter().take_while(|&&c| c != b'\r' && c != b'\n').count();
        let nl = self.newline_at(i + blanks + body);
        if nl == 0 { None } else { Some(blanks + body + nl) }
    }

    /// Picks the rule matching the longest text at the cursor; on a tie the earlier rule,
    /// as re2c does. `None` means the scan ran past the line.
    fn choose(&self, candidates: &[(Rule, Option<usize>)]) -> Option<(Rule, usize)> {
        let mut best: Option<(Rule, usize)> = None;
        for &(rule, len) in candidates {
            let len = len?;
            if len > 0 && best.is_none_or(|(_, b)| len > b) {
                best = Some((rule, len));
            }
        }
        Some(best.unwrap_or((Rule::Unknown, 1)))
    }

    fn next_token(&mut self) -> Tok {
        loop {
            let p = self.pos;
            if p >= self.buf.len() {
                if self.state == State::Value {
                    self.state = State::Initial;
                    return Tok::EndOfLine;
                }
                return Tok::End;
            }
            // PHP skips a UTF-8 byte order mark at the start of the (line) buffer.
            if p == 0 && self.buf.len() > 3 && self.buf.starts_with(b"\xef\xbb\xbf") {
                self.pos = 3;
                continue;
            }
            let blanks = self.blanks_from(p);
            let c = self.buf[p];
            let bool_true = self.word_at(p, &["true", "on", "yes"]);
            let bool_false = self.word_at(p, &["false", "off", "no", "none"]);
            let null = self.word_at(p, &["null"]);
            let dollar_curly = if self.buf[p..].starts_with(b"${") { 2 } else { 0 };
            let quote_start = if self.at(p + blanks) == Some(b'"') { blanks + 1 } else { 0 };
            let candidates: Vec<(Rule, Option<usize>)> = match self.state {
                State::Initial => {
                    let label = self.label_run(p);
                    let offset = if label > 0 && self.at(p + label) == Some(b'[') {
                        label + 1 + self.blanks_from(p + label + 1)
                    } else {
                        0
                    };
                    let equals = if self.at(p + blanks) == Some(b'=') {
                        blanks + 1 + self.blanks_from(p + blanks + 1)
                    } else {
                        0
                    };
                    let newline = self.newline_at(p + blanks);
                    vec![
                        (Rule::SectionStart, Some(usize::from(c == b'['))),
                        (Rule::OffsetStart, Some(offset)),
                        (Rule::True, Some(bool_true)),
                        (Rule::False, Some(bool_false)),
                        (Rule::Null, Some(null)),
                        (Rule::Label, Some(label)),
                        (Rule::Equals, Some(equals)),
                        (Rule::TokenChar, Some(usize::from(is_token_char(c)))),
                        (Rule::Blanks, Some(blanks)),
                        (Rule::Newline, Some(if newline > 0 { blanks + newline } else { 0 })),
                        (Rule::Comment, self.comment_at(p)),
                    ]
                }
                State::Value => {
                    let newline = self.newline_at(p + blanks);
                    let operator = if b"&|^~()!".contains(&c) { 1 + self.blanks_from(p + 1) } else { 0 };
                    vec![
                        (Rule::Raw, self.raw_at(p)),
                        (Rule::DollarCurly, Some(dollar_curly)),
                        (Rule::True, Some(bool_true)),
                        (Rule::False, Some(bool_false)),
                        (Rule::Null, Some(null)),
                        (Rule::ValueEnd, Some(if newline > 0 { blanks + newline } else { 0 })),
                        (Rule::Constant, Some(self.constant_at(p))),
                        (Rule::Number, Some(self.number_at(p))),
                        (Rule::Operator, Some(operator)),
                        (Rule::EqualsInValue, Some(usize::from(c == b'='))),
                        (Rule::ValueText, Some(self.value_text_at(p))),
                        (Rule::QuoteStart, Some(quote_start)),
                        (Rule::Whitespace, Some(blanks)),
                        (Rule::Comment, self.comment_at(p)),
                        (Rule::AnyEndsValue, Some(1)),
                    ]
                }
                State::Offset => vec![
                    (Rule::Raw, self.raw_at(p)),
                    (Rule::OffsetEnd, Some(usize::from(c == b']'))),
                    (Rule::DollarCurly, Some(dollar_curly)),
                    (Rule::Constant, Some(self.constant_at(p))),
                    (Rule::Number, Some(self.number_at(p))),
                    (Rule::SectionText, self.section_text_at(p)),
                    (Rule::QuoteStart, Some(quote_start)),
                    (Rule::Whitespace, Some(blanks)),
                ],
                State::SectionValue => {
                    let end = if c == b']' {
                        let b = self.blanks_from(p + 1);
                        1 + b + self.newline_at(p + 1 + b)
                    } else {
                        0
                    };
                    vec![
                        (Rule::Raw, self.raw_at(p)),
                        (Rule::SectionEnd, Some(end)),
                        (Rule::DollarCurly, Some(dollar_curly)),
                        (Rule::Constant, Some(self.constant_at(p))),
                        (Rule::Number, Some(self.number_at(p))),
                        (Rule::SectionText, self.section_text_at(p)),
                        (Rule::QuoteStart, Some(quote_start)),
                        (Rule::Whitespace, Some(blanks)),
                    ]
                }
                State::DoubleQuotes => vec![
                    (Rule::DollarCurly, Some(dollar_curly)),
                    (Rule::QuoteEnd, Some(if c == b'"' { 1 + self.blanks_from(p + 1) } else { 0 })),
                    (Rule::QuotedText, Some(1)),
                ],
                State::VarName => vec![
                    (Rule::VarName, Some(self.label_run(p))),
                    (Rule::VarEnd, Some(usize::from(c == b'}'))),
                ],
            };
            let Some((rule, len)) = self.choose(&candidates) else {
                return Tok::End;
            };
            if let Some(tok) = self.apply(rule, p, len) {
                return tok;
            }
        }
    }

    fn text(&self, from: usize, len: usize) -> Vec<u8> {
        self.buf[from..from + len].to_vec()
    }

    fn push(&mut self, state: State) {
        self.stack.push(self.state);
        self.state = state;
    }

    fn pop(&mut self) {
        self.state = self.stack.pop().unwrap_or(State::Initial);
    }

    /// Runs the action of `rule`, which matched `len` bytes at `p`. `None` = no token
    /// (blanks skipped), scan again.
    fn apply(&mut self, rule: Rule, p: usize, len: usize) -> Option<Tok> {
        self.pos = p + len;
        let tok = match rule {
            Rule::SectionStart => {
                self.state = State::SectionValue;
                Tok::Section
            }
            Rule::OffsetStart => {
                self.state = State::Offset;
                let raw = &self.buf[p..p + len];
                let end = raw.iter().rposition(|&c| !is_blank(c) && c != b'[').map_or(0, |i| i + 1);
                let start = raw[..end].iter().take_while(|&&c| is_blank(c)).count();
                Tok::Offset(raw[start..end].to_vec())
            }
            Rule::True => Tok::True,
            Rule::False => Tok::False,
            Rule::Null => Tok::Null,
            Rule::Label => Tok::Label(trim_blanks(&self.buf[p..p + len]).to_vec()),
            Rule::Equals => {
                self.state = State::Value;
                Tok::Char(b'=')
            }
            Rule::TokenChar => Tok::Char(self.buf[p]),
            Rule::Blanks => return None,
            Rule::Newline | Rule::ValueEnd | Rule::Comment | Rule::AnyEndsValue => {
                self.state = State::Initial;
                Tok::EndOfLine
            }
            Rule::Raw => Tok::Raw(self.text(p + 1, len - 2)),
            Rule::DollarCurly => {
                self.push(State::VarName);
                Tok::DollarCurly
            }
            Rule::Constant => Tok::Constant(self.text(p, len)),
            Rule::Number => Tok::Number(self.text(p, len)),
            Rule::Operator => Tok::Char(self.buf[p]),
            Rule::EqualsInValue => {
                // `=` inside a value ends it and is scanned again: a syntax error.
                self.pos = p;
                self.state = State::Initial;
                Tok::EndOfLine
            }
            Rule::ValueText | Rule::SectionText => Tok::Str(self.text(p, len)),
            Rule::QuoteStart => {
                self.push(State::DoubleQuotes);
                Tok::Char(b'"')
            }
            Rule::QuoteEnd => {
                self.pop();
                Tok::Char(b'"')
            }
            Rule::QuotedText => {
                let end = self.quoted_end(p);
                self.pos = end;
                Tok::Quoted(unescape(&self.buf[p..end]))
            }
            Rule::Whitespace => Tok::Whitespace(self.text(p, len)),
            Rule::OffsetEnd | Rule::SectionEnd => {
                self.state = State::Initial;
                Tok::Char(b']')
            }
            Rule::VarName => Tok::VarName(trim_blanks(&self.buf[p..p + len]).to_vec()),
            Rule::VarEnd => {
                self.pop();
                Tok::Char(b'}')
            }
            Rule::Unknown => Tok::End,
        };
        Some(tok)
    }

    /// End of the text of a `"…"` piece starting at `p`: before the closing `"` or a
    /// `${`. A `\"` right before the end of the line closes the string (PHP keeps
    /// `"C:\path\"` working).
    fn quoted_end(&self, p: usize) -> usize {
        let limit = self.buf.len();
        let mut s = p;
        while s < limit {
            let c = self.buf[s];
            s += 1;
            match c {
                b'"' => return s - 1,
                b'$' if self.at(s) == Some(b'{') => return s - 1,
                b'\\' if s < limit => {
                    let escaped = self.buf[s];
                    s += 1;
                    if escaped == b'"' && matches!(self.at(s), None | Some(b'\n' | b'\r')) {
                        return s - 1;
                    }
                }
                _ => {}
            }
        }
        limit
    }
}

fn trim_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().take_while(|&&c| is_blank(c)).count();
    let end = s.iter().rposition(|&c| !is_blank(c) && c != b'\n' && c != b'\r').map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

/// `zend_ini_escape_string`: `\"`, `\\` and `\$` lose their backslash; any other
/// backslash stays.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            match s.get(i + 1) {
                None => out.push(b'\\'),
                Some(&c @ (b'"' | b'\\' | b'$')) => {
                    out.push(c);
                    i += 1;
                }
                Some(&c) => {
                    out.push(b'\\');
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(s[i]);
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

struct Parser<'e> {
    tokens: Vec<Tok>,
    pos: usize,
    env: EnvLookup<'e>,
    events: Vec<Event>,
}

/// PHP constants a php-fpm.conf value may name: the error levels of PHP 8.2 (PHP
/// resolves every constant defined at start-up; the `E_*` family is what configuration
/// files use, for `error_reporting`).
const CONSTANTS: &[(&str, i32)] = &[
    ("E_ERROR", 1),
    ("E_WARNING", 2),
    ("E_PARSE", 4),
    ("E_NOTICE", 8),
    ("E_CORE_ERROR", 16),
    ("E_CORE_WARNING", 32),
    ("E_COMPILE_ERROR", 64),
    ("E_COMPILE_WARNING", 128),
    ("E_USER_ERROR", 256),
    ("E_USER_WARNING", 512),
    ("E_USER_NOTICE", 1024),
    ("E_STRICT", 2048),
    ("E_RECOVERABLE_ERROR", 4096),
    ("E_DEPRECATED", 8192),
    ("E_USER_DEPRECATED", 16384),
    ("E_ALL", 32767),
];

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// C `atoi` as glibc computes it (`strtol` saturating at 64 bits, then cut to `int`):
/// the INI operators work on these values.
fn atoi(s: &[u8]) -> i32 {
    let mut i = s.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)).count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for &c in s[i..].iter().take_while(|c| c.is_ascii_digit()) {
        let d = i64::from(c - b'0');
        n = if negative {
            n.checked_mul(10).and_then(|n| n.checked_sub(d)).unwrap_or(i64::MIN)
        } else {
            n.checked_mul(10).and_then(|n| n.checked_add(d)).unwrap_or(i64::MAX)
        };
    }
    n as i32
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).unwrap_or(&Tok::End)
    }

    fn unexpected<T>(&self, expecting: Option<&str>) -> Result<T, String> {
        let mut message = format!("syntax error, unexpected {}", self.peek().describe());
        if let Some(what) = expecting {
            message.push_str(", expecting ");
            message.push_str(what);
        }
        Err(message)
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if *self.peek() == Tok::Char(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.unexpected(Some(&format!("'{}'", char::from(c))))
        }
    }

    /// `statement_list`.
    fn statements(&mut self) -> Result<(), String> {
        loop {
            match self.peek().clone() {
                Tok::End => return Ok(()),
                Tok::EndOfLine => self.pos += 1,
                Tok::Section => {
                    self.pos += 1;
                    let name = self.string_list(false)?.unwrap_or_default();
                    self.expect(b']')?;
                    self.events.push(Event::Section(lossy(&name)));
                }
                Tok::Label(name) => {
                    self.pos += 1;
                    if *self.peek() == Tok::Char(b'=') {
                        self.pos += 1;
                        let value = self.string_or_value()?;
                        self.events.push(Event::Entry { name: lossy(&name), value: Some(lossy(&value)) });
                    } else {
                        self.events.push(Event::Entry { name: lossy(&name), value: None });
                    }
                }
                Tok::Offset(name) => {
                    self.pos += 1;
                    let key = self.string_list(true)?.unwrap_or_default();
                    self.expect(b']')?;
                    self.expect(b'=')?;
                    let value = self.string_or_value()?;
                    self.events.push(Event::Array {
                        name: lossy(&name),
                        key: lossy(&key),
                        value: lossy(&value),
                    });
                }
                _ => return self.unexpected(None),
            }
        }
    }

    /// `string_or_value`.
    fn string_or_value(&mut self) -> Result<Vec<u8>, String> {
        match self.peek() {
            Tok::True => {
                self.pos += 1;
                Ok(b"1".to_vec())
            }
            Tok::False | Tok::Null => {
                self.pos += 1;
                Ok(Vec::new())
            }
            Tok::EndOfLine => {
                self.pos += 1;
                Ok(Vec::new())
            }
            _ => self.expr(),
        }
    }

    /// `expr`: `|`, `&` and `^` share one precedence, left to right; `~` and `!` bind
    /// tighter.
    fn expr(&mut self) -> Result<Vec<u8>, String> {
        let mut left = self.unary()?;
        while let Tok::Char(op @ (b'|' | b'&' | b'^')) = *self.peek() {
            self.pos += 1;
            let right = self.unary()?;
            let (a, b) = (atoi(&left), atoi(&right));
            let n = match op {
                b'|' => a | b,
                b'&' => a & b,
                _ => a ^ b,
            };
            left = n.to_string().into_bytes();
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Vec<u8>, String> {
        match *self.peek() {
            Tok::Char(b'~') => {
                self.pos += 1;
                let v = atoi(&self.unary()?);
                Ok((!v).to_string().into_bytes())
            }
            Tok::Char(b'!') => {
                self.pos += 1;
                let v = atoi(&self.unary()?);
                Ok(i32::from(v == 0).to_string().into_bytes())
            }
            Tok::Char(b'(') => {
                self.pos += 1;
                let v = self.expr()?;
                self.expect(b')')?;
                Ok(v)
            }
            _ => match self.string_list(true)? {
                Some(v) => Ok(v),
                None => self.unexpected(None),
            },
        }
    }

    /// `var_string_list` (values and array keys, `lookup` = constants resolved) or
    /// `var_string_list_section` (section names): pieces written next to each other,
    /// concatenated. `None` if there is no piece.
    fn string_list(&mut self, lookup: bool) -> Result<Option<Vec<u8>>, String> {
        let mut out: Option<Vec<u8>> = None;
        loop {
            let piece = match self.peek().clone() {
                Tok::DollarCurly => self.var_ref()?,
                Tok::Constant(name) => {
                    self.pos += 1;
                    match CONSTANTS.iter().find(|(n, _)| lookup && n.as_bytes() == name.as_slice()) {
                        Some((_, v)) => v.to_string().into_bytes(),
                        None => name,
                    }
                }
                Tok::Raw(s) | Tok::Number(s) | Tok::Str(s) | Tok::Whitespace(s) => {
                    self.pos += 1;
                    s
                }
                Tok::Char(b'"') => {
                    self.pos += 1;
                    let s = self.encapsed()?;
                    self.expect(b'"')?;
                    s
                }
                _ => return Ok(out),
            };
            out.get_or_insert_with(Vec::new).extend_from_slice(&piece);
        }
    }

    /// `encapsed_list`: the inside of `"…"`.
    fn encapsed(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::DollarCurly => out.extend(self.var_ref()?),
                Tok::Quoted(s) => {
                    self.pos += 1;
                    out.extend(s);
                }
                Tok::Char(b'"') => return Ok(out),
                _ => return self.unexpected(Some("TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"'")),
            }
        }
    }

    /// `cfg_var_ref`: `${NAME}` from the environment, empty when unset.
    fn var_ref(&mut self) -> Result<Vec<u8>, String> {
        self.pos += 1;
        let Tok::VarName(name) = self.peek().clone() else {
            return self.unexpected(Some("TC_VARNAME"));
        };
        self.pos += 1;
        self.expect(b'}')?;
        Ok((self.env)(&lossy(&name)).unwrap_or_default().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "X" => Some("ex".to_string()),
            "HOME" => Some("/root".to_string()),
            _ => None,
        }
    }

    fn entry(name: &str, value: &str) -> Event {
        Event::Entry { name: name.to_string(), value: Some(value.to_string()) }
    }

    fn array(name: &str, key: &str, value: &str) -> Event {
        Event::Array { name: name.to_string(), key: key.to_string(), value: value.to_string() }
    }

    fn section(name: &str) -> Event {
        Event::Section(name.to_string())
    }

    /// `line => value of key a` (or `=> err "message"`): one row per INI rule, each
    /// observed with PHP 8.2.36's `parse_ini_string(…, INI_SCANNER_NORMAL)`.
    macro_rules! values {
        ($($line:expr => $value:expr),+ $(,)?) => {$(
            let (events, error) = parse_line($line.as_bytes(), &env);
            assert_eq!(error, None, "line {:?}", $line);
            assert_eq!(events, vec![entry("a", $value)], "line {:?}", $line);
        )+};
    }

    macro_rules! errors {
        ($($line:expr => $error:expr),+ $(,)?) => {$(
            let (_, error) = parse_line($line.as_bytes(), &env);
            assert_eq!(error.as_deref(), Some($error), "line {:?}", $line);
        )+};
    }

    #[test]
    fn comments_and_blanks() {
        values!(
            "a = hello world ; comment" => "hello world",
            "a = hello world # not a comment" => "hello world # not a comment",
            "a = x  " => "x",
            "a = x\t\t" => "x",
            "a = \ttab lead" => "tab lead",
            "\ta = 1" => "1",
            "a=1" => "1",
            "a = yes;x" => "1",
            "a = ;" => "",
            "a = " => "",
            "a =" => "",
            "a = 1 2 3" => "1 2 3",
        );
        assert_eq!(parse_line(b"; only a comment", &env), (vec![], None));
        assert_eq!(parse_line(b"   ", &env), (vec![], None));
    }

    #[test]
    fn booleans_and_null_words() {
        values!(
            "a = yes" => "1", "a = YES" => "1", "a = On" => "1", "a = true" => "1", "a = yes " => "1",
            "a = no" => "", "a = off" => "", "a = none" => "", "a = False" => "", "a = null" => "", "a = NULL" => "",
            "a = yesx" => "yesx", "a = no_x" => "no_x", "a = on.x" => "on.x",
        );
        errors!(
            "a = on foo" => "syntax error, unexpected TC_CONSTANT",
            "a = x yes" => "syntax error, unexpected BOOL_TRUE",
            "yes = 1" => "syntax error, unexpected BOOL_TRUE",
        );
    }

    #[test]
    fn quoting_and_concatenation() {
        values!(
            "a = \"quoted ; value\"" => "quoted ; value",
            "a = 'single \\n ; x'" => "single \\n ; x",
            "a = \"esc \\\" \\\\ \\n \\t \\$ end\"" => "esc \" \\ \\n \\t $ end",
            "a = \"abc\"def" => "abcdef",
            "a = abc \"def\" ghi" => "abcdefghi",
            "a = %R - %u %t \"%m %r\" %s" => "%R - %u %t%m %r%s",
            "a = \"%R - %u %t \\\"%m %r\\\" %s\"" => "%R - %u %t \"%m %r\" %s",
            "a = \"C:\\path\\\"" => "C:\\path\\",
            "a = 'a'b" => "ab",
            "a = \"\"" => "",
            "a = \"a\" ; c" => "a",
            "a = \"E_ALL\"" => "E_ALL",
        );
        errors!(
            "a = \"multi" => "syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"'",
            "a = 'x" => "syntax error, unexpected end of file",
            "a = a\"b" => "syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"'",
        );
    }

    #[test]
    fn environment_variables() {
        values!(
            "a = ${HOME}" => "/root",
            "a = ${HOME}/x" => "/root/x",
            "a = \"${HOME}/x\"" => "/root/x",
            "a = '${HOME}/x'" => "${HOME}/x",
            "a = ${NOPE}z" => "z",
            "a = ${ X }" => "ex",
            "a = ${X}${X}" => "exex",
            "a = \"a${X}b\"" => "aexb",
            "a = ${X:-def}" => "",
            "a = \\${X}" => "\\ex",
            "a = \"\\${X}\"" => "${X}",
            "a = $pool.sock" => "$pool.sock",
            "a = $$pool" => "$$pool",
        );
        errors!("a = ${HOME" => "syntax error, unexpected end of file, expecting '}'");
    }

    #[test]
    fn constants_and_operators() {
        values!(
            "a = E_ALL" => "32767",
            "a = E_ALL & ~E_DEPRECATED & ~E_STRICT" => "22527",
            "a = E_ALL & ~(E_NOTICE | E_STRICT)" => "30711",
            "a = E_ALL ^ E_NOTICE" => "32759",
            "a = 1 | 2 & 4" => "0",
            "a = 2 ^ 3 | 4" => "5",
            "a = !0" => "1",
            "a = ~0" => "-1",
            "a = 99999999999 | 0" => "1215752191",
            "a = \"7\" | 1" => "7",
            "a = e_all" => "e_all",
            "a = UNDEFINED_CONST" => "UNDEFINED_CONST",
            "a = 0660" => "0660",
            "a = -1.5" => "-1.5",
        );
        errors!(
            "a = x |" => "syntax error, unexpected END_OF_LINE",
            "a = (1" => "syntax error, unexpected END_OF_LINE, expecting ')'",
            "a = a!b" => "syntax error, unexpected '!'",
            "a = x=y" => "syntax error, unexpected '='",
        );
    }

    #[test]
    fn keys_sections_and_arrays() {
        let cases: &[(&str, Vec<Event>)] = &[
            ("[www]", vec![section("www")]),
            ("[ sec ]", vec![section(" sec ")]),
            ("[\"sec x\"]", vec![section("sec x")]),
            ("[${X}]", vec![section("ex")]),
            ("[E_ALL]", vec![section("E_ALL")]),
            ("[sec]x=1", vec![section("sec"), entry("x", "1")]),
            ("PM.Max_Children = 5", vec![entry("PM.Max_Children", "5")]),
            (" a  b = 1", vec![entry("a  b", "1")]),
            ("php_value[memory_limit] = 64M", vec![array("php_value", "memory_limit", "64M")]),
            ("env[PATH] = /bin", vec![array("env", "PATH", "/bin")]),
            ("access.suppress_path[] = /ping", vec![array("access.suppress_path", "", "/ping")]),
            ("a[ x ] = 1", vec![array("a", "x ", "1")]),
            ("a[E_ALL] = 1", vec![array("a", "32767", "1")]),
            ("user", vec![Event::Entry { name: "user".into(), value: None }]),
            // An empty '' ends the value; the second quote is read as a bare key.
            ("a = ''", vec![entry("a", ""), Event::Entry { name: "'".into(), value: None }]),
            ("a = ''x", vec![entry("a", ""), Event::Entry { name: "'x".into(), value: None }]),
            // A lone CR ends a statement too.
            ("a = x\ry = 2", vec![entry("a", "x"), entry("y", "2")]),
        ];
        for (line, expected) in cases {
            let (events, error) = parse_line(line.as_bytes(), &env);
            assert_eq!((&events, error), (expected, None), "line {line:?}");
        }
        errors!(
            "a[x][y] = 1" => "syntax error, unexpected TC_SECTION, expecting '='",
            "  [sec]" => "syntax error, unexpected END_OF_LINE, expecting '='",
            "[a;b]" => "syntax error, unexpected end of file, expecting ']'",
            "=x" => "syntax error, unexpected '='",
        );
    }

    #[test]
    fn lines_like_fpm_conf_load_ini_file() {
        let text = b"[www]\r\n\n; comment\nlisten = 9000\n# hash\n  #indented\nuser = a\0b\nlast = 1";
        let lines = parse(text, &env);
        let numbers: Vec<usize> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(lines[0].events, [section("www")]);
        assert_eq!(lines[2].events, [entry("listen", "9000")]);
        assert!(lines[3].hash_comment && lines[4].hash_comment);
        assert_eq!(lines[5].events, [entry("user", "a")], "a NUL ends the line");
        assert_eq!(lines[6].events, [entry("last", "1")], "no final newline needed");
        let (events, _) = parse_line(b"\xef\xbb\xbfa = 1", &env);
        assert_eq!(events, [entry("a", "1")], "byte order mark skipped");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = parse(&bytes, &env);
        }

        #[test]
        fn any_ini_like_line_parses_without_panic(line in "[a-z_\\[\\]=\"'${}();|&^~! \t\r\\\\#.E_ALL0-9-]{0,40}") {
            let _ = parse_line(line.as_bytes(), &env);
        }
    }

    #[test]
    fn statements_before_an_error_are_kept() {
        let (events, error) = parse_line(b"a = x=y", &env);
        assert_eq!(events, [entry("a", "x")]);
        assert_eq!(error.as_deref(), Some("syntax error, unexpected '='"));
    }
}
