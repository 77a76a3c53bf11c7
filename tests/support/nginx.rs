//! A real nginx for front-end tests: a generated configuration in the test's directory,
//! `daemon off`, listening on 127.0.0.1 only, with its pid file, logs and temp paths in that
//! directory (`-p` prefix, `-e` error log), never the system service. Stopped on drop:
//! SIGTERM, then SIGKILL for anything (master or worker) still there after the deadline.

use super::{DEADLINE, alive, free_port, stop_server, wait_for};
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running nginx.
#[derive(Debug)]
pub struct Nginx {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its error log (start-up messages, `FastCGI sent in stderr`, …).
    pub error_log: PathBuf,
}

impl Nginx {
    /// Starts nginx in `dir` with one `server` listening on 127.0.0.1 at a free port;
    /// `server` is that block's body (root, locations) and `http` goes before it in the
    /// `http` block (upstreams). Waits until the port accepts.
    pub fn start(dir: &Path, http: &str, server: &str) -> Nginx {
        let port = free_port();
        let d = dir.display();
        let error_log = dir.join("nginx-error.log");
        let conf = format!(
            "daemon off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log notice;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             access_log {d}/nginx-access.log;\n\
             client_body_temp_path {d}/nginx-body;\n\
             fastcgi_temp_path {d}/nginx-fastcgi;\n\
             proxy_temp_path {d}/nginx-proxy;\n\
             scgi_temp_path {d}/nginx-scgi;\n\
             uwsgi_temp_path {d}/nginx-uwsgi;\n\
             default_type text/plain;\n\
             {http}\n\
             server {{\n\
             listen 127.0.0.1:{port};\n\
             server_name localhost;\n\
             {server}\n\
             }}\n\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf).expect("write nginx.conf");
        let log = fs::File::create(dir.join("nginx.out")).expect("create nginx.out");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx (scripts/install-deps.sh installs it): {e}"));
        let nginx = Nginx { child: Some(child), port, error_log };
        wait_for(&format!("nginx accepting on 127.0.0.1:{port}"), DEADLINE, || {
            let pid = nginx.pid();
            assert!(alive(pid), "nginx exited during start-up; error log:\n{}", nginx.log_text());
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        nginx
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub fn log_text(&self) -> String {
        let out = fs::read_to_string(self.error_log.with_file_name("nginx.out")).unwrap_or_default();
        fs::read_to_string(&self.error_log).unwrap_or_default() + &out
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_server(&mut child, "nginx");
        }
    }
}
