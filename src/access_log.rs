//! php-fpm's access log (`access.log`, `access.format`), sans-IO: the format is parsed
//! once at start-up (a bad format is a configuration error), and each finished request
//! becomes one line from an [`Entry`]. Tokens and their output follow php-fpm 8.2
//! (../shared/reference/logging.md §3), so existing log parsers read the lines unchanged.

use std::fmt::Write as _;

/// php-fpm's default `access.format`.
pub const DEFAULT_FORMAT: &str = "%R - %u %t \"%m %r\" %s";

/// Longest line, newline included: php-fpm's access log buffer.
pub const LINE_LIMIT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cpu {
    User,
    System,
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duration {
    Seconds,
    Milliseconds,
    Microseconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Memory {
    Bytes,
    Kilobytes,
    Megabytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Cpu(Cpu),
    Duration(Duration),
    Param(String),
    Script,
    ContentLength,
    Method,
    Memory(Memory),
    Pool,
    ResponseHeader(String),
    Pid,
    MasterPid,
    Query,
    QueryMark,
    Uri,
    Remote,
    Status,
    /// `%t` (accepted) or `%T` (now), with a strftime format.
    Time {
        now: bool,
        format: String,
    },
    User,
}

/// A parsed `access.format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    tokens: Vec<Token>,
}

/// One finished request, as the access log sees it.
#[allow(missing_debug_implementations)] // closures inside
pub struct Entry<'a> {
    /// The pool's name.
    pub pool: &'a str,
    /// The worker's pid and its master's.
    pub pid: i32,
    #[allow(missing_docs)]
    pub master_pid: i32,
    /// The web server's address (`-` for a Unix socket).
    pub remote: &'a str,
    /// `REQUEST_METHOD`, the script's URI, `QUERY_STRING`, the script, `PHP_AUTH_USER`.
    pub method: &'a [u8],
    #[allow(missing_docs)]
    pub uri: &'a [u8],
    #[allow(missing_docs)]
    pub query: &'a [u8],
    #[allow(missing_docs)]
    pub script: &'a [u8],
    #[allow(missing_docs)]
    pub user: &'a [u8],
    /// `CONTENT_LENGTH`.
    pub content_length: u64,
    /// The response's HTTP status.
    pub status: u16,
    /// When the request was accepted and when the line is written, seconds since the epoch.
    pub accepted_s: i64,
    #[allow(missing_docs)]
    pub now_s: i64,
    /// How long the request took, µs.
    pub duration_us: u64,
    /// CPU time the request used, user and system, µs.
    pub cpu_user_us: u64,
    #[allow(missing_docs)]
    pub cpu_system_us: u64,
    /// The handler's peak memory, bytes.
    pub memory: u64,
    /// A request param (`%{NAME}e`).
    pub param: &'a dyn Fn(&str) -> Option<&'a [u8]>,
    /// A response header by its exact name (`%{Name}o`).
    pub header: &'a dyn Fn(&str) -> Option<&'a [u8]>,
}

impl Format {
    /// Parses `format` as php-fpm's dry run at start-up does (php-src
    /// `sapi/fpm/fpm/fpm_log.c`): every `%` starts a known token, `%{…}` modifiers (case
    /// does not matter, empty is none) only go with the tokens that take one, a lone `%`
    /// at the end is ignored. The error is php-fpm's text.
    pub fn parse(format: &str) -> Result<Format, String> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = format;
        while let Some(at) = rest.find('%') {
            literal.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            let mut modifier = None;
            if let Some(inner) = rest.strip_prefix('{') {
                let close = inner.find('}').filter(|&c| c + 1 < inner.len());
                let close = close.ok_or("missing closing embrace in the access.format")?;
                modifier = Some(&inner[..close]).filter(|m| !m.is_empty());
                rest = &inner[close + 1..];
            }
            let Some(token) = rest.chars().next() else { break };
            rest = &rest[token.len_utf8()..];
            match Self::token(token, modifier)? {
                Token::Literal(text) => literal.push_str(&text),
                token => {
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(token);
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Format { tokens })
    }

    fn token(token: char, modifier: Option<&str>) -> Result<Token, String> {
        let plain = |t: Token| match modifier {
            Some(_) => Err(format!("embrace is not allowed for modifier %{token}")),
            None => Ok(t),
        };
        let pick = |default: &str, allowed: &[&str], list: &str| {
            let m = modifier.unwrap_or(default).to_ascii_lowercase();
            if allowed.contains(&m.as_str()) {
                Ok(m)
            } else {
                Err(format!(
                    "only {list} are allowed as a modifier for %{token} ('{}')",
                    modifier.unwrap_or_default()
                ))
            }
        };
        let named = |what: &str| {
            modifier
                .map(str::to_string)
                .ok_or_else(|| format!("the name of the {what} must be set between embraces for %{token}"))
        };
        Ok(match token {
            'C' => match pick("total", &["total", "user", "system"], "'total', 'user' or 'system'")?.as_str()
            {
                "user" => Token::Cpu(Cpu::User),
                "system" => Token::Cpu(Cpu::System),
                _ => Token::Cpu(Cpu::Total),
            },
            'd' => match pick(
                "seconds",
                &["seconds", "mili", "miliseconds", "milli", "milliseconds", "micro", "microseconds"],
                "'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds'",
            )?
            .as_str()
            {
                "seconds" => Token::Duration(Duration::Seconds),
                "micro" | "microseconds" => Token::Duration(Duration::Microseconds),
                _ => Token::Duration(Duration::Milliseconds),
            },
            'M' => match pick(
                "bytes",
                &["bytes", "kilo", "kilobytes", "mega", "megabytes"],
                "'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes'",
            )?
            .as_str()
            {
                "kilo" | "kilobytes" => Token::Memory(Memory::Kilobytes),
                "mega" | "megabytes" => Token::Memory(Memory::Megabytes),
                _ => Token::Memory(Memory::Bytes),
            },
            'e' => Token::Param(named("environment variable")?),
            'o' => Token::ResponseHeader(named("header")?),
            't' | 'T' => Token::Time {
                now: token == 'T',
                format: modifier.unwrap_or(crate::log::CLF_DATE).to_string(),
            },
            '%' => plain(Token::Literal("%".to_string()))?,
            'f' => plain(Token::Script)?,
            'l' => plain(Token::ContentLength)?,
            'm' => plain(Token::Method)?,
            'n' => plain(Token::Pool)?,
            'p' => plain(Token::Pid)?,
            'P' => plain(Token::MasterPid)?,
            'q' => plain(Token::Query)?,
            'Q' => plain(Token::QueryMark)?,
            'r' => plain(Token::Uri)?,
            'R' => plain(Token::Remote)?,
            's' => plain(Token::Status)?,
            'u' => plain(Token::User)?,
            other => return Err(format!("Invalid token in the access.format (%{other})")),
        })
    }

    /// The line for `entry`, newline included, at most [`LINE_LIMIT`] bytes; the flag
    /// says whether it was cut. `strftime` formats seconds since the epoch in local time.
    pub fn render(&self, entry: &Entry<'_>, strftime: &dyn Fn(&str, i64) -> String) -> (Vec<u8>, bool) {
        let mut line = String::with_capacity(128);
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let or_dash = |bytes: &[u8]| if bytes.is_empty() { "-".to_string() } else { text(bytes) };
        for token in &self.tokens {
            let _ = match token {
                Token::Literal(s) => write!(line, "{s}"),
                Token::Cpu(which) => {
                    let used = match which {
                        Cpu::User => entry.cpu_user_us,
                        Cpu::System => entry.cpu_system_us,
                        Cpu::Total => entry.cpu_user_us + entry.cpu_system_us,
                    };
                    let percent = if entry.duration_us == 0 {
                        0.0
                    } else {
                        used as f64 * 100.0 / entry.duration_us as f64
                    };
                    write!(line, "{percent:.2}")
                }
                Token::Duration(Duration::Seconds) => write!(line, "{:.3}", entry.duration_us as f64 / 1e6),
                Token::Duration(Duration::Milliseconds) => {
                    write!(line, "{:.3}", entry.duration_us as f64 / 1e3)
                }
                Token::Duration(Duration::Microseconds) => write!(line, "{}", entry.duration_us),
                Token::Param(name) => write!(line, "{}", (entry.param)(name).map_or("-".to_string(), text)),
                Token::Script => write!(line, "{}", or_dash(entry.script)),
                Token::ContentLength => write!(line, "{}", entry.content_length),
                Token::Method => write!(line, "{}", or_dash(entry.method)),
                Token::Memory(unit) => {
                    let divisor = match unit {
                        Memory::Bytes => 1,
                        Memory::Kilobytes => 1024,
                        Memory::Megabytes => 1024 * 1024,
                    };
                    write!(line, "{}", entry.memory / divisor)
                }
                Token::Pool => write!(line, "{}", if entry.pool.is_empty() { "-" } else { entry.pool }),
                Token::ResponseHeader(name) => {
                    write!(line, "{}", (entry.header)(name).map_or("-".to_string(), text))
                }
                Token::Pid => write!(line, "{}", entry.pid),
                Token::MasterPid => write!(line, "{}", entry.master_pid),
                Token::Query => write!(line, "{}", text(entry.query)),
                Token::QueryMark => write!(line, "{}", if entry.query.is_empty() { "" } else { "?" }),
                Token::Uri => write!(line, "{}", text(entry.uri)),
                Token::Remote => write!(line, "{}", entry.remote),
                Token::Status => write!(line, "{}", entry.status),
                Token::Time { now, format } => {
                    write!(line, "{}", strftime(format, if *now { entry.now_s } else { entry.accepted_s }))
                }
                Token::User => write!(line, "{}", text(entry.user)),
            };
        }
        let mut bytes = line.into_bytes();
        let cut = bytes.len() > LINE_LIMIT - 1;
        bytes.truncate(LINE_LIMIT - 1);
        bytes.push(b'\n');
        (bytes, cut)
    }
}

/// The user of an HTTP `Authorization: Basic` header (`HTTP_AUTHORIZATION`), as PHP
/// takes it for `$_SERVER['PHP_AUTH_USER']` and php-fpm shows it (`%u`, the status
/// page's `user`); `None` for another scheme or a malformed value.
pub fn basic_auth_user(authorization: &[u8]) -> Option<Vec<u8>> {
    let (scheme, rest) = authorization.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = decode_base64(rest.trim_ascii())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(decoded[..colon].to_vec())
}

/// Standard base64 with optional padding; `None` on any other byte.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let text = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for &c in text {
        bits = (bits << 6) | u32::from(value(c)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(
        param: &'a dyn Fn(&str) -> Option<&'a [u8]>,
        header: &'a dyn Fn(&str) -> Option<&'a [u8]>,
    ) -> Entry<'a> {
        Entry {
            pool: "www",
            pid: 42,
            master_pid: 1,
            remote: "127.0.0.1",
            method: b"GET",
            uri: b"/hello.php",
            query: b"",
            script: b"/srv/www/hello.php",
            user: b"",
            content_length: 0,
            status: 200,
            accepted_s: 100,
            now_s: 101,
            duration_us: 620,
            cpu_user_us: 0,
            cpu_system_us: 0,
            memory: 2 * 1024 * 1024,
            param,
            header,
        }
    }

    fn date(format: &str, t: i64) -> String {
        format!("<{format}@{t}>")
    }

    fn render(format: &str) -> String {
        let param = |name: &str| (name == "HTTP_HOST").then_some(&b"example.org"[..]);
        let header = |name: &str| (name == "Content-type").then_some(&b"text/html; charset=UTF-8"[..]);
        let (line, cut) = Format::parse(format).unwrap().render(&entry(&param, &header), &date);
        assert!(!cut);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn the_default_format_as_php_fpm_writes_it() {
        assert_eq!(
            render(DEFAULT_FORMAT),
            "127.0.0.1 -  <%d/%b/%Y:%H:%M:%S %z@100> \"GET /hello.php\" 200\n"
        );
    }

    #[test]
    fn every_token() {
        assert_eq!(
            render("%R - %u %t \"%m %r%Q%q\" %s %f %{mili}d %{kilo}M %C%%"),
            "127.0.0.1 -  <%d/%b/%Y:%H:%M:%S %z@100> \"GET /hello.php\" 200 /srv/www/hello.php 0.620 2048 0.00%\n"
        );
        assert_eq!(render("%n %p %P %l %{micro}d %d %{mega}M %M"), "www 42 1 0 620 0.001 2 2097152\n");
        assert_eq!(render("%{HTTP_HOST}e %{NOPE}e"), "example.org -\n");
        assert_eq!(render("%{Content-type}o|%{Content-Type}o"), "text/html; charset=UTF-8|-\n");
        assert_eq!(render("%{%s}T %{user}C %{system}C"), "<%s@101> 0.00 0.00\n");
    }

    #[test]
    fn bad_formats_are_named() {
        let err = |f: &str| Format::parse(f).unwrap_err();
        assert_eq!(err("%x"), "Invalid token in the access.format (%x)");
        assert_eq!(err("%{abc"), "missing closing embrace in the access.format");
        assert_eq!(err("%{x}s"), "embrace is not allowed for modifier %s");
        assert_eq!(err("%e"), "the name of the environment variable must be set between embraces for %e");
        assert!(err("%{hours}d").ends_with("('hours')"));
        assert_eq!(Format::parse("100%").map(|f| f.tokens), Ok(vec![Token::Literal("100".into())]));
        assert_eq!(Format::parse("%{}s %{MILI}d").map(|f| f.tokens.len()), Ok(3));
    }

    #[test]
    fn basic_auth_user_is_decoded() {
        assert_eq!(basic_auth_user(b"Basic YWxpY2U6c2VjcmV0").as_deref(), Some(&b"alice"[..]));
        assert_eq!(basic_auth_user(b"basic Ym9iOg==").as_deref(), Some(&b"bob"[..]));
        assert_eq!(basic_auth_user(b"Basic bm9jb2xvbg"), None);
        assert_eq!(basic_auth_user(b"Bearer abc"), None);
        assert_eq!(basic_auth_user(b"Basic !!"), None);
        assert_eq!(basic_auth_user(b"Basic"), None);
    }

    #[test]
    fn a_long_line_is_cut_to_the_limit() {
        let long = "x".repeat(2000);
        let format = Format::parse(&long).unwrap();
        let (line, cut) = format.render(&entry(&|_| None, &|_| None), &date);
        assert!(cut);
        assert_eq!(line.len(), LINE_LIMIT);
        assert_eq!(line.last(), Some(&b'\n'));
    }
}
