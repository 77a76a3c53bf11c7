//! PHP through the `sfpm` binary, over raw FastCGI with the project's client: opcache,
//! superglobals, uploads, headers, streaming, the ways a script ends (exit, fatal error,
//! timeouts, memory), `fastcgi_finish_request()`, php-fpm's 404/403 answers, and bad
//! input (`..`, NUL bytes, the CVE-2019-11043 shape, `PHP_VALUE`).
//!
//! Every server runs `sfpm -F -R -n -y <conf> -d zend_extension=opcache.so -d
//! opcache.enable=1 ...` with an empty `PHP_INI_SCAN_DIR`, on a free loopback port,
//! and is killed when its test ends; scripts are `tests/scripts/*.php`.

mod php_support;
mod support;

use php_support::*;
use sfpm::client::{ResponseDecoder, ResponseEvent};
use std::io::Read;
use std::time::{Duration, Instant};
use support::{DEADLINE, wait_for};

/// The ini of these tests after `php_support::BASE_INI`: php-fpm's production-like error
/// handling (errors logged, not shown: a fatal error is a 500), a 1 s CPU limit for
/// the timeout test, and small upload limits for the size tests.
const INI: &[&str] = &[
    "display_errors=0",
    "log_errors=1",
    "max_execution_time=1",
    "upload_max_filesize=1K",
    "post_max_size=64K",
];

/// The pool's `security.limit_extensions`: `.php` and, to show the list is the pool's
/// and not a default, `.inc`; and a status page.
const POOL: &str = "security.limit_extensions = .php .inc\npm.status_path = /status\n";

fn start(workers: u32) -> Php {
    Php::start(Kind::Sfpm, &PoolSpec { workers, ini: INI, pool_lines: POOL })
}

fn pid_of(reply: &Reply) -> i32 {
    let text = reply.body_text();
    let pid = text.lines().find_map(|l| l.strip_prefix("pid=").or_else(|| l.strip_prefix("php[pid]\ti:")));
    pid.and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("no pid in {}", reply.describe()))
}

/// `key=value` lines of opcache.php / cve.php.
fn field(reply: &Reply, key: &str) -> String {
    let text = reply.body_text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {key}= in {}", reply.describe()))
}

fn num(reply: &Reply, key: &str) -> i64 {
    field(reply, key).parse().unwrap_or_else(|_| panic!("{key} is not a number in {}", reply.describe()))
}

/// A request that keeps one worker busy (`stream.php` waiting for its go file) until
/// released (unreleased, until stream.php gives up after 10 s or the server is killed).
struct Hold {
    conn: support::Conn,
    decoder: ResponseDecoder,
    go: std::path::PathBuf,
    pid: i32,
}

impl Hold {
    /// Starts `stream.php` and waits for its first chunk: the worker is now busy.
    fn start(php: &Php, root: &DocRoot, tag: &str) -> Hold {
        let go = root.path.join(format!("go-{tag}"));
        let mut conn = php.server.addr.connect().unwrap();
        Req::get(root, "stream.php", &format!("go={}", go.display())).write(&mut conn, false);
        let mut decoder = ResponseDecoder::new();
        let line_done =
            |s: &str| s.split_once("first-chunk pid=").is_some_and(|(_, rest)| rest.contains('\n'));
        let (first, ended) =
            read_stdout_while(&mut conn, &mut decoder, "first-chunk pid=N", |s| !line_done(s));
        assert!(!ended, "stream.php ended before its go file existed: {first:?}");
        let pid = first
            .split_once("first-chunk pid=")
            .and_then(|(_, rest)| rest.lines().next()?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {first:?}"));
        Hold { conn, decoder, go, pid }
    }

    /// Lets the script end and reads its response to the end.
    fn release(mut self) {
        std::fs::write(&self.go, "").unwrap();
        read_stdout_until(&mut self.conn, &mut self.decoder, "second-chunk");
    }
}

#[test]
fn opcache_is_on_and_a_script_compiled_by_one_worker_is_a_hit_in_the_other() {
    let root = DocRoot::new("opcache");
    let php = start(2);
    let status = php.call(&Req::get(&root, "opcache.php", ""));
    assert_eq!(
        field(&status, "enabled"),
        "true",
        "opcache_get_status() says disabled: {}",
        status.describe()
    );
    assert_eq!(field(&status, "sapi"), "fpm-fcgi", "php_sapi_name(), which opcache's allow list needs");

    // One worker compiles target.php: a miss, cached, not hit yet.
    let compiled = php.call(&Req::get(&root, "target.php", ""));
    let compiler = pid_of(&compiled);
    assert_eq!(field(&compiled, "script_hits"), "0", "cached by its first run: {}", compiled.describe());

    // Keep the compiler busy, so the other worker must take the next requests: hold
    // requests land on whichever worker is free; at most two are needed.
    let first = Hold::start(&php, &root, "1");
    let (busy, spare) = if first.pid == compiler {
        (first, None)
    } else {
        let second = Hold::start(&php, &root, "2");
        assert_eq!(second.pid, compiler, "with the other worker busy, the compiler takes the request");
        (second, Some(first))
    };
    if let Some(spare) = spare {
        spare.release();
    }
    assert_eq!(busy.pid, compiler);

    // The other worker: everything it needs is compiled before the measurement ...
    let before = php.call(&Req::get(&root, "opcache.php", &format!("script={}", root.file("target.php"))));
    let other = pid_of(&before);
    assert_ne!(other, compiler, "the compiler is busy: {}", before.describe());
    assert_eq!(field(&before, "script_hits"), "0");
    let misses = num(&before, "misses");
    // ... then target.php runs from the shared cache: a hit, no new miss.
    let hit = php.call(&Req::get(&root, "target.php", ""));
    assert_eq!(pid_of(&hit), other);
    assert_eq!(
        field(&hit, "script_hits"),
        "1",
        "a hit in the worker that did not compile it: {}",
        hit.describe()
    );
    assert_eq!(num(&hit, "misses"), misses, "the other worker compiled target.php again: {}", hit.describe());
    busy.release();
}

#[test]
fn get_post_cookie_and_php_input() {
    let root = DocRoot::new("superglobals");
    let php = start(1);

    let r = php.call(
        &Req::get(&root, "dump.php", "a=1&b[]=x&b[]=y&c[k]=v&sp=a+b%20c&empty=")
            .set("HTTP_COOKIE", "c1=v1; c2=a%20b; c3[x]=y"),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let vars = r.vars();
    let want = [
        ("get[a]", "s:1"),
        ("get[b][0]", "s:x"),
        ("get[b][1]", "s:y"),
        ("get[c][k]", "s:v"),
        ("get[sp]", "s:a b c"),
        ("get[empty]", "s:"),
        ("cookie[c1]", "s:v1"),
        ("cookie[c2]", "s:a b"),
        ("cookie[c3][x]", "s:y"),
        ("post", "[]"),
        ("php[sapi]", "s:fpm-fcgi"),
        ("php[getenv_method]", "s:GET"),
        // $_SERVER goes through PHP's input filter, as in php-fpm, so ext/filter sees it.
        ("php[filter_input_server]", "s:GET"),
        // getenv() reads the params; PHP_SELF is not one (php-fpm computes it for $_SERVER).
        ("php[getenv_php_self]", "b:false"),
    ];
    for (path, value) in want {
        assert!(
            vars.iter().any(|(k, v)| k == path && v == value),
            "{path} = {value} expected in {}",
            r.describe()
        );
    }

    let form = "name=J%C3%BCrgen&list[]=1&list[]=2&plus=a+b";
    let r =
        php.call(&Req::get(&root, "dump.php", "").body("POST", "application/x-www-form-urlencoded", form));
    assert_eq!(r.string("post[name]").as_deref(), Some("J\\303\\274rgen"), "{}", r.describe());
    assert_eq!(r.string("post[list][1]").as_deref(), Some("2"));
    assert_eq!(r.string("post[plus]").as_deref(), Some("a b"));
    assert_eq!(r.string("input").as_deref(), Some(form), "php://input keeps a form body");

    let json = "{\"k\": [1, 2, \"three\"]}\n";
    let r = php.call(&Req::get(&root, "dump.php", "").body("PUT", "application/json", json));
    assert_eq!(r.string("input").as_deref(), Some("{\"k\": [1, 2, \"three\"]}\\n"), "{}", r.describe());
    assert_eq!(r.var("post").as_deref(), Some("[]"), "a JSON body fills no $_POST");
    assert_eq!(r.string("server[REQUEST_METHOD]").as_deref(), Some("PUT"));

    // CONTENT_LENGTH larger than the body: PHP gets the bytes that came (php-fpm instead
    // waits for the rest forever, so tests/php_differential.rs cannot compare this).
    let r = php.call(
        &Req::get(&root, "dump.php", "")
            .body("POST", "application/x-www-form-urlencoded", "a=1")
            .set("CONTENT_LENGTH", "10"),
    );
    assert_eq!(r.string("post[a]").as_deref(), Some("1"), "{}", r.describe());
    assert_eq!(r.string("input").as_deref(), Some("a=1"));

    // A body larger than one FastCGI record (64 KiB) and than PHP's read chunk.
    let big = "x".repeat(200_000);
    let r = php.call(&Req::get(&root, "dump.php", "").body("POST", "text/plain", &big));
    let input = r.string("input").unwrap_or_default();
    assert_eq!(input.len(), big.len(), "php://input of a 200 kB body");
}

#[test]
fn multipart_upload_fills_files_and_honours_the_size_limits() {
    let root = DocRoot::new("upload");
    let php = start(1);
    let boundary = "----sfpmBoundary7MA4YWxk";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let small: Vec<u8> = (0..=255u8).cycle().take(700).collect();
    let body = multipart(
        boundary,
        &[("title", "two files")],
        &[("doc", "a.bin", &small), ("big", "b.bin", &[b'z'; 2000])],
    );
    let r = php.call(&Req::get(&root, "dump.php", "").body("POST", &content_type, &body));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.string("post[title]").as_deref(), Some("two files"));
    assert_eq!(r.string("files[doc][name]").as_deref(), Some("a.bin"));
    assert_eq!(r.var("files[doc][error]").as_deref(), Some("i:0"), "{}", r.describe());
    assert_eq!(r.var("files[doc][size]").as_deref(), Some("i:700"));
    assert_eq!(r.var("upload[doc][size]").as_deref(), Some("i:700"));
    let md5 = r.string("upload[doc][md5]").unwrap();
    assert_eq!(md5.len(), 32);
    // upload_max_filesize=1K: the 2000-byte file is refused with UPLOAD_ERR_INI_SIZE.
    assert_eq!(r.var("files[big][error]").as_deref(), Some("i:1"), "UPLOAD_ERR_INI_SIZE: {}", r.describe());
    assert_eq!(r.var("files[big][size]").as_deref(), Some("i:0"));

    // The same file twice gives the same md5: the bytes arrived intact.
    let body = multipart(boundary, &[], &[("doc", "a.bin", &small)]);
    let again = php.call(&Req::get(&root, "dump.php", "").body("POST", &content_type, &body));
    assert_eq!(again.string("upload[doc][md5]"), Some(md5));

    // post_max_size=64K: a larger body leaves $_POST and $_FILES empty, with PHP's warning.
    let body = multipart(boundary, &[("title", "too big")], &[("doc", "c.bin", &[b'y'; 70_000])]);
    let r = php.call(&Req::get(&root, "dump.php", "").body("POST", &content_type, &body));
    assert_eq!(r.var("post").as_deref(), Some("[]"), "{}", r.describe());
    assert!(r.var("files[doc][name]").is_none(), "no $_FILES over post_max_size: {}", r.describe());
    assert!(
        r.stderr().contains("exceeds the limit of 65536 bytes"),
        "PHP's warning on FCGI_STDERR: {}",
        r.describe()
    );
}

#[test]
fn header_status_code_set_cookie_and_request_headers() {
    let root = DocRoot::new("headers");
    let php = start(1);
    let r = php.call(
        &Req::get(&root, "dump.php", "status=201&header[]=X-One:%201&header[]=X-Two:%20two&setcookie=sess")
            .set("HTTP_ACCEPT_LANGUAGE", "de")
            .set("HTTP_X_CUSTOM_THING", "custom value")
            .set("CONTENT_TYPE", "text/plain"),
    );
    assert_eq!(r.status, 201, "{}", r.describe());
    assert_eq!(r.header("Status"), Some("201 Created"));
    assert_eq!(r.header("X-One"), Some("1"));
    assert_eq!(r.header("X-Two"), Some("two"));
    assert_eq!(r.header("Set-Cookie"), Some("sess=v%20a%3Bl; path=/p; HttpOnly"));
    assert_eq!(r.header("Content-type"), Some("text/html; charset=UTF-8"));
    assert_eq!(r.var("php[response_code]").as_deref(), Some("i:201"));
    for function in ["getallheaders", "apache_request_headers"] {
        assert_eq!(
            r.string(&format!("{function}[Accept-Language]")).as_deref(),
            Some("de"),
            "{}",
            r.describe()
        );
        assert_eq!(r.string(&format!("{function}[X-Custom-Thing]")).as_deref(), Some("custom value"));
        assert_eq!(r.string(&format!("{function}[Host]")).as_deref(), Some("localhost"));
        assert_eq!(r.string(&format!("{function}[Content-Type]")).as_deref(), Some("text/plain"));
        assert_eq!(r.string(&format!("{function}[User-Agent]")).as_deref(), Some("sfpm-tests"));
    }
    // A status line from header("HTTP/1.1 ...") keeps its reason phrase.
    let r = php.call(&Req::get(&root, "dump.php", "http_status=503%20Try%20Later"));
    assert_eq!((r.status, r.header("Status")), (503, Some("503 Try Later")), "{}", r.describe());
    // Location: a 302 on GET.
    let r = php.call(&Req::get(&root, "dump.php", "location=/elsewhere"));
    assert_eq!((r.status, r.header("Location")), (302, Some("/elsewhere")), "{}", r.describe());
}

/// Reads `conn` until STDOUT so far contains `needle`; returns it, and whether
/// END_REQUEST came. Bounded by the connection's read timeout and [`DEADLINE`].
fn read_stdout_until(
    conn: &mut support::Conn,
    decoder: &mut ResponseDecoder,
    needle: &str,
) -> (String, bool) {
    read_stdout_while(conn, decoder, needle, |so_far| !so_far.contains(needle))
}

/// Reads `conn` while `more(STDOUT so far)` and END_REQUEST has not come.
fn read_stdout_while(
    conn: &mut support::Conn,
    decoder: &mut ResponseDecoder,
    what: &str,
    more: impl Fn(&str) -> bool,
) -> (String, bool) {
    let mut stdout = Vec::new();
    let mut ended = false;
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + DEADLINE;
    while more(&String::from_utf8_lossy(&stdout)) && !ended {
        assert!(Instant::now() < end, "never got {what:?}; so far {:?}", String::from_utf8_lossy(&stdout));
        let n = conn.read(&mut buf).expect("read (bounded by the connection's timeout)");
        assert!(n > 0, "connection closed; so far {:?}", String::from_utf8_lossy(&stdout));
        let mut pos = 0;
        while pos < n {
            let (used, event) = decoder.advance(&buf[pos..n]).expect("valid records");
            pos += used;
            match event {
                Some(ResponseEvent::Stdout { bytes, .. }) => stdout.extend_from_slice(bytes),
                Some(ResponseEvent::End { .. }) => ended = true,
                _ => {}
            }
        }
    }
    (String::from_utf8_lossy(&stdout).into_owned(), ended)
}

#[test]
fn flush_streams_the_first_chunk_while_the_script_still_runs() {
    let root = DocRoot::new("stream");
    let php = start(1);
    let go = root.path.join("go-stream");
    let mut conn = php.server.addr.connect().unwrap();
    Req::get(&root, "stream.php", &format!("go={}", go.display())).write(&mut conn, false);
    let mut decoder = ResponseDecoder::new();
    let (first, ended) = read_stdout_until(&mut conn, &mut decoder, "first-chunk");
    assert!(!ended, "the request ended before the go file existed");
    assert!(first.contains("Content-type: text/html"), "headers go out with the first chunk: {first:?}");
    assert!(!first.contains("second-chunk"));
    // The script is still waiting for us: let it finish.
    std::fs::write(&go, "").unwrap();
    let (rest, _) = read_stdout_until(&mut conn, &mut decoder, "second-chunk");
    assert!(rest.contains("second-chunk"), "{rest:?}");
}

#[test]
fn exit_ends_the_script_and_the_next_request_is_served() {
    let root = DocRoot::new("exit");
    let php = start(1);
    let mut kept = php.keep();
    let r = kept.call(&Req::get(&root, "exit.php", ""));
    assert_eq!(r.status, 200);
    // The exit status is END_REQUEST's appStatus (the FastCGI spec's Responder rule;
    // php-fpm always sends 0).
    assert_eq!(r.raw.app_status, 3);
    assert_eq!(r.body_text(), "before-exit\nshutdown-function\n", "{}", r.describe());
    let next = kept.call(&Req::get(&root, "dump.php", "after=exit"));
    assert_eq!(next.string("get[after]").as_deref(), Some("exit"), "{}", next.describe());
    assert_eq!(next.var("php[response_code]").as_deref(), Some("i:200"));
}

#[test]
fn a_fatal_error_is_a_500_and_the_same_worker_serves_the_next_request() {
    let root = DocRoot::new("fatal");
    let php = start(1);
    let mut kept = php.keep();
    let before = kept.call(&Req::get(&root, "dump.php", ""));
    let pid = before.var("php[pid]");
    let r = kept.call(&Req::get(&root, "dump.php", "fatal=1"));
    assert_eq!(r.status, 500, "{}", r.describe());
    assert_eq!(r.header("Status"), Some("500 Internal Server Error"));
    assert_eq!(r.raw.app_status, 255, "PHP's exit status after a fatal error");
    assert!(r.body.is_empty(), "display_errors=0 shows nothing: {}", r.describe());
    assert!(
        r.stderr().contains("PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function"),
        "the error goes to FCGI_STDERR: {}",
        r.describe()
    );
    let next = kept.call(&Req::get(&root, "dump.php", "n=2"));
    assert_eq!(next.status, 200, "{}", next.describe());
    assert_eq!(next.string("get[n]").as_deref(), Some("2"));
    assert_eq!(next.var("php[pid]"), pid);
    assert!(crash_lines(&php.log()).is_empty(), "{}", php.log());
}

#[test]
fn max_execution_time_stops_a_cpu_loop_and_the_worker_serves_the_next_request() {
    let root = DocRoot::new("timeout");
    let php = start(1);
    let workers = php.server.worker_pids();
    let mut kept = php.keep();
    let started = Instant::now();
    let r = kept.call(&Req::get(&root, "cpu.php", ""));
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.describe());
    assert!(r.stderr().contains("Maximum execution time of 1 second exceeded"), "{}", r.describe());
    // CPU time (ITIMER_PROF): at least a second of wall time too; the read is bounded.
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    let next = kept.call(&Req::get(&root, "dump.php", "after=timeout"));
    assert_eq!(next.string("get[after]").as_deref(), Some("timeout"), "{}", next.describe());
    assert_eq!(php.server.worker_pids(), workers, "the worker was not replaced");
}

#[test]
fn memory_limit_exhaustion_is_a_500_and_the_worker_recovers() {
    let root = DocRoot::new("memory");
    let php = start(1);
    let workers = php.server.worker_pids();
    let mut kept = php.keep();
    let r = kept.call(&Req::get(&root, "memory.php", ""));
    assert_eq!(r.status, 500, "{}", r.describe());
    assert!(r.stderr().contains("Allowed memory size of 16777216 bytes exhausted"), "{}", r.describe());
    let next = kept.call(&Req::get(&root, "dump.php", "after=memory"));
    assert_eq!(next.string("get[after]").as_deref(), Some("memory"), "{}", next.describe());
    assert_eq!(php.server.worker_pids(), workers, "the worker was not replaced");
}

#[test]
fn fastcgi_finish_request_answers_the_client_while_the_script_goes_on() {
    let root = DocRoot::new("finish");
    let php = start(1);
    for keep_conn in [false, true] {
        let go = root.path.join(format!("go-{keep_conn}"));
        let out = root.path.join(format!("out-{keep_conn}"));
        let mut conn = php.server.addr.connect().unwrap();
        let req = Req::get(&root, "finish.php", &format!("go={}&out={}", go.display(), out.display()));
        // The whole response, END_REQUEST included, arrives while the script waits for `go`.
        let r = req.send(&mut conn, keep_conn);
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.header("X-Before-Finish"), Some("yes"));
        assert_eq!(r.body_text(), "before-finish\n", "output after the finish is not sent: {}", r.describe());
        assert!(!out.exists(), "the side effect comes after the response");
        std::fs::write(&go, "").unwrap();
        wait_for_file(&out, "the script's side effect after fastcgi_finish_request()");
        let effect = wait_for("the side effect written", DEADLINE, || {
            std::fs::read_to_string(&out).ok().filter(|s| s.ends_with('\n'))
        });
        assert!(effect.starts_with("r1=true r2=false go=true"), "{effect}");
        if keep_conn {
            // The kept connection carries the next request once the script is done.
            let next = Req::get(&root, "dump.php", "after=finish").send(&mut conn, true);
            assert_eq!(next.string("get[after]").as_deref(), Some("finish"), "{}", next.describe());
        }
    }
}

#[test]
fn a_missing_script_is_404_file_not_found_with_primary_script_unknown() {
    let root = DocRoot::new("notfound");
    let php = start(1);
    let r = php.call(&Req::get(&root, "nope.php", ""));
    assert_eq!(r.status, 404, "{}", r.describe());
    assert_eq!(r.header("Status"), Some("404 Not Found"));
    assert_eq!(r.body_text(), "File not found.\n");
    assert_eq!(r.stderr(), "Primary script unknown");
    assert_eq!(r.header("Content-type"), Some("text/html; charset=UTF-8"));
    // No SCRIPT_FILENAME at all: the same.
    let r = php.call(&Req::get(&root, "dump.php", "").unset("SCRIPT_FILENAME"));
    assert_eq!((r.status, r.body_text().as_str()), (404, "File not found.\n"), "{}", r.describe());
}

#[test]
fn security_limit_extensions_of_the_pool_is_403_access_denied() {
    let root = DocRoot::new("limit");
    let php = start(1);
    let dump = std::fs::read_to_string(root.path.join("dump.php")).unwrap();
    root.write("x.txt", &dump);
    root.write("x.inc", &dump);
    root.write("X.PHP", &dump);
    for script in ["x.txt", "X.PHP"] {
        let r = php.call(&Req::get(&root, script, ""));
        assert_eq!(r.status, 403, "{script}: {}", r.describe());
        assert_eq!(r.header("Status"), Some("403 Forbidden"));
        assert_eq!(r.body_text(), "Access denied.\n", "{script}");
    }
    // `.inc` is in this pool's list, so it runs.
    let r = php.call(&Req::get(&root, "x.inc", "via=inc"));
    assert_eq!(r.string("get[via]").as_deref(), Some("inc"), "{}", r.describe());
    // php-fpm's notice reaches the web server's log.
    let r = php.call(&Req::get(&root, "x.txt", ""));
    let notice = format!(
        "Access to the script '{}' has been denied (see security.limit_extensions)",
        root.file("x.txt")
    );
    assert_eq!(r.stderr(), notice);
}

#[test]
fn a_dot_dot_segment_is_404_and_runs_nothing() {
    let root = DocRoot::new("dotdot");
    let php = start(1);
    std::fs::create_dir_all(root.path.join("sub")).unwrap();
    let marker = root.path.join("mark.ran");
    for script in [format!("{}/sub/../mark.php", root.root()), format!("{}/../www/mark.php", root.root())] {
        let r = php.call(&Req::get(&root, "mark.php", "").set("SCRIPT_FILENAME", &script));
        assert_eq!(r.status, 404, "{script}: {}", r.describe());
        assert_eq!(r.body_text(), "File not found.\n");
    }
    assert!(!marker.exists(), "mark.php ran");
    // The same file without `..` does run (the test would be empty otherwise).
    php.call(&Req::get(&root, "mark.php", ""));
    assert!(marker.exists());
}

/// php-fpm sees SCRIPT_FILENAME as a C string, cut at the first NUL, so
/// `mark.php\0.txt` runs mark.php. sfpm checks and opens the same bytes: a path with a
/// NUL names no file, so the answer is 404 "File not found." and nothing runs.
#[test]
fn a_nul_byte_in_script_filename_never_runs_another_file() {
    let root = DocRoot::new("nul");
    let php = start(1);
    let marker = root.path.join("mark.ran");
    // mark.txt holds PHP code too: running it would also leave the marker.
    let mark = std::fs::read_to_string(root.path.join("mark.php")).unwrap();
    root.write("mark.txt", &mark);
    for script in ["mark.php\0.txt", "mark.txt\0.php", "mark.php\0", "mark.php\0/x"] {
        let path = [
            root.file(script.split('\0').next().unwrap()).as_bytes(),
            b"\0",
            script.split_once('\0').unwrap().1.as_bytes(),
        ]
        .concat();
        let r = php.call(&Req::get(&root, "mark.php", "").set("SCRIPT_FILENAME", &path));
        assert_eq!(r.status, 404, "{script:?}: {}", r.describe());
        assert_eq!(r.body_text(), "File not found.\n", "{script:?}");
        assert!(!marker.exists(), "{script:?} ran a script");
    }
    // A NUL in another param: $_SERVER cuts the value there, as php-fpm (C strings);
    // getallheaders() keeps it whole, as php-fpm.
    let r = php.call(&Req::get(&root, "dump.php", "").set("HTTP_X_NUL", b"a\0b"));
    assert_eq!(r.string("server[HTTP_X_NUL]").as_deref(), Some("a"), "{}", r.describe());
    assert_eq!(r.string("getallheaders[X-Nul]").as_deref(), Some("a\\000b"), "{}", r.describe());
}

#[test]
fn cve_2019_11043_shape_is_a_normal_answer_from_the_same_worker() {
    let root = DocRoot::new("cve");
    // One worker: a crash shows as a new pid whichever way connections are scheduled.
    let php = start(1);
    let workers = php.server.worker_pids();
    let mut kept = php.keep();
    let pad = "P".repeat(5000);
    let mut worker = None;
    let mut cases = Vec::new();
    for n in 1..=64usize {
        for q in [0usize, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 100, 255, 256, 511] {
            cases.push((n, q));
        }
    }
    // The phpt's shape (35 A's) with every query length up to 300.
    cases.extend((0..=300).map(|q| (35, q)));
    for (n, q) in cases {
        let tail = "A".repeat(n);
        let query = "Q".repeat(q);
        let req = Req::get(&root, "cve.php", &query)
            .set("SCRIPT_FILENAME", format!("{}/", root.file("cve.php")) + &tail)
            .set("SCRIPT_NAME", format!("/cve.php/{tail}"))
            .set("PATH_INFO", "")
            .set("REQUEST_URI", format!("/cve.php/%0a{tail}?{query}"))
            .set("HTTP_X_PAD", &pad);
        let r = kept.call(&req);
        let ctx = format!("N={n} Q={q}");
        assert_eq!(r.status, 200, "{ctx}: {}", r.describe());
        assert_eq!(field(&r, "path_info"), "''", "{ctx}: PATH_INFO stays empty");
        assert_eq!(field(&r, "auto_prepend_file"), "''", "{ctx}");
        let pid = pid_of(&r);
        assert_eq!(*worker.get_or_insert(pid), pid, "{ctx}: another worker answered (a crash?)");
        let keys = field(&r, "keys");
        for key in keys.split(',') {
            let known = req.param(key).is_some()
                || [
                    "FCGI_ROLE",
                    "ORIG_SCRIPT_FILENAME",
                    "PATH_TRANSLATED",
                    "PHP_SELF",
                    "REQUEST_TIME_FLOAT",
                    "REQUEST_TIME",
                    "argv",
                    "argc",
                ]
                .contains(&key);
            assert!(known, "{ctx}: unexpected $_SERVER key {key}");
        }
    }
    assert_eq!(php.server.worker_pids(), workers);
    assert!(crash_lines(&php.log()).is_empty(), "{}", php.log());
}

/// php-fpm writes `PHP_VALUE`/`PHP_ADMIN_VALUE` into the worker's ini for good
/// (reference/server-vars.md §5): a setting sent once stays for every later request of
/// that worker. sfpm applies it to its own request only.
#[test]
fn php_value_params_apply_to_their_request_only() {
    let root = DocRoot::new("php-value");
    let php = start(1);
    let mut kept = php.keep();
    let setting = format!("auto_prepend_file={}", root.file("prepend.php"));
    let mut pids = Vec::new();
    for param in ["PHP_VALUE", "PHP_ADMIN_VALUE"] {
        let with = kept.call(&Req::get(&root, "dump.php", "").set(param, &setting));
        let without = kept.call(&Req::get(&root, "dump.php", ""));
        assert!(
            with.body_text().contains("PREPENDED"),
            "{param}: prepend.php did not run: {}",
            with.describe()
        );
        assert_eq!(with.string("php[auto_prepend_file]"), Some(root.file("prepend.php")), "{param}");
        assert!(
            !without.body_text().contains("PREPENDED"),
            "after {param}: it leaked: {}",
            without.describe()
        );
        assert_eq!(without.string("php[auto_prepend_file]").as_deref(), Some(""), "after {param}");
        pids.push(with.var("php[pid]"));
        pids.push(without.var("php[pid]"));
        // The param itself is an ordinary $_SERVER entry, as in php-fpm.
        assert_eq!(with.string(&format!("server[{param}]")), Some(setting.clone()));
        assert_eq!(without.var(&format!("server[{param}]")), None);
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one worker served all of them");
}

/// Pool `php_admin_value[]` is locked, as in php-fpm: `ini_set()` cannot change it;
/// `php_value[]` is a default scripts may change.
#[test]
fn php_admin_values_are_locked_and_php_values_are_not() {
    let root = DocRoot::new("admin-value");
    root.write(
        "ini.php",
        "<?php\nvar_export([ini_set('memory_limit', '10M'), ini_get('memory_limit'), \
         ini_get('precision'), ini_set('precision', '9'), ini_get('precision')]);",
    );
    let pool = format!("{POOL}php_admin_value[memory_limit] = 77M\nphp_value[precision] = 7\n");
    let php = Php::start(Kind::Sfpm, &PoolSpec { workers: 1, ini: INI, pool_lines: &pool });
    let reply = php.call(&Req::get(&root, "ini.php", ""));
    let text = reply.body_text();
    assert!(
        text.contains("array (\n  0 => false,\n  1 => '77M',\n  2 => '7',\n  3 => '7',\n  4 => '9',\n)"),
        "{}",
        reply.describe()
    );
}

/// `fpm_get_status()` from the scoreboard: php-fpm's keys, the pool's workers, and this
/// request as the calling worker's.
#[test]
fn fpm_get_status_describes_the_pool_and_this_request() {
    let root = DocRoot::new("status");
    root.write(
        "status.php",
        "<?php\n$s = fpm_get_status();\n$me = array_values(array_filter($s['procs'], fn ($p) => $p['pid'] === getmypid()))[0];\n\
         echo implode(',', array_keys($s)), \"\\n\", implode(',', array_keys($me)), \"\\n\";\n\
         echo $s['pool'], ' ', $s['process-manager'], ' ', $s['total-processes'], ' ', count($s['procs']), ' ', $s['active-processes'], \"\\n\";\n\
         echo $me['state'], ' ', $me['request-method'], ' ', $me['query-string'], ' ', $me['script'] === __FILE__ ? 'script' : $me['script'], ' ', $me['user'], \"\\n\";",
    );
    let php = start(2);
    let reply = php.call(&Req::get(&root, "status.php", "a=1"));
    let text = reply.body_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "pool,process-manager,start-time,start-since,accepted-conn,listen-queue,max-listen-queue,listen-queue-len,\
             idle-processes,active-processes,total-processes,max-active-processes,max-children-reached,slow-requests,procs"
        ),
        "{}",
        reply.describe()
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(
            "pid,state,start-time,start-since,requests,request-duration,request-method,request-uri,query-string,\
             request-length,user,script,last-request-cpu,last-request-memory"
        )
    );
    assert_eq!(lines.get(2).copied(), Some("www static 2 2 1"), "{}", reply.describe());
    assert_eq!(lines.get(3).copied(), Some("Running GET a=1 script -"), "{}", reply.describe());
}

/// The text status page's `label: value` line.
fn status_line(page: &Reply, label: &str) -> String {
    let text = page.body_text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {label} in {}", page.describe()))
}

#[test]
fn the_status_page_shows_a_busy_worker_and_counts_requests() {
    let root = DocRoot::new("status-page");
    let php = start(2);
    let status = |query: &str| {
        let page = php.call(&Req::get(&root, "status", query));
        assert_eq!(page.status, 200, "{}", page.describe());
        page
    };
    let before: u64 = status_line(&status(""), "accepted conn").parse().unwrap();
    let hold = Hold::start(&php, &root, "status");

    let page = status("full");
    assert_eq!(page.header("Content-type"), Some("text/plain;charset=UTF-8"));
    assert_eq!(status_line(&page, "active processes"), "2", "the held request and this one");
    assert_eq!(status_line(&page, "idle processes"), "0");
    assert_eq!(status_line(&page, "accepted conn").parse::<u64>().unwrap(), before + 2);
    let text = page.body_text();
    let held = text
        .split("************************")
        .find(|block| block.contains(&format!("pid:                  {}\n", hold.pid)))
        .unwrap_or_else(|| panic!("the held worker {} is not listed: {text}", hold.pid));
    assert!(held.contains("state:                Running\n"), "{held}");
    assert!(held.contains("request URI:          /stream.php?go="), "{held}");
    assert!(held.contains(&format!("script:               {}\n", root.file("stream.php"))), "{held}");
    // The status request itself: its script does not exist, shown as php-fpm does.
    let own =
        text.split("************************").find(|b| b.contains("request URI:          /status?full\n"));
    assert!(own.is_some_and(|b| b.contains("script:               -\n")), "{text}");

    let pid = hold.pid;
    hold.release();
    // The worker reports itself idle right after answering: wait for it, bounded.
    let idle = format!("{{\"pid\":{pid},\"state\":\"Idle\"");
    let page = wait_for("the released worker is listed idle", DEADLINE, || {
        Some(status("json&full")).filter(|page| page.body_text().contains(&idle))
    });
    assert_eq!(page.header("Content-Type"), Some("application/json"));
    assert!(page.body_text().contains("\"active processes\":1,"), "{}", page.describe());
    // Not a script: a missing SCRIPT_FILENAME is php-fpm's 404.
    let page = php.call(&Req::get(&root, "status", "").unset("SCRIPT_FILENAME"));
    assert_eq!(page.status, 404, "{}", page.describe());
}

/// Whether the tests run with effective uid 0 (from /proc, without libc).
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().nth(1));
    euid == Some("0")
}

#[test]
fn process_priority_rlimit_files_and_rlimit_core_apply_to_the_workers() {
    let root = DocRoot::new("rlimits");
    root.write("limits.php", "<?php echo file_get_contents('/proc/self/limits');");
    root.write("stat.php", "<?php echo file_get_contents('/proc/self/stat');");
    let lines = "rlimit_files = 1000\nrlimit_core = 12345\nprocess.priority = 7\n";
    let php = Php::start(Kind::Sfpm, &PoolSpec { workers: 1, ini: INI, pool_lines: lines });
    let stat = php.call(&Req::get(&root, "stat.php", "")).body_text();
    // Field 19 of /proc/<pid>/stat, counting after the parenthesised command (field 2).
    let nice = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(16)).unwrap_or("?");
    if running_as_root() {
        assert_eq!(nice, "7", "{stat}");
    } else {
        assert_eq!(nice, "0", "{stat}");
        assert!(php.log().contains("'process.priority' directive is ignored"), "{}", php.log());
    }
    let limits = php.call(&Req::get(&root, "limits.php", "")).body_text();
    let row = |name: &str| {
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {limits}"));
        line[name.len()..].split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(row("Max open files"), "1000 1000", "{limits}");
    assert_eq!(row("Max core file size"), "12345 12345", "{limits}");
    assert!(!php.log().contains("'rlimit_files' is accepted but not yet in effect"), "{}", php.log());
}

/// `chroot` (needs root, as in php-fpm; CI runs as root): scripts are found and run inside
/// the new root, with `/` as the working directory when `chdir` is not set.
#[test]
fn chroot_runs_the_workers_inside_the_document_root() {
    if !running_as_root() {
        eprintln!("chroot needs root: not checked");
        return;
    }
    let root = DocRoot::new("chroot");
    root.write(
        "jail.php",
        "<?php echo __FILE__, ' ', getcwd(), ' ', var_export(file_exists('/jail.php'), true);",
    );
    let lines = format!("chroot = {}\n", root.root());
    let php = Php::start(Kind::Sfpm, &PoolSpec { workers: 1, ini: INI, pool_lines: &lines });
    let req = Req::get(&root, "jail.php", "").set("SCRIPT_FILENAME", "/jail.php").set("DOCUMENT_ROOT", "/");
    let reply = php.call(&req);
    assert_eq!(reply.body_text(), "/jail.php / true", "{}", reply.describe());
    // The path outside the jail does not exist inside it.
    let reply = php.call(&Req::get(&root, "jail.php", ""));
    assert_eq!(reply.status, 404, "{}", reply.describe());
}
