//! A real lighttpd 1.4 for front-end tests: `lighttpd -D -f <dir>/lighttpd.conf`, listening
//! on 127.0.0.1 only, with its pid file, error log and upload directory in the test's
//! directory.

use super::free_port;
use super::frontend::Frontend;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Starts lighttpd (`binary`) in `dir` on a free port with `docroot` as document root and
/// `site` (`server.modules`, `fastcgi.server`, …) at the end of the configuration.
pub fn start(binary: &Path, dir: &Path, docroot: &Path, site: &str) -> Frontend {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server.document-root = \"{}\"\n\
         server.bind = \"127.0.0.1\"\n\
         server.port = {port}\n\
         server.pid-file = \"{d}/lighttpd.pid\"\n\
         server.errorlog = \"{d}/error.log\"\n\
         server.upload-dirs = ( \"{d}\" )\n\
         index-file.names = ( \"index.php\" )\n\
         {site}\n",
        docroot.display()
    );
    let conf_path = dir.join("lighttpd.conf");
    fs::write(&conf_path, conf).expect("write lighttpd.conf");
    let mut command = Command::new(binary);
    command.arg("-D").arg("-f").arg(&conf_path);
    Frontend::start(command, "lighttpd", dir, port, vec![dir.join("error.log")])
}
