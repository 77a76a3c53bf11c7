//! Requests per second of a pre-forked sfpm echo server on loopback, driven by the
//! project's own FastCGI client: keep-conn connections, and a new connection per
//! request (nginx's default). `make bench` runs it; README records the figures.
//!
//! `WORKERS` (default 2), `CLIENTS` (default 4), `SECONDS` (default 3) tune a run.

use sfpm::client::{self, FcgiRequest, Pair};
use sfpm::config::PoolConfig;
use sfpm::request::Request;
use sfpm::sys::{self, Forked};
use sfpm::worker::Handler;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Answers like a small PHP hello-world: a few headers and a short body.
struct Hello;

impl Handler for Hello {
    fn handle(&mut self, request: &mut Request<'_>) -> u32 {
        let _ = request.write_stdout(b"Content-Type: text/plain;charset=UTF-8\r\n\r\nHello, world!\n");
        0
    }
}

const PARAMS: &[Pair<'static>] = &[
    (b"REQUEST_METHOD", b"GET"),
    (b"SCRIPT_FILENAME", b"/srv/www/hello.php"),
    (b"REQUEST_URI", b"/hello.php"),
    (b"QUERY_STRING", b""),
    (b"SERVER_PROTOCOL", b"HTTP/1.1"),
    (b"REMOTE_ADDR", b"127.0.0.1"),
    (b"HTTP_HOST", b"localhost"),
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn load(port: u16, clients: u64, seconds: u64, keep_conn: bool) -> f64 {
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (done, count) = (done.clone(), count.clone());
            std::thread::spawn(move || {
                let request = FcgiRequest { keep_conn, ..FcgiRequest::responder(PARAMS, b"") };
                let mut conn = None;
                while !done.load(Ordering::Relaxed) {
                    let stream =
                        conn.get_or_insert_with(|| TcpStream::connect(("127.0.0.1", port)).expect("connect"));
                    let response = client::fcgi_call(stream, &request).expect("response");
                    assert!(response.stdout.ends_with(b"Hello, world!\n"));
                    count.fetch_add(1, Ordering::Relaxed);
                    if !keep_conn {
                        conn = None;
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    done.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` runs benches without `--bench`: only check they build.
    }
    let workers = env_or("WORKERS", 2);
    let clients = env_or("CLIENTS", 4);
    let seconds = env_or("SECONDS", 3);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Fork before any thread exists: the child becomes the server.
    let server = match sys::fork().expect("fork") {
        Forked::Child => {
            let mut config = PoolConfig::default();
            config.set("listen", &format!("127.0.0.1:{port}")).unwrap();
            config.set("pm.max_children", &workers.to_string()).unwrap();
            sfpm::log::set_level(sfpm::log::Level::Warning);
            let code = i32::from(sfpm::master::run(config, &mut Hello).is_err());
            std::process::exit(code);
        }
        Forked::Parent(pid) => pid,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let kept = load(port, clients, seconds, true);
    let fresh = load(port, clients, seconds, false);
    println!("echo server, {workers} workers, {clients} client threads, {seconds} s each:");
    println!("  keep-conn connections:          {kept:>9.0} requests/s");
    println!("  a new connection per request:   {fresh:>9.0} requests/s");
    sys::kill(server, 15).expect("SIGTERM to the server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sys::reap_child().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
}
