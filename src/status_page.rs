//! php-fpm's status page (`pm.status_path`), sans-IO: a pool's status in, a body and its
//! content type out, in php-fpm's five formats (text, HTML, XML, JSON, OpenMetrics) with
//! `full` adding one block per worker. Layouts, labels and escaping follow php-fpm 8.2
//! byte for byte (../shared/reference/status.md §5), so existing dashboards and scrapers
//! read it unchanged.

use crate::master::scoreboard::{ProcessStatus, Stage};
use crate::worker::PoolStatus;
use std::ffi::CStr;
use std::fmt::Write as _;

/// The pool-wide numbers every format and `fpm_get_status()` show, derived once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Seconds since the epoch when the master started.
    pub start_time: i64,
    /// Seconds since then.
    pub start_since: u64,
    /// Workers waiting for a request.
    pub idle: u64,
    /// Workers in a request.
    pub active: u64,
    /// Both.
    pub total: u64,
    /// Most workers active at once (never below what is active now).
    pub max_active: u64,
}

impl Counts {
    /// The numbers of `status` at `now_us` (µs since the epoch).
    pub fn of(status: &PoolStatus, now_us: u64) -> Counts {
        let idle = status.processes.iter().filter(|p| p.stage == Stage::Idle).count() as u64;
        let total = status.processes.len() as u64;
        Counts {
            start_time: (status.start_us / 1_000_000) as i64,
            start_since: now_us.saturating_sub(status.start_us) / 1_000_000,
            idle,
            active: total - idle,
            total,
            max_active: status.max_active.max(total - idle),
        }
    }
}

/// php-fpm's name of a worker's stage (a C string: the C ABI hands it out as is).
pub fn state_name(stage: Stage) -> &'static CStr {
    match stage {
        Stage::Empty | Stage::Idle => c"Idle",
        Stage::Reading => c"Reading headers",
        Stage::Running => c"Running",
        Stage::Finishing => c"Finishing",
    }
}

/// A worker's CPU use during its last request, in percent of the wall time.
pub fn cpu_percent(p: &ProcessStatus) -> f64 {
    if p.duration_us == 0 { 0.0 } else { p.last_cpu_us as f64 * 100.0 / p.duration_us as f64 }
}

/// The page's format, chosen as php-fpm does by the presence of a query key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No key: `label: value` lines.
    Text,
    /// `html`.
    Html,
    /// `xml`.
    Xml,
    /// `json`.
    Json,
    /// `openmetrics` (`full` does not apply).
    OpenMetrics,
}

/// What the query string asks for: the format and whether `full` is present. Keys are
/// checked in php-fpm's order (`html`, `xml`, `json`, `openmetrics`); values are ignored
/// (`?json=0` is JSON), and `key[]` counts as `key`, as in `$_GET`.
pub fn parse_query(query: &[u8]) -> (Format, bool) {
    let has = |key: &[u8]| {
        query.split(|&b| b == b'&').any(|pair| {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let name = name.split(|&b| b == b'[').next().unwrap_or_default();
            name == key
        })
    };
    let format = if has(b"html") {
        Format::Html
    } else if has(b"xml") {
        Format::Xml
    } else if has(b"json") {
        Format::Json
    } else if has(b"openmetrics") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    (format, has(b"full"))
}

/// A rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `Content-Type` value (PHP adds `;charset=` to `text/*` types, as for php-fpm),
    /// a C string: the C ABI hands it out as is.
    pub content_type: &'static CStr,
    /// The body.
    pub body: String,
}

/// One field's value.
enum Value {
    Text(String),
    Num(u64),
    /// Seconds since the epoch: a local date in text and HTML, the number elsewhere.
    Time(i64),
    /// A percentage, `%.2f`.
    Cpu(f64),
}

/// A field: its JSON key and HTML label (the text label and XML tag derive from it) and
/// value.
type Field = (&'static str, Value);

fn pool_fields(status: &PoolStatus, counts: &Counts) -> Vec<Field> {
    let (queue, queue_len) = status.listen_queue;
    vec![
        ("pool", Value::Text(status.pool.clone())),
        ("process manager", Value::Text(status.process_manager.to_string())),
        ("start time", Value::Time(counts.start_time)),
        ("start since", Value::Num(counts.start_since)),
        ("accepted conn", Value::Num(status.accepted)),
        ("listen queue", Value::Num(u64::from(queue))),
        ("max listen queue", Value::Num(status.max_listen_queue)),
        ("listen queue len", Value::Num(u64::from(queue_len))),
        ("idle processes", Value::Num(counts.idle)),
        ("active processes", Value::Num(counts.active)),
        ("total processes", Value::Num(counts.total)),
        ("max active processes", Value::Num(counts.max_active)),
        ("max children reached", Value::Num(status.max_children_reached)),
        // No slow log yet: no request is ever counted slow.
        ("slow requests", Value::Num(0)),
    ]
}

fn process_fields(p: &ProcessStatus, now_us: u64) -> Vec<Field> {
    let or_dash = |bytes: &[u8]| {
        if bytes.is_empty() { "-".to_string() } else { String::from_utf8_lossy(bytes).into_owned() }
    };
    let uri = match (p.uri.is_empty(), p.query.is_empty()) {
        (true, _) => "-".to_string(),
        (false, true) => or_dash(&p.uri),
        (false, false) => {
            format!("{}?{}", String::from_utf8_lossy(&p.uri), String::from_utf8_lossy(&p.query))
        }
    };
    vec![
        ("pid", Value::Num(p.pid.max(0) as u64)),
        ("state", Value::Text(state_name(p.stage).to_string_lossy().into_owned())),
        ("start time", Value::Time((p.started_us / 1_000_000) as i64)),
        ("start since", Value::Num(now_us.saturating_sub(p.started_us) / 1_000_000)),
        ("requests", Value::Num(p.requests)),
        ("request duration", Value::Num(p.duration_us)),
        ("request method", Value::Text(or_dash(&p.method))),
        ("request uri", Value::Text(uri)),
        ("content length", Value::Num(p.content_length)),
        ("user", Value::Text(or_dash(&p.user))),
        ("script", Value::Text(or_dash(&p.script))),
        ("last request cpu", Value::Cpu(cpu_percent(p))),
        ("last request memory", Value::Num(p.last_memory)),
    ]
}

/// The text format's label: php-fpm capitalizes one of them.
fn text_label(key: &str) -> &str {
    if key == "request uri" { "request URI" } else { key }
}

fn xml_tag(key: &str) -> String {
    key.replace(' ', "-")
}

/// Escapes for XML and HTML text.
fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string literal, escaping `/` as PHP's encoder does.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders `status` at `now_us`; `local_date` writes seconds since the epoch as php-fpm's
/// `%d/%b/%Y:%H:%M:%S %z` in local time (the caller owns the clock and time zone).
pub fn render(
    status: &PoolStatus,
    now_us: u64,
    format: Format,
    full: bool,
    local_date: &dyn Fn(i64) -> String,
) -> Page {
    let counts = Counts::of(status, now_us);
    let pool = pool_fields(status, &counts);
    let procs: Vec<Vec<Field>> =
        if full { status.processes.iter().map(|p| process_fields(p, now_us)).collect() } else { Vec::new() };
    let human = |v: &Value| match v {
        Value::Text(s) => s.clone(),
        Value::Num(n) => n.to_string(),
        Value::Time(t) => local_date(*t),
        Value::Cpu(c) => format!("{c:.2}"),
    };
    let machine = |v: &Value| match v {
        Value::Time(t) => t.to_string(),
        v => human(v),
    };
    let mut body = String::new();
    let content_type = match format {
        Format::Text => {
            let line = |body: &mut String, (key, v): &Field| {
                let _ = writeln!(body, "{:<22}{}", format!("{}:", text_label(key)), human(v));
            };
            pool.iter().for_each(|f| line(&mut body, f));
            for p in &procs {
                body.push_str("\n************************\n");
                p.iter().for_each(|f| line(&mut body, f));
            }
            c"text/plain"
        }
        Format::Html => {
            body.push_str(
                "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \
                 \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n\
                 <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n\
                 <head><title>PHP-FPM Status Page</title></head>\n<body>\n<table>\n",
            );
            for (key, v) in &pool {
                let _ = writeln!(body, "<tr><th>{key}</th><td>{}</td></tr>", markup_escape(&human(v)));
            }
            body.push_str("</table>\n");
            if let Some(first) = procs.first() {
                body.push_str("<table border=\"1\">\n<tr>");
                first.iter().for_each(|(key, _)| {
                    let _ = write!(body, "<th>{key}</th>");
                });
                body.push_str("</tr>\n");
                for p in &procs {
                    body.push_str("<tr>");
                    p.iter().for_each(|(_, v)| {
                        let _ = write!(body, "<td>{}</td>", markup_escape(&human(v)));
                    });
                    body.push_str("</tr>\n");
                }
                body.push_str("</table>");
            }
            body.push_str("</body></html>");
            c"text/html"
        }
        Format::Xml => {
            body.push_str("<?xml version=\"1.0\" ?>\n<status>\n");
            let element = |body: &mut String, (key, v): &Field| {
                let tag = xml_tag(key);
                let _ = write!(body, "<{tag}>{}</{tag}>", markup_escape(&machine(v)));
            };
            for f in &pool {
                element(&mut body, f);
                body.push('\n');
            }
            if full {
                body.push_str("<processes>\n");
                for p in &procs {
                    body.push_str("<process>");
                    p.iter().for_each(|f| element(&mut body, f));
                    body.push_str("</process>\n");
                }
                body.push_str("</processes>\n");
            }
            body.push_str("</status>");
            c"text/xml"
        }
        Format::Json => {
            let object = |body: &mut String, fields: &[Field]| {
                for (i, (key, v)) in fields.iter().enumerate() {
                    let value = match v {
                        Value::Text(s) => json_string(s),
                        v => machine(v),
                    };
                    let _ = write!(body, "{}\"{key}\":{value}", if i == 0 { "" } else { "," });
                }
            };
            body.push('{');
            object(&mut body, &pool);
            if full {
                body.push_str(", \"processes\":[");
                for (i, p) in procs.iter().enumerate() {
                    body.push_str(if i == 0 { "{" } else { ",{" });
                    object(&mut body, p);
                    body.push('}');
                }
                body.push(']');
            }
            body.push('}');
            c"application/json"
        }
        Format::OpenMetrics => {
            render_openmetrics(&mut body, status, &counts);
            c"application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    };
    Page { content_type, body }
}

fn render_openmetrics(body: &mut String, status: &PoolStatus, counts: &Counts) {
    let up_help =
        format!("Could pool {} using a {} PM on PHP-FPM be reached?", status.pool, status.process_manager);
    let metrics: [(&str, &str, &str, u64); 12] = [
        ("up", "gauge", &up_help, 1),
        ("start_since", "counter", "The number of seconds since FPM has started.", counts.start_since),
        ("accepted_connections", "counter", "The number of requests accepted by the pool.", status.accepted),
        (
            "listen_queue",
            "gauge",
            "The number of requests in the queue of pending connections.",
            u64::from(status.listen_queue.0),
        ),
        (
            "max_listen_queue",
            "counter",
            "The maximum number of requests in the queue of pending connections since FPM has started.",
            status.max_listen_queue,
        ),
        (
            "listen_queue_length",
            "gauge",
            "The size of the socket queue of pending connections.",
            u64::from(status.listen_queue.1),
        ),
        ("idle_processes", "gauge", "The number of idle processes.", counts.idle),
        ("active_processes", "gauge", "The number of active processes.", counts.active),
        ("total_processes", "gauge", "The number of idle + active processes.", counts.total),
        (
            "max_active_processes",
            "counter",
            "The maximum number of active processes since FPM has started.",
            counts.max_active,
        ),
        (
            "max_children_reached",
            "counter",
            "The number of times, the process limit has been reached, when pm tries to start more children \
             (works only for pm 'dynamic' and 'ondemand').",
            status.max_children_reached,
        ),
        (
            "slow_requests",
            "counter",
            "The number of requests that exceeded your 'request_slowlog_timeout' value.",
            0,
        ),
    ];
    for (name, kind, help, value) in metrics {
        // php-fpm 8.2 writes this one metric's TYPE line before its HELP line; scrapers
        // accept both orders, and the same order keeps diffs against php-fpm empty.
        if name == "listen_queue_length" {
            let _ = write!(body, "# TYPE phpfpm_{name} {kind}\n# HELP phpfpm_{name} {help}\n");
        } else {
            let _ = write!(body, "# HELP phpfpm_{name} {help}\n# TYPE phpfpm_{name} {kind}\n");
        }
        let _ = writeln!(body, "phpfpm_{name} {value}");
    }
    body.push_str("# EOF\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(pid: i32, stage: Stage) -> ProcessStatus {
        ProcessStatus {
            pid,
            stage,
            started_us: 1_000_000_000,
            requests: 3,
            duration_us: 250,
            method: b"GET".to_vec(),
            uri: b"/status".to_vec(),
            query: b"json&full".to_vec(),
            script: Vec::new(),
            user: Vec::new(),
            content_length: 0,
            last_cpu_us: 0,
            last_memory: if stage == Stage::Idle { 2_097_152 } else { 0 },
        }
    }

    fn pool() -> PoolStatus {
        PoolStatus {
            pool: "www".into(),
            process_manager: "static",
            start_us: 1_000_000_000,
            accepted: 5,
            max_active: 1,
            max_children_reached: 0,
            listen_queue: (0, 4096),
            max_listen_queue: 3,
            processes: vec![worker(10, Stage::Running), worker(11, Stage::Idle)],
        }
    }

    fn date(t: i64) -> String {
        format!("@{t}")
    }

    fn page(format: Format, full: bool) -> Page {
        render(&pool(), 1_006_000_000, format, full, &date)
    }

    #[test]
    fn the_query_picks_the_format_in_php_fpm_order() {
        assert_eq!(parse_query(b""), (Format::Text, false));
        assert_eq!(parse_query(b"full"), (Format::Text, true));
        assert_eq!(parse_query(b"json=0&full=no"), (Format::Json, true));
        assert_eq!(parse_query(b"json&html"), (Format::Html, false));
        assert_eq!(parse_query(b"openmetrics&xml"), (Format::Xml, false));
        assert_eq!(parse_query(b"openmetrics"), (Format::OpenMetrics, false));
        assert_eq!(parse_query(b"xml[]=1"), (Format::Xml, false));
        assert_eq!(parse_query(b"jsonx&fully"), (Format::Text, false));
    }

    #[test]
    fn text_values_start_in_column_23_and_full_adds_a_block_per_worker() {
        let p = page(Format::Text, true);
        assert_eq!(p.content_type, c"text/plain");
        let lines: Vec<&str> = p.body.lines().collect();
        assert_eq!(lines[0], "pool:                 www");
        assert_eq!(lines[2], "start time:           @1000");
        assert_eq!(lines[3], "start since:          6");
        assert_eq!(lines[6], "max listen queue:     3");
        assert_eq!(lines[10], "total processes:      2");
        assert_eq!(lines[13], "slow requests:        0");
        assert_eq!(&lines[14..16], ["", "************************"]);
        assert_eq!(lines[16], "pid:                  10");
        assert_eq!(lines[17], "state:                Running");
        assert_eq!(lines[23], "request URI:          /status?json&full");
        assert_eq!(lines[25], "user:                 -");
        assert_eq!(lines[27], "last request cpu:     0.00");
        assert_eq!(lines.len(), 14 + 2 * 15);
        assert!(p.body.ends_with("last request memory:  2097152\n"));
        assert_eq!(page(Format::Text, false).body.lines().count(), 14);
    }

    #[test]
    fn json_is_one_line_with_escaped_slashes() {
        let p = page(Format::Json, false);
        assert_eq!(p.content_type, c"application/json");
        assert!(p.body.starts_with("{\"pool\":\"www\",\"process manager\":\"static\",\"start time\":1000,"));
        assert!(p.body.ends_with("\"slow requests\":0}"));
        let full = page(Format::Json, true).body;
        assert!(full.contains("\"slow requests\":0, \"processes\":[{\"pid\":10,\"state\":\"Running\","));
        assert!(full.contains("\"request uri\":\"\\/status?json&full\""));
        assert!(full.ends_with("\"last request memory\":2097152}]}"));
    }

    #[test]
    fn xml_and_html_escape_markup() {
        let xml = page(Format::Xml, true).body;
        assert!(xml.starts_with("<?xml version=\"1.0\" ?>\n<status>\n<pool>www</pool>\n"));
        assert!(xml.contains("<request-uri>/status?json&amp;full</request-uri>"));
        assert!(xml.ends_with("</process>\n</processes>\n</status>"));
        assert!(page(Format::Xml, false).body.ends_with("<slow-requests>0</slow-requests>\n</status>"));
        let html = page(Format::Html, true).body;
        assert!(html.contains("<tr><th>start time</th><td>@1000</td></tr>\n"));
        assert!(html.contains("<th>request uri</th>"));
        assert!(html.contains("<td>/status?json&amp;full</td>"));
        assert!(html.ends_with("</tr>\n</table></body></html>"));
        assert!(page(Format::Html, false).body.ends_with("</table>\n</body></html>"));
    }

    #[test]
    fn openmetrics_has_every_metric_and_ends_with_eof() {
        let p = page(Format::OpenMetrics, true);
        assert!(p.body.starts_with(
            "# HELP phpfpm_up Could pool www using a static PM on PHP-FPM be reached?\n# TYPE phpfpm_up gauge\nphpfpm_up 1\n"
        ));
        assert!(p.body.contains("\nphpfpm_listen_queue_length 4096\n"));
        assert!(p.body.contains("\nphpfpm_active_processes 1\n"));
        assert_eq!(p.body.lines().filter(|l| l.starts_with("phpfpm_")).count(), 12);
        assert!(p.body.ends_with("phpfpm_slow_requests 0\n# EOF\n"));
    }
}
