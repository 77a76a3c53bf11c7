//! The SAPI built the way a C build (php-src's) builds it: `sapi/sfpm_main.c` and
//! `sapi/sfpm_sapi.c` compiled by `cc` against PHP's headers, linked with libsfpm and
//! libphp — no Rust main. The program must behave as the cargo-built `sfpm`.

mod support;

use sfpm::client::{self, FcgiRequest, Pair};
use std::path::Path;
use std::process::Command;
use support::*;

fn php_includes() -> Vec<String> {
    let out =
        Command::new("php-config8.2").arg("--includes").output().expect("php-config8.2 (php8.2-dev) runs");
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(String::from).collect()
}

#[test]
fn a_c_main_runs_php_through_libsfpm() {
    let target = target_dir();
    let lib = target.join("libsfpm.so");
    assert!(lib.exists(), "{} is missing: `cargo build --lib` first (`make test` does)", lib.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = target.join("sfpm-tests").join("sfpm-c-main");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let status = Command::new("cc")
        .args([
            "-std=gnu11",
            "-Wall",
            "-Werror",
            "-Wno-unused-parameter",
            "-Wno-missing-field-initializers",
            "-o",
        ])
        .arg(&bin)
        .arg(root.join("sapi/sfpm_main.c"))
        .arg(root.join("sapi/sfpm_sapi.c"))
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("sapi").display()))
        .args(php_includes())
        .arg(format!("-L{}", target.display()))
        .arg(format!("-Wl,-rpath,{}", target.display()))
        .args(["-lsfpm", "-lphp8.2"])
        .status()
        .expect("run cc");
    assert!(status.success(), "building the SAPI with a C main failed");

    let version = Command::new(&bin).args(["-n", "-v"]).output().unwrap();
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.status.success() && text.starts_with("PHP 8.2.") && text.contains("(fpm-fcgi)"),
        "{text}"
    );

    let dir = TempDir::new("c-main");
    let script = dir.path("hello.php");
    std::fs::write(&script, "<?php echo 'hello from ', php_sapi_name(), \"\\n\";").unwrap();
    let addr = Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap());
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!("[www]\nlisten = {}\npm = static\npm.max_children = 1\n", addr.listen_spec()),
    )
    .unwrap();
    let mut cmd = Command::new(&bin);
    cmd.args(["-F", "-R", "-n", "-y"]).arg(&conf).env("PHP_INI_SCAN_DIR", "");
    let server = Server::start(cmd, addr, dir);
    let script = script.display().to_string();
    let params: &[Pair<'_>] = &[(b"REQUEST_METHOD", b"GET"), (b"SCRIPT_FILENAME", script.as_bytes())];
    let mut conn = server.addr.connect().unwrap();
    let response = client::fcgi_call(&mut conn, &FcgiRequest::responder(params, b"")).unwrap();
    let cgi = response.cgi().expect("a CGI response");
    assert_eq!((cgi.status, cgi.body), (200, &b"hello from fpm-fcgi\n"[..]));
}
