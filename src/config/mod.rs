//! Pool configuration: php-fpm's directives, their defaults and their validation.
//!
//! For now a pool is built key by key ([`PoolConfig::set`]), the way the C ABI's
//! `sfpm_config_set` does; reading php-fpm.conf files comes with the `sfpm` binary.
//! Each directive is one row of [`DIRECTIVES`]: its php-fpm name and a parser that
//! stores it. Parsers return a short reason; the caller adds where the value came from
//! (file and line, or the C call).

use crate::fastcgi;
use crate::scgi;
use std::time::Duration;

/// Which protocols a listening socket speaks (`listen.protocol`, an sfpm addition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenProtocol {
    /// Decide per connection from its first byte: FastCGI or SCGI.
    Auto,
    /// FastCGI only.
    FastCgi,
    /// SCGI only.
    Scgi,
}

/// The process manager (`pm`). Only `static` runs yet; the others are accepted by name
/// so that configurations fail with a clear message rather than a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessManager {
    /// A fixed number of workers, `pm.max_children`.
    Static,
    /// Between `pm.min_spare_servers` and `pm.max_spare_servers` idle workers.
    Dynamic,
    /// Workers forked when connections arrive.
    OnDemand,
}

/// One pool: a listening socket and the workers that serve it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// The pool's name, `[www]` in php-fpm.conf.
    pub name: String,
    /// `listen`: `ip:port`, `[ipv6]:port`, `port`, or a Unix socket path. Required.
    pub listen: Option<String>,
    /// `listen.backlog`: -1 means the kernel's maximum, php-fpm's default on Linux.
    pub listen_backlog: i32,
    /// `listen.owner`: user name or uid owning a Unix socket.
    pub listen_owner: Option<String>,
    /// `listen.group`: group name or gid owning a Unix socket.
    pub listen_group: Option<String>,
    /// `listen.mode`: permission bits of a Unix socket, default 0660.
    pub listen_mode: u32,
    /// `listen.allowed_clients`: comma-separated addresses allowed to connect over TCP.
    pub listen_allowed_clients: Option<String>,
    /// `listen.protocol`: auto, fastcgi or scgi.
    pub listen_protocol: ListenProtocol,
    /// `pm`.
    pub pm: ProcessManager,
    /// `pm.max_children`: the pool's concurrency. Required.
    pub max_children: Option<u32>,
    /// `pm.max_requests`: requests a worker serves before it is replaced; 0 = never.
    pub max_requests: u64,
    /// `process_control_timeout`: how long a polite stop waits before escalating.
    pub process_control_timeout: Duration,
    /// `request_read_timeout` (sfpm): longest silence while a request is being read, and
    /// longest time to receive a request's head; a stalled client is dropped after it.
    pub request_read_timeout: Duration,
    /// `keepalive_timeout` (sfpm): how long an idle kept FastCGI connection may hold a
    /// worker between requests. php-fpm has none and pins the worker indefinitely.
    pub keepalive_timeout: Duration,
    /// FastCGI limits (`fastcgi.max_params_bytes`, ...).
    pub fastcgi_limits: fastcgi::Limits,
    /// SCGI limits (`scgi.max_header_bytes`, `scgi.strict_duplicates`, ...).
    pub scgi_limits: scgi::Limits,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            name: "www".to_string(),
            listen: None,
            listen_backlog: -1,
            listen_owner: None,
            listen_group: None,
            listen_mode: 0o660,
            listen_allowed_clients: None,
            listen_protocol: ListenProtocol::Auto,
            pm: ProcessManager::Static,
            max_children: None,
            max_requests: 0,
            process_control_timeout: Duration::ZERO,
            request_read_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            fastcgi_limits: fastcgi::Limits::default(),
            scgi_limits: scgi::Limits::default(),
        }
    }
}

/// Stores one directive's value into a pool.
type Setter = fn(&mut PoolConfig, &str) -> Result<(), String>;

/// Every directive a pool takes, in php-fpm's `www.conf` order, then sfpm's own.
pub const DIRECTIVES: &[(&str, Setter)] = &[
    ("name", |c, v| Ok(c.name = non_empty(v)?.to_string())),
    ("listen", |c, v| Ok(c.listen = Some(non_empty(v)?.to_string()))),
    ("listen.backlog", |c, v| Ok(c.listen_backlog = parse_int::<i32>(v)?.max(-1))),
    ("listen.owner", |c, v| Ok(c.listen_owner = Some(non_empty(v)?.to_string()))),
    ("listen.group", |c, v| Ok(c.listen_group = Some(non_empty(v)?.to_string()))),
    ("listen.mode", |c, v| Ok(c.listen_mode = parse_mode(v)?)),
    ("listen.allowed_clients", |c, v| Ok(c.listen_allowed_clients = Some(v.to_string()))),
    ("listen.protocol", |c, v| Ok(c.listen_protocol = parse_protocol(v)?)),
    ("pm", |c, v| Ok(c.pm = parse_pm(v)?)),
    ("pm.max_children", |c, v| Ok(c.max_children = Some(parse_positive(v)?))),
    ("pm.max_requests", |c, v| Ok(c.max_requests = parse_int(v)?)),
    ("process_control_timeout", |c, v| Ok(c.process_control_timeout = parse_duration(v)?)),
    ("request_read_timeout", |c, v| Ok(c.request_read_timeout = parse_nonzero_duration(v)?)),
    ("keepalive_timeout", |c, v| Ok(c.keepalive_timeout = parse_nonzero_duration(v)?)),
    ("fastcgi.max_params_bytes", |c, v| Ok(c.fastcgi_limits.max_params_bytes = parse_positive(v)?)),
    ("fastcgi.max_params", |c, v| Ok(c.fastcgi_limits.max_params = parse_positive(v)?)),
    ("fastcgi.max_name_bytes", |c, v| Ok(c.fastcgi_limits.max_name_bytes = parse_positive(v)?)),
    ("scgi.max_header_bytes", |c, v| Ok(c.scgi_limits.max_header_bytes = parse_positive(v)?)),
    ("scgi.max_headers", |c, v| Ok(c.scgi_limits.max_headers = parse_positive(v)?)),
    ("scgi.strict_duplicates", |c, v| Ok(c.scgi_limits.strict_duplicates = parse_bool(v)?)),
];

impl PoolConfig {
    /// Sets directive `key` from its text `value`, as php-fpm.conf spells both.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let (_, setter) = DIRECTIVES
            .iter()
            .find(|(name, _)| *name == key)
            .ok_or_else(|| format!("unknown entry '{key}'"))?;
        setter(self, value.trim())
    }

    /// Checks what single directives cannot: required ones, and what runs yet.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_none() {
            return Err(format!("[pool {}] no listen address have been defined!", self.name));
        }
        if self.max_children.is_none() {
            return Err(format!("[pool {}] pm.max_children must be a positive value", self.name));
        }
        if self.pm != ProcessManager::Static {
            return Err(format!("[pool {}] only pm = static is supported so far", self.name));
        }
        Ok(())
    }
}

fn non_empty(v: &str) -> Result<&str, String> {
    if v.is_empty() { Err("empty value".to_string()) } else { Ok(v) }
}

fn parse_int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("'{v}' is not a valid number"))
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(v: &str) -> Result<T, String> {
    let n: T = parse_int(v)?;
    if n > T::default() { Ok(n) } else { Err(format!("'{v}' must be a positive value")) }
}

/// php-fpm's booleans: yes/no, on/off, true/false, 1/0 (and empty = no).
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Ok(true),
        "" | "0" | "no" | "off" | "false" | "none" => Ok(false),
        _ => Err(format!("invalid boolean value '{v}'")),
    }
}

/// php-fpm's times: a number with an optional unit `s`, `m`, `h`, `d` (default seconds).
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let (digits, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c),
        _ => (v, 's'),
    };
    let n: u64 = digits.parse().map_err(|_| format!("invalid time value '{v}'"))?;
    let seconds = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86400),
        _ => None,
    };
    seconds.map(Duration::from_secs).ok_or_else(|| format!("invalid time value '{v}'"))
}

fn parse_nonzero_duration(v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.is_zero() { Err(format!("'{v}' must be more than zero")) } else { Ok(d) }
}

fn parse_mode(v: &str) -> Result<u32, String> {
    u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("invalid octal mode '{v}'"))
}

fn parse_protocol(v: &str) -> Result<ListenProtocol, String> {
    match v {
        "auto" => Ok(ListenProtocol::Auto),
        "fastcgi" => Ok(ListenProtocol::FastCgi),
        "scgi" => Ok(ListenProtocol::Scgi),
        _ => Err(format!("invalid protocol '{v}' (auto, fastcgi or scgi)")),
    }
}

fn parse_pm(v: &str) -> Result<ProcessManager, String> {
    match v {
        "static" => Ok(ProcessManager::Static),
        "dynamic" => Ok(ProcessManager::Dynamic),
        "ondemand" => Ok(ProcessManager::OnDemand),
        _ => Err("invalid process manager (static, dynamic or ondemand)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_php_fpm_s() {
        let c = PoolConfig::default();
        assert_eq!((c.listen_backlog, c.listen_mode, c.max_requests), (-1, 0o660, 0));
        assert_eq!(c.process_control_timeout, Duration::ZERO);
    }

    #[test]
    fn set_parses_each_kind() {
        let mut c = PoolConfig::default();
        c.set("listen", "127.0.0.1:9000").unwrap();
        c.set("listen.mode", "0600").unwrap();
        c.set("pm.max_children", "4").unwrap();
        c.set("process_control_timeout", "2m").unwrap();
        c.set("scgi.strict_duplicates", "yes").unwrap();
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!((c.listen_mode, c.max_children), (0o600, Some(4)));
        assert_eq!(c.process_control_timeout, Duration::from_secs(120));
        assert!(c.scgi_limits.strict_duplicates);
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_problem() {
        let mut c = PoolConfig::default();
        assert_eq!(c.set("nope", "1"), Err("unknown entry 'nope'".to_string()));
        assert_eq!(c.set("pm.max_children", "0"), Err("'0' must be a positive value".to_string()));
        assert_eq!(c.set("listen.mode", "999"), Err("invalid octal mode '999'".to_string()));
        assert_eq!(
            c.set("pm", "lazy"),
            Err("invalid process manager (static, dynamic or ondemand)".to_string())
        );
        assert!(c.set("keepalive_timeout", "0").is_err());
        assert!(c.set("process_control_timeout", "5x").is_err());
        assert!(c.validate().unwrap_err().contains("no listen address"));
    }
}
