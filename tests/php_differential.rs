//! sfpm against Debian's php-fpm8.2: the same pool (`pm = static`, 2 workers), the same
//! ini (`-n`, `PHP_INI_SCAN_DIR=` empty, the same `-d` list with opcache on), the same
//! document root, and the same raw FastCGI requests — PATH_INFO forms of
//! reference/server-vars.md §4 (nginx, Apache `proxy:fcgi://`, lighttpd, IIS), query
//! strings, forms, uploads, cookies, repeated and custom headers, status codes,
//! redirects, errors, HEAD. `tests/scripts/dump.php` prints `$_SERVER` and the other
//! superglobals line by line; replies are compared field by field (status, headers,
//! body, FCGI_STDERR, END_REQUEST) minus the fields in [`EXCLUDED`], and every
//! difference is printed before the test fails.

mod php_support;
mod support;

use php_support::*;
use sfpm::fastcgi::Role;
use std::fmt::Write as _;
use support::{DEADLINE, wait_for};

/// Fields that legitimately differ between two servers, with the reason.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "[REQUEST_TIME]",
        "the clock, in $_SERVER and in $_ENV (a copy of $_SERVER): the requests are not simultaneous",
    ),
    ("[REQUEST_TIME_FLOAT]", "the clock"),
    ("php[pid]", "getmypid(): two different processes"),
    ("[tmp_name]", "an upload's temporary file name is random (its size and md5 are compared)"),
    (
        "END_REQUEST appStatus",
        "php-fpm always sends 0 (main/fastcgi.c, fcgi_flush); sfpm sends the script's exit status, \
         as the FastCGI spec asks of a Responder (exit(3) → 3, a fatal error → 255; \
         tests/php_sapi.rs pins it); web servers ignore it",
    ),
];

fn excluded(path: &str) -> bool {
    EXCLUDED
        .iter()
        .any(|(field, _)| if field.starts_with('[') { path.ends_with(field) } else { path == *field })
}

/// The ini both servers get after `BASE_INI`: errors logged, not displayed (a fatal error
/// is a 500, as in production), small upload limits to see PHP's upload errors, and a
/// 1 s CPU limit for the timeout case.
const INI: &[&str] = &[
    "display_errors=0",
    "log_errors=1",
    "upload_max_filesize=1K",
    "post_max_size=64K",
    "max_execution_time=1",
];

/// The pool lines both servers get: a ping page with a non-default answer.
const POOL: &str = "ping.path = /ping\nping.response = pong from the pool\n";

struct Case {
    name: &'static str,
    req: Req,
    /// The status php-fpm answers with, checked so that equal answers are not two
    /// equal failures.
    status: u16,
    /// A difference known and reported, not fixed here: why. The test fails if the
    /// answers become equal, so the mark is removed with the fix.
    known: Option<&'static str>,
}

fn case(name: &'static str, req: Req) -> Case {
    Case { name, req, status: 200, known: None }
}

impl Case {
    fn status(self, status: u16) -> Case {
        Case { status, ..self }
    }

    fn known(self, why: &'static str) -> Case {
        Case { known: Some(why), ..self }
    }
}

fn cases(root: &DocRoot) -> Vec<Case> {
    let r = root.root();
    let dump = root.file("dump.php");
    let get = |query: &str| Req::get(root, "dump.php", query);
    let boundary = "----sfpmDiffBoundary";
    let multipart_type = format!("multipart/form-data; boundary={boundary}");
    let small: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    let upload = multipart(
        boundary,
        &[("title", "hello"), ("arr[]", "1")],
        &[("doc", "a.bin", &small), ("big", "b.bin", &[b'z'; 3000])],
    );
    let a35 = "A".repeat(35);
    let form = "application/x-www-form-urlencoded";
    let mut v = vec![
        case("GET, no query", get("")),
        case(
            "query string: arrays, encodings, repeated and empty names",
            get("a=1&b[]=2&b[]=3&c[x][y]=z&enc=%41%2B%20+x&dup=1&dup=2&noval&=empty&u=%C3%A9"),
        ),
        case("no QUERY_STRING param", get("").unset("QUERY_STRING")),
        // reference/server-vars.md §4, in table order.
        case(
            "nginx fastcgi_split_path_info",
            get("")
                .set("SCRIPT_NAME", "/dump.php")
                .set("PATH_INFO", "/foo/bar")
                .set("REQUEST_URI", "/dump.php/foo/bar"),
        ),
        case(
            "no split, no PATH_INFO",
            get("").set("SCRIPT_FILENAME", format!("{dump}/foo/bar")).set("SCRIPT_NAME", "/dump.php/foo/bar"),
        ),
        case(
            "no split, PATH_INFO=/foo/bar",
            get("")
                .set("SCRIPT_FILENAME", format!("{dump}/foo/bar"))
                .set("SCRIPT_NAME", "/dump.php/foo/bar")
                .set("PATH_INFO", "/foo/bar"),
        ),
        case(
            "Apache SetHandler proxy:fcgi://localhost",
            get("")
                .set("SCRIPT_FILENAME", format!("proxy:fcgi://localhost{dump}"))
                .set("SCRIPT_NAME", "/dump.php")
                .set("PATH_INFO", "/foo/bar")
                .set("PATH_TRANSLATED", format!("{r}/foo/bar")),
        ),
        case(
            "Apache ProxyPassMatch",
            get("")
                .set("SCRIPT_FILENAME", format!("proxy:fcgi://localhost:9000{dump}/foo/bar"))
                .set("SCRIPT_NAME", "/dump.php/foo/bar"),
        ),
        case(
            "Apache proxy, encoded tail",
            get("")
                .set("SCRIPT_FILENAME", format!("proxy:fcgi://localhost{dump}/a%20b"))
                .set("SCRIPT_NAME", "/dump.php/a b"),
        ),
        case(
            "Apache proxy:balancer:// with a query suffix, upper-case scheme",
            get("q=1")
                .set("SCRIPT_FILENAME", format!("PROXY:BALANCER://cluster{dump}?q=1"))
                .set("SCRIPT_NAME", "/dump.php"),
        ),
        case(
            "CVE-2019-11043 shape",
            get("")
                .set("SCRIPT_FILENAME", format!("{dump}/{a35}"))
                .set("PATH_INFO", "")
                .set("SCRIPT_NAME", format!("/dump.php/{a35}"))
                .set("REQUEST_URI", format!("/dump.php/%0a{a35}"))
                .set("HTTP_X_PAD", "P".repeat(5000)),
        ),
        case(
            "lighttpd broken-scriptfilename",
            get("")
                .set("SCRIPT_FILENAME", format!("{dump}/foo/bar"))
                .set("SCRIPT_NAME", "/dump.php")
                .set("PATH_INFO", "/foo/bar"),
        ),
        case(
            "PATH_TRANSLATED only (IIS style)",
            get("").unset("SCRIPT_FILENAME").set("PATH_TRANSLATED", &dump),
        ),
        case(
            "IIS PATH_INFO with SCRIPT_NAME in front",
            get("").set("SERVER_SOFTWARE", "Microsoft-IIS/10.0").set("PATH_INFO", "/dump.php/extra"),
        ),
        case(
            "Apache mod_fastcgi Action (PATH_TRANSLATED + REDIRECT_URL)",
            get("")
                .set("SCRIPT_FILENAME", "/usr/lib/cgi-bin/php-action")
                .set("SCRIPT_NAME", "/cgi-bin/php-action")
                .set("PATH_INFO", "/dump.php")
                .set("PATH_TRANSLATED", &dump)
                .set("REDIRECT_URL", "/dump.php"),
        ),
        case(
            "mod_fastcgi Action with path info after the script",
            get("")
                .set("SCRIPT_FILENAME", "/usr/lib/cgi-bin/php-action")
                .set("SCRIPT_NAME", "/cgi-bin/php-action")
                .set("PATH_INFO", "/dump.php/extra")
                .set("PATH_TRANSLATED", format!("{dump}/extra"))
                .set("REDIRECT_URL", "/dump.php/extra"),
        ),
        case(
            "REDIRECT_URL with the script itself (mod_rewrite)",
            get("").set("PATH_INFO", "/p").set("REDIRECT_URL", "/pretty"),
        ),
        case(
            "DOCUMENT_ROOT with a trailing slash, no split",
            get("")
                .set("SCRIPT_FILENAME", format!("{dump}/x/y"))
                .set("SCRIPT_NAME", "/dump.php/x/y")
                .set("PATH_INFO", "/x/y")
                .set("DOCUMENT_ROOT", format!("{r}/")),
        ),
        case(
            "no DOCUMENT_ROOT, no split",
            get("")
                .set("SCRIPT_FILENAME", format!("{dump}/x/y"))
                .set("SCRIPT_NAME", "/dump.php/x/y")
                .unset("DOCUMENT_ROOT"),
        ),
        case("`..` segment", get("").set("SCRIPT_FILENAME", format!("{r}/sub/../dump.php"))).status(404),
        case("missing script", Req::get(root, "nope.php", "")).status(404),
        case(
            "missing script with path info",
            Req::get(root, "nope.php", "").set("SCRIPT_FILENAME", format!("{r}/nope.php/x")),
        )
        .status(404),
        case("script outside security.limit_extensions", Req::get(root, "x.txt", "")).status(403),
        case("a directory named like a script", Req::get(root, "dir.php", "")).status(404),
        case("no REQUEST_METHOD", get("").unset("REQUEST_METHOD")),
        case("POST urlencoded", get("from=query").body("POST", form, "a=1&b[]=x&b[]=y&s=a+b%21&from=body")),
        case(
            "POST multipart with an upload and an over-size upload",
            get("").body("POST", &multipart_type, &upload),
        ),
        case("PUT JSON (php://input)", get("").body("PUT", "application/json", "{\"k\":[1,2]}")),
        case("cookies", get("").set("HTTP_COOKIE", "a=1; b=two%20words; a=3; c[]=x; c[]=y; d=%3D; e; f=g=h")),
        case(
            "repeated params (the last value wins)",
            get("")
                .push("HTTP_X_REPEATED", "first")
                .push("HTTP_X_REPEATED", "second")
                .push("REQUEST_METHOD", "GET"),
        ),
        case(
            "custom headers, HTTPS, Basic auth",
            get("")
                .set("HTTP_AUTHORIZATION", "Basic dXNlcjpwYSBzcw==")
                .set("HTTPS", "on")
                .set("HTTP_X_FORWARDED_FOR", "10.0.0.1, 10.0.0.2")
                .set("HTTP_ACCEPT_LANGUAGE", "de-CH,de;q=0.9")
                .set("HTTP_X_CUSTOM_HEADER_NAME", "v")
                .set("CONTENT_TYPE", "text/plain"),
        ),
        case(
            "Digest auth",
            get("").set(
                "HTTP_AUTHORIZATION",
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\"",
            ),
        ),
        case("http_response_code(404)", get("status=404")).status(404),
        case("http_response_code(304) drops Content-Type", get("status=304")).status(304),
        case("header('HTTP/1.1 503 ...')", get("http_status=503%20Go%20Away")).status(503),
        case("header('Status: 418 ...')", get("status_header=418%20I%27m%20a%20teapot")).status(418),
        case(
            "repeated response headers",
            get("header[]=X-Dup:%201&header[]=X-Dup:%202&header[]=X-Other:%20o"),
        ),
        case("redirect on GET", get("location=/elsewhere")).status(302),
        // 302, not 303: php-fpm leaves proto_num at 1000 ("FIXME - Work out proto_num
        // here" in fpm_main.c), so PHP never picks 303 for a POST.
        case("redirect on POST, HTTP/1.1", get("location=/posted").body("POST", form, "a=1")).status(302),
        case(
            "redirect on POST, HTTP/1.0",
            get("location=/posted").body("POST", form, "a=1").set("SERVER_PROTOCOL", "HTTP/1.0"),
        )
        .status(302),
        case("setcookie()", get("setcookie=sess")),
        case("fatal error", get("fatal=1")).status(500),
        case("exit(3)", get("exit=3")),
        case("HEAD", get("body=never-sent").set("REQUEST_METHOD", "HEAD")),
        case("exit() with a shutdown function", Req::get(root, "exit.php", "")),
        case("max_execution_time", Req::get(root, "cpu.php", "")).status(500),
        case("memory_limit", Req::get(root, "memory.php", "")).status(500),
        case("fastcgi_finish_request()", Req::get(root, "finish.php", &format!("go={dump}&out=/dev/null"))),
        case("POST over post_max_size", get("").body("POST", form, format!("a={}", "x".repeat(70_000)))),
        case(
            "a 100 kB body (several STDIN and STDOUT records)",
            get("").body("POST", "text/plain", "y".repeat(100_000)),
        ),
        case("a body without CONTENT_LENGTH", get("").body("POST", form, "a=1").unset("CONTENT_LENGTH")),
        // (CONTENT_LENGTH longer than the body is not compared: php-fpm waits for the
        // missing bytes forever; tests/php_sapi.rs checks sfpm's answer.)
        case(
            "CONTENT_LENGTH shorter than the body",
            get("").body("POST", form, "a=1&b=2").set("CONTENT_LENGTH", "3"),
        )
        .known(
            "php-fpm reads CONTENT_LENGTH bytes and ignores the rest; sfpm treats the extra \
             STDIN as the protocol error it is (FastCGI spec §6.2: a responder compares the \
             bytes with CONTENT_LENGTH and aborts on a mismatch): one log line, the request \
             aborted, the connection closed",
        ),
        case("HTTP_PROXY (httpoxy: getenv() ignores it)", get("").set("HTTP_PROXY", "http://evil:8080")),
        case(
            "odd param names and a NUL in a value",
            get("")
                .set("HTTP_X__DOUBLE", "1")
                .set("HTTP_x_lower_case", "2")
                .set("HTTP_X_1A", "3")
                .set("HTTP_X_NUL", b"a\0b")
                .set("PHP_SELF", "/sent/by/the/web/server"),
        ),
        case("a script in a subdirectory (PHP's working directory)", Req::get(root, "sub/dump.php", "")),
        // The pool's ping page (`ping.path = /ping`): the file need not exist, but a
        // script path must be sent; the match is on the script's URI, exactly.
        case("ping page", Req::get(root, "ping", "")),
        case("ping page, HEAD", Req::get(root, "ping", "").set("REQUEST_METHOD", "HEAD")),
        case("ping page without a script path", Req::get(root, "ping", "").unset("SCRIPT_FILENAME"))
            .status(404),
        case("ping path with a suffix", Req::get(root, "ping/x", "")).status(404),
        case("AUTHORIZER role", get("").role(Role::Authorizer, b"")),
        case("FILTER role", get("").body("POST", form, "a=1").role(Role::Filter, b"filter data")),
        // Last: php-fpm keeps a PHP_VALUE for every later request of the worker (sfpm
        // does not: tests/php_sapi.rs), so no case may follow this one.
        case(
            "PHP_VALUE auto_prepend_file",
            get("").set("PHP_VALUE", format!("auto_prepend_file={r}/prepend.php")),
        ),
    ];
    // Every case also says which case it is, so a failure is easy to find in a log.
    for (i, case) in v.iter_mut().enumerate() {
        case.req = case.req.clone().set("HTTP_X_CASE", i.to_string());
    }
    v
}

/// One reply, flattened to comparable (field, value) rows.
fn rows(reply: &Reply) -> Vec<(String, String)> {
    let mut rows = vec![
        ("status".to_string(), reply.status.to_string()),
        ("END_REQUEST appStatus".to_string(), reply.raw.app_status.to_string()),
        ("END_REQUEST protocolStatus".to_string(), reply.raw.protocol_status.to_string()),
        ("FCGI_STDERR".to_string(), reply.stderr()),
    ];
    for (i, (name, value)) in reply.headers.iter().enumerate() {
        rows.push((format!("header #{i}"), format!("{name}: {value}")));
    }
    let vars = reply.vars();
    if vars.is_empty() {
        rows.push(("body".to_string(), reply.body_text()));
    } else {
        rows.extend(vars);
        // Lines dump.php prints that are not "path<TAB>value" (the end marker, echoes).
        let other: Vec<&str> =
            std::str::from_utf8(&reply.body).unwrap_or("").lines().filter(|l| !l.contains('\t')).collect();
        rows.push(("body (other lines)".to_string(), other.join("\\n")));
    }
    rows
}

/// Field-by-field differences, readable; empty when equal.
fn diff(sfpm: &Reply, fpm: &Reply) -> String {
    let (a, b) = (rows(sfpm), rows(fpm));
    let mut out = String::new();
    let mut names: Vec<&String> = a.iter().map(|(k, _)| k).collect();
    for (k, _) in &b {
        if !names.contains(&k) {
            names.push(k);
        }
    }
    for name in names {
        if excluded(name) {
            continue;
        }
        let va = a.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let vb = b.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if va != vb {
            let show = |v: Option<&str>| v.map_or("(absent)".to_string(), |v| format!("{v:?}"));
            writeln!(out, "    {name}\n        sfpm:    {}\n        php-fpm: {}", show(va), show(vb))
                .unwrap();
        }
    }
    // The order of each array's keys ($_SERVER's shows in foreach, phpinfo() and
    // json_encode($_SERVER); getallheaders()'s in the headers an app forwards).
    let keys = |rows: &[(String, String)], array: &str| -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for (path, _) in rows {
            let Some(rest) = path.strip_prefix(array).and_then(|p| p.strip_prefix('[')) else { continue };
            let key = rest.split(']').next().unwrap_or("").to_string();
            if keys.last() != Some(&key) {
                keys.push(key);
            }
        }
        keys
    };
    for array in [
        "server",
        "get",
        "post",
        "cookie",
        "request",
        "env",
        "files",
        "getallheaders",
        "apache_request_headers",
    ] {
        let (ka, kb) = (keys(&a, array), keys(&b, array));
        let (mut sa, mut sb) = (ka.clone(), kb.clone());
        sa.sort();
        sb.sort();
        // Different sets already show up field by field above.
        if ka != kb && sa == sb {
            writeln!(
                out,
                "    order of {array}'s keys\n        sfpm:    {}\n        php-fpm: {}",
                ka.join(","),
                kb.join(",")
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn sfpm_answers_like_php_fpm() {
    assert!(std::path::Path::new(PHP_FPM).exists(), "{PHP_FPM} is needed (php8.2-fpm)");
    let root = DocRoot::new("differential");
    std::fs::create_dir_all(root.path.join("sub")).unwrap();
    std::fs::create_dir_all(root.path.join("dir.php")).unwrap();
    root.write("x.txt", "<?php echo 'txt ran';\n");
    root.write("sub/dump.php", &std::fs::read_to_string(root.path.join("dump.php")).unwrap());
    let spec = PoolSpec { workers: 2, ini: INI, pool_lines: POOL };
    let sfpm = Php::start(Kind::Sfpm, &spec);
    let fpm = Php::start(Kind::PhpFpm, &spec);

    let cases = cases(&root);
    assert!(cases.len() >= 30);
    let mut report = String::new();
    let mut failed = 0;
    for case in &cases {
        let (a, b) = match (sfpm.try_call(&case.req), fpm.try_call(&case.req)) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let show = |r: &std::io::Result<Reply>| match r {
                    Ok(reply) => reply.describe(),
                    Err(e) => format!("no answer: {e}"),
                };
                failed += 1;
                writeln!(report, "--- {}\n    sfpm:    {}\n    php-fpm: {}\n", case.name, show(&a), show(&b))
                    .unwrap();
                continue;
            }
        };
        let mut d = diff(&a, &b);
        if b.status != case.status {
            writeln!(
                d,
                "    php-fpm answered {} where this case expects {}: {}",
                b.status,
                case.status,
                b.describe()
            )
            .unwrap();
        }
        if let Some(why) = case.known {
            if d.is_empty() {
                failed += 1;
                writeln!(
                    report,
                    "--- {}\n    marked as a known difference, but the answers are equal now\n",
                    case.name
                )
                .unwrap();
            } else {
                println!("known difference, {}: {why}\n{d}", case.name);
            }
            continue;
        }
        if !d.is_empty() {
            failed += 1;
            writeln!(report, "--- {}\n{d}", case.name).unwrap();
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} requests answered differently (excluded fields: {:?}):\n{report}\nsfpm log:\n{}\nphp-fpm log:\n{}",
        cases.len(),
        EXCLUDED.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
        sfpm.log(),
        fpm.log()
    );
}

/// `text` with every run of digits replaced by `N`: counters, pids, durations and dates
/// differ between two servers, the layout around them must not.
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// The status page (`pm.status_path`) in every format, with and without `full`: status,
/// headers (names, order, values) and body layout equal to php-fpm's, numbers masked.
/// One worker each, so the only process listed is the one answering, in both.
#[test]
fn the_status_page_is_laid_out_as_php_fpm_s() {
    let root = DocRoot::new("status-page");
    root.write("status", "");
    let spec = PoolSpec { workers: 1, ini: INI, pool_lines: "pm.status_path = /status\n" };
    let sfpm = Php::start(Kind::Sfpm, &spec);
    let fpm = Php::start(Kind::PhpFpm, &spec);
    let show = |r: &Reply| {
        let headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        format!("{}\n{}\n\n{}", r.status, headers.join("\n"), mask_numbers(&r.body_text()))
    };
    let queries = [
        "",
        "full",
        "json",
        "json&full",
        "xml",
        "xml&full",
        "html",
        "html&full",
        "openmetrics",
        "json=0&full",
    ];
    let mut report = String::new();
    for query in queries {
        let req = Req::get(&root, "status", query);
        let (a, b) = (sfpm.call(&req), fpm.call(&req));
        assert_eq!(b.status, 200, "php-fpm: {}", b.describe());
        assert!(b.body.len() > 200, "php-fpm's page is a real page: {}", b.describe());
        let (a, b) = (show(&a), show(&b));
        if a != b {
            writeln!(report, "--- ?{query}\nsfpm:\n{a}\nphp-fpm:\n{b}\n").unwrap();
        }
    }
    // HEAD: the headers only.
    let head = Req::get(&root, "status", "json").set("REQUEST_METHOD", "HEAD");
    let (a, b) = (sfpm.call(&head), fpm.call(&head));
    assert!(a.body.is_empty() && b.body.is_empty(), "{}\n{}", a.describe(), b.describe());
    assert!(report.is_empty(), "the status pages differ:\n{report}");
}

/// The access log (`access.log`, `access.format` with every token but `%C`, whose
/// precision differs: php-fpm counts CPU in clock ticks, sfpm in microseconds, and
/// `access.suppress_path[]`): the same lines as php-fpm's, numbers masked.
#[test]
fn the_access_log_is_written_as_php_fpm_s() {
    let root = DocRoot::new("access-log");
    root.write("status", "");
    let pool_lines = "pm.status_path = /status\nping.path = /ping\naccess.log = {dir}/access.log\n\
         access.suppress_path[] = /ping\n\
         access.format = \"%R - %u %t \\\"%m %r%Q%q\\\" %s %f %{mili}d %{kilo}M %n %l %{HTTP_HOST}e \
         %{Location}o %{Content-type}o %{Content-Type}o %p %P %{%Y-%m-%d}T %{micro}d %{mega}M %%\"\n";
    let spec = PoolSpec { workers: 1, ini: INI, pool_lines };
    let servers = [Php::start(Kind::Sfpm, &spec), Php::start(Kind::PhpFpm, &spec)];
    let form = "application/x-www-form-urlencoded";
    let requests = [
        Req::get(&root, "dump.php", "a=1").set("HTTP_HOST", "example.org"),
        Req::get(&root, "dump.php", "location=/elsewhere"),
        Req::get(&root, "dump.php", "")
            .body("POST", form, "a=1&b=2")
            .set("HTTP_AUTHORIZATION", "Basic YWxpY2U6c2VjcmV0"),
        Req::get(&root, "missing.php", ""),
        Req::get(&root, "status", "json"),
        Req::get(&root, "ping", ""),
        Req::get(&root, "dump.php", "last=1"),
    ];
    let logged = requests.len() - 1; // the ping is suppressed
    let lines: Vec<Vec<String>> = servers
        .iter()
        .map(|php| {
            for req in &requests {
                php.call(req);
            }
            let path = php.server.log.with_file_name("access.log");
            wait_for(&format!("{logged} lines in {}", path.display()), DEADLINE, || {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<String> = text.lines().map(mask_numbers).collect();
                (lines.len() >= logged).then_some(lines)
            })
        })
        .collect();
    assert_eq!(lines[0].len(), logged, "sfpm wrote: {:#?}", lines[0]);
    assert!(lines[1][0].contains("\"GET /dump.php?a=N\" N"), "php-fpm's line: {}", lines[1][0]);
    assert!(lines[1][2].contains(" - alice "), "php-fpm's line: {}", lines[1][2]);
    for (i, (a, b)) in lines[0].iter().zip(&lines[1]).enumerate() {
        assert_eq!(a, b, "line {i}: sfpm then php-fpm");
    }
}
