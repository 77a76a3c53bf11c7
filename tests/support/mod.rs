//! Shared helpers for integration tests: start a real server process on a free port
//! or a temporary Unix socket, wait for conditions with deadlines, talk to it with the
//! project's own client, and always clean up.

#![allow(dead_code)]

pub mod http;
pub mod nginx;
// Each starts sfpm itself (`CARGO_BIN_EXE_sfpm`), which exists with the `php` feature only.
#[cfg(feature = "php")]
pub mod apache;
#[cfg(feature = "php")]
pub mod caddy;
#[cfg(feature = "php")]
pub mod frontend;
#[cfg(feature = "php")]
pub mod lighttpd;

use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any single condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `check` until it returns `Some`, or panics after `deadline` naming `what`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < end, "never happened within {deadline:?}: {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The cargo target directory of this build (`target/debug`), found from the test binary.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// A directory for this test's files, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("sfpm-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
///
/// Never the same port twice in one test binary: tests run in parallel, and the kernel
/// may hand a just-released port out again before the first test's server bound it —
/// two servers would then race for one port (and a client reach the wrong one).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind port 0").local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh free port after 1000 tries");
}

/// True when this host can bind ::1.
pub fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Where a server listens.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    pub fn listen_spec(&self) -> String {
        match self {
            Addr::Tcp(a) => a.to_string(),
            Addr::Unix(p) => p.display().to_string(),
        }
    }

    /// Opens a connection (with read/write timeouts so a hung server fails the test).
    pub fn connect(&self) -> io::Result<Conn> {
        let conn = match self {
            Addr::Tcp(a) => Conn::Tcp(TcpStream::connect_timeout(a, DEADLINE)?),
            Addr::Unix(p) => Conn::Unix(UnixStream::connect(p)?),
        };
        conn.set_timeouts(Some(DEADLINE))?;
        Ok(conn)
    }
}

/// A client connection of either kind.
#[derive(Debug)]
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub fn set_timeouts(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
            Conn::Unix(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
        }
    }

    /// Reads until the server closes the connection.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Waits for the server to close the connection: Ok(true) when it did (EOF or
    /// reset), Ok(false) if it is still open after `within`.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let _ = self.set_timeouts(Some(within));
        let mut buf = [0u8; 4096];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }
}

impl io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server process started by a test; killed (and reaped) on drop whatever happens.
pub struct Server {
    pub child: Option<Child>,
    pub addr: Addr,
    pub log: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// Starts `command` (its stderr goes to a log file) and waits until `addr` accepts.
    pub fn start(mut command: Command, addr: Addr, dir: TempDir) -> Server {
        let log = dir.path("server.log");
        let log_file = fs::File::create(&log).expect("create log");
        command.stdin(Stdio::null()).stdout(log_file.try_clone().unwrap()).stderr(log_file);
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let server = Server { child: Some(child), addr, log, _dir: dir };
        wait_for(&format!("server listening on {}", server.addr.listen_spec()), DEADLINE, || {
            server.assert_alive();
            server.log_text().contains("ready to handle connections").then_some(())
        });
        server
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_alive(&self) {
        // try_wait needs &mut; peek through /proc instead.
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(!stat.is_empty() && !stat.contains(") Z "), "server exited early; log:\n{}", self.log_text());
    }

    /// Sends `signal` to the master.
    pub fn signal(&self, signal: i32) {
        // SAFETY-free: kill(1) via libc would need unsafe in tests; use the command.
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the master to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let status = wait_for("server exit", DEADLINE, || child.try_wait().ok().flatten());
        self.child = None;
        status.code()
    }

    /// Pids of the master's children (its workers), from /proc.
    pub fn worker_pids(&self) -> Vec<i32> {
        children_of(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let workers = children_of(child.id() as i32);
            let _ = child.kill();
            let _ = child.wait();
            for pid in workers {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// Stops a server and its workers: SIGTERM to the master (nginx, Apache, lighttpd and
/// Caddy all shut down on it), SIGKILL after the deadline, then SIGKILL for any of its
/// children still running under the name `comm` (a pid that exited meanwhile may have
/// been reused by another process).
pub fn stop_server(child: &mut Child, comm: &str) {
    let master = child.id() as i32;
    let mut pids = children_of(master);
    pids.push(master);
    let _ = Command::new("kill").arg("-TERM").arg(master.to_string()).status();
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end && child.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let same = |p: i32| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm);
    for pid in pids.into_iter().filter(|&p| alive(p) && same(p)) {
        let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
    }
}

/// Pids whose parent is `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let stat = fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // Fields after the parenthesised command: state, ppid, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(pid) && fields.first() != Some(&"Z") {
            out.push(child);
        }
    }
    out.sort();
    out
}

/// True while process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && stat.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
}

/// The C echo server (`examples/c/echo.c`), compiled once per test binary against the
/// shared library cargo built (`make test` builds it first).
pub fn c_echo() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = target_dir();
        let lib = target.join("libsfpm.so");
        assert!(
            lib.exists(),
            "{} is missing: build the library first (`cargo build --lib`; `make test` does)",
            lib.display()
        );
        let out = target.join("sfpm-tests").join("echo-c");
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
            .arg(&out)
            .arg(root.join("examples/c/echo.c"))
            .arg(format!("-I{}", root.join("include").display()))
            .arg(format!("-L{}", target.display()))
            .arg(format!("-Wl,-rpath,{}", target.display()))
            .arg("-lsfpm")
            .status()
            .expect("run cc");
        assert!(status.success(), "compiling examples/c/echo.c failed");
        out
    })
}

/// The Rust echo server (`examples/echo.rs`), built by cargo with the examples.
pub fn rust_echo() -> PathBuf {
    let bin = target_dir().join("examples").join("echo");
    assert!(bin.exists(), "{} is missing: `cargo build --examples` (`make test` does)", bin.display());
    bin
}

/// Starts an echo server binary listening on `addr` with `workers` workers.
pub fn start_echo(bin: &Path, addr: Addr, workers: u32, extra: &[&str], dir: TempDir) -> Server {
    let mut cmd = Command::new(bin);
    cmd.arg(addr.listen_spec()).arg(workers.to_string()).args(extra);
    Server::start(cmd, addr, dir)
}

/// The echo server integration tests run against: the C one on libsfpm's ABI.
pub fn echo_bin() -> PathBuf {
    match std::env::var("SFPM_TEST_ECHO").as_deref() {
        Ok("rust") => rust_echo(),
        _ => c_echo().to_path_buf(),
    }
}
