//! lighttpd 1.4 (Debian 12) in front of the real `sfpm` binary with the configurations of
//! `reference/frontends.md` §3: `mod_fastcgi` (`check-local`, `broken-scriptfilename`, which
//! makes `SCRIPT_FILENAME` carry the path info for sfpm to walk back), `mod_scgi` to the same
//! socket (`listen.protocol = auto`), and `mod_fastcgi` in `"mode" => "authorizer"`. Each test
//! starts its own lighttpd on a free 127.0.0.1 port and its own sfpm, and asserts what an HTTP
//! client sees. Skipped (with a message) where lighttpd is not installed.

#![cfg(feature = "php")]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use support::frontend::{self, Frontend, Listen};
use support::http::{self, Response};
use support::{Server, TempDir, lighttpd};

/// The responder for `.php` (frontends.md §3).
const FASTCGI: &str = r#"
server.modules += ( "mod_fastcgi" )
fastcgi.server = ( ".php" => ((
    "socket" => "{socket}",
    "check-local" => "enable",
    "broken-scriptfilename" => "enable"
)) )"#;

/// SCGI for `.php`, to the same socket.
const SCGI: &str = r#"
server.modules += ( "mod_scgi" )
scgi.server = ( ".php" => (( "socket" => "{socket}", "check-local" => "enable" )) )"#;

/// Everything under /protected/ is first put to sfpm in the AUTHORIZER role (the script the
/// URL names, under `docroot`), then, if it answered 200, served by the `.php` responder.
/// lighttpd also serves the authorized request from `docroot` (gw_authorizer_ok), so
/// `docroot` must be the real document root: pointing it at one authorizer script makes
/// lighttpd walk `<script>/protected/x` back and send that script's source to the client.
const AUTHORIZER: &str = r#"
server.modules += ( "mod_fastcgi" )
fastcgi.server = (
    "/protected/" => ((
        "socket" => "{socket}",
        "mode" => "authorizer",
        "docroot" => "{docroot}",
        "check-local" => "enable"
    )),
    ".php" => ((
        "socket" => "{socket}",
        "check-local" => "enable",
        "broken-scriptfilename" => "enable"
    ))
)"#;

/// lighttpd in front of sfpm. Fields drop in order: lighttpd, sfpm, then the files.
struct Stack {
    lighttpd: Frontend,
    sfpm: Server,
    web: TempDir,
}

impl Stack {
    /// Starts sfpm on a Unix socket, then lighttpd with `site`, in which `{socket}` and
    /// `{docroot}` are replaced. `None` (the test is skipped) when lighttpd is not installed.
    fn start(site: &str) -> Option<Stack> {
        let binary = frontend::installed("lighttpd")?;
        let web = frontend::web_dir("lighttpd-web");
        let docroot = web.path("public");
        let protected = docroot.join("protected");
        fs::create_dir(&protected).unwrap();
        fs::set_permissions(&protected, fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(docroot.join("guarded.php"), protected.join("guarded.php")).unwrap();
        let (sfpm, socket) = frontend::start_sfpm(Listen::Unix);
        let site = site.replace("{socket}", &socket).replace("{docroot}", &docroot.display().to_string());
        let lighttpd = lighttpd::start(&binary, &web.0, &docroot, &site);
        Some(Stack { lighttpd, sfpm, web })
    }

    fn get(&self, path: &str) -> Response {
        http::get(self.lighttpd.port, path)
    }

    fn docroot(&self) -> PathBuf {
        self.web.path("public")
    }

    fn logs(&self) -> String {
        format!("{}--- sfpm ---\n{}", self.lighttpd.log_text(), self.sfpm.log_text())
    }
}

/// The two responder configurations every behaviour runs in.
const MODES: [(&str, &str); 2] = [("fastcgi", FASTCGI), ("scgi", SCGI)];

#[test]
fn hello_world() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        let r = stack.get("/hello.php");
        assert_eq!(r.status, 200, "{mode}\n{}", stack.logs());
        assert_eq!(r.text(), "Hello, world!\n", "{mode}");
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"), "{mode}");
    }
}

#[test]
fn sapi_name_is_fpm_fcgi_and_opcache_is_on() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        let r = stack.get("/sapi.php");
        assert_eq!(r.status, 200, "{mode}\n{}", stack.logs());
        assert_eq!(r.text(), "fpm-fcgi\nopcache on\n", "{mode}");
    }
}

#[test]
fn post_form_is_read_into_post() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        let form = "name=Ada+Lovelace&message=1%2B1%3D2+%26+more&tags%5B%5D=x";
        let r = http::post_form(stack.lighttpd.port, "/form.php", form);
        assert_eq!(r.status, 200, "{mode}\n{}", stack.logs());
        assert_eq!(
            r.text(),
            "method=POST\nname=Ada Lovelace\nmessage=1+1=2 & more\ntags=[\"x\"]\n",
            "{mode}"
        );
    }
}

/// lighttpd splits PATH_INFO itself; over FastCGI `broken-scriptfilename` also appends it
/// to `SCRIPT_FILENAME`, which sfpm walks back to the file as php-fpm does.
#[test]
fn path_info() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        let r = stack.get("/info.php/foo/bar?x=1");
        assert_eq!(r.status, 200, "{mode}\n{}", stack.logs());
        let v = frontend::vars(&r);
        let script = stack.docroot().join("info.php").display().to_string();
        assert_eq!(v.get("PATH_INFO").map(String::as_str), Some("/foo/bar"), "{mode} {v:?}");
        assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{mode} {v:?}");
        assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{mode} {v:?}");
        assert_eq!(v.get("PHP_SELF").map(String::as_str), Some("/info.php/foo/bar"), "{mode} {v:?}");
        assert_eq!(v.get("QUERY_STRING").map(String::as_str), Some("x=1"), "{mode} {v:?}");
        assert_eq!(v.get("REQUEST_URI").map(String::as_str), Some("/info.php/foo/bar?x=1"), "{mode} {v:?}");
        assert_eq!(v.get("FCGI_ROLE").map(String::as_str), Some("RESPONDER"), "{mode} {v:?}");

        // Without path info (broken-scriptfilename then sends `<file>/`, trailing slash).
        let v = frontend::vars(&stack.get("/info.php"));
        assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{mode} {v:?}");
        assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{mode} {v:?}");
    }
}

#[test]
fn fatal_error_is_500() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        let r = stack.get("/fatal.php");
        assert_eq!(r.status, 500, "{mode}\n{}", stack.logs());
        assert!(!r.text().contains("undefined_function_for_the_test"), "display_errors is off: {}", r.text());
    }
}

/// Over FastCGI the message reaches lighttpd's error log through FCGI_STDERR.
#[test]
fn fatal_error_message_is_in_lighttpds_error_log() {
    let Some(stack) = Stack::start(FASTCGI) else { return };
    assert_eq!(stack.get("/fatal.php").status, 500, "{}", stack.logs());
    let needle = "Call to undefined function undefined_function_for_the_test()";
    // lighttpd may write the log line just after it answered.
    support::wait_for("the fatal error in lighttpd's error log", support::DEADLINE, || {
        let log = stack.lighttpd.log_text();
        (log.contains("FastCGI-stderr") && log.contains(needle)).then_some(())
    });
}

/// `check-local`: lighttpd answers a missing script itself.
#[test]
fn missing_script_is_404() {
    for (mode, site) in MODES {
        let Some(stack) = Stack::start(site) else { return };
        for path in ["/missing.php", "/missing.php/foo"] {
            let r = stack.get(path);
            assert_eq!(r.status, 404, "{mode} {path}\n{}", stack.logs());
            assert!(
                r.text().contains("<title>404 Not Found</title>"),
                "{mode} {path}: lighttpd's page: {}",
                r.text()
            );
        }
    }
}

#[test]
fn scgi_reaches_the_same_socket_as_fastcgi() {
    let Some(stack) = Stack::start(SCGI) else { return };
    let v = frontend::vars(&stack.get("/info.php"));
    assert_eq!(v.get("SCGI").map(String::as_str), Some("1"), "sfpm spoke SCGI: {v:?}\n{}", stack.logs());
}

/// lighttpd asks the script in the AUTHORIZER role first (tests/scripts/guarded.php takes
/// its authorizer branch only when `$_SERVER['FCGI_ROLE'] === 'AUTHORIZER'`): its 403 is the
/// client's answer; its 200 lets the request through to the responder, with the
/// authorizer's `Variable-GUARD_USER` header turned into a request variable.
#[test]
fn fastcgi_authorizer_lets_through_or_refuses() {
    let Some(stack) = Stack::start(AUTHORIZER) else { return };
    let path = "/protected/guarded.php";

    let r = stack.get(path);
    assert_eq!(r.status, 403, "{}", stack.logs());
    assert_eq!(r.text(), "denied by the authorizer\n");

    let r = http::request(stack.lighttpd.port, &format!("GET {path} HTTP/1.1\r\nX-Token: wrong"), b"");
    assert_eq!(r.status, 403, "{}", stack.logs());

    let r = http::request(stack.lighttpd.port, &format!("GET {path} HTTP/1.1\r\nX-Token: let-me-in"), b"");
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.text(), "role=RESPONDER\nuser=ada\n", "{}", stack.logs());

    // Outside /protected/ no authorizer is asked.
    assert_eq!(stack.get("/hello.php").text(), "Hello, world!\n");
}
