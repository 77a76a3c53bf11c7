//! Caddy 2.6 (Debian 12) in front of the real `sfpm` binary with `php_fastcgi`, as in
//! `reference/frontends.md` §4: Caddy splits the path at `.php`, sends PATH_INFO and the
//! absolute `SCRIPT_FILENAME`, and opens a new connection per request. Each test starts its
//! own Caddy on a free 127.0.0.1 port and its own sfpm, and asserts what an HTTP client sees.
//! Skipped (with a message) where caddy is not installed.

#![cfg(feature = "php")]

mod support;

use std::path::PathBuf;
use support::frontend::{self, Frontend, Listen};
use support::http::{self, Response};
use support::{Server, TempDir, caddy};

/// Caddy in front of sfpm. Fields drop in order: Caddy, sfpm, then the files.
struct Stack {
    caddy: Frontend,
    sfpm: Server,
    web: TempDir,
}

impl Stack {
    /// `None` (the test is skipped) when caddy is not installed.
    fn start() -> Option<Stack> {
        let binary = frontend::installed("caddy")?;
        let web = frontend::web_dir("caddy-web");
        let (sfpm, socket) = frontend::start_sfpm(Listen::Unix);
        let site = format!(
            "\troot * {}\n\tphp_fastcgi unix/{socket}\n\tfile_server\n",
            web.path("public").display()
        );
        let caddy = caddy::start(&binary, &web.0, &site);
        Some(Stack { caddy, sfpm, web })
    }

    fn get(&self, path: &str) -> Response {
        http::get(self.caddy.port, path)
    }

    fn docroot(&self) -> PathBuf {
        self.web.path("public")
    }

    fn logs(&self) -> String {
        format!("{}--- sfpm ---\n{}", self.caddy.log_text(), self.sfpm.log_text())
    }
}

#[test]
fn hello_world() {
    let Some(stack) = Stack::start() else { return };
    let r = stack.get("/hello.php");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "Hello, world!\n");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
}

#[test]
fn sapi_name_is_fpm_fcgi_and_opcache_is_on() {
    let Some(stack) = Stack::start() else { return };
    let r = stack.get("/sapi.php");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "fpm-fcgi\nopcache on\n");
}

#[test]
fn post_form_is_read_into_post() {
    let Some(stack) = Stack::start() else { return };
    let r = http::post_form(
        stack.caddy.port,
        "/form.php",
        "name=Ada+Lovelace&message=1%2B1%3D2+%26+more&tags%5B%5D=x",
    );
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "method=POST\nname=Ada Lovelace\nmessage=1+1=2 & more\ntags=[\"x\"]\n");
}

#[test]
fn path_info_from_split_php() {
    let Some(stack) = Stack::start() else { return };
    let r = stack.get("/info.php/foo/bar?x=1");
    assert_eq!(r.status, 200, "{}", stack.logs());
    let v = frontend::vars(&r);
    let script = stack.docroot().join("info.php").display().to_string();
    assert_eq!(v.get("PATH_INFO").map(String::as_str), Some("/foo/bar"), "{v:?}");
    assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{v:?}");
    assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{v:?}");
    assert_eq!(v.get("PHP_SELF").map(String::as_str), Some("/info.php/foo/bar"), "{v:?}");
    assert_eq!(v.get("QUERY_STRING").map(String::as_str), Some("x=1"), "{v:?}");
    assert_eq!(v.get("REQUEST_URI").map(String::as_str), Some("/info.php/foo/bar?x=1"), "{v:?}");
}

#[test]
fn fatal_error_is_500() {
    let Some(stack) = Stack::start() else { return };
    let r = stack.get("/fatal.php");
    assert_eq!(r.status, 500, "{}", stack.logs());
    assert!(!r.text().contains("undefined_function_for_the_test"), "display_errors is off: {}", r.text());
}

/// `php_fastcgi` finds no file to rewrite to and still proxies the `.php` path; sfpm
/// answers as php-fpm does.
#[test]
fn missing_script_is_404() {
    let Some(stack) = Stack::start() else { return };
    let r = stack.get("/missing.php");
    assert_eq!(r.status, 404, "{}", stack.logs());
    assert_eq!(r.text(), "File not found.\n");
    assert_eq!(stack.get("/hello.php").text(), "Hello, world!\n");
}
