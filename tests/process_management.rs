//! The master and its workers as processes: replacing a killed worker, graceful and
//! immediate stops, `pm.max_requests`, no zombies.

mod support;

use sfpm::client::{self, FcgiRequest, Pair};
use std::io::Write;
use std::time::Duration;
use support::*;

fn tcp() -> Addr {
    Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap())
}

const PARAMS: &[Pair<'static>] = &[(b"REQUEST_METHOD", b"GET")];
/// Signal numbers on Linux (the tests send them with kill(1)).
const SIGQUIT: i32 = 3;
const SIGTERM: i32 = 15;

fn worker_pid(response: &client::FcgiResponse) -> i32 {
    response.cgi().and_then(|c| c.header("X-Worker-Pid")?.parse().ok()).expect("X-Worker-Pid header")
}

/// True while `pid` is blocked in a sleep system call (nanosleep or clock_nanosleep):
/// the echo handler is inside its `ECHO_SLEEP_MS` pause.
fn sleeping_in_handler(pid: i32) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    syscall.starts_with("35 ") || syscall.starts_with("230 ")
}

fn zombies_of(pid: i32) -> usize {
    let mut zombies = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1).and_then(|p| p.parse().ok()) == Some(pid) {
            zombies += 1;
        }
    }
    zombies
}

#[test]
fn a_killed_worker_is_replaced_and_requests_elsewhere_are_not_lost() {
    let server = start_echo(&echo_bin(), tcp(), 2, &[], TempDir::new("kill9"));
    wait_for("two workers", DEADLINE, || (server.worker_pids().len() == 2).then_some(()));
    // Pin a keep-conn connection to one worker, then start a slow request on it.
    let mut conn = server.addr.connect().unwrap();
    let keep = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(PARAMS, b"") };
    let busy = worker_pid(&client::fcgi_call(&mut conn, &keep).unwrap());
    let slow_params: &[Pair<'_>] = &[(b"ECHO_SLEEP_MS", b"700")];
    let slow = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(slow_params, b"") };
    let mut wire = Vec::new();
    slow.encode(&mut wire);
    conn.write_all(&wire).unwrap();
    wait_for("the busy worker is inside the slow request", DEADLINE, || {
        sleeping_in_handler(busy).then_some(())
    });

    let victim = *server.worker_pids().iter().find(|p| **p != busy).expect("the other worker");
    std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
    wait_for("the killed worker is logged", DEADLINE, || {
        server.log_text().contains(&format!("child {victim} exited on signal 9 (SIGKILL)")).then_some(())
    });
    wait_for("a replacement worker", DEADLINE, || {
        let pids = server.worker_pids();
        (pids.len() == 2 && !pids.contains(&victim)).then_some(())
    });
    // The slow request on the other worker completes.
    let response = client::read_fcgi_response(&mut conn, 1).unwrap();
    assert_eq!(worker_pid(&response), busy);
    assert!(String::from_utf8_lossy(&response.stdout).contains("ECHO_SLEEP_MS=700"));
    // New connections are served, and no zombie is left.
    for _ in 0..4 {
        let mut c = server.addr.connect().unwrap();
        client::fcgi_call(&mut c, &FcgiRequest::responder(PARAMS, b"")).unwrap();
    }
    wait_for("no zombie children", DEADLINE, || (zombies_of(server.pid()) == 0).then_some(()));
}

#[test]
fn sigquit_lets_the_request_in_flight_finish() {
    let mut server = start_echo(&echo_bin(), tcp(), 1, &[], TempDir::new("sigquit"));
    let worker = wait_for("one worker", DEADLINE, || server.worker_pids().first().copied());
    let mut conn = server.addr.connect().unwrap();
    let slow_params: &[Pair<'_>] = &[(b"ECHO_SLEEP_MS", b"800")];
    let mut wire = Vec::new();
    FcgiRequest::responder(slow_params, b"").encode(&mut wire);
    conn.write_all(&wire).unwrap();
    wait_for("the worker is inside the slow request", DEADLINE, || sleeping_in_handler(worker).then_some(()));

    server.signal(SIGQUIT);
    let response = client::read_fcgi_response(&mut conn, 1).expect("the in-flight request completes");
    assert!(String::from_utf8_lossy(&response.stdout).contains("ECHO_SLEEP_MS=800"));
    assert_eq!(server.wait_exit(), Some(0));
    let log = server.log_text();
    assert!(log.contains("Finishing ..."), "{log}");
    assert!(log.contains(&format!("child {worker} exited with code 0")), "{log}");
    assert!(log.contains("exiting, bye-bye!"), "{log}");
    assert!(!alive(worker));
}

#[test]
fn sigterm_stops_everything_and_removes_the_unix_socket() {
    let dir = TempDir::new("sigterm");
    let path = dir.path("echo.sock");
    let mut server = start_echo(&echo_bin(), Addr::Unix(path.clone()), 3, &[], dir);
    let workers = wait_for("three workers", DEADLINE, || {
        let pids = server.worker_pids();
        (pids.len() == 3).then_some(pids)
    });
    assert!(path.exists());
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(), Some(0));
    for pid in workers {
        assert!(!alive(pid), "worker {pid} survived SIGTERM");
    }
    assert!(!path.exists(), "the Unix socket is removed at exit");
    assert!(server.log_text().contains("Terminating ..."));
}

#[test]
fn max_requests_recycles_workers() {
    let server = start_echo(&echo_bin(), tcp(), 1, &["pm.max_requests=3"], TempDir::new("maxreq"));
    let mut pids = Vec::new();
    for _ in 0..7 {
        let mut conn = server.addr.connect().unwrap();
        pids.push(worker_pid(&client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"")).unwrap()));
    }
    assert_eq!(pids[0], pids[2]);
    assert_ne!(pids[2], pids[3], "the worker exits after its third request");
    assert_eq!(pids[3], pids[5]);
    assert_ne!(pids[5], pids[6]);
    wait_for("the recycled worker's exit is logged", DEADLINE, || {
        server.log_text().contains(&format!("child {} exited with code 0", pids[0])).then_some(())
    });
}

#[test]
fn keep_conn_idle_connections_are_released_after_the_keepalive_timeout() {
    // One worker; an idle kept connection must not pin it forever (php-fpm's does).
    let server = start_echo(&echo_bin(), tcp(), 1, &["keepalive_timeout=1"], TempDir::new("idle"));
    let mut idle = server.addr.connect().unwrap();
    let keep = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(PARAMS, b"") };
    client::fcgi_call(&mut idle, &keep).unwrap();
    let mut other = server.addr.connect().unwrap();
    other.set_timeouts(Some(Duration::from_secs(5))).unwrap();
    assert!(client::fcgi_call(&mut other, &FcgiRequest::responder(PARAMS, b"")).is_ok());
    assert!(idle.closed_within(DEADLINE), "the idle kept connection is closed");
}

#[test]
fn dynamic_spawns_when_busy_and_stops_extra_idle_workers() {
    // One spare worker wanted, never more: a busy worker makes the master fork a spare;
    // once it is idle again, one is too many and the master stops one.
    let server = start_echo(
        &echo_bin(),
        tcp(),
        4,
        &["pm=dynamic", "pm.start_servers=1", "pm.min_spare_servers=1", "pm.max_spare_servers=1"],
        TempDir::new("dynamic"),
    );
    let first = wait_for("one worker at start", DEADLINE, || {
        let pids = server.worker_pids();
        (pids.len() == 1).then(|| pids[0])
    });
    let mut conn = server.addr.connect().unwrap();
    let slow_params: &[Pair<'_>] = &[(b"ECHO_SLEEP_MS", b"1500")];
    let mut wire = Vec::new();
    FcgiRequest::responder(slow_params, b"").encode(&mut wire);
    conn.write_all(&wire).unwrap();
    wait_for("the worker is busy", DEADLINE, || sleeping_in_handler(first).then_some(()));
    wait_for("a spare worker is forked", DEADLINE, || (server.worker_pids().len() == 2).then_some(()));
    let mut other = server.addr.connect().unwrap();
    assert!(client::fcgi_call(&mut other, &FcgiRequest::responder(PARAMS, b"")).is_ok(), "the spare serves");
    assert!(client::read_fcgi_response(&mut conn, 1).is_ok(), "the slow request completes");
    wait_for("the extra idle worker is stopped", DEADLINE, || {
        (server.worker_pids().len() == 1).then_some(())
    });
    wait_for("its exit is logged", DEADLINE, || {
        server.log_text().contains("exited with code 0").then_some(())
    });
    assert!(
        !server.log_text().contains("exited on signal"),
        "idle workers stop gracefully: {}",
        server.log_text()
    );
}

#[test]
fn ondemand_forks_for_a_connection_and_stops_idle_workers() {
    let server = start_echo(
        &echo_bin(),
        tcp(),
        2,
        &["pm=ondemand", "pm.process_idle_timeout=1"],
        TempDir::new("ondemand"),
    );
    assert!(server.worker_pids().is_empty(), "no worker before the first connection");
    for round in 0..2 {
        let mut conn = server.addr.connect().unwrap();
        let response = client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b""))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(String::from_utf8_lossy(&response.stdout).contains("REQUEST_METHOD=GET"));
        assert_eq!(server.worker_pids().len(), 1, "one worker for one connection");
        wait_for("the idle worker is stopped after pm.process_idle_timeout", DEADLINE, || {
            server.worker_pids().is_empty().then_some(())
        });
    }
    assert!(!server.log_text().contains("exited on signal"), "{}", server.log_text());
}

#[test]
fn request_terminate_timeout_kills_a_request_that_runs_too_long() {
    let server =
        start_echo(&echo_bin(), tcp(), 1, &["request_terminate_timeout=1"], TempDir::new("terminate"));
    let worker = wait_for("one worker", DEADLINE, || server.worker_pids().first().copied());
    let mut conn = server.addr.connect().unwrap();
    let slow_params: &[Pair<'_>] = &[
        (b"REQUEST_METHOD", b"GET"),
        (b"SCRIPT_NAME", b"/slow.php"),
        (b"QUERY_STRING", b"n=1"),
        (b"SCRIPT_FILENAME", b"/srv/slow.php"),
        (b"ECHO_SLEEP_MS", b"8000"),
    ];
    let started = std::time::Instant::now();
    let result = client::fcgi_call(&mut conn, &FcgiRequest::responder(slow_params, b""));
    assert!(result.is_err(), "the request is cut off, not answered: {result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "cut off after about a second, not after the script's 8 s"
    );
    wait_for("the timeout is logged", DEADLINE, || {
        server
            .log_text()
            .contains(&format!("child {worker}, script '/srv/slow.php' (request: \"GET /slow.php?n=1\") execution timed out ("))
            .then_some(())
    });
    wait_for("a replacement worker", DEADLINE, || {
        let pids = server.worker_pids();
        (pids.len() == 1 && pids[0] != worker).then_some(())
    });
    let mut next = server.addr.connect().unwrap();
    assert!(client::fcgi_call(&mut next, &FcgiRequest::responder(PARAMS, b"")).is_ok());
}
