//! `php-fpm -t` and `-tt`: the report of a configuration test, and the dump of the
//! effective configuration in php-fpm's format (`fpm_conf_dump` in php-src
//! `sapi/fpm/fpm/fpm_conf.c`), line for line, for the directives both know.
//!
//! Quirks kept on purpose, so outputs can be diffed: `log_level = unknown value` when it
//! is not set, `pm.process_idle_timeout` without its `s`, arrays newest first, a line of
//! one space after each section. Like php-fpm on Linux, `apparmor_hat` and
//! `listen.setfib` are not shown; sfpm's own directives follow a pool's php-fpm lines
//! when they are set.

use super::FpmConfig;
use super::global::ErrorLog;
use super::pool::PoolConfig;
use super::values::CoreLimit;
use crate::log::Level;
use std::fmt::Display;
use std::path::Path;

fn text(v: Option<&str>) -> &str {
    v.unwrap_or("undefined")
}

fn path(v: Option<&Path>) -> String {
    v.map_or_else(|| "undefined".to_string(), |p| p.display().to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn core(limit: Option<CoreLimit>) -> i64 {
    limit.map_or(0, CoreLimit::as_php_int)
}

fn priority(p: Option<i32>) -> String {
    p.map_or_else(|| "undefined".to_string(), |p| p.to_string())
}

/// The `-tt` dump, one message per line (without `NOTICE: ` and the time).
pub fn dump(config: &FpmConfig) -> Vec<String> {
    let g = &config.global;
    let mut out = Vec::new();
    let mut line = |name: &str, value: &dyn Display| out.push(format!("\t{name} = {value}"));
    line("pid", &path(g.pid.as_deref()));
    let error_log = match &g.error_log {
        ErrorLog::Syslog => "syslog".to_string(),
        ErrorLog::File(p) => p.display().to_string(),
    };
    line("error_log", &error_log);
    line("syslog.ident", &g.syslog_ident);
    line("syslog.facility", &g.syslog_facility.code());
    line("log_buffering", &yes_no(g.log_buffering));
    line("log_level", &g.log_level.map_or("unknown value", Level::name));
    line("log_limit", &g.log_limit);
    line("emergency_restart_interval", &format!("{}s", g.emergency_restart_interval.as_secs()));
    line("emergency_restart_threshold", &g.emergency_restart_threshold);
    line("process_control_timeout", &format!("{}s", g.process_control_timeout.as_secs()));
    line("process.max", &g.process_max);
    line("process.priority", &priority(g.process_priority));
    line("daemonize", &yes_no(g.daemonize));
    line("rlimit_files", &g.rlimit_files.unwrap_or(0));
    line("rlimit_core", &core(g.rlimit_core));
    line("events.mechanism", &g.effective_events_mechanism().name());
    line("systemd_interval", &format!("{}s", g.systemd_interval.as_secs()));
    out.insert(0, "[global]".to_string());
    out.push(" ".to_string());
    for pool in &config.pools {
        dump_pool(pool, &mut out);
    }
    out
}

fn dump_pool(p: &PoolConfig, out: &mut Vec<String>) {
    out.push(format!("[{}]", p.name));
    let mut line = |name: &str, value: &dyn Display| out.push(format!("\t{name} = {value}"));
    line("prefix", &path(p.prefix.as_deref()));
    line("user", &text(p.user.as_deref()));
    line("group", &text(p.group.as_deref()));
    line("listen", &text(p.listen.as_deref()));
    line("listen.backlog", &p.listen_backlog);
    line("listen.acl_users", &text(p.listen_acl_users.as_ref().map(|l| l.join(",")).as_deref()));
    line("listen.acl_groups", &text(p.listen_acl_groups.as_ref().map(|l| l.join(",")).as_deref()));
    line("listen.owner", &text(p.listen_owner.as_deref()));
    line("listen.group", &text(p.listen_group.as_deref()));
    let mode = p.is_set("listen.mode").then(|| format!("0{:o}", p.listen_mode));
    line("listen.mode", &text(mode.as_deref()));
    line("listen.allowed_clients", &text(p.listen_allowed_clients.as_deref()));
    line("process.priority", &priority(p.process_priority));
    line("process.dumpable", &yes_no(p.process_dumpable));
    line("pm", &p.pm.name());
    line("pm.max_children", &p.max_children.unwrap_or(0));
    line("pm.start_servers", &p.start_servers);
    line("pm.min_spare_servers", &p.min_spare_servers);
    line("pm.max_spare_servers", &p.max_spare_servers);
    line("pm.max_spawn_rate", &p.max_spawn_rate);
    line("pm.process_idle_timeout", &p.process_idle_timeout.as_secs());
    line("pm.max_requests", &p.max_requests);
    line("pm.status_path", &text(p.status_path.as_deref()));
    line("pm.status_listen", &text(p.status_listen.as_deref()));
    line("ping.path", &text(p.ping_path.as_deref()));
    line("ping.response", &text(p.ping_response.as_deref()));
    line("access.log", &path(p.access_log.as_deref()));
    line("access.format", &text(p.access_format.as_deref()));
    for suppressed in p.access_suppress_paths.iter().rev() {
        line("access.suppress_path[]", suppressed);
    }
    line("slowlog", &path(p.slowlog.as_deref()));
    line("request_slowlog_timeout", &format!("{}s", p.request_slowlog_timeout.as_secs()));
    line("request_slowlog_trace_depth", &p.request_slowlog_trace_depth);
    line("request_terminate_timeout", &format!("{}s", p.request_terminate_timeout.as_secs()));
    line("request_terminate_timeout_track_finished", &yes_no(p.request_terminate_timeout_track_finished));
    line("rlimit_files", &p.rlimit_files.unwrap_or(0));
    line("rlimit_core", &core(p.rlimit_core));
    line("chroot", &path(p.chroot.as_deref()));
    line("chdir", &path(p.chdir.as_deref()));
    line("catch_workers_output", &yes_no(p.catch_workers_output));
    line("decorate_workers_output", &yes_no(p.decorate_workers_output));
    line("clear_env", &yes_no(p.clear_env));
    line("security.limit_extensions", &p.security_limit_extensions.join(" "));
    // php-fpm keeps these lists newest first.
    for (name, value) in p.env.iter().rev() {
        line(&format!("env[{name}]"), value);
    }
    for admin in [false, true] {
        let array = if admin { "php_admin_value" } else { "php_value" };
        for (name, value, _) in p.php_values.iter().rev().filter(|(_, _, a)| *a == admin) {
            line(&format!("{array}[{name}]"), value);
        }
    }
    let set = |name: &str| p.is_set(name);
    if set("listen.protocol") {
        line("listen.protocol", &p.listen_protocol.name());
    }
    if set("request_read_timeout") {
        line("request_read_timeout", &format!("{}s", p.request_read_timeout.as_secs()));
    }
    if set("keepalive_timeout") {
        line("keepalive_timeout", &format!("{}s", p.keepalive_timeout.as_secs()));
    }
    let f = &p.fastcgi_limits;
    let s = &p.scgi_limits;
    let limits: [(&str, &dyn Display); 6] = [
        ("fastcgi.max_params_bytes", &f.max_params_bytes),
        ("fastcgi.max_params", &f.max_params),
        ("fastcgi.max_name_bytes", &f.max_name_bytes),
        ("scgi.max_header_bytes", &s.max_header_bytes),
        ("scgi.max_headers", &s.max_headers),
        ("scgi.strict_duplicates", &yes_no(s.strict_duplicates)),
    ];
    for (name, value) in limits {
        if set(name) {
            line(name, value);
        }
    }
    out.push(" ".to_string());
}

/// What `php-fpm -t` (`dump` false) or `-tt` (`dump` true) logs for a configuration that
/// loaded: the loader's messages, sfpm's not-in-effect notices, the dump, and
/// `configuration file … test is successful` (with php-fpm's extra newline). Lines below
/// the configured `log_level` are left out, as php-fpm's log leaves them out.
pub fn test_report(config: &FpmConfig, dump_config: bool) -> Vec<(Level, String)> {
    let threshold = config.global.effective_log_level();
    let mut out: Vec<(Level, String)> = config.messages.clone();
    out.extend(config.notices.iter().map(|n| (Level::Notice, n.clone())));
    if dump_config {
        out.extend(dump(config).into_iter().map(|l| (Level::Notice, l)));
    }
    out.push((
        Level::Notice,
        format!("configuration file {} test is successful\n", config.main_file.display()),
    ));
    out.retain(|(level, _)| *level <= threshold);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    const POOL: &str = "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 4\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n";

    #[test]
    fn report_lines_in_php_fpm_order() {
        let c = load_str(POOL, "/etc/t.conf", None).unwrap();
        let report = test_report(&c, false);
        assert_eq!(
            report,
            [
                (Level::Notice, "[pool www] pm.start_servers is not set. It's been set to 2.".to_string()),
                (Level::Notice, "configuration file /etc/t.conf test is successful\n".to_string()),
            ]
        );
        let full = test_report(&c, true);
        assert_eq!(full.len(), report.len() + dump(&c).len());
        assert_eq!(full[1], (Level::Notice, "[global]".to_string()));
    }

    #[test]
    fn report_respects_log_level() {
        let c = load_str(&format!("[global]\nlog_level = warning\n{POOL}"), "/etc/t.conf", None).unwrap();
        assert!(test_report(&c, true).is_empty(), "php-fpm prints nothing at warning level");
    }

    #[test]
    fn dump_quirks() {
        let c = load_str(
            &format!("{POOL}listen.mode = 660\nenv[A] = 1\nenv[B] = 2\nphp_admin_flag[x] = on\nkeepalive_timeout = 5\n"),
            "/etc/t.conf",
            None,
        )
        .unwrap();
        let lines = dump(&c);
        let has = |l: &str| lines.iter().any(|x| x == l);
        assert!(has("\tlog_level = unknown value"));
        assert!(has("\tlisten.mode = 0660"));
        assert!(has("\tpm.process_idle_timeout = 10"));
        assert!(has("\tphp_admin_value[x] = 1"));
        assert!(has("\tkeepalive_timeout = 5s"), "sfpm directives follow when set");
        let a = lines.iter().position(|l| l == "\tenv[A] = 1").unwrap();
        let b = lines.iter().position(|l| l == "\tenv[B] = 2").unwrap();
        assert!(b < a, "arrays newest first");
        assert_eq!(lines.last().map(String::as_str), Some(" "));
    }
}
