//! Typed values of php-fpm directives: booleans, integers, times, modes, limits, lists.
//!
//! Each parser takes the text the INI layer produced ([`super::syntax`]) or that a caller
//! passed to [`super::PoolConfig::set`], and returns the value or a short reason. The
//! reasons are php-fpm's (`fpm_conf_set_*` in php-src `sapi/fpm/fpm/fpm_conf.c`); the
//! loader adds file, line and directive: `[f:3] unable to parse value for entry 'x': …`.
//!
//! Where php-fpm stores garbage silently, sfpm refuses it with php-fpm's own reason
//! (documented per parser): numbers that overflow an `int`, negative times, digits with
//! junk before them.

use std::time::Duration;

/// Stores a parsed value: the body of most directive rows (`|c, v| put(&mut c.x, f(v)?)`).
pub fn put<T>(field: &mut T, value: T) -> Result<(), String> {
    *field = value;
    Ok(())
}

/// php-fpm's reason for any malformed integer.
pub const NOT_A_NUMBER: &str = "is not a valid number (greater or equal than zero)";

/// php-fpm's booleans: `1`, `yes`, `on`, `true` or `0`, `no`, `off`, `false`, `none`,
/// empty, in any case. (The INI layer already turns bare `yes`/`no`… into `1`/empty;
/// php-fpm 8.2 also takes `0` and quoted words, observed.)
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Ok(true),
        "" | "0" | "no" | "off" | "false" | "none" => Ok(false),
        _ => Err("invalid boolean value".to_string()),
    }
}

/// php-fpm's integers: an optional `-` then digits; empty means 0 (`atoi("")`).
/// Values outside a C `int` are refused (php-fpm wraps them).
pub fn parse_int(v: &str) -> Result<i32, String> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NOT_A_NUMBER.to_string());
    }
    if digits.is_empty() {
        return Ok(0);
    }
    v.parse::<i32>().map_err(|_| NOT_A_NUMBER.to_string())
}

/// An integer that must not be negative: php-fpm's parser says so in its message
/// ("greater or equal than zero") but lets `-1` through; sfpm holds it to its word.
pub fn parse_count(v: &str) -> Result<u32, String> {
    u32::try_from(parse_int(v)?).map_err(|_| NOT_A_NUMBER.to_string())
}

/// php-fpm's times: an integer of seconds with an optional suffix `s`, `m`, `h` or `d`
/// (`fpm_conf_set_time`). Empty: "invalid time value"; another last character: "unknown
/// suffix used in time value". php-fpm reads junk (`abc5`) as 0 and keeps negative
/// values; sfpm refuses both as "invalid time value".
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let last = v.bytes().last().ok_or_else(|| "invalid time value".to_string())?;
    let (digits, unit) = match last {
        b's' => (&v[..v.len() - 1], 1),
        b'm' => (&v[..v.len() - 1], 60),
        b'h' => (&v[..v.len() - 1], 3600),
        b'd' => (&v[..v.len() - 1], 86400),
        b'0'..=b'9' => (v, 1),
        _ => return Err("unknown suffix used in time value".to_string()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid time value".to_string());
    }
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n <= i32::MAX as u64)
        .ok_or_else(|| "invalid time value".to_string())?;
    Ok(Duration::from_secs(seconds))
}

/// A time that must be more than zero (sfpm's own timeouts).
pub fn parse_nonzero_duration(v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.is_zero() { Err(format!("'{v}' must be more than zero")) } else { Ok(d) }
}

/// A Unix socket mode in octal (`listen.mode = 0660`). php-fpm hands the text to
/// `strtoul(…, 8)` when it creates the socket and takes `0` for junk; sfpm refuses junk.
pub fn parse_mode(v: &str) -> Result<u32, String> {
    u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("invalid octal mode '{v}'"))
}

/// `rlimit_core`: a size in bytes or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreLimit {
    /// `unlimited` (php-fpm stores -1, `RLIM_INFINITY`).
    Unlimited,
    /// At most this many bytes.
    Bytes(u64),
}

impl CoreLimit {
    /// The value `php-fpm -tt` prints.
    pub fn as_php_int(self) -> i64 {
        match self {
            CoreLimit::Unlimited => -1,
            CoreLimit::Bytes(n) => n as i64,
        }
    }
}

/// `rlimit_core = unlimited | N`; `0`, php-fpm's "not set", is `None`
/// (`fpm_conf_set_rlimit_core`).
pub fn parse_rlimit_core(v: &str) -> Result<Option<CoreLimit>, String> {
    if v.eq_ignore_ascii_case("unlimited") {
        return Ok(Some(CoreLimit::Unlimited));
    }
    let n = parse_int(v)?;
    if n < 0 {
        return Err("must be greater than zero or 'unlimited'".to_string());
    }
    Ok((n > 0).then_some(CoreLimit::Bytes(n as u64)))
}

/// `rlimit_files = N`; `0`, php-fpm's "not set", is `None`.
pub fn parse_rlimit_files(v: &str) -> Result<Option<u32>, String> {
    Ok(Some(parse_count(v)?).filter(|&n| n > 0))
}

/// Splits a comma-separated list as `strtok(…, ",")` does: empty items vanish.
pub fn comma_list(v: &str) -> Vec<String> {
    v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Splits a blank-separated list as `strtok(…, " \t")` does (`security.limit_extensions`).
pub fn blank_list(v: &str) -> Vec<String> {
    v.split([' ', '\t']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Checks an `access.format` the way php-fpm's dry run does; the error is php-fpm's text.
pub fn check_access_format(format: &str) -> Result<(), String> {
    crate::access_log::Format::parse(format).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(input, expected)` rows through one parser.
    macro_rules! cases {
        ($parse:expr, $($input:expr => $expected:expr),+ $(,)?) => {
            $( assert_eq!($parse($input), $expected, "input {:?}", $input); )+
        };
    }

    fn err<T>(reason: &str) -> Result<T, String> {
        Err(reason.to_string())
    }

    #[test]
    fn booleans() {
        cases!(parse_bool,
            "1" => Ok(true), "yes" => Ok(true), "On" => Ok(true), "TRUE" => Ok(true),
            "" => Ok(false), "0" => Ok(false), "no" => Ok(false), "off" => Ok(false), "False" => Ok(false),
            "none" => Ok(false),
            "2" => err("invalid boolean value"), "yess" => err("invalid boolean value"),
        );
    }

    #[test]
    fn integers_like_fpm_conf_set_integer() {
        cases!(parse_int,
            "5" => Ok(5), "-1" => Ok(-1), "" => Ok(0), "007" => Ok(7),
            "+3" => err(NOT_A_NUMBER), "3x" => err(NOT_A_NUMBER), " 3" => err(NOT_A_NUMBER),
            "1.5" => err(NOT_A_NUMBER), "99999999999" => err(NOT_A_NUMBER), "-" => Ok(0),
        );
        cases!(parse_count, "4" => Ok(4), "-1" => err(NOT_A_NUMBER));
    }

    #[test]
    fn times_like_fpm_conf_set_time() {
        let s = Duration::from_secs;
        cases!(parse_duration,
            "10" => Ok(s(10)), "10s" => Ok(s(10)), "2m" => Ok(s(120)), "1h" => Ok(s(3600)), "1d" => Ok(s(86400)),
            "0" => Ok(s(0)),
            "" => err("invalid time value"), "5S" => err("unknown suffix used in time value"),
            "5x" => err("unknown suffix used in time value"), "-5" => err("invalid time value"),
            "abc5" => err("invalid time value"), "s" => err("invalid time value"),
            "99999999d" => err("invalid time value"),
        );
        assert!(parse_nonzero_duration("0").is_err());
    }

    #[test]
    fn modes_limits_lists() {
        cases!(parse_mode, "0660" => Ok(0o660), "660" => Ok(0o660), "999" => err("invalid octal mode '999'"),
            "" => err("invalid octal mode ''"));
        cases!(parse_rlimit_core,
            "unlimited" => Ok(Some(CoreLimit::Unlimited)), "UNLIMITED" => Ok(Some(CoreLimit::Unlimited)),
            "0" => Ok(None), "1024" => Ok(Some(CoreLimit::Bytes(1024))),
            "-1" => err("must be greater than zero or 'unlimited'"), "x" => err(NOT_A_NUMBER),
        );
        cases!(parse_rlimit_files, "0" => Ok(None), "4096" => Ok(Some(4096)), "-1" => err(NOT_A_NUMBER));
        assert_eq!(comma_list("a,,b,"), ["a", "b"]);
        assert_eq!(blank_list(" .php\t.phar  "), [".php", ".phar"]);
        assert!(blank_list("").is_empty());
    }

    #[test]
    fn access_formats() {
        cases!(check_access_format,
            "%R - %u %t \"%m %r\" %s" => Ok(()),
            "%{REMOTE_ADDR}e %{X-Powered-By}o %{%Y}t %{mili}d %{kilo}M %{user}C %%" => Ok(()),
            "trailing %" => Ok(()),
            "%Z" => err("Invalid token in the access.format (%Z)"),
            "%e" => err("the name of the environment variable must be set between embraces for %e"),
            "%{x}s" => err("embrace is not allowed for modifier %s"),
            "%{hours}d" => err("only 'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds' are allowed as a modifier for %d ('hours')"),
            "%{abc" => err("missing closing embrace in the access.format"),
            "%{abc}" => err("missing closing embrace in the access.format"),
        );
    }
}
