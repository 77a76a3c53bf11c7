//! Apache 2.4 (Debian 12, `mod_proxy_fcgi`) in front of the real `sfpm` binary, in the two
//! forms of `reference/frontends.md` §2: a `SetHandler "proxy:unix:…|fcgi://localhost"` for
//! `.php` files (Apache splits PATH_INFO, `SCRIPT_FILENAME` is
//! `proxy:fcgi://localhost/<file>`), and `ProxyPassMatch` to a TCP address (no PATH_INFO,
//! `SCRIPT_FILENAME` is `proxy:fcgi://127.0.0.1:<port>/<file>/<path info>`, which sfpm, as
//! php-fpm, strips and walks back to the file). Each test starts its own Apache on a free
//! 127.0.0.1 port and its own sfpm, and asserts what an HTTP client sees. Skipped (with a
//! message) where apache2 is not installed.

#![cfg(feature = "php")]

mod support;

use std::path::PathBuf;
use support::frontend::{self, Frontend, Listen};
use support::http::{self, Response};
use support::{Server, TempDir, apache, free_port};

/// How Apache hands `.php` requests to sfpm.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `<FilesMatch "\.php$"> SetHandler "proxy:unix:<socket>|fcgi://localhost"`.
    SetHandler,
    /// `ProxyPassMatch "^/(.*\.php(/.*)?)$" "fcgi://127.0.0.1:<port><docroot>/$1"`.
    ProxyPassMatch,
}

const FORMS: [Form; 2] = [Form::SetHandler, Form::ProxyPassMatch];

/// Apache in front of sfpm. Fields drop in order: Apache, sfpm, then the files.
struct Stack {
    form: Form,
    apache: Frontend,
    sfpm: Server,
    web: TempDir,
}

impl Stack {
    /// `None` (the test is skipped) when apache2 is not installed.
    fn start(form: Form) -> Option<Stack> {
        let binary = frontend::installed("apache2")?;
        let web = frontend::web_dir("apache-web");
        let docroot = web.path("public");
        let (sfpm, site) = match form {
            Form::SetHandler => {
                let (sfpm, socket) = frontend::start_sfpm(Listen::Unix);
                let site = format!(
                    "<FilesMatch \"\\.php$\">\n    SetHandler \"proxy:unix:{socket}|fcgi://localhost\"\n</FilesMatch>"
                );
                (sfpm, site)
            }
            Form::ProxyPassMatch => {
                let (sfpm, addr) = frontend::start_sfpm(Listen::Tcp(free_port()));
                let site = format!(
                    "ProxyPassMatch \"^/(.*\\.php(/.*)?)$\" \"fcgi://{addr}{}/$1\"",
                    docroot.display()
                );
                (sfpm, site)
            }
        };
        let apache = apache::start(&binary, &web.0, &docroot, &site);
        Some(Stack { form, apache, sfpm, web })
    }

    fn get(&self, path: &str) -> Response {
        http::get(self.apache.port, path)
    }

    fn docroot(&self) -> PathBuf {
        self.web.path("public")
    }

    /// The form, Apache's logs and sfpm's log, for failure messages.
    fn logs(&self) -> String {
        format!("form {:?}\n{}--- sfpm ---\n{}", self.form, self.apache.log_text(), self.sfpm.log_text())
    }
}

#[test]
fn hello_world() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        let r = stack.get("/hello.php");
        assert_eq!(r.status, 200, "{}", stack.logs());
        assert_eq!(r.text(), "Hello, world!\n", "{form:?}");
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"), "{form:?}");
    }
}

#[test]
fn sapi_name_is_fpm_fcgi_and_opcache_is_on() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        let r = stack.get("/sapi.php");
        assert_eq!(r.status, 200, "{}", stack.logs());
        assert_eq!(r.text(), "fpm-fcgi\nopcache on\n", "{form:?}");
    }
}

#[test]
fn post_form_is_read_into_post() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        let r = http::post_form(
            stack.apache.port,
            "/form.php",
            "name=Ada+Lovelace&message=1%2B1%3D2+%26+more&tags%5B%5D=x",
        );
        assert_eq!(r.status, 200, "{}", stack.logs());
        assert_eq!(
            r.text(),
            "method=POST\nname=Ada Lovelace\nmessage=1+1=2 & more\ntags=[\"x\"]\n",
            "{form:?}"
        );
    }
}

/// The handler form sends PATH_INFO itself; the ProxyPassMatch form sends none and a
/// `SCRIPT_FILENAME` that carries the path info: either way PHP sees the same variables,
/// the `proxy:fcgi://…` prefix gone (php-fpm's "Apache mode").
#[test]
fn path_info_and_script_filename_without_the_proxy_prefix() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        let r = stack.get("/info.php/foo/bar?x=1");
        assert_eq!(r.status, 200, "{}", stack.logs());
        let v = frontend::vars(&r);
        let script = stack.docroot().join("info.php").display().to_string();
        assert_eq!(v.get("PATH_INFO").map(String::as_str), Some("/foo/bar"), "{form:?} {v:?}");
        assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{form:?} {v:?}");
        assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{form:?} {v:?}");
        assert_eq!(v.get("PHP_SELF").map(String::as_str), Some("/info.php/foo/bar"), "{form:?} {v:?}");
        assert_eq!(v.get("QUERY_STRING").map(String::as_str), Some("x=1"), "{form:?} {v:?}");
        assert_eq!(v.get("REQUEST_URI").map(String::as_str), Some("/info.php/foo/bar?x=1"), "{form:?} {v:?}");

        // And without path info.
        let v = frontend::vars(&stack.get("/info.php"));
        assert_eq!(v.get("SCRIPT_FILENAME"), Some(&script), "{form:?} {v:?}");
        assert_eq!(v.get("SCRIPT_NAME").map(String::as_str), Some("/info.php"), "{form:?} {v:?}");
        assert_eq!(v.get("PATH_INFO"), None, "{form:?} {v:?}");
    }
}

#[test]
fn fatal_error_is_500_and_logged_by_apache() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        let r = stack.get("/fatal.php");
        assert_eq!(r.status, 500, "{}", stack.logs());
        assert!(!r.text().contains("undefined_function_for_the_test"), "display_errors is off: {}", r.text());
        // mod_proxy_fcgi writes each FCGI_STDERR record to its error log (AH01071).
        let needle = "Call to undefined function undefined_function_for_the_test()";
        support::wait_for(
            &format!("{form:?}: the fatal error in Apache's error log"),
            support::DEADLINE,
            || {
                let log = stack.apache.log_text();
                (log.contains("AH01071") && log.contains(needle)).then_some(())
            },
        );
    }
}

/// Both forms hand any `.php` URL to sfpm without looking for the file (the handler form
/// applies to names, ProxyPassMatch to URLs): sfpm answers a missing script as php-fpm does.
#[test]
fn missing_script_is_404() {
    for form in FORMS {
        let Some(stack) = Stack::start(form) else { return };
        for path in ["/missing.php", "/missing.php/foo"] {
            let r = stack.get(path);
            assert_eq!(r.status, 404, "{path}\n{}", stack.logs());
            assert_eq!(r.text(), "File not found.\n", "{form:?} {path}");
        }
        assert_eq!(stack.get("/hello.php").text(), "Hello, world!\n", "{form:?}");
    }
}
