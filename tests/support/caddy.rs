//! A real Caddy 2 for front-end tests: `caddy run --config <dir>/Caddyfile --adapter
//! caddyfile` with no admin endpoint, no automatic HTTPS, HTTP/1 only on 127.0.0.1, and
//! `HOME`/`XDG_DATA_HOME`/`XDG_CONFIG_HOME` in the test's directory so that its storage and
//! autosaved configuration stay there.

use super::free_port;
use super::frontend::Frontend;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Starts Caddy (`binary`) in `dir` with one site on a free port whose body is `site`
/// (`root`, `php_fastcgi`, …).
pub fn start(binary: &Path, dir: &Path, site: &str) -> Frontend {
    let port = free_port();
    let conf = format!(
        "{{\n\
         \tadmin off\n\
         \tauto_https off\n\
         \tservers {{\n\
         \t\tprotocols h1\n\
         \t}}\n\
         }}\n\
         http://127.0.0.1:{port} {{\n\
         \tbind 127.0.0.1\n\
         {site}\n\
         }}\n"
    );
    let conf_path = dir.join("Caddyfile");
    fs::write(&conf_path, conf).expect("write Caddyfile");
    let mut command = Command::new(binary);
    command
        .arg("run")
        .arg("--config")
        .arg(&conf_path)
        .arg("--adapter")
        .arg("caddyfile")
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    Frontend::start(command, "caddy", dir, port, vec![])
}
