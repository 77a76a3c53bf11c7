//! Loading php-fpm.conf: files, sections, includes, `$pool`, then php-fpm's checks.
//!
//! Follows `fpm_conf_load_ini_file` and its callbacks (php-src `sapi/fpm/fpm/fpm_conf.c`):
//!
//! - `[global]` (any case) selects the global table; any other section starts a pool, or
//!   re-opens the pool of that name (case-insensitive, observed) and continues it;
//! - the current section carries across `include`s both ways: an included file without
//!   a section continues the includer's pool, and whatever section an included file
//!   ends in is current after the `include` line;
//! - `include = PATTERN` is resolved against `-p` (else `/usr`), expanded as `glob()`
//!   does, and each file is read in place, at most 5 files deep;
//! - directive names match case-insensitively; array names (`php_value[…]`) exactly;
//! - `$pool` is replaced in string directives and array values;
//! - the first problem stops loading, with php-fpm's message and its file and line.

use super::directives::{self, Directive, Kind};
use super::glob::{self, GlobError};
use super::global::{GlobalConfig, find_global};
use super::pool::{PoolConfig, PoolContext};
use super::syntax::{self, Event};
use super::values::check_access_format;
use super::{ConfigError, FpmConfig, Stage};
use crate::log::Level;
use std::path::{Path, PathBuf};

/// Most files open at once (the main file and nested includes), as php-fpm allows.
const MAX_INCLUDE_DEPTH: usize = 5;

/// Loads `path` and everything it includes, then checks the result as php-fpm does.
/// `prefix` is php-fpm's `-p`. `${NAME}` reads the process environment.
pub fn load(path: &Path, prefix: Option<&Path>) -> Result<FpmConfig, ConfigError> {
    Loader::new().prefix(prefix).load(path)
}

/// Loads configuration text as if read from a file called `file_name` (used in messages
/// and as the main file); `include`s still read the file system.
pub fn load_str(text: &str, file_name: &str, prefix: Option<&Path>) -> Result<FpmConfig, ConfigError> {
    Loader::new().prefix(prefix).load_str(text, file_name)
}

/// Environment look-up for `${NAME}`.
type Env<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Loading options: the `-p` prefix, and where `${NAME}` comes from.
pub struct Loader<'a> {
    prefix: Option<PathBuf>,
    env: Env<'a>,
}

impl std::fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Default for Loader<'_> {
    fn default() -> Self {
        Loader::new()
    }
}

impl<'a> Loader<'a> {
    /// No prefix; `${NAME}` from the process environment.
    pub fn new() -> Self {
        Loader {
            prefix: None,
            env: Box::new(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())),
        }
    }

    /// Sets php-fpm's `-p` prefix.
    pub fn prefix(mut self, prefix: Option<&Path>) -> Self {
        self.prefix = prefix.map(Path::to_path_buf);
        self
    }

    /// Takes `${NAME}` from `env` instead of the process environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + 'a) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Loads the file at `path` (see [`load`]).
    pub fn load(&self, path: &Path) -> Result<FpmConfig, ConfigError> {
        let mut state = self.start()?;
        state.read_file(path)?;
        state.finish(path)
    }

    /// Loads `text` as the file `file_name` (see [`load_str`]).
    pub fn load_str(&self, text: &str, file_name: &str) -> Result<FpmConfig, ConfigError> {
        let path = Path::new(file_name);
        let mut state = self.start()?;
        state.files.push(path.to_path_buf());
        state.parse_file(file_name, text.as_bytes())?;
        state.finish(path)
    }

    fn start(&self) -> Result<State<'_, 'a>, ConfigError> {
        let global_prefix = self.prefix.as_ref().map(|p| p.to_string_lossy().into_owned());
        if let Some(prefix) = global_prefix.as_deref().filter(|p| !p.is_empty())
            && !Path::new(prefix).is_dir()
        {
            return Err(plain(
                Stage::Load,
                format!("the global prefix '{prefix}' does not exist or is not a directory"),
            ));
        }
        Ok(State {
            loader: self,
            global_prefix,
            global: GlobalConfig::default(),
            pools: Vec::new(),
            current: None,
            depth: 0,
            files: Vec::new(),
            messages: Vec::new(),
        })
    }
}

fn plain(stage: Stage, message: String) -> ConfigError {
    ConfigError { level: Level::Error, stage, file: None, line: None, pool: None, directive: None, message }
}

/// `strerror` text and number as php-fpm's `ZLOG_SYSERROR` prints them.
fn syserror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => {
            let text = text.split(" (os error").next().unwrap_or(&text);
            format!("{text} ({code})")
        }
        None => text,
    }
}

struct State<'l, 'a> {
    loader: &'l Loader<'a>,
    global_prefix: Option<String>,
    global: GlobalConfig,
    pools: Vec<PoolConfig>,
    /// The pool entries go to; `None` = `[global]`.
    current: Option<usize>,
    depth: usize,
    files: Vec<PathBuf>,
    messages: Vec<(Level, String)>,
}

/// Where a statement came from.
#[derive(Clone, Copy)]
struct At<'f> {
    file: &'f str,
    line: usize,
}

impl At<'_> {
    fn error(&self, message: String, directive: Option<&str>) -> ConfigError {
        ConfigError {
            level: Level::Error,
            stage: Stage::Load,
            file: Some(PathBuf::from(self.file)),
            line: Some(self.line),
            pool: None,
            directive: directive.map(str::to_string),
            message: format!("[{}:{}] {message}", self.file, self.line),
        }
    }
}

impl State<'_, '_> {
    fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let name = path.to_string_lossy().into_owned();
        if name.is_empty() {
            return Err(plain(Stage::Load, "configuration filename is empty".to_string()));
        }
        let text = std::fs::read(path).map_err(|e| {
            plain(Stage::Load, format!("failed to open configuration file '{name}': {}", syserror(&e)))
        })?;
        self.files.push(path.to_path_buf());
        self.parse_file(&name, &text)
    }

    fn parse_file(&mut self, name: &str, text: &[u8]) -> Result<(), ConfigError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(plain(Stage::Load, "failed to include more than 5 files recursively".to_string()));
        }
        self.depth += 1;
        let result = self.parse_lines(name, text);
        self.depth -= 1;
        result
    }

    fn parse_lines(&mut self, name: &str, text: &[u8]) -> Result<(), ConfigError> {
        let env = &self.loader.env;
        let lines = syntax::parse(text, &|n| env(n));
        for line in lines {
            let at = At { file: name, line: line.number };
            if line.hash_comment {
                self.messages.push((
                    Level::Warning,
                    format!("[{name}:{}] '#' comments are not php-fpm syntax (php-fpm 8.2 refuses this line); ignored", line.number),
                ));
                continue;
            }
            let mut include: Option<String> = None;
            for event in line.events {
                if let Some(pattern) = self.event(event, at)? {
                    if include.is_some() {
                        return Err(at.error("two includes at the same time !".to_string(), Some("include")));
                    }
                    include = Some(pattern);
                }
            }
            if let Some(error) = line.error {
                return Err(at.error(error, None));
            }
            if let Some(pattern) = include {
                self.include(&pattern, at)?;
            }
        }
        Ok(())
    }

    /// Handles one statement; returns an `include` pattern to follow after the line.
    fn event(&mut self, event: Event, at: At<'_>) -> Result<Option<String>, ConfigError> {
        match event {
            Event::Section(name) => {
                self.section(name);
                Ok(None)
            }
            Event::Entry { name, value: None } => Err(at.error(
                format!("entry '{name}' has no value (php-fpm: value is NULL for a ZEND_INI_PARSER_ENTRY)"),
                Some(&name),
            )),
            Event::Entry { name, value: Some(value) } if name == "include" => Ok(Some(value)),
            Event::Entry { name, value: Some(value) } => {
                self.entry(&name, &value, at)?;
                Ok(None)
            }
            Event::Array { name, key, value } => {
                self.array(&name, &key, &value, at)?;
                Ok(None)
            }
        }
    }

    fn section(&mut self, name: String) {
        if name.eq_ignore_ascii_case("global") {
            self.current = None;
        } else if let Some(i) = self.pools.iter().position(|p| p.name.eq_ignore_ascii_case(&name)) {
            self.current = Some(i);
        } else {
            self.pools.push(PoolConfig { name, ..PoolConfig::default() });
            self.current = Some(self.pools.len() - 1);
        }
    }

    /// `$pool` → the current pool's name, in one pass (php-fpm rescans the result, and
    /// loops forever on a pool named after `$pool`).
    fn expand_pool(&self, value: &str) -> Result<String, String> {
        if !value.contains("$pool") {
            return Ok(value.to_string());
        }
        match self.current {
            Some(i) => Ok(value.replace("$pool", &self.pools[i].name)),
            None => Err("Can't use '$pool' when the pool is not defined".to_string()),
        }
    }

    fn entry(&mut self, name: &str, value: &str, at: At<'_>) -> Result<(), ConfigError> {
        let unknown = || at.error(format!("unknown entry '{name}'"), Some(name));
        let parse_error = |directive: &str, reason: String| {
            at.error(format!("unable to parse value for entry '{directive}': {reason}"), Some(directive))
        };
        match self.current {
            None => {
                let d = find_global(name).ok_or_else(unknown)?;
                let value = prepare(d, value, |v| self.expand_pool(v)).map_err(|r| parse_error(d.name, r))?;
                (d.set)(&mut self.global, &value).map_err(|r| parse_error(d.name, r))?;
                self.global.mark(d.name);
            }
            Some(i) => {
                let d = directives::find(name, false).filter(|d| d.name != "[]").ok_or_else(unknown)?;
                let value = prepare(d, value, |v| self.expand_pool(v)).map_err(|r| parse_error(d.name, r))?;
                let pool = &mut self.pools[i];
                (d.set)(pool, &value).map_err(|r| parse_error(d.name, r))?;
                pool.mark(d.name);
            }
        }
        Ok(())
    }

    fn array(&mut self, name: &str, key: &str, value: &str, at: At<'_>) -> Result<(), ConfigError> {
        let error = |reason: String| at.error(reason, Some(name));
        super::pool::check_array_key(name, key, value).map_err(error)?;
        let Some(i) = self.current else {
            return Err(error("Array are not allowed in the global section".to_string()));
        };
        let is_flag = name == "php_flag" || name == "php_admin_flag";
        let value = if is_flag { value.to_string() } else { self.expand_pool(value).map_err(error)? };
        self.pools[i].set_array(name, key, &value).map_err(error)
    }

    fn include(&mut self, pattern: &str, at: At<'_>) -> Result<(), ConfigError> {
        let global_prefix = self.global_prefix.as_deref();
        let pattern = super::full_path(pattern, None, global_prefix, super::DEFAULT_PREFIX);
        let files = match glob::expand(&pattern) {
            Ok(files) => files,
            Err(GlobError::NoMatch) => {
                self.messages.push((
                    Level::Warning,
                    format!(
                        "Nothing matches the include pattern '{pattern}' from {} at line {}.",
                        at.file, at.line
                    ),
                ));
                return Ok(());
            }
            Err(e) => {
                let mut error = at.error(String::new(), Some("include"));
                error.message = format!(
                    "Unable to globalize '{pattern}' (ret={}) from {} at line {}.",
                    e.code(),
                    at.file,
                    at.line
                );
                return Err(error);
            }
        };
        for file in files {
            self.read_file(&file)?;
        }
        Ok(())
    }

    fn finish(mut self, main: &Path) -> Result<FpmConfig, ConfigError> {
        let global_prefix = self.global_prefix.clone();
        let global_prefix = global_prefix.as_deref();
        self.global
            .post_process(global_prefix)
            .map_err(|(level, message)| ConfigError { level, ..plain(Stage::PostProcess, message) })?;
        if self.pools.is_empty() {
            return Err(plain(
                Stage::PostProcess,
                "No pool defined. at least one pool section must be specified in config file".to_string(),
            ));
        }
        let edge_triggered = self.global.effective_events_mechanism().is_edge_triggered();
        let is_dir = |p: &Path| p.is_dir();
        let cx = PoolContext { global_prefix, require_pm: true, edge_triggered, is_dir: &is_dir };
        for pool in &mut self.pools {
            pool.process_control_timeout = self.global.process_control_timeout;
            pool.emergency_restart_threshold = self.global.emergency_restart_threshold;
            pool.emergency_restart_interval = self.global.emergency_restart_interval;
            pool.systemd_interval = self.global.systemd_interval;
            pool.process_max = self.global.process_max;
            let notes = pool.post_process(&cx).map_err(|r| ConfigError {
                level: r.level,
                pool: Some(pool.name.clone()),
                ..plain(Stage::PostProcess, r.message)
            })?;
            self.messages.extend(notes);
        }
        check_listen_addresses(&self.pools)?;
        for pool in &self.pools {
            if pool.access_log.is_none() {
                continue;
            }
            let format = pool.access_format.as_deref().unwrap_or_default();
            if let Err(why) = check_access_format(format) {
                return Err(ConfigError {
                    pool: Some(pool.name.clone()),
                    directive: Some("access.format".to_string()),
                    ..plain(
                        Stage::PostProcess,
                        format!("[pool {}] wrong format for access.format '{format}' ({why})", pool.name),
                    )
                });
            }
        }
        let mut notices = self.global.not_in_effect();
        for pool in &self.pools {
            notices.extend(pool.not_in_effect());
        }
        Ok(FpmConfig {
            main_file: main.to_path_buf(),
            prefix: self.loader.prefix.clone(),
            global: self.global,
            pools: self.pools,
            files: self.files,
            messages: self.messages,
            notices,
        })
    }
}

/// Replaces `$pool` in string directives.
fn prepare<C>(
    d: &Directive<C>,
    value: &str,
    expand: impl Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    match d.kind {
        Kind::Text => expand(value),
        Kind::Typed => Ok(value.to_string()),
    }
}

/// No two pools may listen on the same address; `pm.status_listen` counts as the listen
/// address of a hidden pool `<name>_status` (php-fpm creates it).
fn check_listen_addresses(pools: &[PoolConfig]) -> Result<(), ConfigError> {
    let mut all: Vec<(String, &str)> =
        pools.iter().filter_map(|p| Some((p.name.clone(), p.listen.as_deref()?))).collect();
    all.extend(
        pools.iter().filter_map(|p| Some((format!("{}_status", p.name), p.status_listen.as_deref()?))),
    );
    for (i, (first, address)) in all.iter().enumerate() {
        if let Some((second, _)) =
            all.iter().enumerate().find(|(j, (_, a))| *j != i && a == address).map(|(_, x)| x)
        {
            return Err(ConfigError {
                pool: Some(second.clone()),
                directive: Some("listen".to_string()),
                ..plain(
                    Stage::PostProcess,
                    format!(
                        "[pool {second}] unable to set listen address as it's already used in another pool '{first}'"
                    ),
                )
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dump::dump;
    use crate::config::{ErrorLog, ProcessManager};
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("sfpm-config-{tag}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }

        fn path(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const POOL: &str = "[www]\nlisten = 127.0.0.1:9000\npm = static\npm.max_children = 2\nuser = nobody\n";

    fn test_env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".to_string()),
            "SOCK" => Some("/run/x.sock".to_string()),
            "N" => Some("7".to_string()),
            _ => None,
        }
    }

    fn load_text(text: &str) -> Result<FpmConfig, ConfigError> {
        Loader::new().env(test_env).load_str(text, "/etc/test.conf")
    }

    fn error_of(text: &str) -> String {
        load_text(text).map(|_| ()).unwrap_err().message
    }

    #[test]
    fn a_pool_with_defaults() {
        let c = load_text(POOL).unwrap();
        assert_eq!(c.pools.len(), 1);
        let www = c.pool("www").unwrap();
        assert_eq!(
            (www.listen.as_deref(), www.max_children, www.pm),
            (Some("127.0.0.1:9000"), Some(2), ProcessManager::Static)
        );
        assert_eq!(c.global.error_log, ErrorLog::File(PathBuf::from("/var/log/php-fpm.log")));
        assert_eq!(c.files, [PathBuf::from("/etc/test.conf")]);
        assert_eq!(c.notices, Vec::<String>::new(), "user is in effect");
        c.runnable().unwrap();
    }

    #[test]
    fn errors_name_file_line_and_directive() {
        let cases: &[(&str, &str)] = &[
            ("pm.max_chilren = 5", "[/etc/test.conf:6] unknown entry 'pm.max_chilren'"),
            (
                "pm.max_children = x",
                "[/etc/test.conf:6] unable to parse value for entry 'pm.max_children': is not a valid number (greater or equal than zero)",
            ),
            (
                "request_terminate_timeout = 5x",
                "[/etc/test.conf:6] unable to parse value for entry 'request_terminate_timeout': unknown suffix used in time value",
            ),
            (
                "catch_workers_output = maybe",
                "[/etc/test.conf:6] unable to parse value for entry 'catch_workers_output': invalid boolean value",
            ),
            (
                "user",
                "[/etc/test.conf:6] entry 'user' has no value (php-fpm: value is NULL for a ZEND_INI_PARSER_ENTRY)",
            ),
            ("user = x=y", "[/etc/test.conf:6] syntax error, unexpected '='"),
            ("php_value[] = 1", "[/etc/test.conf:6] You must provide a key for field 'php_value'"),
            ("Php_Value[x] = 1", "[/etc/test.conf:6] unknown directive 'Php_Value'"),
            ("env[X] =", "[/etc/test.conf:6] empty value"),
            (
                "php_flag[x] = maybe",
                "[/etc/test.conf:6] error while parsing 'php_flag[x]' : invalid boolean value",
            ),
            ("process_control_timeout = 1", "[/etc/test.conf:6] unknown entry 'process_control_timeout'"),
            ("name = other", "[/etc/test.conf:6] unknown entry 'name'"),
            ("pm.max_children = 0", "[pool www] pm.max_children must be a positive value"),
            ("pm.status_path = status", "[pool www] the status path 'status' must start with a '/'"),
            (
                "slowlog = \nrequest_slowlog_timeout = 5",
                "[pool www] 'slowlog' must be specified for use with 'request_slowlog_timeout'",
            ),
            (
                "access.log = /tmp/x.log\naccess.format = %Z",
                "[pool www] wrong format for access.format '%Z' (Invalid token in the access.format (%Z))",
            ),
            (
                "[q]\nlisten = 127.0.0.1:9000\npm = static\npm.max_children = 1",
                "[pool q] unable to set listen address as it's already used in another pool 'www'",
            ),
            (
                "pm.status_listen = 127.0.0.1:9000",
                "[pool www_status] unable to set listen address as it's already used in another pool 'www'",
            ),
            ("[global]\nphp_value[x] = 1", "[/etc/test.conf:7] Array are not allowed in the global section"),
            (
                "[global]\npid = /run/$pool.pid",
                "[/etc/test.conf:7] unable to parse value for entry 'pid': Can't use '$pool' when the pool is not defined",
            ),
            ("[global]\nlog_limit = 100", "log_limit must be greater than 512"),
            (
                "[global]\nevents.mechanism = kqueue",
                "event mechanism 'kqueue' is not available on this system",
            ),
            ("[global]\npm = static", "[/etc/test.conf:7] unknown entry 'pm'"),
        ];
        for (extra, message) in cases {
            assert_eq!(error_of(&format!("{POOL}{extra}\n")), *message, "{extra}");
        }
        let e = load_text(&format!("{POOL}pm.max_chilren = 5\n")).unwrap_err();
        assert_eq!(
            (e.file, e.line, e.directive.as_deref()),
            (Some(PathBuf::from("/etc/test.conf")), Some(6), Some("pm.max_chilren"))
        );
        assert_eq!((e.level, e.stage), (Level::Error, Stage::Load));
        let e = load_text(&format!("{POOL}pm.max_children = -1\n")).unwrap_err();
        assert_eq!((e.level, e.stage, e.pool.as_deref()), (Level::Alert, Stage::PostProcess, Some("www")));
        assert_eq!(e.stage.summary(Path::new("/etc/php.conf")), "failed to post process the configuration");
    }

    #[test]
    fn no_pool_is_php_fpm_s_error() {
        let e = load_text("[global]\npid = /run/x.pid\n").unwrap_err();
        assert_eq!(e.message, "No pool defined. at least one pool section must be specified in config file");
        assert!(load_text("").is_err());
        assert_eq!(error_of("pm = static\n"), "[/etc/test.conf:1] unknown entry 'pm'");
    }

    #[test]
    fn sections_reopen_case_insensitively_and_global_is_optional() {
        let c = load_text(&format!("{POOL}[other]\nlisten = 9001\npm = static\npm.max_children = 1\nuser = x\n[WWW]\npm.max_children = 9\n[GLOBAL]\nlog_level = error\n")).unwrap();
        let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["www", "other"]);
        assert_eq!(c.pool("www").unwrap().max_children, Some(9));
        assert_eq!(c.global.log_level, Some(Level::Error));
        assert!(c.runnable().unwrap_err().contains("only one pool"));
    }

    #[test]
    fn pool_name_substitution() {
        let c = load_text("[site]\nlisten = /run/$pool.sock\npm = static\npm.max_children = 1\nslowlog = /var/log/$pool.$pool.slow\nenv[POOL] = $pool\nphp_value[session.name] = \"$pool\"\nphp_flag[x] = on\n").unwrap();
        let site = c.pool("site").unwrap();
        assert_eq!(site.listen.as_deref(), Some("/run/site.sock"));
        assert_eq!(site.slowlog, Some(PathBuf::from("/var/log/site.site.slow")));
        assert_eq!(site.env, [("POOL".to_string(), "site".to_string())]);
        assert_eq!(site.php_values[0], ("session.name".to_string(), "site".to_string(), false));
        assert_eq!(site.php_values[1], ("x".to_string(), "1".to_string(), false));
        // Typed directives take `$pool` literally, like php-fpm.
        assert!(error_of("[site]\npm.max_children = $pool\n").contains("is not a valid number"));
    }

    #[test]
    fn environment_expansion() {
        let c = load_text("[www]\nlisten = ${SOCK}\npm = static\npm.max_children = ${N}\nenv[HOME] = $HOME\nphp_value[session.save_path] = \"${HOME}/sess\"\n").unwrap();
        let www = c.pool("www").unwrap();
        assert_eq!((www.listen.as_deref(), www.max_children), (Some("/run/x.sock"), Some(7)));
        assert_eq!(www.env, [("HOME".to_string(), "$HOME".to_string())], "env[] keeps $VAR for the fork");
        assert_eq!(www.php_values[0].1, "/root/sess");
        assert_eq!(
            error_of(&format!("{POOL}pm.max_children = ${{UNSET}}\n")),
            "[pool www] pm.max_children must be a positive value"
        );
    }

    #[test]
    fn hash_comments_warn() {
        let c = load_text(&format!("# a comment\n{POOL}  # indented\n")).unwrap();
        assert_eq!(c.messages.len(), 2);
        assert!(c.messages[0].1.starts_with("[/etc/test.conf:1] '#' comments are not php-fpm syntax"));
        assert_eq!(c.messages[1].0, Level::Warning);
    }

    #[test]
    fn includes_in_sorted_order_carry_the_section() {
        let t = TempDir::new("include");
        t.write("pool.d/b.conf", "[b]\nlisten = 9002\npm = static\npm.max_children = 1\n");
        t.write(
            "pool.d/a.conf",
            "pm.max_requests = 5\n[a]\nlisten = 9001\npm = static\npm.max_children = 1\n",
        );
        t.write("pool.d/c.conf.disabled", "garbage\n");
        t.write("pool.d/sub.conf/x", "garbage\n");
        let main = t.write(
            "main.conf",
            &format!("{POOL}include = {}/pool.d/*.conf\npm.max_children = 4\nbogus = 1\n", t.path()),
        );
        let e = load(&main, None).unwrap_err();
        assert_eq!(
            e.message,
            format!("[{}:8] unknown entry 'bogus'", main.display()),
            "own line numbers after an include"
        );
        let main = t.write(
            "main.conf",
            &format!("{POOL}include = {}/pool.d/*.conf\npm.max_children = 4\n", t.path()),
        );
        let c = load(&main, None).unwrap();
        let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["www", "a", "b"]);
        assert_eq!(c.pool("www").unwrap().max_requests, 5, "a.conf continues the includer's pool");
        assert_eq!(
            c.pool("b").unwrap().max_children,
            Some(4),
            "the includer continues the last included pool"
        );
        assert_eq!(c.files.len(), 3);
    }

    #[test]
    fn include_patterns_relative_missing_and_broken() {
        let t = TempDir::new("include-rel");
        t.write("etc/pools/www.conf", POOL);
        let main = t.write("etc/main.conf", "include = etc/pools/*.conf\n");
        let c = load(&main, Some(&t.0)).unwrap();
        assert_eq!(c.pools.len(), 1, "relative to -p");

        let main = t.write("etc/main.conf", &format!("include = {}/none*.conf\n{POOL}", t.path()));
        let c = load(&main, None).unwrap();
        assert_eq!(
            c.messages,
            [(
                Level::Warning,
                format!(
                    "Nothing matches the include pattern '{}/none*.conf' from {} at line 1.",
                    t.path(),
                    main.display()
                )
            )]
        );

        let main = t.write("etc/main.conf", &format!("{POOL}include = {}/nodir/*.conf\n", t.path()));
        let e = load(&main, None).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "Unable to globalize '{}/nodir/*.conf' (ret=2) from {} at line 6.",
                t.path(),
                main.display()
            )
        );

        let e = load(Path::new(&format!("{}/missing.conf", t.path())), None).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "failed to open configuration file '{}/missing.conf': No such file or directory (2)",
                t.path()
            )
        );

        let e = Loader::new().prefix(Some(&t.0.join("nope"))).load(&main).unwrap_err();
        assert!(
            e.message.starts_with("the global prefix '")
                && e.message.ends_with("' does not exist or is not a directory")
        );
    }

    #[test]
    fn includes_nest_at_most_five_deep() {
        let t = TempDir::new("nest");
        for i in 1..=5 {
            t.write(&format!("{i}.conf"), &format!("include = {}/{}.conf\n", t.path(), i + 1));
        }
        t.write("6.conf", POOL);
        let e = load(&t.0.join("1.conf"), None).unwrap_err();
        assert_eq!(e.message, "failed to include more than 5 files recursively");
        let c = load(&t.0.join("2.conf"), None).unwrap();
        assert_eq!(c.files.len(), 5);
    }

    /// php-fpm's `-tt` dump of `fixture`, without time stamps, levels, and the final
    /// success line.
    fn expected_dump(fixture: &str) -> Vec<String> {
        fixture
            .lines()
            .map(|l| l.strip_prefix("NOTICE: ").unwrap_or(l).to_string())
            .take_while(|l| !l.starts_with("configuration file "))
            .collect()
    }

    #[test]
    fn dump_matches_php_fpm_for_every_directive() {
        let c = Loader::new()
            .env(test_env)
            .load_str(include_str!("../../tests/config/full.conf"), "full.conf")
            .unwrap();
        assert_eq!(dump(&c), expected_dump(include_str!("../../tests/config/full.tt")));
    }

    #[test]
    fn debian_stock_configuration() {
        let path = Path::new("/etc/php/8.2/fpm/php-fpm.conf");
        if !path.exists() {
            eprintln!("skipped: {} is not installed", path.display());
            return;
        }
        let c = load(path, None).unwrap();
        let www = c.pool("www").unwrap();
        assert_eq!(www.listen.as_deref(), Some("/run/php/php8.2-fpm.sock"));
        assert_eq!(www.pm, ProcessManager::Dynamic);
        assert_eq!(www.max_children, Some(5));
        assert_eq!((www.start_servers, www.min_spare_servers, www.max_spare_servers), (2, 1, 3));
        assert_eq!((www.user.as_deref(), www.group.as_deref()), (Some("www-data"), Some("www-data")));
        assert_eq!(
            (www.listen_owner.as_deref(), www.listen_group.as_deref()),
            (Some("www-data"), Some("www-data"))
        );
        assert_eq!(c.global.pid, Some(PathBuf::from("/run/php/php8.2-fpm.pid")));
        assert_eq!(c.global.error_log, ErrorLog::File(PathBuf::from("/var/log/php8.2-fpm.log")));
        assert_eq!(c.global.process_control_timeout, Duration::ZERO);
        assert!(c.files.len() >= 2, "pool.d/www.conf was included");
        c.runnable().unwrap();
        if fs::read_to_string("/etc/php/8.2/fpm/pool.d/www.conf")
            .is_ok_and(|t| t.contains("pm.max_children = 5"))
        {
            assert_eq!(dump(&c), expected_dump(include_str!("../../tests/config/debian.tt")));
        }
    }

    #[test]
    fn no_panic_on_arbitrary_input() {
        // A deterministic sweep of short inputs over the characters the syntax cares about.
        let alphabet: &[&str] = &[
            "[",
            "]",
            "=",
            "\"",
            "'",
            "$",
            "{",
            "}",
            "${",
            ";",
            "\\",
            "|",
            "&",
            "~",
            "!",
            "(",
            ")",
            " ",
            "\n",
            "\r",
            "\0",
            "a",
            "yes",
            "E_ALL",
            "include",
            "php_value[",
            "env[x]",
            "$pool",
            "1",
            "-",
            "#",
            "é",
        ];
        let mut seed: u64 = 0x5eed;
        for _ in 0..4000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = seed;
            for _ in 0..(s % 24) {
                text.push_str(alphabet[(s % alphabet.len() as u64) as usize]);
                s = s.rotate_left(5).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
            let _ = load_text(&text);
            let _ = load_text(&format!("{POOL}{text}"));
        }
    }
}
