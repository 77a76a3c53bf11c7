//! php-fpm's command line: `sfpm [-n] [-e] [-h] [-i] [-m] [-v] [-t] [-p <prefix>]
//! [-g <pid>] [-c <file>] [-d foo[=bar]] [-y <file>] [-D] [-F [-O]] [-R]`.
//!
//! Parsing is pure ([`parse`]); [`main`] acts on the result.

use crate::ffi::main::{Interpreter, sfpm_print};
use std::ffi::OsString;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the server (the default).
    Run,
    /// `-t`/`-tt`: test the configuration (twice: also print it).
    Test(u8),
    /// `-i`: PHP information.
    Info,
    /// `-m`: compiled-in modules.
    Modules,
    /// `-v`: version.
    Version,
    /// `-h`: usage.
    Help,
}

/// Parsed options, named as php-fpm's long options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `-c`, `--php-ini`: php.ini file or directory.
    pub php_ini: Option<String>,
    /// `-n`, `--no-php-ini`.
    pub no_php_ini: bool,
    /// `-d`, `--define`: `foo[=bar]`, in order.
    pub defines: Vec<String>,
    /// `-e`, `--profile-info`: accepted for compatibility.
    pub extended_info: bool,
    /// `-p`, `--prefix`.
    pub prefix: Option<PathBuf>,
    /// `-g`, `--pid`.
    pub pid: Option<PathBuf>,
    /// `-y`, `--fpm-config`.
    pub fpm_config: Option<PathBuf>,
    /// `-D` (true) / `-F` (false): override `daemonize`.
    pub daemonize: Option<bool>,
    /// `-O`, `--force-stderr`.
    pub force_stderr: bool,
    /// `-R`, `--allow-to-run-as-root`.
    pub allow_root: bool,
    /// What to do.
    pub action: Option<Action>,
}

impl Options {
    /// The action, `Run` unless a flag asked for another.
    pub fn action(&self) -> Action {
        self.action.clone().unwrap_or(Action::Run)
    }
}

/// The usage text, as php-fpm prints it (with sfpm's name).
pub fn usage(program: &str) -> String {
    format!(
        "Usage: {program} [-n] [-e] [-h] [-i] [-m] [-v] [-t] [-p <prefix>] [-g <pid>] [-c <file>] [-d foo[=bar]] [-y <file>] [-D] [-F [-O]]\n\
  -c <path>|<file> Look for php.ini file in this directory\n\
  -n               No php.ini file will be used\n\
  -d foo[=bar]     Define INI entry foo with value 'bar'\n\
  -e               Generate extended information for debugger/profiler\n\
  -h               This help\n\
  -i               PHP information\n\
  -m               Show compiled in modules\n\
  -v               Version number\n\
  -p, --prefix <dir>\n\
                   Specify alternative prefix path to FastCGI process manager (default: /usr).\n\
  -g, --pid <file>\n\
                   Specify the PID file location.\n\
  -y, --fpm-config <file>\n\
                   Specify alternative path to FastCGI process manager config file.\n\
  -t, --test       Test FPM configuration and exit\n\
  -D, --daemonize  force to run in background, and ignore daemonize option from config file\n\
  -F, --nodaemonize\n\
                   force to stay in foreground, and ignore daemonize option from config file\n\
  -O, --force-stderr\n\
                   force output to stderr in nodaemonize even if stderr is not a TTY\n\
  -R, --allow-to-run-as-root\n\
                   Allow pool to run as root (disabled by default)\n"
    )
}

/// Parses arguments (without the program name). Short options take their value glued
/// (`-cphp.ini`) or as the next argument; long options as `--name value` or `--name=value`.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (flag, glued) = match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((name, value)) => (long_to_short(name)?, Some(value.to_string())),
                None => (long_to_short(long)?, None),
            },
            None => {
                match arg.strip_prefix('-').and_then(|s| s.chars().next().map(|c| (c, &s[c.len_utf8()..]))) {
                    Some((c, rest)) => (c, (!rest.is_empty()).then(|| rest.to_string())),
                    None => return Err(format!("unexpected argument '{arg}'")),
                }
            }
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = glued.clone() {
                return Ok(v);
            }
            let v = args.get(i).cloned().ok_or_else(|| format!("option -{flag} needs a value"))?;
            i += 1;
            Ok(v)
        };
        match flag {
            'c' => o.php_ini = Some(value()?),
            'n' => o.no_php_ini = true,
            'd' => o.defines.push(value()?),
            'e' => o.extended_info = true,
            'p' => o.prefix = Some(value()?.into()),
            'g' => o.pid = Some(value()?.into()),
            'y' => o.fpm_config = Some(value()?.into()),
            'D' => o.daemonize = Some(true),
            'F' => o.daemonize = Some(false),
            'O' => o.force_stderr = true,
            'R' => o.allow_root = true,
            't' => {
                let n = match &o.action {
                    Some(Action::Test(n)) => n + 1,
                    _ => 1,
                };
                // "-tt" arrives as -t with "t" glued.
                o.action = Some(Action::Test(if glued.as_deref() == Some("t") { 2 } else { n }));
            }
            'i' => o.action = Some(Action::Info),
            'm' => o.action = Some(Action::Modules),
            'v' => o.action = Some(Action::Version),
            'h' | '?' => o.action = Some(Action::Help),
            other => return Err(format!("unknown option -{other}")),
        }
    }
    Ok(o)
}

fn long_to_short(name: &str) -> Result<char, String> {
    Ok(match name {
        "php-ini" => 'c',
        "no-php-ini" => 'n',
        "define" => 'd',
        "profile-info" => 'e',
        "help" => 'h',
        "info" => 'i',
        "modules" => 'm',
        "version" => 'v',
        "prefix" => 'p',
        "pid" => 'g',
        "fpm-config" => 'y',
        "test" => 't',
        "daemonize" => 'D',
        "nodaemonize" => 'F',
        "force-stderr" => 'O',
        "allow-to-run-as-root" => 'R',
        _ => return Err(format!("unknown option --{name}")),
    })
}

/// How the interpreter is started: php-fpm's `-c`, `-n`, `-d`, plus the pool's settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InterpreterOptions {
    /// php.ini file or directory.
    pub ini_path: Option<String>,
    /// Ignore php.ini (`-n`).
    pub ini_ignore: bool,
    /// `-d name=value` settings, then the pool's `php_value[]`-style ones, in order.
    pub defines: Vec<String>,
    /// The directory of additional .ini files when `PHP_INI_SCAN_DIR` is not set.
    pub scan_dir: Option<String>,
    /// The pool's `php_admin_value[]`/`php_admin_flag[]` as `name=value`: applied after
    /// start-up and locked, so scripts cannot change them with `ini_set()`.
    pub admin_defines: Vec<String>,
}

/// Runs the command line of the `sfpm` binary, with PHP (the `php` feature) as the
/// interpreter; returns the process exit code.
#[cfg(feature = "php")]
pub fn main(args: Vec<OsString>) -> i32 {
    main_with(args, &crate::ffi::sapi::php(), Some(FPM_INI_DIR))
}

/// Runs the command line with `interpreter` running the requests; returns php-fpm's exit
/// codes: 0 ok, 64 usage, 78 configuration, 70 software. `ini_dir`: where php.ini and
/// `conf.d` are looked for by default (the cargo build on Debian: php-fpm's); `None`
/// leaves the interpreter's own default (a php-src build's `--with-config-file-path`).
pub(crate) fn main_with(args: Vec<OsString>, interpreter: &Interpreter, ini_dir: Option<&str>) -> i32 {
    let program = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_else(|| "sfpm".into());
    let all_args = args.clone();
    let args: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            print!("{}", usage(&program));
            return 64;
        }
    };
    let php = interpreter_options(&options, &[], ini_dir);
    let print = |what| if interpreter.print(what, &php) { 0 } else { 70 };
    match options.action() {
        Action::Help => {
            print!("{}", usage(&program));
            0
        }
        Action::Info => print(sfpm_print::SFPM_PRINT_INFO),
        Action::Modules => print(sfpm_print::SFPM_PRINT_MODULES),
        Action::Version => print(sfpm_print::SFPM_PRINT_VERSION),
        Action::Test(_) | Action::Run => serve(&options, interpreter, ini_dir, &all_args),
    }
}

/// php-fpm's default configuration file on Debian 12.
pub const DEFAULT_CONFIG: &str = "/etc/php/8.2/fpm/php-fpm.conf";

/// Where Debian's php-fpm8.2 reads php.ini and its `conf.d`; sfpm reads them too when
/// they exist, so replacing php-fpm keeps its PHP settings (libphp's own default is the
/// embed SAPI's `/etc/php/8.2/embed`).
pub const FPM_INI_DIR: &str = "/etc/php/8.2/fpm";

/// The PHP start-up options: `-c`, `-n`, `-d`, then the pool's `php_value[]`-style
/// settings (applied once at start-up: with one pool they are the pool's). Without `-c`
/// or `PHPRC`, php-fpm's php.ini directory; without `PHP_INI_SCAN_DIR`, its `conf.d`.
fn interpreter_options(
    options: &Options,
    pool_values: &[(String, String, bool)],
    ini_dir: Option<&str>,
) -> InterpreterOptions {
    let mut defines = options.defines.clone();
    let line = |(name, value, _): &(String, String, bool)| format!("{name}={value}");
    defines.extend(pool_values.iter().filter(|v| !v.2).map(line));
    let admin_defines = pool_values.iter().filter(|v| v.2).map(line).collect();
    // An override path is loaded even with -n (PHP's rule), so the default is only
    // offered when php.ini is wanted.
    let dir = ini_dir.map(std::path::Path::new);
    let ini_path = options.php_ini.clone().or_else(|| {
        let wanted = !options.no_php_ini && std::env::var_os("PHPRC").is_none();
        dir.filter(|d| wanted && d.join("php.ini").is_file()).map(|d| d.display().to_string())
    });
    let scan_dir = dir.map(|d| d.join("conf.d")).filter(|d| d.is_dir()).map(|d| d.display().to_string());
    InterpreterOptions { ini_path, ini_ignore: options.no_php_ini, defines, scan_dir, admin_defines }
}

/// Loads the configuration and runs (or tests) it: php-fpm's `fpm_init` then `fpm_run`.
/// `args`: the whole command line, for a reload's re-execution.
fn serve(options: &Options, interpreter: &Interpreter, ini_dir: Option<&str>, args: &[OsString]) -> i32 {
    use crate::config;
    use crate::log::{self, Level};
    let path = options.fpm_config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let failed = |e: &config::ConfigError| {
        log::write(e.level, format_args!("{}", e.message));
        log::write(Level::Error, format_args!("{}", e.stage.summary(&path)));
        log::write(Level::Error, format_args!("FPM initialization failed"));
        78
    };
    let mut config = match config::load(&path, options.prefix.as_deref()) {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    if let Some(level) = config.global.log_level {
        log::set_level(level);
    }
    log::set_limit(config.global.log_limit as usize);
    if crate::sys::geteuid() == 0 && !options.allow_root {
        if let Err(e) = config.require_users() {
            return failed(&e);
        }
    }
    if let Action::Test(n) = options.action() {
        for (level, line) in config::test_report(&config, n >= 2) {
            log::write(level, format_args!("{line}"));
        }
        log::write(Level::Notice, format_args!("configuration file {} test is successful", path.display()));
        return 0;
    }
    for (level, line) in &config.messages {
        log::write(*level, format_args!("{line}"));
    }
    for line in &config.notices {
        log::write(Level::Notice, format_args!("{line}"));
    }
    if let Err(e) = config.runnable() {
        log::write(Level::Error, format_args!("{e}"));
        log::write(Level::Error, format_args!("FPM initialization failed"));
        return 78;
    }
    let pool = config.pools.remove(0);
    let php = interpreter_options(options, &pool.php_values, ini_dir);
    if let Err(e) = start_up(options, &config.global) {
        log::write(Level::Error, format_args!("{e}"));
        log::write(Level::Error, format_args!("FPM initialization failed"));
        return 78;
    }
    let pid_file = options.pid.clone().or_else(|| config.global.pid.clone());
    if let Some(path) = &pid_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", crate::sys::getpid())) {
            log::write(
                Level::Error,
                format_args!("Unable to create the PID file ({}).: {e}", path.display()),
            );
            return 78;
        }
    }
    let code = match interpreter.run(pool, &php, true) {
        Ok(crate::master::Stopped::Exit) => 0,
        Ok(crate::master::Stopped::Reload { listener, key }) => {
            // php-fpm's reload: the same program and arguments, the socket kept open.
            let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
            let e = crate::sys::exec_with_socket(
                &program,
                args,
                &key,
                std::os::fd::AsRawFd::as_raw_fd(&listener),
            );
            log::write(Level::Alert, format_args!("reloading: execv({}) failed: {e}", program.display()));
            70
        }
        Err(e) => {
            log::write(Level::Error, format_args!("{e}"));
            log::write(Level::Error, format_args!("FPM initialization failed"));
            if matches!(e, crate::master::RunError::Config(_)) { 78 } else { 70 }
        }
    };
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// Where the master's log goes, and whether it goes to the background, as php-fpm
/// decides: `daemonize` (or `-D`/`-F`); the `error_log` file when daemonized or when
/// standard error is not a terminal, unless `-O`. One difference: without an explicit
/// `error_log`, sfpm keeps logging to standard error (containers and tests read it there)
/// instead of php-fpm's default `/var/log/php-fpm.log`.
fn start_up(options: &Options, global: &crate::config::GlobalConfig) -> Result<(), String> {
    use crate::config::ErrorLog;
    // A reloaded image (FPM_SOCKETS set) is the same daemon already: it does not fork again.
    let reloaded = std::env::var_os("FPM_SOCKETS").is_some();
    let daemonize = options.daemonize.unwrap_or(global.daemonize) && !reloaded;
    let to_file = daemonize || (!options.force_stderr && !crate::sys::stderr_is_tty());
    if to_file && global.explicit.contains(&"error_log") {
        match &global.error_log {
            ErrorLog::File(path) => crate::log::use_file(path)
                .map_err(|e| format!("failed to open error_log ({}): {e}", path.display()))?,
            ErrorLog::Syslog => {
                crate::log!(Notice, "error_log = syslog is not supported yet; logging to standard error")
            }
        }
    }
    if daemonize {
        crate::sys::daemonize(78).map_err(|e| format!("failed to daemonize: {e}"))?;
    }
    crate::worker::ProcessLimits::new(
        String::new(),
        global.process_priority,
        global.rlimit_files,
        global.rlimit_core,
    )
    .apply()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn php_fpm_flags() {
        let o = parse(&args("-y /etc/fpm.conf -c /etc/php.ini -d a=1 -dmemory_limit=1G -F -O -R -p /usr"))
            .unwrap();
        assert_eq!(o.fpm_config, Some("/etc/fpm.conf".into()));
        assert_eq!(o.php_ini.as_deref(), Some("/etc/php.ini"));
        assert_eq!(o.defines, vec!["a=1", "memory_limit=1G"]);
        assert_eq!((o.daemonize, o.force_stderr, o.allow_root), (Some(false), true, true));
        assert_eq!(o.action(), Action::Run);
        assert_eq!(parse(&args("--fpm-config=/x --nodaemonize")).unwrap().fpm_config, Some("/x".into()));
        assert_eq!(parse(&args("-t")).unwrap().action(), Action::Test(1));
        assert_eq!(parse(&args("-tt")).unwrap().action(), Action::Test(2));
        assert_eq!(parse(&args("-t -t")).unwrap().action(), Action::Test(2));
        assert_eq!(parse(&args("-v")).unwrap().action(), Action::Version);
    }

    #[test]
    fn bad_arguments_are_named() {
        assert_eq!(parse(&args("-y")), Err("option -y needs a value".to_string()));
        assert_eq!(parse(&args("-Z")), Err("unknown option -Z".to_string()));
        assert_eq!(parse(&args("--nope")), Err("unknown option --nope".to_string()));
        assert_eq!(parse(&args("stray")), Err("unexpected argument 'stray'".to_string()));
    }
}
