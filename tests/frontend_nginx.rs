//! nginx 1.22 (Debian 12) in front of the real `sfpm` binary, as an operator runs them:
//! each test starts its own nginx on a free 127.0.0.1 port with the configuration from
//! `reference/frontends.md` §1, and its own sfpm (php-fpm.conf, `pm = static`, a Unix socket,
//! `listen.protocol = auto`), PHP scripts from `tests/scripts/` in a temporary document
//! root, and asserts what an HTTP client sees. PHP starts hermetic: `-n`, opcache loaded
//! with `-d`, `PHP_INI_SCAN_DIR` empty.

#![cfg(feature = "php")]

mod support;

use std::fs;
use std::path::PathBuf;
use support::frontend::{Listen, start_sfpm, vars};
use support::http::{self, Response};
use support::nginx::Nginx;
use support::{Server, TempDir};

/// frontends.md §1, the usual PHP location: split PATH_INFO, 404 from nginx for a
/// script that does not exist, `fastcgi.conf` for SCRIPT_FILENAME.
const PHP_LOCATION: &str = r"
location ~ [^/]\.php(/|$) {
    fastcgi_split_path_info ^(.+?\.php)(/.*)$;
    try_files $fastcgi_script_name =404;
    set $path_info $fastcgi_path_info;
    fastcgi_param PATH_INFO $path_info;
    fastcgi_index index.php;
    include /etc/nginx/fastcgi.conf;
    fastcgi_pass unix:{socket};
}";

/// The same without `try_files`: every `.php` URL reaches sfpm, which answers a missing
/// script itself.
const UNCHECKED_PHP_LOCATION: &str = r"
location ~ [^/]\.php(/|$) {
    fastcgi_split_path_info ^(.+?\.php)(/.*)$;
    fastcgi_param PATH_INFO $fastcgi_path_info;
    include /etc/nginx/fastcgi.conf;
    fastcgi_pass unix:{socket};
}";

/// frontends.md §1, keep-alive to the backend: nginx keeps up to 8 idle FastCGI
/// connections and sends `FCGI_KEEP_CONN`.
const KEEPALIVE_UPSTREAM: &str = "upstream php { server unix:{socket}; keepalive 8; }";
const KEEPALIVE_LOCATION: &str = r"
location ~ [^/]\.php(/|$) {
    try_files $fastcgi_script_name =404;
    include /etc/nginx/fastcgi.conf;
    fastcgi_keep_conn on;
    fastcgi_pass php;
}";

/// frontends.md §1, SCGI: Debian's `scgi_params` plus the script variables, to the same
/// socket as FastCGI (sfpm tells them apart by the first byte).
const SCGI_LOCATION: &str = r"
location ~ ^(?<script>.+?\.php)(?<pinfo>/.*)?$ {
    try_files $script =404;
    include /etc/nginx/scgi_params;
    scgi_param SCRIPT_FILENAME $document_root$script;
    scgi_param SCRIPT_NAME     $script;
    scgi_param PATH_INFO       $pinfo;
    scgi_pass unix:{socket};
}";

/// nginx in front of sfpm, with the document root they share. Fields drop in order:
/// nginx first, then sfpm, then the files.
struct Stack {
    nginx: Nginx,
    sfpm: Server,
    socket: PathBuf,
    web: TempDir,
}

impl Stack {
    /// Starts sfpm, then nginx with `http` (upstreams) and `locations`, in both of which
    /// `{socket}` is sfpm's socket.
    fn start(http: &str, locations: &str) -> Stack {
        // nginx workers run as nobody when the tests run as root: they must read the
        // scripts and reach the socket whatever the umask.
        let web = support::frontend::web_dir("nginx-web");
        let docroot = web.path("public");

        let (sfpm, socket) = start_sfpm(Listen::Unix);
        let socket = PathBuf::from(socket);
        let with_socket = |s: &str| s.replace("{socket}", &socket.display().to_string());
        let server = format!("root {};\nindex index.php;\n{}", docroot.display(), with_socket(locations));
        let nginx = Nginx::start(&web.0, &with_socket(http), &server);
        Stack { nginx, sfpm, socket, web }
    }

    fn get(&self, path: &str) -> Response {
        http::get(self.nginx.port, path)
    }

    fn docroot(&self) -> PathBuf {
        self.web.path("public")
    }

    /// nginx's error log and sfpm's log, for failure messages.
    fn logs(&self) -> String {
        format!("--- nginx ---\n{}--- sfpm ---\n{}", self.nginx.log_text(), self.sfpm.log_text())
    }

    /// Connections to sfpm's socket that are open now (accepted Unix sockets carry the
    /// listener's path in /proc/net/unix; state 03 is connected).
    fn open_backend_connections(&self) -> usize {
        let path = self.socket.display().to_string();
        let table = fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(5) == Some(&"03") && fields.get(7) == Some(&path.as_str())
            })
            .count()
    }
}

#[test]
fn hello_world() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/hello.php");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "Hello, world!\n");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
}

#[test]
fn sapi_name_is_fpm_fcgi_and_opcache_is_on() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/sapi.php");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "fpm-fcgi\nopcache on\n");
}

#[test]
fn post_form_is_read_into_post() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = http::post_form(
        stack.nginx.port,
        "/form.php",
        "name=Ada+Lovelace&message=1%2B1%3D2+%26+more&tags%5B%5D=x",
    );
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "method=POST\nname=Ada Lovelace\nmessage=1+1=2 & more\ntags=[\"x\"]\n");
}

#[test]
fn path_info_from_fastcgi_split_path_info() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/info.php/foo/bar?x=1");
    assert_eq!(r.status, 200, "{}", stack.logs());
    let v = vars(&r);
    let script = stack.docroot().join("info.php").display().to_string();
    assert_eq!(v.get("PATH_INFO").map(String::as_str), Some("/foo/bar"), "{v:?}");
    assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{v:?}");
    assert_eq!(v.get("PHP_SELF").map(String::as_str), Some("/info.php/foo/bar"), "{v:?}");
    assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{v:?}");
    assert_eq!(v.get("QUERY_STRING").map(String::as_str), Some("x=1"), "{v:?}");
    assert_eq!(v.get("REQUEST_URI").map(String::as_str), Some("/info.php/foo/bar?x=1"), "{v:?}");
}

#[test]
fn missing_script_is_nginx_404_with_try_files() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/missing.php");
    assert_eq!(r.status, 404, "{}", stack.logs());
    let body = r.text();
    assert!(
        body.contains("<title>404 Not Found</title>") && body.contains("nginx"),
        "nginx's own page: {body}"
    );
}

#[test]
fn missing_script_is_sfpm_404_without_try_files() {
    let stack = Stack::start("", UNCHECKED_PHP_LOCATION);
    let r = stack.get("/missing.php");
    assert_eq!(r.status, 404, "{}", stack.logs());
    assert_eq!(r.text(), "File not found.\n", "php-fpm's answer to an unknown script");
    // And the script that does exist still runs through this location.
    assert_eq!(stack.get("/hello.php").text(), "Hello, world!\n");
}

#[test]
fn location_header_redirects() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/redirect.php");
    assert_eq!(r.status, 302, "{}", stack.logs());
    assert_eq!(r.header("Location"), Some("/hello.php"));
}

#[test]
fn fatal_error_is_500() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = stack.get("/fatal.php");
    assert_eq!(r.status, 500, "{}", stack.logs());
    assert!(!r.text().contains("undefined_function_for_the_test"), "display_errors is off: {}", r.text());
    // The message reaches nginx's error log through FCGI_STDERR (nginx writes it before
    // it answers the client).
    let log = stack.nginx.log_text();
    assert!(
        log.contains("FastCGI sent in stderr")
            && log.contains("Call to undefined function undefined_function_for_the_test()"),
        "{}",
        stack.logs()
    );
}

#[test]
fn upstream_keepalive_serves_50_requests() {
    let stack = Stack::start(KEEPALIVE_UPSTREAM, KEEPALIVE_LOCATION);
    for n in 0..50 {
        let r = stack.get(&format!("/info.php?n={n}"));
        assert_eq!(r.status, 200, "request {n}\n{}", stack.logs());
        assert_eq!(vars(&r).get("QUERY_STRING"), Some(&format!("n={n}")), "request {n}");
    }
    // nginx kept its connection to sfpm open between requests: the test exercised keep-alive.
    let open = stack.open_backend_connections();
    assert!((1..=8).contains(&open), "{open} connections open to sfpm after 50 kept-alive requests");
}

#[test]
fn scgi_pass_to_the_same_socket() {
    let stack = Stack::start("", SCGI_LOCATION);
    let r = stack.get("/hello.php");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "Hello, world!\n");

    let v = vars(&stack.get("/info.php/foo/bar?x=1"));
    assert_eq!(v.get("SCGI").map(String::as_str), Some("1"), "{v:?}");
    assert_eq!(v.get("PATH_INFO").map(String::as_str), Some("/foo/bar"), "{v:?}");
    assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{v:?}");
    assert_eq!(v.get("QUERY_STRING").map(String::as_str), Some("x=1"), "{v:?}");

    let r = http::post_form(stack.nginx.port, "/form.php", "name=Ada+Lovelace");
    assert_eq!(r.text(), "method=POST\nname=Ada Lovelace\n", "{}", stack.logs());
    assert_eq!(stack.get("/missing.php").status, 404);
}

/// nginx 1.22 sends a header the client repeated as two SCGI headers of the same name
/// (nginx ≥ 1.23 joins them); sfpm merges them as the newer nginx would send them: `, `,
/// or `; ` for cookies (README, "Protocol limits").
#[test]
fn scgi_repeated_request_header_is_merged() {
    let stack = Stack::start("", SCGI_LOCATION);
    let head = "GET /info.php HTTP/1.1\r\nX-Dup: a\r\nX-Dup: b\r\nCookie: c=1\r\nCookie: d=2";
    let r = http::request(stack.nginx.port, head, b"");
    assert_eq!(r.status, 200, "{}", stack.logs());
    let v = vars(&r);
    assert_eq!(v.get("HTTP_X_DUP").map(String::as_str), Some("a, b"), "{v:?}");
    assert_eq!(v.get("HTTP_COOKIE").map(String::as_str), Some("c=1; d=2"), "{v:?}");
}

/// Over FastCGI nginx 1.22 also sends two params; php-fpm keeps the last, and so does sfpm.
#[test]
fn fastcgi_repeated_request_header_keeps_the_last_as_php_fpm() {
    let stack = Stack::start("", PHP_LOCATION);
    let r = http::request(stack.nginx.port, "GET /info.php HTTP/1.1\r\nX-Dup: a\r\nX-Dup: b", b"");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(vars(&r).get("HTTP_X_DUP").map(String::as_str), Some("b"));
}
