//! The pool directive table: one row per directive — name, kind, parser into its field,
//! php-fpm's default, and whether sfpm acts on it yet — in the order of php-fpm's own
//! table (`ini_fpm_pool_options` in php-src `sapi/fpm/fpm/fpm_conf.c`, which follows
//! `php-fpm.conf.in`), then sfpm's additions.
//!
//! Arrays (`env[]`, `php_value[]`, …) are not rows: they are
//! [`super::PoolConfig::set_array`].

use super::pool::{ListenProtocol, PoolConfig, ProcessManager};
use super::values::{
    blank_list, comma_list, parse_bool, parse_count, parse_duration, parse_int, parse_mode,
    parse_nonzero_duration, parse_rlimit_core, parse_rlimit_files, put,
};
use std::path::PathBuf;

/// How the loader treats a value before the parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A php-fpm string directive: `$pool` becomes the pool's name.
    Text,
    /// A number, time, boolean or word: taken as written.
    Typed,
}

/// Whether sfpm acts on a directive today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Parsed and used.
    InEffect,
    /// Parsed, checked and stored, not acted on yet: the loader says so.
    NotYet,
    /// A platform feature php-fpm has elsewhere (FreeBSD): stored, never acted on here.
    OtherSystems,
    /// Only through [`PoolConfig::set`]; not accepted in a pool section of a file.
    ApiOnly,
}

/// One directive of a configuration `C` (a pool, or `[global]`).
#[derive(Debug)]
pub struct Directive<C: 'static> {
    /// Its name in php-fpm.conf (matched case-insensitively, as php-fpm does).
    pub name: &'static str,
    /// See [`Kind`].
    pub kind: Kind,
    /// Parses a value into the field; `Err` is a short reason.
    pub set: fn(&mut C, &str) -> Result<(), String>,
    /// php-fpm's default as the directive would spell it; `None` = unset.
    pub default: Option<&'static str>,
    /// See [`Status`].
    pub status: Status,
}

type Pool = PoolConfig;

/// One row of a directive table (pool or `[global]`).
pub(super) const fn row<C: 'static>(
    name: &'static str,
    kind: Kind,
    set: fn(&mut C, &str) -> Result<(), String>,
    default: Option<&'static str>,
    status: Status,
) -> Directive<C> {
    Directive { name, kind, set, default, status }
}

use Kind::{Text, Typed};
use Status::{ApiOnly, InEffect, NotYet, OtherSystems};

/// A string, `None` when empty (php-fpm tests `x && *x` before using these).
fn some_text(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

fn some_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

/// Every directive a pool takes.
pub const DIRECTIVES: &[Directive<Pool>] = &[
    row("name", Text, |c, v| put(&mut c.name, v.to_string()), Some("www"), ApiOnly),
    row("prefix", Text, |c, v| put(&mut c.prefix, some_path(v)), None, NotYet),
    row("user", Text, |c, v| put(&mut c.user, Some(v.to_string())), None, InEffect),
    row("group", Text, |c, v| put(&mut c.group, Some(v.to_string())), None, InEffect),
    row("listen", Text, |c, v| put(&mut c.listen, some_text(v)), None, InEffect),
    row(
        "listen.backlog",
        Typed,
        |c, v| put(&mut c.listen_backlog, parse_int(v)?.max(-1)),
        Some("-1"),
        InEffect,
    ),
    row("listen.acl_users", Text, |c, v| put(&mut c.listen_acl_users, Some(comma_list(v))), None, NotYet),
    row("listen.acl_groups", Text, |c, v| put(&mut c.listen_acl_groups, Some(comma_list(v))), None, NotYet),
    row("listen.owner", Text, |c, v| put(&mut c.listen_owner, some_text(v)), None, InEffect),
    row("listen.group", Text, |c, v| put(&mut c.listen_group, some_text(v)), None, InEffect),
    row("listen.mode", Text, set_listen_mode, Some("0660"), InEffect),
    row(
        "listen.allowed_clients",
        Text,
        |c, v| put(&mut c.listen_allowed_clients, Some(v.to_string())),
        None,
        InEffect,
    ),
    row("listen.setfib", Typed, |c, v| put(&mut c.listen_setfib, parse_int(v)?), Some("-1"), OtherSystems),
    row("process.priority", Typed, |c, v| put(&mut c.process_priority, Some(parse_int(v)?)), None, InEffect),
    row("process.dumpable", Typed, |c, v| put(&mut c.process_dumpable, parse_bool(v)?), Some("no"), InEffect),
    row("pm", Typed, |c, v| put(&mut c.pm, parse_pm(v)?), Some("static"), InEffect),
    row(
        "pm.max_children",
        Typed,
        |c, v| put(&mut c.max_children, Some(parse_int(v)?.max(0) as u32)),
        None,
        InEffect,
    ),
    row("pm.start_servers", Typed, |c, v| put(&mut c.start_servers, parse_int(v)?), Some("0"), InEffect),
    row(
        "pm.min_spare_servers",
        Typed,
        |c, v| put(&mut c.min_spare_servers, parse_int(v)?),
        Some("0"),
        InEffect,
    ),
    row(
        "pm.max_spare_servers",
        Typed,
        |c, v| put(&mut c.max_spare_servers, parse_int(v)?),
        Some("0"),
        InEffect,
    ),
    row("pm.max_spawn_rate", Typed, |c, v| put(&mut c.max_spawn_rate, parse_int(v)?), Some("32"), InEffect),
    row(
        "pm.process_idle_timeout",
        Typed,
        |c, v| put(&mut c.process_idle_timeout, parse_duration(v)?),
        Some("10s"),
        InEffect,
    ),
    // php-fpm treats a negative count as "never", like 0.
    row(
        "pm.max_requests",
        Typed,
        |c, v| put(&mut c.max_requests, parse_int(v)?.max(0) as u64),
        Some("0"),
        InEffect,
    ),
    row("pm.status_path", Text, |c, v| put(&mut c.status_path, Some(v.to_string())), None, InEffect),
    row("pm.status_listen", Text, |c, v| put(&mut c.status_listen, some_text(v)), None, NotYet),
    row("ping.path", Text, |c, v| put(&mut c.ping_path, Some(v.to_string())), None, InEffect),
    row("ping.response", Text, |c, v| put(&mut c.ping_response, Some(v.to_string())), None, InEffect),
    row("access.log", Text, |c, v| put(&mut c.access_log, some_path(v)), None, InEffect),
    row("access.format", Text, |c, v| put(&mut c.access_format, Some(v.to_string())), None, InEffect),
    row("slowlog", Text, |c, v| put(&mut c.slowlog, some_path(v)), None, NotYet),
    row(
        "request_slowlog_timeout",
        Typed,
        |c, v| put(&mut c.request_slowlog_timeout, parse_duration(v)?),
        Some("0"),
        NotYet,
    ),
    row(
        "request_slowlog_trace_depth",
        Typed,
        |c, v| put(&mut c.request_slowlog_trace_depth, parse_int(v)?),
        Some("20"),
        NotYet,
    ),
    row(
        "request_terminate_timeout",
        Typed,
        |c, v| put(&mut c.request_terminate_timeout, parse_duration(v)?),
        Some("0"),
        InEffect,
    ),
    row(
        "request_terminate_timeout_track_finished",
        Typed,
        |c, v| put(&mut c.request_terminate_timeout_track_finished, parse_bool(v)?),
        Some("no"),
        InEffect,
    ),
    row("rlimit_files", Typed, |c, v| put(&mut c.rlimit_files, parse_rlimit_files(v)?), Some("0"), InEffect),
    row("rlimit_core", Typed, |c, v| put(&mut c.rlimit_core, parse_rlimit_core(v)?), Some("0"), InEffect),
    row("chroot", Text, |c, v| put(&mut c.chroot, some_path(v)), None, InEffect),
    row("chdir", Text, |c, v| put(&mut c.chdir, some_path(v)), None, InEffect),
    row(
        "catch_workers_output",
        Typed,
        |c, v| put(&mut c.catch_workers_output, parse_bool(v)?),
        Some("no"),
        NotYet,
    ),
    row(
        "decorate_workers_output",
        Typed,
        |c, v| put(&mut c.decorate_workers_output, parse_bool(v)?),
        Some("yes"),
        NotYet,
    ),
    row("clear_env", Typed, |c, v| put(&mut c.clear_env, parse_bool(v)?), Some("yes"), InEffect),
    row(
        "security.limit_extensions",
        Text,
        |c, v| put(&mut c.security_limit_extensions, blank_list(v)),
        Some(".php .phar"),
        InEffect,
    ),
    row("apparmor_hat", Text, |c, v| put(&mut c.apparmor_hat, Some(v.to_string())), None, NotYet),
    // sfpm's own directives.
    row(
        "listen.protocol",
        Typed,
        |c, v| put(&mut c.listen_protocol, parse_protocol(v)?),
        Some("auto"),
        InEffect,
    ),
    // A [global] directive in files; per pool only through `set` (the C ABI has no [global]).
    row(
        "process_control_timeout",
        Typed,
        |c, v| put(&mut c.process_control_timeout, parse_duration(v)?),
        Some("0"),
        ApiOnly,
    ),
    // [global] directives in files; per pool only through `set`.
    row(
        "emergency_restart_threshold",
        Typed,
        |c, v| put(&mut c.emergency_restart_threshold, parse_count(v)?),
        Some("0"),
        ApiOnly,
    ),
    row(
        "emergency_restart_interval",
        Typed,
        |c, v| put(&mut c.emergency_restart_interval, parse_duration(v)?),
        Some("0"),
        ApiOnly,
    ),
    row(
        "process.max",
        Typed,
        |c, v| {
            put(
                &mut c.process_max,
                u32::try_from(parse_int(v)?).map_err(|_| "process.max can't be negative")?,
            )
        },
        Some("0"),
        ApiOnly,
    ),
    row(
        "systemd_interval",
        Typed,
        |c, v| put(&mut c.systemd_interval, parse_duration(v)?),
        Some("10s"),
        ApiOnly,
    ),
    row(
        "request_read_timeout",
        Typed,
        |c, v| put(&mut c.request_read_timeout, parse_nonzero_duration(v)?),
        Some("30s"),
        InEffect,
    ),
    row(
        "keepalive_timeout",
        Typed,
        |c, v| put(&mut c.keepalive_timeout, parse_nonzero_duration(v)?),
        Some("10s"),
        InEffect,
    ),
    row(
        "fastcgi.max_params_bytes",
        Typed,
        |c, v| put(&mut c.fastcgi_limits.max_params_bytes, parse_positive(v)?),
        None,
        InEffect,
    ),
    row(
        "fastcgi.max_params",
        Typed,
        |c, v| put(&mut c.fastcgi_limits.max_params, parse_positive(v)?),
        None,
        InEffect,
    ),
    row(
        "fastcgi.max_name_bytes",
        Typed,
        |c, v| put(&mut c.fastcgi_limits.max_name_bytes, parse_positive(v)?),
        None,
        InEffect,
    ),
    row(
        "scgi.max_header_bytes",
        Typed,
        |c, v| put(&mut c.scgi_limits.max_header_bytes, parse_positive(v)?),
        None,
        InEffect,
    ),
    row(
        "scgi.max_headers",
        Typed,
        |c, v| put(&mut c.scgi_limits.max_headers, parse_positive(v)?),
        None,
        InEffect,
    ),
    row(
        "scgi.strict_duplicates",
        Typed,
        |c, v| put(&mut c.scgi_limits.strict_duplicates, parse_bool(v)?),
        None,
        InEffect,
    ),
];

/// Names of the array directives of a pool, as [`PoolConfig::explicit`] records them.
pub const ARRAYS: &[&str] = &[
    "env[]",
    "php_value[]",
    "php_admin_value[]",
    "php_flag[]",
    "php_admin_flag[]",
    "access.suppress_path[]",
];

/// The pool directive called `name` (any case). `api` includes the rows only
/// [`PoolConfig::set`] takes; array names (`env[]`, …) resolve to a not-in-effect stub.
pub fn find(name: &str, api: bool) -> Option<&'static Directive<Pool>> {
    if let Some(d) =
        DIRECTIVES.iter().find(|d| d.name.eq_ignore_ascii_case(name) && (api || d.status != ApiOnly))
    {
        return Some(d);
    }
    ARRAYS.contains(&name).then_some(&ARRAY_IN_EFFECT)
}

/// Stands for the array directives in status look-ups (all of them are applied).
static ARRAY_IN_EFFECT: Directive<Pool> = row("[]", Text, |_, _| Ok(()), None, InEffect);

fn set_listen_mode(c: &mut Pool, v: &str) -> Result<(), String> {
    // Empty keeps the default, as php-fpm tests `listen_mode && *listen_mode`.
    if !v.is_empty() {
        c.listen_mode = parse_mode(v)?;
    }
    Ok(())
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(v: &str) -> Result<T, String> {
    let n: T = v.parse().map_err(|_| format!("'{v}' is not a valid number"))?;
    if n > T::default() { Ok(n) } else { Err(format!("'{v}' must be a positive value")) }
}

fn parse_protocol(v: &str) -> Result<ListenProtocol, String> {
    match v.to_ascii_lowercase().as_str() {
        "auto" => Ok(ListenProtocol::Auto),
        "fastcgi" => Ok(ListenProtocol::FastCgi),
        "scgi" => Ok(ListenProtocol::Scgi),
        _ => Err(format!("invalid protocol '{v}' (auto, fastcgi or scgi)")),
    }
}

fn parse_pm(v: &str) -> Result<ProcessManager, String> {
    match v.to_ascii_lowercase().as_str() {
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
    fn names_are_unique_and_lower_case() {
        for (i, d) in DIRECTIVES.iter().enumerate() {
            assert_eq!(d.name, d.name.to_ascii_lowercase());
            assert!(DIRECTIVES[..i].iter().all(|e| e.name != d.name), "{} twice", d.name);
        }
    }

    /// Each row's documented default is what `PoolConfig::default()` holds: setting it
    /// changes nothing but the explicit list.
    #[test]
    fn documented_defaults_match_the_struct() {
        for d in DIRECTIVES {
            let Some(default) = d.default else { continue };
            let mut c = PoolConfig::default();
            (d.set)(&mut c, default).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert_eq!(c, PoolConfig::default(), "{} = {default}", d.name);
        }
    }

    #[test]
    fn api_only_rows_are_hidden_from_files() {
        assert!(find("process_control_timeout", false).is_none());
        assert!(find("name", false).is_none());
        assert_eq!(find("PM.MAX_CHILDREN", false).map(|d| d.name), Some("pm.max_children"));
        assert_eq!(find("php_value[]", false).map(|d| d.status), Some(InEffect));
        assert_eq!(find("access.suppress_path[]", false).map(|d| d.status), Some(InEffect));
    }
}
