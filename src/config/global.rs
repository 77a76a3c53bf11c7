//! The `[global]` section: the master's own settings, their table (the order of
//! `ini_fpm_global_options` in php-src `sapi/fpm/fpm/fpm_conf.c`), and the checks php-fpm
//! runs on them after reading its files (`fpm_conf_post_process`).

use super::directives::{Directive, Kind, Status, row};
use super::values::{
    CoreLimit, parse_bool, parse_count, parse_duration, parse_int, parse_rlimit_core, parse_rlimit_files, put,
};
use super::{LOCALSTATEDIR, full_path};
use crate::log::Level;
use std::path::PathBuf;
use std::time::Duration;

/// Where the master logs (`error_log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorLog {
    /// `error_log = syslog` (any case).
    Syslog,
    /// A file; relative paths are resolved against the prefix (or `/var`) on load.
    File(PathBuf),
}

/// `syslog.facility`: the facilities php-fpm knows, with Linux's `LOG_*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFacility {
    Auth,
    AuthPriv,
    Cron,
    Daemon,
    Ftp,
    Kern,
    Lpr,
    Mail,
    News,
    Syslog,
    User,
    Uucp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

/// `(name, facility, LOG_* code on Linux)`.
const FACILITIES: &[(&str, SyslogFacility, i32)] = &[
    ("AUTH", SyslogFacility::Auth, 4 << 3),
    ("AUTHPRIV", SyslogFacility::AuthPriv, 10 << 3),
    ("CRON", SyslogFacility::Cron, 9 << 3),
    ("DAEMON", SyslogFacility::Daemon, 3 << 3),
    ("FTP", SyslogFacility::Ftp, 11 << 3),
    ("KERN", SyslogFacility::Kern, 0),
    ("LPR", SyslogFacility::Lpr, 6 << 3),
    ("MAIL", SyslogFacility::Mail, 2 << 3),
    ("NEWS", SyslogFacility::News, 7 << 3),
    ("SYSLOG", SyslogFacility::Syslog, 5 << 3),
    ("USER", SyslogFacility::User, 1 << 3),
    ("UUCP", SyslogFacility::Uucp, 8 << 3),
    ("LOCAL0", SyslogFacility::Local0, 16 << 3),
    ("LOCAL1", SyslogFacility::Local1, 17 << 3),
    ("LOCAL2", SyslogFacility::Local2, 18 << 3),
    ("LOCAL3", SyslogFacility::Local3, 19 << 3),
    ("LOCAL4", SyslogFacility::Local4, 20 << 3),
    ("LOCAL5", SyslogFacility::Local5, 21 << 3),
    ("LOCAL6", SyslogFacility::Local6, 22 << 3),
    ("LOCAL7", SyslogFacility::Local7, 23 << 3),
];

impl SyslogFacility {
    /// The `LOG_*` value for `openlog`, which `php-fpm -tt` prints (daemon = 24).
    pub fn code(self) -> i32 {
        FACILITIES.iter().find(|(_, f, _)| *f == self).map_or(3 << 3, |(_, _, c)| *c)
    }

    fn parse(v: &str) -> Result<SyslogFacility, String> {
        FACILITIES
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(v))
            .map(|(_, f, _)| *f)
            .ok_or_else(|| "invalid value".to_string())
    }
}

/// `events.mechanism`: php-fpm's event back-ends; Linux has epoll, poll and select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsMechanism {
    Kqueue,
    Port,
    Epoll,
    DevPoll,
    Poll,
    Select,
}

impl EventsMechanism {
    /// php-fpm's name for it.
    pub fn name(self) -> &'static str {
        match self {
            EventsMechanism::Kqueue => "kqueue",
            EventsMechanism::Port => "port",
            EventsMechanism::Epoll => "epoll",
            EventsMechanism::DevPoll => "/dev/poll",
            EventsMechanism::Poll => "poll",
            EventsMechanism::Select => "select",
        }
    }

    /// Edge-triggered (what `pm = ondemand` needs).
    pub fn is_edge_triggered(self) -> bool {
        matches!(self, EventsMechanism::Epoll | EventsMechanism::Kqueue)
    }

    fn is_available(self) -> bool {
        matches!(self, EventsMechanism::Epoll | EventsMechanism::Poll | EventsMechanism::Select)
    }

    fn parse(v: &str) -> Result<EventsMechanism, String> {
        use EventsMechanism::*;
        [Kqueue, Port, Epoll, DevPoll, Poll, Select]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(v))
            .ok_or_else(|| format!("event mechanism '{v}' is not available on this system"))
    }
}

/// The `[global]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// `pid`: pid file; relative to the prefix (or `/var`) once loaded.
    pub pid: Option<PathBuf>,
    /// `error_log`: default `log/php-fpm.log` under the prefix (or `/var`).
    pub error_log: ErrorLog,
    /// `syslog.ident`: default `php-fpm`.
    pub syslog_ident: String,
    /// `syslog.facility`: default daemon.
    pub syslog_facility: SyslogFacility,
    /// `log_buffering`: default yes.
    pub log_buffering: bool,
    /// `log_level`: `None` = not set (php-fpm then logs at notice).
    pub log_level: Option<Level>,
    /// `log_limit`: longest log line, at least 512; default 1024.
    pub log_limit: u32,
    /// `emergency_restart_threshold`: 0 = off.
    pub emergency_restart_threshold: u32,
    /// `emergency_restart_interval`: 0 = off.
    pub emergency_restart_interval: Duration,
    /// `process_control_timeout`: copied into every pool's field of that name on load.
    pub process_control_timeout: Duration,
    /// `process.max`: children across all pools; 0 = no limit.
    pub process_max: u32,
    /// `process.priority`: the master's nice value, -19..20.
    pub process_priority: Option<i32>,
    /// `daemonize`: default yes (`-F`/`-D` override it).
    pub daemonize: bool,
    /// `rlimit_files`: the master's `RLIMIT_NOFILE`; `None` = inherited.
    pub rlimit_files: Option<u32>,
    /// `rlimit_core`: the master's `RLIMIT_CORE`; `None` = inherited.
    pub rlimit_core: Option<CoreLimit>,
    /// `events.mechanism`: `None` = the best available (epoll on Linux).
    pub events_mechanism: Option<EventsMechanism>,
    /// `systemd_interval`: `STATUS=` notification period; 0 = off; default 10s.
    pub systemd_interval: Duration,
    /// Directives given explicitly, first time first.
    pub explicit: Vec<&'static str>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            pid: None,
            error_log: ErrorLog::File(PathBuf::from(DEFAULT_ERROR_LOG)),
            syslog_ident: "php-fpm".to_string(),
            syslog_facility: SyslogFacility::Daemon,
            log_buffering: true,
            log_level: None,
            log_limit: 1024,
            emergency_restart_threshold: 0,
            emergency_restart_interval: Duration::ZERO,
            process_control_timeout: Duration::ZERO,
            process_max: 0,
            process_priority: None,
            daemonize: true,
            rlimit_files: None,
            rlimit_core: None,
            events_mechanism: None,
            systemd_interval: Duration::from_secs(10),
            explicit: Vec::new(),
        }
    }
}

/// `error_log` when not set, relative to the prefix.
const DEFAULT_ERROR_LOG: &str = "log/php-fpm.log";

/// Shortest `log_limit` php-fpm takes (`ZLOG_MIN_LIMIT`).
const MIN_LOG_LIMIT: u32 = 512;

type Global = GlobalConfig;

use Kind::{Text, Typed};
use Status::{InEffect, NotYet};

/// Every `[global]` directive.
pub const GLOBAL_DIRECTIVES: &[Directive<Global>] = &[
    row("pid", Text, |c, v| put(&mut c.pid, Some(PathBuf::from(v))), None, InEffect),
    row(
        "error_log",
        Text,
        |c, v| put(&mut c.error_log, parse_error_log(v)),
        Some(DEFAULT_ERROR_LOG),
        InEffect,
    ),
    row("syslog.ident", Text, |c, v| put(&mut c.syslog_ident, v.to_string()), Some("php-fpm"), NotYet),
    row(
        "syslog.facility",
        Typed,
        |c, v| put(&mut c.syslog_facility, SyslogFacility::parse(v)?),
        Some("daemon"),
        NotYet,
    ),
    row("log_buffering", Typed, |c, v| put(&mut c.log_buffering, parse_bool(v)?), Some("yes"), NotYet),
    row("log_level", Typed, |c, v| put(&mut c.log_level, Some(parse_log_level(v)?)), None, InEffect),
    row("log_limit", Typed, set_log_limit, Some("1024"), InEffect),
    row(
        "emergency_restart_threshold",
        Typed,
        |c, v| put(&mut c.emergency_restart_threshold, parse_count(v)?),
        Some("0"),
        InEffect,
    ),
    row(
        "emergency_restart_interval",
        Typed,
        |c, v| put(&mut c.emergency_restart_interval, parse_duration(v)?),
        Some("0"),
        InEffect,
    ),
    row(
        "process_control_timeout",
        Typed,
        |c, v| put(&mut c.process_control_timeout, parse_duration(v)?),
        Some("0"),
        InEffect,
    ),
    row("process.max", Typed, set_process_max, Some("0"), InEffect),
    row("process.priority", Typed, |c, v| put(&mut c.process_priority, Some(parse_int(v)?)), None, InEffect),
    row("daemonize", Typed, |c, v| put(&mut c.daemonize, parse_bool(v)?), Some("yes"), InEffect),
    row("rlimit_files", Typed, |c, v| put(&mut c.rlimit_files, parse_rlimit_files(v)?), Some("0"), InEffect),
    row("rlimit_core", Typed, |c, v| put(&mut c.rlimit_core, parse_rlimit_core(v)?), Some("0"), InEffect),
    row(
        "events.mechanism",
        Text,
        |c, v| put(&mut c.events_mechanism, Some(EventsMechanism::parse(v)?)),
        None,
        NotYet,
    ),
    row(
        "systemd_interval",
        Typed,
        |c, v| put(&mut c.systemd_interval, parse_duration(v)?),
        Some("10s"),
        InEffect,
    ),
];

/// The `[global]` directive called `name` (any case).
pub fn find_global(name: &str) -> Option<&'static Directive<Global>> {
    GLOBAL_DIRECTIVES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

fn parse_error_log(v: &str) -> ErrorLog {
    if v.eq_ignore_ascii_case("syslog") { ErrorLog::Syslog } else { ErrorLog::File(PathBuf::from(v)) }
}

fn parse_log_level(v: &str) -> Result<Level, String> {
    match v.to_ascii_lowercase().as_str() {
        "debug" => Ok(Level::Debug),
        "notice" => Ok(Level::Notice),
        "warning" | "warn" => Ok(Level::Warning),
        "error" => Ok(Level::Error),
        "alert" => Ok(Level::Alert),
        _ => Err("invalid value for 'log_level'".to_string()),
    }
}

fn set_log_limit(c: &mut Global, v: &str) -> Result<(), String> {
    // A negative limit fails the post-process check like any value below 512.
    c.log_limit = parse_int(v)?.max(0) as u32;
    Ok(())
}

fn set_process_max(c: &mut Global, v: &str) -> Result<(), String> {
    let n = parse_int(v)?;
    c.process_max = u32::try_from(n).map_err(|_| "process_max can't be negative".to_string())?;
    Ok(())
}

impl GlobalConfig {
    pub(crate) fn mark(&mut self, name: &'static str) {
        if !self.explicit.contains(&name) {
            self.explicit.push(name);
        }
    }

    /// True if directive `name` was given explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The level the master logs at: `log_level`, else notice.
    pub fn effective_log_level(&self) -> Level {
        self.log_level.unwrap_or(Level::Notice)
    }

    /// The event mechanism in use: the configured one, else epoll (Linux's best).
    pub fn effective_events_mechanism(&self) -> EventsMechanism {
        self.events_mechanism.unwrap_or(EventsMechanism::Epoll)
    }

    /// Directives set explicitly that sfpm does not act on yet, one line each.
    pub fn not_in_effect(&self) -> Vec<String> {
        self.explicit
            .iter()
            .filter(|name| find_global(name).is_some_and(|d| d.status != Status::InEffect))
            .map(|name| format!("[global] '{name}' is accepted but not yet in effect"))
            .collect()
    }

    /// php-fpm's checks and completions of `[global]` (`fpm_conf_post_process`, before
    /// the pools): resolves `pid` and `error_log`, refuses out-of-range values.
    pub(crate) fn post_process(&mut self, global_prefix: Option<&str>) -> Result<(), (Level, String)> {
        let error = |m: &str| (Level::Error, m.to_string());
        if let Some(pid) = self.pid.take() {
            self.pid =
                Some(PathBuf::from(full_path(&pid.to_string_lossy(), None, global_prefix, LOCALSTATEDIR)));
        }
        if self.log_limit < MIN_LOG_LIMIT {
            return Err(error(&format!("log_limit must be greater than {MIN_LOG_LIMIT}")));
        }
        if self.process_priority.is_some_and(|p| !(-19..=20).contains(&p)) {
            return Err(error("process.priority must be included into [-19,20]"));
        }
        if let ErrorLog::File(path) = &self.error_log {
            let resolved = full_path(&path.to_string_lossy(), None, global_prefix, LOCALSTATEDIR);
            self.error_log = ErrorLog::File(PathBuf::from(resolved));
        }
        let mechanism = self.effective_events_mechanism();
        if !mechanism.is_available() {
            return Err(error(&format!(
                "event mechanism '{}' is not available on this system",
                mechanism.name()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_match_the_struct() {
        for d in GLOBAL_DIRECTIVES {
            let Some(default) = d.default else { continue };
            let mut c = GlobalConfig::default();
            (d.set)(&mut c, default).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert_eq!(c, GlobalConfig::default(), "{} = {default}", d.name);
        }
    }

    fn set(c: &mut GlobalConfig, name: &str, value: &str) -> Result<(), String> {
        (find_global(name).ok_or("unknown")?.set)(c, value)
    }

    #[test]
    fn each_kind_parses() {
        let mut c = GlobalConfig::default();
        let rows = [
            ("syslog.facility", "local3"),
            ("log_level", "WARN"),
            ("rlimit_core", "unlimited"),
            ("systemd_interval", "5m"),
            ("events.mechanism", "EPOLL"),
            ("error_log", "SysLog"),
            ("process.max", "8"),
        ];
        for (k, v) in rows {
            set(&mut c, k, v).unwrap();
        }
        assert_eq!(c.syslog_facility.code(), 152);
        assert_eq!(SyslogFacility::Daemon.code(), 24);
        assert_eq!(c.log_level, Some(Level::Warning));
        assert_eq!(c.rlimit_core, Some(CoreLimit::Unlimited));
        assert_eq!(c.systemd_interval, Duration::from_secs(300));
        assert_eq!(c.events_mechanism, Some(EventsMechanism::Epoll));
        assert_eq!((c.error_log.clone(), c.process_max), (ErrorLog::Syslog, 8));
        let refusals = [
            ("syslog.facility", "local9", "invalid value"),
            ("log_level", "loud", "invalid value for 'log_level'"),
            ("process.max", "-1", "process_max can't be negative"),
            ("events.mechanism", "iocp", "event mechanism 'iocp' is not available on this system"),
            ("daemonize", "maybe", "invalid boolean value"),
        ];
        for (k, v, reason) in refusals {
            assert_eq!(set(&mut c, k, v), Err(reason.to_string()), "{k} = {v}");
        }
    }

    #[test]
    fn post_process_resolves_and_checks() {
        let mut c = GlobalConfig::default();
        set(&mut c, "pid", "run/fpm.pid").unwrap();
        c.post_process(None).unwrap();
        assert_eq!(c.pid, Some(PathBuf::from("/var/run/fpm.pid")));
        assert_eq!(c.error_log, ErrorLog::File(PathBuf::from("/var/log/php-fpm.log")));
        let mut c = GlobalConfig::default();
        c.post_process(Some("/opt/fpm")).unwrap();
        assert_eq!(c.error_log, ErrorLog::File(PathBuf::from("/opt/fpm/log/php-fpm.log")));

        let cases = [
            ("log_limit", "511", "log_limit must be greater than 512"),
            ("log_limit", "-5", "log_limit must be greater than 512"),
            ("process.priority", "21", "process.priority must be included into [-19,20]"),
            ("events.mechanism", "kqueue", "event mechanism 'kqueue' is not available on this system"),
        ];
        for (k, v, message) in cases {
            let mut c = GlobalConfig::default();
            set(&mut c, k, v).unwrap();
            assert_eq!(c.post_process(None), Err((Level::Error, message.to_string())), "{k} = {v}");
        }
    }
}
