//! The PHP SAPI shim (`sapi/`), seen from Rust: its functions, declared by bindgen from
//! `sapi/sfpm_sapi.h`, and safe wrappers. Only built with the `php` feature.

#![allow(dead_code, non_upper_case_globals)]

use std::ffi::CString;

include!(concat!(env!("OUT_DIR"), "/sfpm_sapi.rs"));

/// How PHP is started: php-fpm's `-c`, `-n`, `-d`.
#[derive(Debug, Default, Clone)]
pub struct PhpOptions {
    /// php.ini file or directory (`-c`).
    pub ini_path: Option<String>,
    /// Ignore php.ini (`-n`).
    pub ini_ignore: bool,
    /// `-d name=value` settings, in order.
    pub defines: Vec<String>,
    /// The directory of additional .ini files when `PHP_INI_SCAN_DIR` is not set.
    pub scan_dir: Option<String>,
}

/// The C view of [`PhpOptions`], with the strings it points to.
struct COptions {
    raw: sfpm_sapi_options,
    _strings: Vec<CString>,
}

impl COptions {
    fn new(options: &PhpOptions) -> Option<COptions> {
        let ini_path = options.ini_path.as_deref().map(CString::new).transpose().ok()?;
        let scan_dir = options.scan_dir.as_deref().map(CString::new).transpose().ok()?;
        let entries = (!options.defines.is_empty())
            .then(|| CString::new(options.defines.iter().map(|d| define_line(d)).collect::<String>()))
            .transpose()
            .ok()?;
        let raw = sfpm_sapi_options {
            ini_path: ini_path.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            ini_ignore: options.ini_ignore,
            ini_entries: entries.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            scan_dir: scan_dir.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
        };
        Some(COptions { raw, _strings: ini_path.into_iter().chain(entries).chain(scan_dir).collect() })
    }
}

/// `-d foo` means `foo=1`, as PHP's command line; `-d foo=bar` is used as is.
fn define_line(define: &str) -> String {
    if define.contains('=') { format!("{define}\n") } else { format!("{define}=1\n") }
}

/// What `print` shows.
#[derive(Debug, Clone, Copy)]
pub enum PhpPrint {
    /// `-i`: phpinfo() as text.
    Info,
    /// `-m`: loaded modules.
    Modules,
    /// `-v`: the version.
    Version,
}

/// Starts PHP, prints what is asked, shuts PHP down. False when PHP failed to start.
pub fn print(what: PhpPrint, options: &PhpOptions) -> bool {
    let Some(c) = COptions::new(options) else { return false };
    let what = match what {
        PhpPrint::Info => SFPM_SAPI_PRINT_INFO,
        PhpPrint::Modules => SFPM_SAPI_PRINT_MODULES,
        PhpPrint::Version => SFPM_SAPI_PRINT_VERSION,
    };
    // SAFETY: `c.raw` and the strings it points to live across the call; the shim keeps
    // no pointer to them after it returns (it copies ini entries).
    unsafe { sfpm_sapi_print(what, &c.raw) == 0 }
}

/// Runs the pool with PHP as its handler until the server stops.
pub fn run(config: crate::config::PoolConfig, options: &PhpOptions) -> Result<(), crate::master::RunError> {
    let c = COptions::new(options)
        .ok_or_else(|| crate::master::RunError::Config("a PHP option contains a NUL byte".into()))?;
    let mut handler = std::mem::MaybeUninit::<sfpm_handler>::zeroed();
    // SAFETY: the shim fills every field of the handler; `c.raw` outlives the server run
    // below, which is all the handler's userdata needs.
    let handler = unsafe {
        sfpm_sapi_handler(&c.raw, handler.as_mut_ptr());
        handler.assume_init()
    };
    super::server::run_c_handler(config, handler)
}
