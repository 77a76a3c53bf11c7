//! Configuration: php-fpm.conf files in, typed pools and `[global]` out, read and checked
//! the way php-fpm 8.2 does it, so a php-fpm configuration loads unchanged.
//!
//! The path from a file to a running pool:
//!
//! 1. [`syntax`] turns each line into statements (PHP's INI syntax, one line at a time);
//! 2. [`load`](mod@load) follows sections and `include`s, replaces `$pool`, and hands each
//!    `key = value` to its row in [`DIRECTIVES`] (pools) or [`GLOBAL_DIRECTIVES`];
//! 3. [`values`] parses the value into its typed field; parsers return a short reason and
//!    the loader adds file, line and directive (`[www.conf:12] unable to parse value for
//!    entry 'pm.max_children': …`);
//! 4. after the last file, php-fpm's checks run (`PoolConfig::post_process`, global ones):
//!    required directives, bounds, prefixes and relative paths;
//! 5. [`dump`](mod@dump) prints the result as `php-fpm -tt` does.
//!
//! A pool can also be built key by key ([`PoolConfig::set`]), as the C ABI's
//! `sfpm_config_set` does; [`PoolConfig::validate`] runs the same checks.
//!
//! Directives that load but that sfpm does not act on yet are listed in
//! [`FpmConfig::notices`], so nothing silently does nothing.

pub mod directives;
pub mod dump;
mod glob;
pub mod global;
pub mod load;
pub mod pool;
pub mod syntax;
pub mod values;

pub use directives::{DIRECTIVES, Directive, Kind, Status};
pub use dump::{dump, test_report};
pub use global::{ErrorLog, EventsMechanism, GLOBAL_DIRECTIVES, GlobalConfig, SyslogFacility};
pub use load::{Loader, load, load_str};
pub use pool::{ListenProtocol, PoolConfig, ProcessManager};
pub use values::{CoreLimit, parse_bool, parse_duration};

use crate::log::Level;
use std::fmt;
use std::path::{Path, PathBuf};

/// Base of relative paths when there is no `-p` prefix: php-fpm's `PHP_PREFIX` on Debian.
pub const DEFAULT_PREFIX: &str = "/usr";

/// Base of relative `pid` and `error_log` without `-p`: `PHP_LOCALSTATEDIR` on Debian.
pub const LOCALSTATEDIR: &str = "/var";

/// A loaded configuration: `[global]` and the pools, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct FpmConfig {
    /// The main file, as given.
    pub main_file: PathBuf,
    /// The `-p` prefix, if given.
    pub prefix: Option<PathBuf>,
    /// The `[global]` section (defaults if the files have none).
    pub global: GlobalConfig,
    /// The pools, in the order their sections first appear.
    pub pools: Vec<PoolConfig>,
    /// Every file read, main file first, in reading order.
    pub files: Vec<PathBuf>,
    /// What php-fpm logs while loading a valid configuration (include patterns matching
    /// nothing, computed `pm.start_servers`, …) and sfpm's warnings about php-fpm
    /// compatibility, in order.
    pub messages: Vec<(Level, String)>,
    /// Directives accepted but not acted on yet, one line each:
    /// `[pool www] 'pm.status_path' is accepted but not yet in effect`.
    pub notices: Vec<String>,
}

impl FpmConfig {
    /// The pool called `name` (exactly).
    pub fn pool(&self, name: &str) -> Option<&PoolConfig> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// What the master cannot run yet, as an error: every pool must be
    /// [`PoolConfig::runnable`], and the master runs one pool.
    pub fn runnable(&self) -> Result<(), String> {
        for pool in &self.pools {
            pool.runnable()?;
        }
        if self.pools.len() > 1 {
            return Err(format!("{} pools are defined; only one pool is supported so far", self.pools.len()));
        }
        Ok(())
    }

    /// php-fpm's check for a master running as root without `-R`: every pool names a
    /// `user` (`[pool www] user has not been defined`, an ALERT).
    pub fn require_users(&self) -> Result<(), ConfigError> {
        match self.pools.iter().find(|p| p.user.is_none()) {
            None => Ok(()),
            Some(p) => Err(ConfigError {
                level: Level::Alert,
                stage: Stage::PostProcess,
                file: None,
                line: None,
                pool: Some(p.name.clone()),
                directive: Some("user".to_string()),
                message: format!("[pool {}] user has not been defined", p.name),
            }),
        }
    }
}

/// When a configuration error was found, which decides php-fpm's follow-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// While reading files: `failed to load configuration file '…'`.
    Load,
    /// In the checks after reading: `failed to post process the configuration`.
    PostProcess,
}

impl Stage {
    /// The line php-fpm logs (at ERROR) after the error itself.
    pub fn summary(self, main_file: &Path) -> String {
        match self {
            Stage::Load => format!("failed to load configuration file '{}'", main_file.display()),
            Stage::PostProcess => "failed to post process the configuration".to_string(),
        }
    }
}

/// A configuration php-fpm would refuse. `message` is the line php-fpm logs, with where
/// the problem is: `[/etc/php/8.2/fpm/pool.d/www.conf:12] unknown entry
/// 'pm.max_chilren'`, `[pool www] pm.max_children must be a positive value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// php-fpm's level for it: `Error`, or `Alert` for missing essentials.
    pub level: Level,
    /// When it was found.
    pub stage: Stage,
    /// The file, for errors found while reading one.
    pub file: Option<PathBuf>,
    /// The 1-based line in `file`.
    pub line: Option<usize>,
    /// The pool concerned, if any.
    pub pool: Option<String>,
    /// The directive concerned, if any.
    pub directive: Option<String>,
    /// The complete message.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// php-fpm's `fpm_evaluate_full_path` without `$prefix`: an absolute `path` stays; a
/// relative one is put under the pool prefix, else the `-p` prefix, else `default`, by
/// plain concatenation (so `-p /` gives `//log/…`, as in php-fpm).
pub(crate) fn full_path(
    path: &str,
    pool_prefix: Option<&str>,
    global_prefix: Option<&str>,
    default: &str,
) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let prefix = pool_prefix.or(global_prefix).unwrap_or(default);
    let full = format!("{prefix}/{path}");
    if !full.starts_with('/') && pool_prefix.is_some() {
        return full_path(&full, None, global_prefix, default);
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_path_prefers_pool_then_global_then_default() {
        assert_eq!(full_path("/abs", Some("/p"), Some("/g"), "/usr"), "/abs");
        assert_eq!(full_path("rel", Some("/p"), Some("/g"), "/usr"), "/p/rel");
        assert_eq!(full_path("rel", None, Some("/g"), "/usr"), "/g/rel");
        assert_eq!(full_path("rel", None, None, "/usr"), "/usr/rel");
        assert_eq!(full_path("log/x", None, Some("/"), "/var"), "//log/x");
        assert_eq!(full_path("rel", Some("p"), Some("/g"), "/usr"), "/g/p/rel");
    }
}
