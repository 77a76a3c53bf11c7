//! The C ABI from Python: `examples/python/echo.py` runs a pre-forked FastCGI/SCGI
//! server through `ctypes` alone; Debian's `cgi-fcgi` and the project's client talk to it.

mod support;

use sfpm::client::{self, Pair};
use std::process::Command;
use support::*;

#[test]
fn python_echo_serves_fastcgi_and_scgi() {
    let lib = target_dir().join("libsfpm.so");
    assert!(lib.exists(), "{} is missing: `cargo build --lib` first (`make test` does)", lib.display());
    let addr = Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap());
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/echo.py")).arg(addr.listen_spec()).arg("2");
    cmd.env("SFPM_LIB", &lib);
    let server = Server::start(cmd, addr, TempDir::new("python"));

    let out = Command::new("cgi-fcgi")
        .args(["-bind", "-connect", &server.addr.listen_spec()])
        .env_clear()
        .env("REQUEST_METHOD", "GET")
        .env("QUERY_STRING", "a=1")
        .output()
        .expect("cgi-fcgi runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Status: 200 OK\r\n"), "{text}");
    assert!(text.contains("QUERY_STRING=a=1\n") && text.contains("protocol=fastcgi\n"), "{text}");

    let params: &[Pair<'_>] = &[(b"REQUEST_METHOD", b"POST")];
    let mut conn = server.addr.connect().unwrap();
    let scgi = client::scgi_call(&mut conn, params, b"body!").unwrap();
    let text = String::from_utf8_lossy(&scgi);
    assert!(text.contains("protocol=scgi\n") && text.contains("stdin=5:body!\n"), "{text}");
}
