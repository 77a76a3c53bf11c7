//! The C ABI from C: `examples/c/abi_check.c` checks versions, results and config
//! handling; `examples/c/echo.c` serves FastCGI and SCGI through libsfpm alone, linked
//! shared and static, in both the callback and the pull style; Debian's `cgi-fcgi`
//! (libfcgi, a client nobody here wrote) talks to it.

mod support;

use sfpm::client::{self, FcgiRequest, Pair};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

const CFLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];

/// The libraries a static libsfpm needs (rustc's `--print native-static-libs`; libphp
/// for the PHP SAPI of the default `php` feature).
const STATIC_LIBS: &[&str] = &["-lphp8.2", "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `source` into the test build directory, shared or static.
fn compile(source: &str, name: &str, link_static: bool) -> PathBuf {
    let target = target_dir();
    let out = target.join("sfpm-tests").join(name);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut cc = Command::new("cc");
    cc.args(CFLAGS)
        .arg("-o")
        .arg(&out)
        .arg(root().join(source))
        .arg(format!("-I{}", root().join("include").display()));
    if link_static {
        let lib = target.join("libsfpm.a");
        assert!(lib.exists(), "{} is missing: `cargo build --lib` first (`make test` does)", lib.display());
        cc.arg(lib).args(STATIC_LIBS);
    } else {
        cc.arg(format!("-L{}", target.display()))
            .arg(format!("-Wl,-rpath,{}", target.display()))
            .arg("-lsfpm");
    }
    let status = cc.status().expect("run cc");
    assert!(status.success(), "compiling {source} failed");
    out
}

#[test]
fn abi_check_passes_shared_and_static() {
    for link_static in [false, true] {
        let bin = compile("examples/c/abi_check.c", &format!("abi_check_{link_static}"), link_static);
        let output = Command::new(&bin).output().unwrap();
        assert!(
            output.status.success(),
            "abi_check failed (static={link_static}):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Runs Debian's cgi-fcgi against `addr` with CGI variables in its environment and
/// `body` on its stdin; returns what it printed (the CGI response).
pub fn cgi_fcgi(addr: &Addr, env: &[(&str, &str)], body: &[u8]) -> String {
    use std::io::Write;
    let mut cmd = Command::new("cgi-fcgi");
    cmd.args(["-bind", "-connect", &addr.listen_spec()]).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("cgi-fcgi (package libfcgi-bin) runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "cgi-fcgi failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn serve_and_check(server: &Server) {
    let out = cgi_fcgi(
        &server.addr,
        &[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "5"), ("SCRIPT_NAME", "/c")],
        b"hello",
    );
    assert!(out.starts_with("Status: 200 OK\r\n"), "{out}");
    assert!(out.contains("role=RESPONDER\nprotocol=fastcgi\n"), "{out}");
    assert!(out.contains("REQUEST_METHOD=POST\n") && out.contains("SCRIPT_NAME=/c\n"), "{out}");
    assert!(out.contains("stdin=5:hello\n"), "{out}");
    let params: &[Pair<'_>] = &[(b"REQUEST_METHOD", b"GET")];
    let mut conn = server.addr.connect().unwrap();
    let scgi = client::scgi_call(&mut conn, params, b"").unwrap();
    assert!(String::from_utf8_lossy(&scgi).contains("protocol=scgi\n"));
    let mut conn = server.addr.connect().unwrap();
    let keep = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(params, b"") };
    for _ in 0..3 {
        assert!(
            String::from_utf8_lossy(&client::fcgi_call(&mut conn, &keep).unwrap().stdout)
                .contains("REQUEST_METHOD=GET")
        );
    }
}

#[test]
fn c_echo_callback_style_serves_cgi_fcgi_over_tcp_and_unix() {
    let tcp = Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap());
    let server = start_echo(c_echo(), tcp, 2, &[], TempDir::new("c-tcp"));
    serve_and_check(&server);
    let dir = TempDir::new("c-unix");
    let unix = Addr::Unix(dir.path("echo.sock"));
    let server = start_echo(c_echo(), unix, 2, &[], dir);
    serve_and_check(&server);
}

#[test]
fn c_echo_pull_style_and_static_link() {
    let tcp = Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap());
    let server = start_echo(c_echo(), tcp, 2, &["pull"], TempDir::new("c-pull"));
    serve_and_check(&server);
    let static_echo = compile("examples/c/echo.c", "echo-c-static", true);
    let tcp = Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap());
    let server = start_echo(&static_echo, tcp, 1, &[], TempDir::new("c-static"));
    serve_and_check(&server);
}
