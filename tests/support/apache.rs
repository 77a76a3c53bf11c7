//! A real Apache 2.4 for front-end tests: `apache2 -d <dir> -f <dir>/httpd.conf -DFOREGROUND`
//! with every module it needs loaded explicitly from Debian's module directory (no
//! /etc/apache2), listening on 127.0.0.1 only, its pid file, mutexes and logs in the test's
//! directory. The workers run as www-data, as Debian's service does.

use super::free_port;
use super::frontend::Frontend;
use std::fs;
use std::path::Path;
use std::process::Command;

const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
];

/// Starts Apache (`binary`) in `dir` on a free port with `docroot` as document root and
/// `site` (handlers, `ProxyPassMatch`, …) at the end of the server configuration.
pub fn start(binary: &Path, dir: &Path, docroot: &Path, site: &str) -> Frontend {
    let port = free_port();
    let d = dir.display();
    let root = docroot.display();
    let modules: String = MODULES
        .iter()
        .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
        .collect();
    let conf = format!(
        "ServerRoot {d}\n\
         {modules}\
         Listen 127.0.0.1:{port}\n\
         ServerName localhost\n\
         User www-data\n\
         Group www-data\n\
         PidFile {d}/httpd.pid\n\
         DefaultRuntimeDir {d}\n\
         Mutex file:{d}\n\
         ErrorLog {d}/error.log\n\
         LogLevel warn\n\
         TypesConfig /etc/mime.types\n\
         StartServers 1\n\
         ServerLimit 1\n\
         ThreadsPerChild 8\n\
         MaxRequestWorkers 8\n\
         DocumentRoot {root}\n\
         <Directory />\n\
         \x20   Require all denied\n\
         </Directory>\n\
         <Directory {root}>\n\
         \x20   Require all granted\n\
         \x20   DirectoryIndex index.php\n\
         </Directory>\n\
         {site}\n"
    );
    let conf_path = dir.join("httpd.conf");
    fs::write(&conf_path, conf).expect("write httpd.conf");
    let mut command = Command::new(binary);
    command.arg("-d").arg(dir).arg("-f").arg(&conf_path).arg("-DFOREGROUND");
    Frontend::start(command, "apache2", dir, port, vec![dir.join("error.log")])
}
