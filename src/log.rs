//! The error log: one line per event, in php-fpm's format, written with one `write()`
//! so lines from the master and its workers never interleave mid-line.
//!
//! `[24-Nov-2026 01:38:20] NOTICE: ready to handle connections` in the master;
//! workers write the same lines (php-fpm's workers write `LEVEL: message` without the
//! time to a pipe the master decorates — that capture comes with `catch_workers_output`).
//! Where the lines go (a file, syslog, `log_level`) comes with the configuration loader;
//! until then, standard error.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity, php-fpm's `log_level` values from the most to the least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Something is badly wrong (`ALERT`).
    Alert = 1,
    /// An operation failed (`ERROR`).
    Error = 2,
    /// Something unexpected that was handled (`WARNING`).
    Warning = 3,
    /// Normal but significant (`NOTICE`), the default threshold.
    Notice = 4,
    /// Details for debugging (`DEBUG`).
    Debug = 5,
}

impl Level {
    /// The word php-fpm prints.
    pub fn name(self) -> &'static str {
        match self {
            Level::Alert => "ALERT",
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Debug => "DEBUG",
        }
    }
}

/// Most verbose level written; php-fpm's default is `notice`.
static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Notice as u8);

/// Sets the most verbose level written (`log_level`).
pub fn set_level(level: Level) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

/// True if `level` would be written.
pub fn enabled(level: Level) -> bool {
    level as u8 <= THRESHOLD.load(Ordering::Relaxed)
}

/// Longest line written, prefix included: php-fpm's default `log_limit`.
pub const LINE_LIMIT: usize = 1024;

/// The `log_limit` in effect.
static LIMIT: AtomicUsize = AtomicUsize::new(LINE_LIMIT);

/// Sets the longest line written, prefix and newline included (`log_limit`; the
/// configuration guarantees at least 512).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes.max(16), Ordering::Relaxed);
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn month_name(month: u32) -> &'static str {
    MONTHS.get(month.wrapping_sub(1) as usize).unwrap_or(&"???")
}

/// The Common Log Format's date, `24/Nov/2026:04:13:45 +0000`: the access log's `%t`
/// and the status page's start times.
pub const CLF_DATE: &str = "%d/%b/%Y:%H:%M:%S %z";

/// `unix_seconds` in local time as [`CLF_DATE`].
pub fn clf_date(unix_seconds: i64) -> String {
    crate::sys::strftime_local(CLF_DATE, unix_seconds)
}

/// Formats one line (without writing it): `[DD-Mon-YYYY HH:MM:SS] LEVEL: message\n`,
/// cut to the `log_limit` ([`set_limit`]) with `...` as php-fpm does.
pub fn format_line(level: Level, unix_seconds: i64, message: fmt::Arguments<'_>) -> Vec<u8> {
    format_line_within(LIMIT.load(Ordering::Relaxed), level, unix_seconds, message)
}

/// [`format_line`] cut to `limit` bytes.
fn format_line_within(limit: usize, level: Level, unix_seconds: i64, message: fmt::Arguments<'_>) -> Vec<u8> {
    let t = crate::sys::local_time(unix_seconds);
    let (year, day, hour, min, sec) = (t.year, t.day, t.hour, t.minute, t.second);
    let month = month_name(t.month);
    let mut line = Vec::with_capacity(128);
    let _ = write!(line, "[{day:02}-{month}-{year} {hour:02}:{min:02}:{sec:02}] {}: {message}", level.name());
    if line.len() > limit - 1 {
        line.truncate(limit - 4);
        line.extend_from_slice(b"...");
    }
    line.push(b'\n');
    line
}

/// Writes one line at `level` if the threshold allows it.
pub fn write(level: Level, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let line = format_line(level, now, message);
    // One write() per line; a failing stderr has nowhere else to report to.
    let _ = std::io::stderr().lock().write_all(&line);
}

/// The error log file standard error points to, when it was redirected to one.
static FILE: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Sends standard error (every later log line, the master's and the workers') to the
/// error log file `path`, and remembers it for [`reopen`].
pub fn use_file(path: &std::path::Path) -> std::io::Result<()> {
    crate::sys::redirect_stderr(path)?;
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    Ok(())
}

/// Opens the error log file again (`SIGUSR1`, after logrotate moved it). Returns whether
/// there was a file to reopen.
pub fn reopen() -> std::io::Result<bool> {
    let path = FILE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match path {
        Some(path) => crate::sys::redirect_stderr(&path).map(|()| true),
        None => Ok(false),
    }
}

/// Logs a formatted line: `log!(Notice, "child {} started", pid)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_and_limit() {
        let line = format_line(Level::Notice, 0, format_args!("ready to handle connections"));
        let text = String::from_utf8(line).unwrap();
        assert!(text.ends_with("] NOTICE: ready to handle connections\n"), "{text}");
        assert!(text.starts_with('[') && text.as_bytes()[3] == b'-', "{text}");
        let long = "x".repeat(5000);
        let line = format_line(Level::Warning, 0, format_args!("{long}"));
        assert_eq!(line.len(), LINE_LIMIT);
        assert!(line.ends_with(b"...\n"));
        let line = format_line_within(600, Level::Warning, 0, format_args!("{long}"));
        assert_eq!(line.len(), 600);
        assert!(line.ends_with(b"...\n"));
    }

    #[test]
    fn levels_order_like_php_fpm() {
        assert!(Level::Alert < Level::Debug);
        assert_eq!(Level::Warning.name(), "WARNING");
    }
}
