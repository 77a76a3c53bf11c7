//! Helpers for the tests that run real PHP: a document root holding `tests/scripts`,
//! php-fpm.conf files, `sfpm` and Debian's `php-fpm8.2` started from them with a
//! hermetic ini (`-n`, `PHP_INI_SCAN_DIR=` empty), FastCGI requests shaped like a web
//! server's, and replies split into status, headers, body and `dump.php`'s lines.
//!
//! Needs `mod support;` next to `mod php_support;` in the test crate.

#![allow(dead_code)]

use crate::support::{Addr, Conn, DEADLINE, Server, TempDir, free_port, wait_for};
use sfpm::client::{self, CgiResponse, FcgiRequest, FcgiResponse, Pair};
use sfpm::fastcgi::Role;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Debian's php-fpm, the reference the differential tests compare with.
pub const PHP_FPM: &str = "/usr/sbin/php-fpm8.2";

/// The ini every server in these tests starts with: no php.ini, opcache loaded and on.
pub const BASE_INI: &[&str] = &["zend_extension=opcache.so", "opcache.enable=1"];

/// A document root holding a copy of `tests/scripts`, removed when dropped.
pub struct DocRoot {
    dir: TempDir,
    pub path: PathBuf,
}

impl DocRoot {
    /// Copies `tests/scripts` into a fresh directory. The copies are dated an hour back:
    /// opcache does not cache a file changed less than `opcache.file_update_protection`
    /// (2 s) ago, and the opcache tests need it cached on first use.
    pub fn new(tag: &str) -> DocRoot {
        let dir = TempDir::new(tag);
        let path = dir.path("www");
        fs::create_dir_all(&path).unwrap();
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
        for entry in fs::read_dir(&scripts).unwrap().flatten() {
            fs::copy(entry.path(), path.join(entry.file_name())).unwrap();
        }
        let root = DocRoot { dir, path };
        for entry in fs::read_dir(&root.path).unwrap().flatten() {
            root.age(&entry.path());
        }
        root
    }

    /// Writes `name` (relative to the root), dated an hour back; returns its path.
    pub fn write(&self, name: &str, content: &str) -> String {
        let path = self.path.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        self.age(&path);
        path.display().to_string()
    }

    fn age(&self, path: &Path) {
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        fs::File::options().write(true).open(path).unwrap().set_modified(hour_ago).unwrap();
    }

    /// The absolute path of `name` in the root, as a web server sends it.
    pub fn file(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    pub fn root(&self) -> String {
        self.path.display().to_string()
    }
}

/// Which server runs the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sfpm,
    PhpFpm,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sfpm => "sfpm",
            Kind::PhpFpm => "php-fpm8.2",
        }
    }
}

/// A running server with its pool, reached over TCP loopback.
pub struct Php {
    pub server: Server,
    pub kind: Kind,
}

/// How to start a pool.
pub struct PoolSpec<'a> {
    /// `pm.max_children` (static).
    pub workers: u32,
    /// `-d` settings after [`BASE_INI`].
    pub ini: &'a [&'a str],
    /// Extra `[www]` lines, php-fpm.conf syntax; `{dir}` stands for the server's own
    /// temporary directory (for files each server writes, such as an access log).
    pub pool_lines: &'a str,
}

impl Php {
    /// Starts `kind` with a one-pool php-fpm.conf (`pm = static`) in a temporary
    /// directory, `-F -R -n -d ...` and an empty `PHP_INI_SCAN_DIR`. php-fpm's pid file
    /// and error log are in that directory too (the log is `Server::log`).
    pub fn start(kind: Kind, spec: &PoolSpec<'_>) -> Php {
        let dir = TempDir::new(kind.name());
        let port = free_port();
        let addr = Addr::Tcp(format!("127.0.0.1:{port}").parse().unwrap());
        let global = match kind {
            // sfpm logs to stderr (its error_log is not in effect yet), which Server
            // captures in server.log.
            Kind::Sfpm => String::new(),
            Kind::PhpFpm => format!(
                "error_log = {}\npid = {}\n",
                dir.path("server.log").display(),
                dir.path("php-fpm.pid").display()
            ),
        };
        let conf = format!(
            "[global]\n{global}\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = {}\n{}\n",
            spec.workers,
            spec.pool_lines.replace("{dir}", &dir.path("").display().to_string())
        );
        let conf_path = dir.path("php-fpm.conf");
        fs::write(&conf_path, conf).unwrap();
        let bin = match kind {
            Kind::Sfpm => env!("CARGO_BIN_EXE_sfpm"),
            Kind::PhpFpm => PHP_FPM,
        };
        let mut cmd = Command::new(bin);
        cmd.env("PHP_INI_SCAN_DIR", "").arg("-F").arg("-R").arg("-n").arg("-y").arg(&conf_path);
        for setting in BASE_INI.iter().chain(spec.ini) {
            cmd.arg("-d").arg(setting);
        }
        let server = Server::start(cmd, addr, dir);
        let php = Php { server, kind };
        wait_for(&format!("{} workers of {}", spec.workers, kind.name()), DEADLINE, || {
            (php.server.worker_pids().len() == spec.workers as usize).then_some(())
        });
        php
    }

    /// One request on a new connection (closed by the server afterwards).
    pub fn call(&self, req: &Req) -> Reply {
        self.try_call(req).unwrap_or_else(|e| panic!("FastCGI call to {} failed: {e}", self.kind.name()))
    }

    /// [`Php::call`], with failures (no answer within the deadline, a closed
    /// connection, a malformed answer) as errors.
    pub fn try_call(&self, req: &Req) -> std::io::Result<Reply> {
        let mut conn = self.server.addr.connect()?;
        req.try_send(&mut conn, false)
    }

    /// A kept (`FCGI_KEEP_CONN`) connection: its requests go to one worker.
    pub fn keep(&self) -> Kept {
        Kept { conn: self.server.addr.connect().expect("connect") }
    }

    pub fn log(&self) -> String {
        self.server.log_text()
    }
}

/// A kept connection to one worker.
pub struct Kept {
    pub conn: Conn,
}

impl Kept {
    pub fn call(&mut self, req: &Req) -> Reply {
        req.send(&mut self.conn, true)
    }
}

/// A FastCGI request as nginx's `fastcgi_params` would send it; params can be added,
/// replaced and removed, and repeated on purpose.
#[derive(Clone, Debug)]
pub struct Req {
    pub role: Role,
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    /// FILTER's data stream.
    pub data: Vec<u8>,
}

impl Req {
    /// `GET /<script>?<query>` for `docroot/<script>`, with nginx's usual params.
    pub fn get(root: &DocRoot, script: &str, query: &str) -> Req {
        let uri = if query.is_empty() { format!("/{script}") } else { format!("/{script}?{query}") };
        let mut req = Req { role: Role::Responder, params: Vec::new(), body: Vec::new(), data: Vec::new() };
        for (name, value) in [
            ("SCRIPT_FILENAME", root.file(script)),
            ("QUERY_STRING", query.to_string()),
            ("REQUEST_METHOD", "GET".to_string()),
            ("CONTENT_TYPE", String::new()),
            ("CONTENT_LENGTH", String::new()),
            ("SCRIPT_NAME", format!("/{script}")),
            ("REQUEST_URI", uri.clone()),
            ("DOCUMENT_URI", format!("/{script}")),
            ("DOCUMENT_ROOT", root.root()),
            ("SERVER_PROTOCOL", "HTTP/1.1".to_string()),
            ("REQUEST_SCHEME", "http".to_string()),
            ("GATEWAY_INTERFACE", "CGI/1.1".to_string()),
            ("SERVER_SOFTWARE", "nginx/1.22.1".to_string()),
            ("REMOTE_ADDR", "127.0.0.1".to_string()),
            ("REMOTE_PORT", "50000".to_string()),
            ("SERVER_ADDR", "127.0.0.1".to_string()),
            ("SERVER_PORT", "80".to_string()),
            ("SERVER_NAME", "localhost".to_string()),
            ("REDIRECT_STATUS", "200".to_string()),
            ("HTTP_HOST", "localhost".to_string()),
            ("HTTP_USER_AGENT", "sfpm-tests".to_string()),
        ] {
            req.params.push((name.as_bytes().to_vec(), value.into_bytes()));
        }
        req
    }

    /// Sets `name` (replacing every earlier occurrence in place).
    pub fn set(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        let value = value.as_ref().to_vec();
        match self.params.iter().position(|(n, _)| n == name.as_bytes()) {
            Some(i) => {
                self.params[i].1 = value;
                let mut seen = false;
                self.params.retain(|(n, _)| n != name.as_bytes() || !std::mem::replace(&mut seen, true));
            }
            None => self.params.push((name.as_bytes().to_vec(), value)),
        }
        self
    }

    /// Appends `name` even when it is already there (a repeated param).
    pub fn push(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.params.push((name.as_bytes().to_vec(), value.as_ref().to_vec()));
        self
    }

    /// Removes every `name`.
    pub fn unset(mut self, name: &str) -> Req {
        self.params.retain(|(n, _)| n != name.as_bytes());
        self
    }

    /// A body with its `CONTENT_TYPE`/`CONTENT_LENGTH`, as `method`.
    pub fn body(self, method: &str, content_type: &str, body: impl AsRef<[u8]>) -> Req {
        let body = body.as_ref().to_vec();
        let mut req = self
            .set("REQUEST_METHOD", method)
            .set("CONTENT_TYPE", content_type)
            .set("CONTENT_LENGTH", body.len().to_string());
        req.body = body;
        req
    }

    /// The same request in another FastCGI role (FILTER gets `data`).
    pub fn role(self, role: Role, data: &[u8]) -> Req {
        Req { role, data: data.to_vec(), ..self }
    }

    /// The value of `name` as sent (last occurrence).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params.iter().rev().find(|(n, _)| n == name.as_bytes()).map(|(_, v)| &v[..])
    }

    fn request<'a>(&'a self, pairs: &'a [Pair<'a>], keep_conn: bool) -> FcgiRequest<'a> {
        FcgiRequest { id: 1, role: self.role, keep_conn, params: pairs, stdin: &self.body, data: &self.data }
    }

    fn pairs(&self) -> Vec<Pair<'_>> {
        self.params.iter().map(|(n, v)| (&n[..], &v[..])).collect()
    }

    /// Sends the request on `conn` and reads its response to `END_REQUEST`.
    pub fn send(&self, conn: &mut Conn, keep_conn: bool) -> Reply {
        self.try_send(conn, keep_conn).unwrap_or_else(|e| panic!("FastCGI call failed: {e}"))
    }

    /// [`Req::send`], with failures as errors.
    pub fn try_send(&self, conn: &mut Conn, keep_conn: bool) -> std::io::Result<Reply> {
        let pairs = self.pairs();
        let request = self.request(&pairs, keep_conn);
        let response = client::fcgi_call(conn, &request)?;
        Reply::try_new(response)
    }

    /// Writes the request without waiting for an answer.
    pub fn write(&self, conn: &mut Conn, keep_conn: bool) {
        let pairs = self.pairs();
        let request = self.request(&pairs, keep_conn);
        let mut wire = Vec::new();
        request.encode(&mut wire);
        conn.write_all(&wire).expect("send request");
    }
}

/// A response, split.
#[derive(Clone, Debug)]
pub struct Reply {
    pub raw: FcgiResponse,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(raw: FcgiResponse) -> Reply {
        Reply::try_new(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Splits a response; an empty STDOUT is an empty 200 (php-fpm's answer when there
    /// is no REQUEST_METHOD), anything else without a header block is an error.
    pub fn try_new(raw: FcgiResponse) -> std::io::Result<Reply> {
        if raw.stdout.is_empty() {
            return Ok(Reply { raw, status: 200, headers: Vec::new(), body: Vec::new() });
        }
        let Some(cgi) = CgiResponse::parse(&raw.stdout) else {
            let text = String::from_utf8_lossy(&raw.stdout);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a CGI response: {text:?}"),
            ));
        };
        let headers = cgi.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let (status, body) = (cgi.status, cgi.body.to_vec());
        Ok(Reply { raw, status, headers, body })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.raw.stderr).into_owned()
    }

    /// `dump.php`'s lines as (path, typed value), in order.
    pub fn vars(&self) -> Vec<(String, String)> {
        self.body_text()
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// One of `dump.php`'s values, e.g. `var("server[PATH_INFO]")` → `Some("s:/x")`.
    pub fn var(&self, path: &str) -> Option<String> {
        self.vars().into_iter().find(|(k, _)| k == path).map(|(_, v)| v)
    }

    /// A string value of `dump.php` without its `s:` type tag.
    pub fn string(&self, path: &str) -> Option<String> {
        self.var(path).map(|v| v.strip_prefix("s:").map(str::to_string).unwrap_or(v))
    }

    /// A short description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status {} headers {:?} stderr {:?} body {:?}",
            self.status,
            self.headers,
            self.stderr(),
            String::from_utf8_lossy(&self.body[..self.body.len().min(2000)])
        )
    }
}

/// A multipart/form-data body: text fields and files as (field, filename, content).
pub fn multipart(boundary: &str, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        write!(out, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
            .unwrap();
    }
    for (name, filename, content) in files {
        write!(
            out,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    write!(out, "--{boundary}--\r\n").unwrap();
    out
}

/// Waits until `path` exists.
pub fn wait_for_file(path: &Path, what: &str) {
    wait_for(what, DEADLINE, || path.exists().then_some(()));
}

/// Log lines that mean a worker died or the master gave up.
pub fn crash_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("exited on signal") || l.contains("exited with code") || l.contains("SIGSEGV"))
        .collect()
}
