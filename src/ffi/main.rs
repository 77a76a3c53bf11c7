//! `sfpm_main`: php-fpm's command line for a C main. The interpreter that runs the
//! requests (the PHP SAPI in `sapi/`) is passed in as an [`sfpm_interpreter`], so the same
//! command line serves the cargo-built `sfpm` binary and a php-src build of the SAPI,
//! whose `main()` is one line around this function.

use super::handle;
use super::server::{self, sfpm_handler};
use crate::master::RunError;
use std::ffi::{CStr, CString, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

/// How an interpreter is started: php-fpm's `-c`, `-n`, `-d`, and the pool's
/// `php_value[]`-style settings. Strings are NUL-terminated, owned by sfpm, and valid
/// while `sfpm_main()` runs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_interpreter_options {
    /// php.ini file or directory (`-c`, else php-fpm's default when it exists), or NULL.
    pub ini_path: *const c_char,
    /// Ignore php.ini (`-n`).
    pub ini_ignore: bool,
    /// `name=value` lines applied after php.ini (`-d`, then the pool's), or NULL.
    pub ini_entries: *const c_char,
    /// Directory of additional .ini files when `PHP_INI_SCAN_DIR` is not set, or NULL.
    pub scan_dir: *const c_char,
    /// `name=value` lines to apply after start-up and lock against change by scripts
    /// (the pool's `php_admin_value[]`, `php_admin_flag[]`), or NULL.
    pub admin_entries: *const c_char,
}

/// What `sfpm_interpreter.print` prints.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sfpm_print {
    /// `-i`: the interpreter's information page as text.
    SFPM_PRINT_INFO = 1,
    /// `-m`: its modules.
    SFPM_PRINT_MODULES = 2,
    /// `-v`: its version.
    SFPM_PRINT_VERSION = 3,
}

/// The interpreter behind `sfpm_main()`. Zero the struct before filling it.
///
/// `handler` fills `*out` with the callbacks that run requests, started with `options`;
/// `print` starts the interpreter, prints what `what` (an `sfpm_print` value) asks on
/// standard output, stops it, and returns 0 on success.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_interpreter {
    /// Must be `SFPM_ABI_VERSION`.
    pub abi_version: u32,
    /// Fills a handler; required.
    pub handler:
        Option<unsafe extern "C" fn(options: *const sfpm_interpreter_options, out: *mut sfpm_handler)>,
    /// Prints `-i`, `-m`, `-v`; required.
    pub print: Option<unsafe extern "C" fn(what: u32, options: *const sfpm_interpreter_options) -> c_int>,
}

/// The C options of an interpreter start-up, with the strings they point to.
pub(crate) struct COptions {
    pub(crate) raw: sfpm_interpreter_options,
    _strings: Vec<CString>,
}

impl COptions {
    /// `None` when a string holds a NUL byte.
    pub(crate) fn new(options: &crate::cli::InterpreterOptions) -> Option<COptions> {
        let c = |s: &Option<String>| s.as_deref().map(CString::new).transpose().ok();
        let ini_path = c(&options.ini_path)?;
        let scan_dir = c(&options.scan_dir)?;
        let lines: String = options.defines.iter().map(|d| define_line(d)).collect();
        let entries = c(&(!lines.is_empty()).then_some(lines))?;
        let admin: String = options.admin_defines.iter().map(|d| define_line(d)).collect();
        let admin = c(&(!admin.is_empty()).then_some(admin))?;
        let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        let raw = sfpm_interpreter_options {
            ini_path: ptr(&ini_path),
            ini_ignore: options.ini_ignore,
            ini_entries: ptr(&entries),
            scan_dir: ptr(&scan_dir),
            admin_entries: ptr(&admin),
        };
        Some(COptions { raw, _strings: [ini_path, entries, scan_dir, admin].into_iter().flatten().collect() })
    }
}

/// `-d foo` means `foo=1`, as PHP's command line; `-d foo=bar` is used as is.
fn define_line(define: &str) -> String {
    if define.contains('=') { format!("{define}\n") } else { format!("{define}=1\n") }
}

/// An [`sfpm_interpreter`] checked for use from Rust.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interpreter(sfpm_interpreter);

impl Interpreter {
    /// `None` unless both callbacks are set and the ABI version matches.
    pub(crate) fn new(c: sfpm_interpreter) -> Option<Interpreter> {
        (c.abi_version == super::version::SFPM_ABI_VERSION && c.handler.is_some() && c.print.is_some())
            .then_some(Interpreter(c))
    }

    /// Prints `-i`, `-m` or `-v`; false when the interpreter failed.
    pub(crate) fn print(&self, what: sfpm_print, options: &crate::cli::InterpreterOptions) -> bool {
        let Some(c) = COptions::new(options) else { return false };
        let print = self.0.print.expect("checked in new");
        // SAFETY: the interpreter's contract: `c.raw` and its strings are valid for the
        // call, and nothing keeps them after it returns.
        unsafe { print(what as u32, &c.raw) == 0 }
    }

    /// Runs `pool` with the interpreter's handler until the server stops (or, with
    /// `reload`, until `SIGUSR2` asks for a reload).
    pub(crate) fn run(
        &self,
        pool: crate::config::PoolConfig,
        options: &crate::cli::InterpreterOptions,
        reload: bool,
    ) -> Result<crate::master::Stopped, RunError> {
        let c = COptions::new(options)
            .ok_or_else(|| RunError::Config("an interpreter option contains a NUL byte".into()))?;
        let mut handler = std::mem::MaybeUninit::<sfpm_handler>::zeroed();
        let fill = self.0.handler.expect("checked in new");
        // SAFETY: the interpreter fills the zeroed handler; `c` outlives the server run
        // below, which is all the handler's userdata may point to.
        let handler = unsafe {
            fill(&c.raw, handler.as_mut_ptr());
            handler.assume_init()
        };
        server::run_c_handler(pool, handler, reload)
    }
}

/// Runs php-fpm's command line (`-y`, `-c`, `-n`, `-d`, `-t`, `-F`, `-i`, ...) with
/// `interpreter` running the requests, and returns the process exit status (0, 64 for
/// usage errors, 78 for configuration errors, 70 otherwise).
///
/// `argv` holds `argc` NUL-terminated strings, borrowed for the call. Blocks while the
/// server runs. Call it from a single-threaded process: it forks. Returns 64 if an
/// argument is NULL or `interpreter` is malformed or of another ABI version.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_main(
    argc: c_int,
    argv: *const *const c_char,
    interpreter: *const sfpm_interpreter,
) -> c_int {
    ffi_panic_boundary! {
        let Some(interpreter) = handle::c_struct(interpreter).and_then(|i| Interpreter::new(*i)) else {
            crate::log!(Error, "sfpm_main: the interpreter is NULL, incomplete or of another ABI version");
            return 64;
        };
        let count = usize::try_from(argc).unwrap_or(0);
        let Some(pointers) = handle::slice(argv, count) else { return 64 };
        let mut args = Vec::with_capacity(count);
        for &arg in pointers {
            let Some(arg) = handle::c_str(arg) else { return 64 };
            args.push(OsString::from_vec(CStr::to_bytes(arg).to_vec()));
        }
        // The interpreter's own php.ini defaults (a php-src build's configure options).
        crate::cli::main_with(args, &interpreter, None)
    }
}
