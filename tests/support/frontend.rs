//! What the Apache, lighttpd and Caddy tests share: a web server process started from a
//! generated configuration in the test's directory and stopped on drop, and the sfpm pool
//! and document root behind it (nginx too: `tests/frontend_nginx.rs`).

use super::http::Response;
use super::{Addr, DEADLINE, Server, TempDir, alive, stop_server, wait_for};
use std::collections::HashMap;
use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The full path of `name` when it is installed (in PATH or the sbin directories, which a
/// non-login root shell may lack); `None` after telling why the caller skips.
pub fn installed(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        eprintln!("skipped: {name} is not installed (scripts/install-deps.sh installs it)");
    }
    found
}

/// A running web server: its process, its port on 127.0.0.1 and its log files.
#[derive(Debug)]
pub struct Frontend {
    child: Option<Child>,
    /// The process name (`/proc/<pid>/comm`) of the master and its workers.
    comm: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Files worth showing when a test fails: its stdout/stderr, then `logs`.
    logs: Vec<PathBuf>,
}

impl Frontend {
    /// Runs `command` (in the foreground, as the server's own master) with stdout and
    /// stderr in `dir/<comm>.out` and waits until 127.0.0.1:`port` accepts.
    pub fn start(mut command: Command, comm: &str, dir: &Path, port: u16, logs: Vec<PathBuf>) -> Frontend {
        let out = dir.join(format!("{comm}.out"));
        let file = fs::File::create(&out).expect("create front end output file");
        command.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file);
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut all_logs = vec![out];
        all_logs.extend(logs);
        let frontend = Frontend { child: Some(child), comm: comm.to_string(), port, logs: all_logs };
        wait_for(&format!("{comm} accepting on 127.0.0.1:{port}"), DEADLINE, || {
            assert!(alive(frontend.pid()), "{comm} exited during start-up:\n{}", frontend.log_text());
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        frontend
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Every log file, each under its name.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        for log in &self.logs {
            text += &format!("--- {} ---\n{}", log.display(), fs::read_to_string(log).unwrap_or_default());
        }
        text
    }
}

impl Drop for Frontend {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_server(&mut child, &self.comm);
        }
    }
}

/// A directory any local user can read (web servers may run their workers as www-data or
/// nobody), with a `public` document root holding every `tests/scripts/*.php`.
pub fn web_dir(tag: &str) -> TempDir {
    let web = TempDir::new(tag);
    let docroot = web.path("public");
    fs::create_dir(&docroot).unwrap();
    for dir in [&web.0, &docroot] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    install_scripts(&docroot);
    web
}

/// Copies every `tests/scripts/*.php` into `docroot`, readable by all.
pub fn install_scripts(docroot: &Path) {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    for entry in fs::read_dir(&scripts).expect("tests/scripts") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "php") {
            let to = docroot.join(path.file_name().unwrap());
            fs::copy(&path, &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// Where the sfpm pool listens.
pub enum Listen {
    /// A Unix socket (mode 0666) in the pool's directory.
    Unix,
    /// 127.0.0.1 on this port.
    Tcp(u16),
}

/// `sfpm -F -R -n -d zend_extension=opcache.so -d opcache.enable=1 -y php-fpm.conf` with
/// `PHP_INI_SCAN_DIR` empty: two static workers, `listen.protocol = auto` (FastCGI and SCGI on
/// one socket), errors logged, not displayed, as in production. Returns the server and the
/// address as the web server's configuration spells it (socket path or `127.0.0.1:port`).
pub fn start_sfpm(listen: Listen) -> (Server, String) {
    let dir = TempDir::new("frontend-sfpm");
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    let addr = match listen {
        Listen::Unix => Addr::Unix(dir.path("sfpm.sock")),
        Listen::Tcp(port) => Addr::Tcp(([127, 0, 0, 1], port).into()),
    };
    let spec = addr.listen_spec();
    let conf = dir.path("php-fpm.conf");
    fs::write(
        &conf,
        format!(
            "[global]\n\
             \n\
             [www]\n\
             listen = {spec}\n\
             listen.mode = 0666\n\
             listen.protocol = auto\n\
             pm = static\n\
             pm.max_children = 2\n\
             php_admin_flag[display_errors] = off\n\
             php_admin_flag[log_errors] = on\n"
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sfpm"));
    command
        .args(["-F", "-R", "-n", "-d", "zend_extension=opcache.so", "-d", "opcache.enable=1", "-y"])
        .arg(&conf)
        .env("PHP_INI_SCAN_DIR", "");
    (Server::start(command, addr, dir), spec)
}

/// `NAME=value` lines (tests/scripts/info.php, form.php, guarded.php) as a map.
pub fn vars(response: &Response) -> HashMap<String, String> {
    response
        .text()
        .lines()
        .filter_map(|line| line.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}
