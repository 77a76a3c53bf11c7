//! One pool's configuration: typed fields for every php-fpm pool directive, php-fpm's
//! defaults, and the checks php-fpm runs once all files are read
//! (`fpm_conf_process_all_pools` in php-src `sapi/fpm/fpm/fpm_conf.c`).
//!
//! A pool is built key by key, from files by the loader or directly with
//! [`PoolConfig::set`] (the C ABI's `sfpm_config_set`). [`PoolConfig::validate`] is the
//! gate before the master runs a pool: php-fpm's checks, then [`PoolConfig::runnable`],
//! what sfpm's master can run today.

use super::directives::{self, Status};
use super::values::CoreLimit;
use super::{DEFAULT_PREFIX, full_path};
use crate::fastcgi;
use crate::log::Level;
use crate::scgi;
use std::path::{Path, PathBuf};
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

impl ListenProtocol {
    /// The word `listen.protocol` takes.
    pub fn name(self) -> &'static str {
        match self {
            ListenProtocol::Auto => "auto",
            ListenProtocol::FastCgi => "fastcgi",
            ListenProtocol::Scgi => "scgi",
        }
    }
}

/// The process manager (`pm`). The master runs only `static` so far
/// ([`PoolConfig::runnable`]); the others load and are checked as php-fpm checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessManager {
    /// A fixed number of workers, `pm.max_children`.
    Static,
    /// Between `pm.min_spare_servers` and `pm.max_spare_servers` idle workers.
    Dynamic,
    /// Workers forked when connections arrive.
    OnDemand,
}

impl ProcessManager {
    /// The word `pm` takes.
    pub fn name(self) -> &'static str {
        match self {
            ProcessManager::Static => "static",
            ProcessManager::Dynamic => "dynamic",
            ProcessManager::OnDemand => "ondemand",
        }
    }
}

/// One pool: a listening socket and the workers that serve it. Fields follow php-fpm's
/// directive order; each names its directive. Paths are absolute once loaded (the
/// loader resolves them against `prefix` as php-fpm does).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// The pool's name, `[www]` in php-fpm.conf.
    pub name: String,
    /// `prefix`: base of the pool's relative paths; must be a directory.
    pub prefix: Option<PathBuf>,
    /// `user`: worker user (required when the master runs as root).
    pub user: Option<String>,
    /// `group`: worker group; default the user's primary group.
    pub group: Option<String>,
    /// `listen`: `ip:port`, `[ipv6]:port`, `port`, or a Unix socket path. Required.
    pub listen: Option<String>,
    /// `listen.backlog`: -1 means the kernel's maximum, php-fpm's default on Linux.
    pub listen_backlog: i32,
    /// `listen.acl_users`: users given access to the Unix socket by POSIX ACL.
    pub listen_acl_users: Option<Vec<String>>,
    /// `listen.acl_groups`: groups given access to the Unix socket by POSIX ACL.
    pub listen_acl_groups: Option<Vec<String>>,
    /// `listen.owner`: user name or uid owning a Unix socket.
    pub listen_owner: Option<String>,
    /// `listen.group`: group name or gid owning a Unix socket.
    pub listen_group: Option<String>,
    /// `listen.mode`: permission bits of a Unix socket, default 0660.
    pub listen_mode: u32,
    /// `listen.allowed_clients`: comma-separated addresses allowed to connect over TCP.
    pub listen_allowed_clients: Option<String>,
    /// `listen.setfib`: FreeBSD routing table; -1 = unset. No effect on Linux.
    pub listen_setfib: i32,
    /// `process.priority`: nice value of the workers, -19..20.
    pub process_priority: Option<i32>,
    /// `process.dumpable`: `PR_SET_DUMPABLE` on the workers.
    pub process_dumpable: bool,
    /// `pm`.
    pub pm: ProcessManager,
    /// `pm.max_children`: the pool's concurrency. Required; 0 stands for php-fpm's
    /// "not positive" until [`PoolConfig::validate`] refuses it.
    pub max_children: Option<u32>,
    /// `pm.start_servers` (dynamic): 0 = computed from the spare bounds.
    pub start_servers: i32,
    /// `pm.min_spare_servers` (dynamic).
    pub min_spare_servers: i32,
    /// `pm.max_spare_servers` (dynamic).
    pub max_spare_servers: i32,
    /// `pm.max_spawn_rate` (dynamic): most children forked per second, default 32.
    pub max_spawn_rate: i32,
    /// `pm.process_idle_timeout` (ondemand): idle time before a child exits, default 10s.
    pub process_idle_timeout: Duration,
    /// `pm.max_requests`: requests a worker serves before it is replaced; 0 = never.
    pub max_requests: u64,
    /// `pm.status_path`: URI of the status page.
    pub status_path: Option<String>,
    /// `pm.status_listen`: extra listener serving only the status page.
    pub status_listen: Option<String>,
    /// `ping.path`: URI of the ping page.
    pub ping_path: Option<String>,
    /// `ping.response`: body of the ping page; `pong` when `ping.path` is set.
    pub ping_response: Option<String>,
    /// `access.log`: per-pool access log.
    pub access_log: Option<PathBuf>,
    /// `access.format`: access log line format; php-fpm's default once `access.log` is set.
    pub access_format: Option<String>,
    /// `access.suppress_path[]`: URIs left out of the access log, in file order.
    pub access_suppress_paths: Vec<String>,
    /// `slowlog`: where slow request traces go.
    pub slowlog: Option<PathBuf>,
    /// `request_slowlog_timeout`: 0 = off.
    pub request_slowlog_timeout: Duration,
    /// `request_slowlog_trace_depth`: frames per trace, default 20.
    pub request_slowlog_trace_depth: i32,
    /// `request_terminate_timeout`: 0 = off.
    pub request_terminate_timeout: Duration,
    /// `request_terminate_timeout_track_finished`.
    pub request_terminate_timeout_track_finished: bool,
    /// `rlimit_files`: `RLIMIT_NOFILE` of the workers; `None` = inherited.
    pub rlimit_files: Option<u32>,
    /// `rlimit_core`: `RLIMIT_CORE` of the workers; `None` = inherited.
    pub rlimit_core: Option<CoreLimit>,
    /// `chroot`: absolute directory the workers chroot into.
    pub chroot: Option<PathBuf>,
    /// `chdir`: the workers' working directory.
    pub chdir: Option<PathBuf>,
    /// `catch_workers_output`: copy workers' stdout/stderr to the error log.
    pub catch_workers_output: bool,
    /// `decorate_workers_output`: prefix those lines, default yes.
    pub decorate_workers_output: bool,
    /// `clear_env`: start workers with an empty environment (plus `env[]`), default yes.
    pub clear_env: bool,
    /// `security.limit_extensions`: script suffixes allowed; empty = any.
    pub security_limit_extensions: Vec<String>,
    /// `apparmor_hat`: AppArmor hat to change to.
    pub apparmor_hat: Option<String>,
    /// `env[NAME] = value`, in file order. A value `$VAR` means the master's `VAR` at
    /// start ([`PoolConfig::worker_env`]); where a name repeats, the first one wins.
    pub env: Vec<(String, String)>,
    /// `php_value`/`php_flag` (`false`) and `php_admin_value`/`php_admin_flag` (`true`)
    /// as `(name, value, admin)` in file order; flags are `1`/`0`. php-fpm applies the
    /// list newest first, so where a name repeats the first one in the file wins
    /// (php/php-src#13249).
    pub php_values: Vec<(String, String, bool)>,
    /// `listen.protocol` (sfpm): auto, fastcgi or scgi.
    pub listen_protocol: ListenProtocol,
    /// `process_control_timeout`: how long a polite stop waits before escalating. A
    /// `[global]` directive in files, copied into every pool.
    pub process_control_timeout: Duration,
    /// `emergency_restart_threshold` and `emergency_restart_interval`: that many workers
    /// killed by SIGSEGV or SIGBUS within the interval restart the server (0 = off).
    /// `[global]` directives in files, copied into every pool.
    pub emergency_restart_threshold: u32,
    #[allow(missing_docs)]
    pub emergency_restart_interval: Duration,
    /// `systemd_interval`: how often the master reports its status to systemd (0 = never);
    /// a `[global]` directive in files, copied into every pool.
    pub systemd_interval: Duration,
    /// `process.max`: most worker processes the server forks (0 = no limit); a
    /// `[global]` directive in files, copied into every pool.
    pub process_max: u32,
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
    /// Directives given explicitly (files or [`PoolConfig::set`]), first time first; the
    /// array directives as `env[]`, `php_value[]`, ….
    pub explicit: Vec<&'static str>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            name: "www".to_string(),
            prefix: None,
            user: None,
            group: None,
            listen: None,
            listen_backlog: -1,
            listen_acl_users: None,
            listen_acl_groups: None,
            listen_owner: None,
            listen_group: None,
            listen_mode: 0o660,
            listen_allowed_clients: None,
            listen_setfib: -1,
            process_priority: None,
            process_dumpable: false,
            pm: ProcessManager::Static,
            max_children: None,
            start_servers: 0,
            min_spare_servers: 0,
            max_spare_servers: 0,
            max_spawn_rate: 32,
            process_idle_timeout: Duration::from_secs(10),
            max_requests: 0,
            status_path: None,
            status_listen: None,
            ping_path: None,
            ping_response: None,
            access_log: None,
            access_format: None,
            access_suppress_paths: Vec::new(),
            slowlog: None,
            request_slowlog_timeout: Duration::ZERO,
            request_slowlog_trace_depth: DEFAULT_TRACE_DEPTH,
            request_terminate_timeout: Duration::ZERO,
            request_terminate_timeout_track_finished: false,
            rlimit_files: None,
            rlimit_core: None,
            chroot: None,
            chdir: None,
            catch_workers_output: false,
            decorate_workers_output: true,
            clear_env: true,
            security_limit_extensions: vec![".php".to_string(), ".phar".to_string()],
            apparmor_hat: None,
            env: Vec::new(),
            php_values: Vec::new(),
            listen_protocol: ListenProtocol::Auto,
            process_control_timeout: Duration::ZERO,
            emergency_restart_threshold: 0,
            emergency_restart_interval: Duration::ZERO,
            systemd_interval: Duration::from_secs(10),
            process_max: 0,
            request_read_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            fastcgi_limits: fastcgi::Limits::default(),
            scgi_limits: scgi::Limits::default(),
            explicit: Vec::new(),
        }
    }
}

/// `request_slowlog_trace_depth` when not set.
const DEFAULT_TRACE_DEPTH: i32 = 20;

/// php-fpm's `access.format` when `access.log` is set without one.
pub const DEFAULT_ACCESS_FORMAT: &str = "%R - %u %t \"%m %r\" %s";

/// `php_value`/`php_admin_value` names whose relative values are paths, resolved against
/// the pool prefix when there is no chroot (`FPM_PHP_INI_TO_EXPAND`, php-src
/// `sapi/fpm/fpm/fpm_php.h`).
const PHP_INI_PATHS: &[&str] = &[
    "error_log",
    "extension_dir",
    "sendmail_path",
    "session.cookie_path",
    "session_pgsql.sem_file_name",
    "soap.wsdl_cache_dir",
    "uploadprogress.file.filename_template",
    "xdebug.output_dir",
    "xdebug.profiler_output_dir",
    "xdebug.trace_output_dir",
    "xmms.path",
    "axis2.client_home",
    "blenc.key_file",
    "coin_acceptor.device",
];

/// A failed pool check: php-fpm's level (`ALERT` or `ERROR`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub level: Level,
    pub message: String,
}

/// What the pool checks need from outside the pool.
pub(crate) struct PoolContext<'a> {
    /// `-p`: the global prefix, if given.
    pub global_prefix: Option<&'a str>,
    /// Files must say `pm` (a pool built with [`PoolConfig::set`] defaults to static).
    pub require_pm: bool,
    /// The event mechanism is edge-triggered (epoll, kqueue), as ondemand needs.
    pub edge_triggered: bool,
    /// Whether a path is an existing directory.
    pub is_dir: &'a dyn Fn(&Path) -> bool,
}

fn real_is_dir(path: &Path) -> bool {
    path.is_dir()
}

impl PoolConfig {
    /// Sets directive `key` from its text `value`, as php-fpm.conf spells both (after the
    /// INI layer: no quotes, no `${…}`, no `$pool`; see [`super::syntax`]). Directive
    /// names match case-insensitively, as in php-fpm. Arrays are not set here.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let directive = directives::find(key, true).ok_or_else(|| format!("unknown entry '{key}'"))?;
        (directive.set)(self, value.trim())?;
        self.mark(directive.name);
        Ok(())
    }

    /// Adds one array entry: `env`, `php_value`, `php_flag`, `php_admin_value`,
    /// `php_admin_flag` (key required) or `access.suppress_path` (no key). Reasons are
    /// php-fpm's (`fpm_conf_ini_parser_array`).
    pub fn set_array(&mut self, name: &str, key: &str, value: &str) -> Result<(), String> {
        check_array_key(name, key, value)?;
        let flag = |v: &str| {
            super::values::parse_bool(v)
                .map(|b| if b { "1" } else { "0" }.to_string())
                .map_err(|e| format!("error while parsing '{name}[{key}]' : {e}"))
        };
        let mark = match name {
            "env" => {
                if value.is_empty() {
                    return Err("empty value".to_string());
                }
                self.env.push((key.to_string(), value.to_string()));
                "env[]"
            }
            "php_value" => {
                self.php_values.push((key.to_string(), value.to_string(), false));
                "php_value[]"
            }
            "php_admin_value" => {
                self.php_values.push((key.to_string(), value.to_string(), true));
                "php_admin_value[]"
            }
            "php_flag" => {
                self.php_values.push((key.to_string(), flag(value)?, false));
                "php_flag[]"
            }
            "php_admin_flag" => {
                self.php_values.push((key.to_string(), flag(value)?, true));
                "php_admin_flag[]"
            }
            "access.suppress_path" => {
                self.access_suppress_paths.push(value.to_string());
                "access.suppress_path[]"
            }
            _ => return Err(format!("unknown directive '{name}'")),
        };
        self.mark(mark);
        Ok(())
    }

    pub(crate) fn mark(&mut self, name: &'static str) {
        if !self.explicit.contains(&name) {
            self.explicit.push(name);
        }
    }

    /// True if directive `name` was given explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Checks what single directives cannot, as php-fpm does after reading its files
    /// (required directives, pm bounds, status and ping paths, slowlog, prefix, chroot
    /// and chdir directories), then [`PoolConfig::runnable`]. Pools loaded from files
    /// were already checked; this is the gate for pools built with [`PoolConfig::set`].
    pub fn validate(&self) -> Result<(), String> {
        let mut copy = self.clone();
        let context = PoolContext {
            global_prefix: None,
            require_pm: false,
            edge_triggered: true,
            is_dir: &real_is_dir,
        };
        copy.post_process(&context).map_err(|r| r.message)?;
        self.runnable()
    }

    /// What sfpm's master cannot run yet, as an error. Every process manager runs now
    /// (static, dynamic, ondemand); pool-level gaps would be refused here.
    pub fn runnable(&self) -> Result<(), String> {
        Ok(())
    }

    /// Directives set explicitly that sfpm accepts but does not act on yet, one line
    /// each: `[pool www] 'pm.status_path' is accepted but not yet in effect`.
    pub fn not_in_effect(&self) -> Vec<String> {
        self.explicit
            .iter()
            .filter_map(|name| {
                let status = directives::find(name, true).map_or(Status::NotYet, |d| d.status);
                let what = match status {
                    Status::InEffect | Status::ApiOnly => return None,
                    Status::NotYet => "is accepted but not yet in effect",
                    Status::OtherSystems => "is accepted but has no effect on this system",
                };
                Some(format!("[pool {}] '{name}' {what}", self.name))
            })
            .collect()
    }

    /// The `env[]` entries as the workers get them: a value `$VAR` is the master's
    /// variable `VAR` (empty if unset, as php-fpm's `fpm_env_init_child`), and where a
    /// name repeats the first entry wins (php-fpm applies the list newest first).
    pub fn worker_env(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.env {
            if out.iter().any(|(n, _)| n == name) {
                continue;
            }
            let value = match value.strip_prefix('$') {
                Some(var) => lookup(var).unwrap_or_default(),
                None => value.clone(),
            };
            out.push((name.clone(), value));
        }
        out
    }

    /// php-fpm's per-pool checks and completions (`fpm_conf_process_all_pools`), in its
    /// order: resolves relative paths, fills computed defaults, returns NOTICE lines.
    pub(crate) fn post_process(&mut self, cx: &PoolContext<'_>) -> Result<Vec<(Level, String)>, Refusal> {
        let name = self.name.clone();
        let alert =
            |message: String| Refusal { level: Level::Alert, message: format!("[pool {name}] {message}") };
        let error =
            |message: String| Refusal { level: Level::Error, message: format!("[pool {name}] {message}") };
        let mut notes = Vec::new();
        let global_prefix = cx.global_prefix;

        if let Some(prefix) = self.prefix.take() {
            let resolved = full_path(&prefix.to_string_lossy(), None, global_prefix, DEFAULT_PREFIX);
            if !(cx.is_dir)(Path::new(&resolved)) {
                return Err(error(format!("the prefix '{resolved}' does not exist or is not a directory")));
            }
            self.prefix = Some(PathBuf::from(resolved));
        }
        let pool_prefix = self.prefix.as_ref().map(|p| p.to_string_lossy().into_owned());
        let pool_prefix = pool_prefix.as_deref();
        let resolve = |path: &Path| {
            PathBuf::from(full_path(&path.to_string_lossy(), pool_prefix, global_prefix, DEFAULT_PREFIX))
        };

        match self.listen.as_deref() {
            None | Some("") => return Err(alert("no listen address have been defined!".to_string())),
            Some(address) if is_unix_address(address) && !address.starts_with('/') => {
                self.listen = Some(full_path(address, pool_prefix, global_prefix, DEFAULT_PREFIX));
            }
            Some(_) => {}
        }
        if self.process_priority.is_some_and(|p| !(-19..=20).contains(&p)) {
            return Err(error("process.priority must be included into [-19,20]".to_string()));
        }
        if cx.require_pm && !self.is_set("pm") {
            return Err(alert("the process manager is missing (static, dynamic or ondemand)".to_string()));
        }
        let max_children = self.max_children.unwrap_or(0);
        if max_children < 1 {
            return Err(alert("pm.max_children must be a positive value".to_string()));
        }
        let max_children = i64::from(max_children);
        match self.pm {
            ProcessManager::Static => {}
            ProcessManager::Dynamic => {
                let (min, max) = (self.min_spare_servers, self.max_spare_servers);
                if min <= 0 {
                    return Err(alert(format!("pm.min_spare_servers({min}) must be a positive value")));
                }
                if max <= 0 {
                    return Err(alert(format!("pm.max_spare_servers({max}) must be a positive value")));
                }
                if i64::from(min) > max_children || i64::from(max) > max_children {
                    return Err(alert(format!(
                        "pm.min_spare_servers({min}) and pm.max_spare_servers({max}) cannot be greater than pm.max_children({max_children})"
                    )));
                }
                if max < min {
                    return Err(alert(format!(
                        "pm.max_spare_servers({max}) must not be less than pm.min_spare_servers({min})"
                    )));
                }
                let start = self.start_servers;
                if start <= 0 {
                    self.start_servers = min + (max - min) / 2;
                    notes.push((
                        Level::Notice,
                        format!(
                            "[pool {name}] pm.start_servers is not set. It's been set to {}.",
                            self.start_servers
                        ),
                    ));
                } else if start < min || start > max {
                    return Err(alert(format!(
                        "pm.start_servers({start}) must not be less than pm.min_spare_servers({min}) and not greater than pm.max_spare_servers({max})"
                    )));
                }
                if self.max_spawn_rate < 1 {
                    return Err(alert("pm.max_spawn_rate must be a positive value".to_string()));
                }
            }
            ProcessManager::OnDemand => {
                if !cx.edge_triggered {
                    return Err(alert(
                        "ondemand process manager can ONLY be used when events.mechanism is either epoll (Linux) or kqueue (*BSD)."
                            .to_string(),
                    ));
                }
                if self.process_idle_timeout.is_zero() {
                    return Err(alert("pm.process_idle_timeout(0s) must be greater than 0s".to_string()));
                }
                // php-fpm zeroes them: "certainly useless but proper".
                self.start_servers = 0;
                self.min_spare_servers = 0;
                self.max_spare_servers = 0;
            }
        }

        if self.status_listen.is_some() && self.status_path.is_none() {
            // The hidden `<pool>_status` pool answers on every path; php-fpm records "/".
            self.status_path = Some("/".to_string());
        }
        if let Some(status) = self.status_path.as_deref().filter(|s| !s.is_empty()) {
            if !status.starts_with('/') {
                return Err(error(format!("the status path '{status}' must start with a '/'")));
            }
            if self.status_listen.is_none() && status.len() < 2 {
                return Err(error(format!("the status path '{status}' is not long enough")));
            }
            if !is_uri_path(status) {
                return Err(error(format!(
                    "the status path '{status}' must contain only the following characters '[alphanum]/_-.~'"
                )));
            }
        }
        if let Some(ping) = self.ping_path.as_deref().filter(|s| !s.is_empty()) {
            if !ping.starts_with('/') {
                return Err(error(format!("the ping path '{ping}' must start with a '/'")));
            }
            if ping.len() < 2 {
                return Err(error(format!("the ping path '{ping}' is not long enough")));
            }
            if !is_uri_path(ping) {
                return Err(error(format!(
                    "the ping path '{ping}' must contain only the following characters '[alphanum]/_-.~'"
                )));
            }
            match self.ping_response.as_deref() {
                None => self.ping_response = Some("pong".to_string()),
                Some("") => return Err(error("the ping response page '' is not long enough".to_string())),
                Some(_) => {}
            }
        } else {
            self.ping_response = None;
        }

        if let Some(log) = self.access_log.take() {
            self.access_log = Some(resolve(&log));
            if self.access_format.is_none() {
                self.access_format = Some(DEFAULT_ACCESS_FORMAT.to_string());
            }
        }
        if let Some(slowlog) = self.slowlog.take() {
            self.slowlog = Some(resolve(&slowlog));
        }
        if !self.request_slowlog_timeout.is_zero() {
            if self.slowlog.is_none() {
                return Err(error(
                    "'slowlog' must be specified for use with 'request_slowlog_timeout'".to_string(),
                ));
            }
            let (slow, term) =
                (self.request_slowlog_timeout.as_secs(), self.request_terminate_timeout.as_secs());
            if term > 0 && slow > term {
                return Err(error(format!(
                    "'request_slowlog_timeout' ({slow}) can't be greater than 'request_terminate_timeout' ({term})"
                )));
            }
        }
        // php-fpm reads 0 as "not set": only an explicit non-zero depth needs a slowlog.
        let depth = self.request_slowlog_trace_depth;
        if self.is_set("request_slowlog_trace_depth") && depth != 0 {
            if self.slowlog.is_none() {
                return Err(error(
                    "'slowlog' must be specified for use with 'request_slowlog_trace_depth'".to_string(),
                ));
            }
            if depth < 0 {
                return Err(error(format!(
                    "'request_slowlog_trace_depth' ({depth}) must be a positive value"
                )));
            }
        } else {
            self.request_slowlog_trace_depth = DEFAULT_TRACE_DEPTH;
        }

        if let Some(chroot) = self.chroot.take() {
            let resolved =
                chroot_path(&chroot.to_string_lossy(), pool_prefix, global_prefix).map_err(error)?;
            if !resolved.starts_with('/') {
                return Err(error(format!("the chroot path '{resolved}' must start with a '/'")));
            }
            if !(cx.is_dir)(Path::new(&resolved)) {
                return Err(error(format!(
                    "the chroot path '{resolved}' does not exist or is not a directory"
                )));
            }
            self.chroot = Some(PathBuf::from(resolved));
        }
        if let Some(chdir) = self.chdir.take() {
            let resolved = full_path(&chdir.to_string_lossy(), pool_prefix, global_prefix, DEFAULT_PREFIX);
            if !resolved.starts_with('/') {
                return Err(error(format!("the chdir path '{resolved}' must start with a '/'")));
            }
            match &self.chroot {
                Some(root) => {
                    let inside = format!("{}/{resolved}", root.display());
                    if !(cx.is_dir)(Path::new(&inside)) {
                        return Err(error(format!(
                            "the chdir path '{resolved}' within the chroot path '{}' ('{inside}') does not exist or is not a directory",
                            root.display()
                        )));
                    }
                }
                None => {
                    if !(cx.is_dir)(Path::new(&resolved)) {
                        return Err(error(format!(
                            "the chdir path '{resolved}' does not exist or is not a directory"
                        )));
                    }
                }
            }
            self.chdir = Some(PathBuf::from(resolved));
        }

        if self.chroot.is_none() {
            for (key, value, admin) in &mut self.php_values {
                if *admin && key.eq_ignore_ascii_case("error_log") && value.eq_ignore_ascii_case("syslog") {
                    continue;
                }
                if PHP_INI_PATHS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    *value = full_path(value, pool_prefix, global_prefix, DEFAULT_PREFIX);
                }
            }
        }
        Ok(notes)
    }
}

/// The checks php-fpm makes on an array entry before it looks at the section: keys are
/// required, except for `access.suppress_path[]`, which takes none and only `/…` values.
pub(crate) fn check_array_key(name: &str, key: &str, value: &str) -> Result<(), String> {
    if name == "access.suppress_path" {
        if !key.is_empty() {
            return Err("Keys provided to field 'access.suppress_path' are ignored".to_string());
        }
        if !value.starts_with('/') {
            return Err("Values provided to field 'access.suppress_path' must begin with '/'".to_string());
        }
    } else if key.is_empty() {
        return Err(format!("You must provide a key for field '{name}'"));
    }
    Ok(())
}

/// php-fpm's `fpm_sockets_domain_from_address`: an address with `:` or only digits is
/// TCP, anything else a Unix socket path.
fn is_unix_address(address: &str) -> bool {
    !(address.contains(':') || address.bytes().all(|b| b.is_ascii_digit()))
}

/// Status and ping paths: `[alphanum]/_-.~` only.
fn is_uri_path(path: &str) -> bool {
    path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
}

/// `chroot` takes `$prefix` at its start (`fpm_evaluate_full_path` with `expand`).
fn chroot_path(
    value: &str,
    pool_prefix: Option<&str>,
    global_prefix: Option<&str>,
) -> Result<String, String> {
    if value.starts_with('/') {
        return Ok(value.to_string());
    }
    match value.find("$prefix") {
        None => Ok(full_path(value, pool_prefix, global_prefix, DEFAULT_PREFIX)),
        Some(0) => {
            let prefix = pool_prefix.or(global_prefix).unwrap_or(DEFAULT_PREFIX);
            let rest = &value["$prefix".len()..];
            Ok(if rest.is_empty() { prefix.to_string() } else { format!("{prefix}/{rest}") })
        }
        Some(_) => Err("'$prefix' must be use at the beginning of the value".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(settings: &[(&str, &str)]) -> PoolConfig {
        let mut c = PoolConfig::default();
        for (k, v) in settings {
            c.set(k, v).unwrap_or_else(|e| panic!("{k} = {v}: {e}"));
        }
        c
    }

    fn checked(c: &mut PoolConfig) -> Result<Vec<(Level, String)>, String> {
        let cx =
            PoolContext { global_prefix: None, require_pm: true, edge_triggered: true, is_dir: &|_| true };
        c.post_process(&cx).map_err(|r| r.message)
    }

    const BASE: &[(&str, &str)] = &[("listen", "127.0.0.1:9000"), ("pm", "static"), ("pm.max_children", "2")];

    #[test]
    fn defaults_are_php_fpm_s() {
        let c = PoolConfig::default();
        assert_eq!((c.listen_backlog, c.listen_mode, c.max_requests), (-1, 0o660, 0));
        assert_eq!((c.max_spawn_rate, c.process_idle_timeout), (32, Duration::from_secs(10)));
        assert_eq!(c.process_control_timeout, Duration::ZERO);
        assert!(c.clear_env && c.decorate_workers_output && !c.catch_workers_output);
        assert_eq!(c.security_limit_extensions, [".php", ".phar"]);
    }

    #[test]
    fn set_parses_each_kind() {
        let mut c = PoolConfig::default();
        c.set("listen", "127.0.0.1:9000").unwrap();
        c.set("listen.mode", "0600").unwrap();
        c.set("pm.max_children", "4").unwrap();
        c.set("process_control_timeout", "2m").unwrap();
        c.set("scgi.strict_duplicates", "yes").unwrap();
        c.set("PM.Max_Requests", "-1").unwrap();
        c.set("rlimit_core", "unlimited").unwrap();
        c.set("security.limit_extensions", ".php .php7").unwrap();
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!((c.listen_mode, c.max_children, c.max_requests), (0o600, Some(4), 0));
        assert_eq!(c.process_control_timeout, Duration::from_secs(120));
        assert!(c.scgi_limits.strict_duplicates);
        assert_eq!(c.rlimit_core, Some(CoreLimit::Unlimited));
        assert_eq!(c.security_limit_extensions, [".php", ".php7"]);
        assert!(c.is_set("pm.max_requests") && !c.is_set("pm"));
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_problem() {
        let mut c = PoolConfig::default();
        assert_eq!(c.set("nope", "1"), Err("unknown entry 'nope'".to_string()));
        assert_eq!(c.set("listen.mode", "999"), Err("invalid octal mode '999'".to_string()));
        assert_eq!(
            c.set("pm", "lazy"),
            Err("invalid process manager (static, dynamic or ondemand)".to_string())
        );
        assert!(c.set("keepalive_timeout", "0").is_err());
        assert!(c.set("process_control_timeout", "5x").is_err());
        assert!(c.validate().unwrap_err().contains("no listen address"));
        c.set("listen", "9000").unwrap();
        c.set("pm.max_children", "0").unwrap();
        assert_eq!(c.validate(), Err("[pool www] pm.max_children must be a positive value".to_string()));
    }

    #[test]
    fn arrays_like_fpm_conf_ini_parser_array() {
        let mut c = PoolConfig::default();
        c.set_array("php_flag", "display_errors", "on").unwrap();
        c.set_array("php_admin_flag", "log_errors", "").unwrap();
        c.set_array("php_value", "memory_limit", "64M").unwrap();
        c.set_array("env", "PATH", "/bin").unwrap();
        c.set_array("access.suppress_path", "", "/ping").unwrap();
        c.set("slowlog", "/tmp/slow.log").unwrap();
        assert_eq!(
            c.php_values,
            [
                ("display_errors".into(), "1".into(), false),
                ("log_errors".into(), "0".into(), true),
                ("memory_limit".into(), "64M".into(), false)
            ]
        );
        let cases: &[(&str, &str, &str, &str)] = &[
            ("env", "X", "", "empty value"),
            ("php_value", "", "1", "You must provide a key for field 'php_value'"),
            ("php_flag", "x", "maybe", "error while parsing 'php_flag[x]' : invalid boolean value"),
            ("access.suppress_path", "k", "/x", "Keys provided to field 'access.suppress_path' are ignored"),
            (
                "access.suppress_path",
                "",
                "x",
                "Values provided to field 'access.suppress_path' must begin with '/'",
            ),
            ("Php_value", "x", "1", "unknown directive 'Php_value'"),
        ];
        for (name, key, value, reason) in cases {
            assert_eq!(c.set_array(name, key, value), Err(reason.to_string()), "{name}[{key}]");
        }
        assert!(c.is_set("php_flag[]") && c.is_set("env[]"));
    }

    #[test]
    fn worker_env_takes_master_variables_and_first_wins() {
        let mut c = PoolConfig::default();
        for (k, v) in [("HOSTNAME", "$HOSTNAME"), ("A", "1"), ("A", "2"), ("GONE", "$NOPE")] {
            c.set_array("env", k, v).unwrap();
        }
        let lookup = |v: &str| (v == "HOSTNAME").then(|| "box".to_string());
        let env = c.worker_env(&lookup);
        assert_eq!(
            env,
            [("HOSTNAME".into(), "box".into()), ("A".into(), "1".into()), ("GONE".into(), String::new())]
        );
    }

    #[test]
    fn checks_in_php_fpm_order_with_its_messages() {
        let www = |m: &str| Err(format!("[pool www] {m}"));
        let dynamic = [("pm", "dynamic"), ("pm.min_spare_servers", "1"), ("pm.max_spare_servers", "2")];
        // (start from BASE, settings, expected)
        type Case<'a> = (bool, Vec<(&'a str, &'a str)>, Result<(), String>);
        let cases: Vec<Case> = vec![
            (
                false,
                vec![("pm", "static"), ("pm.max_children", "1")],
                www("no listen address have been defined!"),
            ),
            (
                false,
                vec![("listen", "9000"), ("pm.max_children", "1")],
                www("the process manager is missing (static, dynamic or ondemand)"),
            ),
            (
                false,
                vec![("listen", "9000"), ("pm", "static")],
                www("pm.max_children must be a positive value"),
            ),
            (true, vec![("pm.max_children", "-3")], www("pm.max_children must be a positive value")),
            (true, vec![("process.priority", "-20")], www("process.priority must be included into [-19,20]")),
            (true, vec![("pm", "dynamic")], www("pm.min_spare_servers(0) must be a positive value")),
            (
                true,
                vec![("pm", "dynamic"), ("pm.min_spare_servers", "1")],
                www("pm.max_spare_servers(0) must be a positive value"),
            ),
            (
                true,
                vec![("pm", "dynamic"), ("pm.min_spare_servers", "1"), ("pm.max_spare_servers", "3")],
                www(
                    "pm.min_spare_servers(1) and pm.max_spare_servers(3) cannot be greater than pm.max_children(2)",
                ),
            ),
            (
                true,
                vec![("pm", "dynamic"), ("pm.min_spare_servers", "2"), ("pm.max_spare_servers", "1")],
                www("pm.max_spare_servers(1) must not be less than pm.min_spare_servers(2)"),
            ),
            (
                true,
                [&dynamic[..], &[("pm.start_servers", "3")]].concat(),
                www(
                    "pm.start_servers(3) must not be less than pm.min_spare_servers(1) and not greater than pm.max_spare_servers(2)",
                ),
            ),
            (
                true,
                [&dynamic[..], &[("pm.max_spawn_rate", "0")]].concat(),
                www("pm.max_spawn_rate must be a positive value"),
            ),
            (true, dynamic.to_vec(), Ok(())),
            (
                true,
                vec![("pm", "ondemand"), ("pm.process_idle_timeout", "0")],
                www("pm.process_idle_timeout(0s) must be greater than 0s"),
            ),
            (true, vec![("pm.status_path", "status")], www("the status path 'status' must start with a '/'")),
            (true, vec![("pm.status_path", "/")], www("the status path '/' is not long enough")),
            (
                true,
                vec![("pm.status_path", "/st?tus")],
                www("the status path '/st?tus' must contain only the following characters '[alphanum]/_-.~'"),
            ),
            (true, vec![("pm.status_path", "/"), ("pm.status_listen", "9001")], Ok(())),
            (true, vec![("ping.path", "ping")], www("the ping path 'ping' must start with a '/'")),
            (true, vec![("ping.path", "/")], www("the ping path '/' is not long enough")),
            (
                true,
                vec![("ping.path", "/ping"), ("ping.response", "")],
                www("the ping response page '' is not long enough"),
            ),
            (
                true,
                vec![("request_slowlog_timeout", "5")],
                www("'slowlog' must be specified for use with 'request_slowlog_timeout'"),
            ),
            (
                true,
                vec![
                    ("slowlog", "/tmp/s"),
                    ("request_slowlog_timeout", "5"),
                    ("request_terminate_timeout", "2"),
                ],
                www("'request_slowlog_timeout' (5) can't be greater than 'request_terminate_timeout' (2)"),
            ),
            (
                true,
                vec![("request_slowlog_trace_depth", "20")],
                www("'slowlog' must be specified for use with 'request_slowlog_trace_depth'"),
            ),
            (
                true,
                vec![("slowlog", "/tmp/s"), ("request_slowlog_trace_depth", "-1")],
                www("'request_slowlog_trace_depth' (-1) must be a positive value"),
            ),
            (true, vec![("request_slowlog_trace_depth", "0")], Ok(())),
            (true, vec![("chroot", "x$prefix")], www("'$prefix' must be use at the beginning of the value")),
            (true, vec![("chroot", "/jail"), ("chdir", "rel")], Ok(())),
        ];
        for (from_base, settings, expected) in cases {
            let mut c = pool(if from_base { BASE } else { &[] });
            for (k, v) in &settings {
                c.set(k, v).unwrap();
            }
            assert_eq!(checked(&mut c).map(|_| ()), expected, "{settings:?}");
        }
    }

    #[test]
    fn completions_and_notices() {
        let mut c = pool(&[
            ("listen", "9000"),
            ("pm", "dynamic"),
            ("pm.max_children", "5"),
            ("pm.min_spare_servers", "1"),
            ("pm.max_spare_servers", "4"),
            ("ping.path", "/ping"),
            ("access.log", "log/$pool.log"),
        ]);
        let notes = checked(&mut c).unwrap();
        assert_eq!(
            notes,
            [(Level::Notice, "[pool www] pm.start_servers is not set. It's been set to 2.".to_string())]
        );
        assert_eq!(c.start_servers, 2);
        assert_eq!(c.ping_response.as_deref(), Some("pong"));
        assert_eq!(c.access_log, Some(PathBuf::from("/usr/log/$pool.log")));
        assert_eq!(c.access_format.as_deref(), Some(DEFAULT_ACCESS_FORMAT));
        assert_eq!(c.request_slowlog_trace_depth, 20);

        let mut c =
            pool(&[("listen", "9000"), ("pm", "static"), ("pm.max_children", "1"), ("ping.response", "ok")]);
        checked(&mut c).unwrap();
        assert_eq!(c.ping_response, None, "ping.response is dropped without ping.path");
    }

    #[test]
    fn relative_paths_follow_the_prefix_rules() {
        let mut c = pool(BASE);
        c.set("prefix", "/srv/www").unwrap();
        c.set("listen", "run/fpm.sock").unwrap();
        c.set("slowlog", "slow.log").unwrap();
        c.set("chroot", "$prefix/root").unwrap();
        c.set("chdir", "/").unwrap();
        c.set_array("php_value", "error_log", "log/php.log").unwrap();
        c.set_array("php_admin_value", "error_log", "syslog").unwrap();
        c.set_array("php_value", "memory_limit", "1G").unwrap();
        checked(&mut c).unwrap();
        assert_eq!(c.listen.as_deref(), Some("/srv/www/run/fpm.sock"));
        assert_eq!(c.slowlog, Some(PathBuf::from("/srv/www/slow.log")));
        assert_eq!(c.chroot, Some(PathBuf::from("/srv/www//root")));
        assert_eq!(c.php_values[0].1, "log/php.log", "no path expansion with a chroot");

        let mut c = pool(BASE);
        c.set("listen", "fpm.sock").unwrap();
        c.set_array("php_value", "error_log", "log/php.log").unwrap();
        c.set_array("php_admin_value", "error_log", "syslog").unwrap();
        c.set_array("php_value", "Extension_Dir", "ext").unwrap();
        let cx = PoolContext {
            global_prefix: Some("/opt"),
            require_pm: true,
            edge_triggered: true,
            is_dir: &|_| true,
        };
        c.post_process(&cx).unwrap();
        assert_eq!(c.listen.as_deref(), Some("/opt/fpm.sock"));
        assert_eq!(c.php_values[0].1, "/opt/log/php.log");
        assert_eq!(c.php_values[1].1, "syslog");
        assert_eq!(c.php_values[2].1, "/opt/ext");
    }

    #[test]
    fn directory_checks() {
        let mut c = pool(BASE);
        c.set("prefix", "nowhere").unwrap();
        let cx =
            PoolContext { global_prefix: None, require_pm: true, edge_triggered: true, is_dir: &|_| false };
        assert_eq!(
            c.post_process(&cx).unwrap_err().message,
            "[pool www] the prefix '/usr/nowhere' does not exist or is not a directory"
        );
        let mut c = pool(BASE);
        c.set("chroot", "/jail").unwrap();
        c.set("chdir", "/app").unwrap();
        let cx = PoolContext {
            global_prefix: None,
            require_pm: true,
            edge_triggered: true,
            is_dir: &|p: &Path| p == Path::new("/jail"),
        };
        assert_eq!(
            c.post_process(&cx).unwrap_err().message,
            "[pool www] the chdir path '/app' within the chroot path '/jail' ('/jail//app') does not exist or is not a directory"
        );
        let mut c = pool(&[("listen", "9000"), ("pm", "ondemand"), ("pm.max_children", "1")]);
        let cx =
            PoolContext { global_prefix: None, require_pm: true, edge_triggered: false, is_dir: &|_| true };
        assert_eq!(c.post_process(&cx).unwrap_err().level, Level::Alert);
    }

    #[test]
    fn every_process_manager_is_runnable() {
        let mut c = pool(BASE);
        for pm in ["static", "dynamic", "ondemand"] {
            c.set("pm", pm).unwrap();
            assert_eq!(c.runnable(), Ok(()), "{pm}");
        }
    }

    #[test]
    fn not_in_effect_lists_explicit_directives_only() {
        let mut c = pool(BASE);
        c.set("pm.status_path", "/status").unwrap();
        c.set("pm.status_listen", "127.0.0.1:9001").unwrap();
        c.set("listen.setfib", "2").unwrap();
        c.set_array("php_value", "x", "1").unwrap();
        c.set_array("access.suppress_path", "", "/ping").unwrap();
        c.set("slowlog", "/tmp/slow.log").unwrap();
        assert_eq!(
            c.not_in_effect(),
            [
                "[pool www] 'pm.status_listen' is accepted but not yet in effect",
                "[pool www] 'listen.setfib' is accepted but has no effect on this system",
                "[pool www] 'slowlog' is accepted but not yet in effect",
            ]
        );
    }
}
