//! The FastCGI server loop end to end: a real pre-forked echo server on loopback and
//! Unix sockets, driven by the project's client. Each test reads like an FPM phpt:
//! server setup, request, expected answer and log.

mod support;

use sfpm::client::{self, FcgiRequest, Pair, ResponseDecoder, ResponseEvent};
use sfpm::fastcgi::{self, Role};
use std::io::Write;
use std::time::Duration;
use support::*;

fn echo(addr: Addr, workers: u32, extra: &[&str]) -> Server {
    start_echo(&echo_bin(), addr, workers, extra, TempDir::new("fcgi"))
}

fn tcp() -> Addr {
    Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap())
}

const PARAMS: &[Pair<'static>] =
    &[(b"REQUEST_METHOD", b"POST"), (b"CONTENT_LENGTH", b"5"), (b"SCRIPT_NAME", b"/x")];

/// The body lines of an echo response, and the worker that answered.
fn echoed(response: &client::FcgiResponse) -> (String, String) {
    let cgi = response.cgi().expect("a CGI response");
    assert_eq!(cgi.status, 200);
    let pid = cgi.header("X-Worker-Pid").expect("worker pid header").to_string();
    (String::from_utf8_lossy(cgi.body).into_owned(), pid)
}

#[test]
fn keep_conn_serves_many_requests_on_one_connection() {
    let server = echo(tcp(), 1, &[]);
    let mut conn = server.addr.connect().unwrap();
    let mut pids = Vec::new();
    for i in 0..50u16 {
        let request = FcgiRequest {
            id: 1 + i % 3,
            role: Role::Responder,
            keep_conn: true,
            params: PARAMS,
            stdin: b"hello",
            data: b"",
        };
        let response = client::fcgi_call(&mut conn, &request).unwrap();
        assert_eq!(response.protocol_status, fastcgi::ProtocolStatus::RequestComplete as u8);
        let (body, pid) = echoed(&response);
        assert!(body.contains("REQUEST_METHOD=POST\n"), "{body}");
        assert!(body.contains("stdin=5:hello\n"), "{body}");
        pids.push(pid);
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one connection stays with one worker");
}

#[test]
fn without_keep_conn_the_server_closes_after_the_response() {
    let server = echo(tcp(), 1, &[]);
    let mut conn = server.addr.connect().unwrap();
    let response = client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"hello")).unwrap();
    assert!(echoed(&response).0.contains("stdin=5:hello"));
    assert!(conn.closed_within(DEADLINE), "the application closes the connection (FastCGI §5.1)");
}

#[test]
fn get_values_is_answered_on_a_live_connection() {
    let server = echo(tcp(), 3, &[]);
    let mut conn = server.addr.connect().unwrap();
    let names: &[&[u8]] = &[b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS", b"UNKNOWN"];
    let values = client::fcgi_get_values(&mut conn, names).unwrap();
    assert_eq!(values.get(b"FCGI_MAX_CONNS"), Some(&b"3"[..]), "the pool's real capacity");
    assert_eq!(values.get(b"FCGI_MAX_REQS"), Some(&b"3"[..]));
    assert_eq!(values.get(b"FCGI_MPXS_CONNS"), Some(&b"0"[..]));
    assert_eq!(values.len(), 3, "unknown names are left out");
    // The connection is still usable, and GET_VALUES works between requests too.
    let request = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(PARAMS, b"hello") };
    client::fcgi_call(&mut conn, &request).unwrap();
    let again = client::fcgi_get_values(&mut conn, &[b"FCGI_MPXS_CONNS"]).unwrap();
    assert_eq!(again.get(b"FCGI_MPXS_CONNS"), Some(&b"0"[..]));
}

#[test]
fn filter_and_authorizer_roles_are_served() {
    let server = echo(tcp(), 1, &[]);
    let params: &[Pair<'_>] = &[(b"CONTENT_LENGTH", b"2"), (b"FCGI_DATA_LENGTH", b"4")];
    let mut conn = server.addr.connect().unwrap();
    let filter =
        FcgiRequest { id: 1, role: Role::Filter, keep_conn: true, params, stdin: b"in", data: b"file" };
    let (body, _) = echoed(&client::fcgi_call(&mut conn, &filter).unwrap());
    assert!(body.starts_with("role=FILTER\n"), "{body}");
    assert!(body.contains("stdin=2:in\n"), "{body}");
    let auth =
        FcgiRequest { id: 1, role: Role::Authorizer, keep_conn: false, params: &[], stdin: b"", data: b"" };
    let (body, _) = echoed(&client::fcgi_call(&mut conn, &auth).unwrap());
    assert!(body.starts_with("role=AUTHORIZER\n"), "{body}");
}

#[test]
fn a_large_response_and_body_stream_through() {
    let server = echo(tcp(), 1, &[]);
    let body = vec![b'x'; 300_000];
    let len = body.len().to_string();
    let params: &[Pair<'_>] = &[(b"CONTENT_LENGTH", len.as_bytes())];
    let mut conn = server.addr.connect().unwrap();
    let response = client::fcgi_call(&mut conn, &FcgiRequest::responder(params, &body)).unwrap();
    let (text, _) = echoed(&response);
    assert!(text.contains(&format!("stdin=300000:{}\n", "x".repeat(300_000))));
}

#[test]
fn abort_mid_body_ends_the_request_and_the_worker_serves_the_next() {
    let server = echo(tcp(), 1, &[]);
    let mut conn = server.addr.connect().unwrap();
    // Begin a keep-conn request announcing 10 body bytes, send 3, then abort it.
    let mut wire = Vec::new();
    let params: &[Pair<'_>] = &[(b"CONTENT_LENGTH", b"10")];
    let full = FcgiRequest { id: 1, role: Role::Responder, keep_conn: true, params, stdin: b"", data: b"" };
    full.encode(&mut wire);
    let stdin_end = wire.len() - 8; // drop the empty STDIN record: the body is not complete
    wire.truncate(stdin_end);
    fastcgi::record::encode_record(&mut wire, fastcgi::RecordType::Stdin, 1, b"abc");
    client::encode_abort(&mut wire, 1);
    conn.write_all(&wire).unwrap();
    // The application answers the abort with END_REQUEST (FastCGI §5.4).
    let mut decoder = ResponseDecoder::new();
    let mut buf = vec![0u8; 65536];
    let mut ended = None;
    while ended.is_none() {
        let n = std::io::Read::read(&mut conn, &mut buf).unwrap();
        assert!(n > 0, "connection closed before END_REQUEST");
        let mut pos = 0;
        while pos < n {
            let (used, event) = decoder.advance(&buf[pos..n]).unwrap();
            pos += used;
            if let Some(ResponseEvent::End { id, .. }) = event {
                ended = Some(id);
            }
        }
    }
    assert_eq!(ended, Some(1));
    // The same connection and worker serve the next request.
    let next = FcgiRequest { keep_conn: true, ..FcgiRequest::responder(PARAMS, b"hello") };
    assert!(echoed(&client::fcgi_call(&mut conn, &next).unwrap()).0.contains("stdin=5:hello"));
}

#[test]
fn unix_socket_with_default_and_custom_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("unix");
    let path = dir.path("echo.sock");
    let server = start_echo(&echo_bin(), Addr::Unix(path.clone()), 1, &[], dir);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "php-fpm's default listen.mode");
    let mut conn = server.addr.connect().unwrap();
    let (body, _) = echoed(&client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"hello")).unwrap());
    assert!(body.contains("peer=unix\n"), "{body}");
    drop(server);

    let dir = TempDir::new("unix-mode");
    let path = dir.path("echo.sock");
    let _server = start_echo(&echo_bin(), Addr::Unix(path.clone()), 1, &["listen.mode=0600"], dir);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn ipv6_loopback() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: this host has no ::1");
        return;
    }
    let port = std::net::TcpListener::bind("[::1]:0").unwrap().local_addr().unwrap().port();
    let server = echo(Addr::Tcp(format!("[::1]:{port}").parse().unwrap()), 1, &[]);
    let mut conn = server.addr.connect().unwrap();
    let (body, _) = echoed(&client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"hello")).unwrap());
    assert!(body.contains("peer=::1\n"), "{body}");
}

#[test]
fn allowed_clients_refuses_other_addresses() {
    let server = echo(tcp(), 1, &["listen.allowed_clients=127.0.0.2"]);
    let mut conn = server.addr.connect().unwrap();
    let result = client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"hello"));
    assert!(result.is_err(), "a refused peer gets no response");
    wait_for("the refusal is logged", DEADLINE, || {
        server
            .log_text()
            .contains("Connection disallowed: IP address '127.0.0.1' has been dropped.")
            .then_some(())
    });

    let allowed = echo(tcp(), 1, &["listen.allowed_clients=127.0.0.1"]);
    let mut conn = allowed.addr.connect().unwrap();
    assert!(client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"hello")).is_ok());
}

/// Bad input closes that connection with one log line; the worker then serves the next
/// client. One worker, so "the next client" is served by the same process.
fn assert_rejected(server: &Server, bytes: &[u8], log_line: &str) {
    let mut conn = server.addr.connect().unwrap();
    conn.write_all(bytes).unwrap();
    assert!(conn.closed_within(DEADLINE), "connection not closed after bad input");
    wait_for(&format!("log line containing {log_line:?}"), DEADLINE, || {
        server.log_text().contains(log_line).then_some(())
    });
    let mut next = server.addr.connect().unwrap();
    let (body, _) = echoed(&client::fcgi_call(&mut next, &FcgiRequest::responder(PARAMS, b"hello")).unwrap());
    assert!(body.contains("stdin=5:hello"));
}

#[test]
fn garbage_is_refused() {
    let server = echo(tcp(), 1, &[]);
    assert_rejected(&server, b"GET / HTTP/1.1\r\n\r\n", "first byte 0x47 is not the configured protocol");
}

#[test]
fn bad_version_and_oversized_params_are_refused() {
    let server = echo(tcp(), 1, &["fastcgi.max_params_bytes=1024"]);
    assert_rejected(
        &server,
        &[1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 4, 0, 1, 0, 0, 0, 0],
        "FastCGI record version is not 1",
    );
    let big = vec![b'v'; 2000];
    let params: &[Pair<'_>] = &[(b"BIG", &big)];
    let mut wire = Vec::new();
    FcgiRequest::responder(params, b"").encode(&mut wire);
    assert_rejected(&server, &wire, "FastCGI PARAMS stream exceeds the size limit");
    // A pair claiming 2^31-1 bytes (the CVE-2025-23016 shape) in a small record.
    let mut wire = Vec::new();
    FcgiRequest::responder(&[], b"").encode(&mut wire);
    let mut evil = Vec::new();
    fastcgi::record::encode_record(
        &mut evil,
        fastcgi::RecordType::BeginRequest,
        1,
        &[0, 1, 0, 0, 0, 0, 0, 0],
    );
    fastcgi::record::encode_record(
        &mut evil,
        fastcgi::RecordType::Params,
        1,
        b"\xff\xff\xff\xff\xff\xff\xff\xffAB",
    );
    fastcgi::record::encode_record(&mut evil, fastcgi::RecordType::Params, 1, b"");
    assert_rejected(&server, &evil, "FastCGI name-value pair is truncated");
}

#[test]
fn a_truncated_request_is_dropped() {
    let server = echo(tcp(), 1, &[]);
    let mut wire = Vec::new();
    FcgiRequest::responder(PARAMS, b"hello").encode(&mut wire);
    let mut conn = server.addr.connect().unwrap();
    conn.write_all(&wire[..20]).unwrap();
    drop(conn);
    wait_for("the truncated request is logged", DEADLINE, || {
        server.log_text().contains("closed the connection in the middle of a request").then_some(())
    });
    let mut next = server.addr.connect().unwrap();
    assert!(client::fcgi_call(&mut next, &FcgiRequest::responder(PARAMS, b"hello")).is_ok());
}

#[test]
fn a_stalled_client_does_not_hold_the_worker() {
    // Slowloris: send part of a request, then nothing. With one worker, the next client
    // is served once the read timeout drops the stalled one.
    let server = echo(tcp(), 1, &["request_read_timeout=1"]);
    let mut wire = Vec::new();
    FcgiRequest::responder(PARAMS, b"hello").encode(&mut wire);
    let mut stalled = server.addr.connect().unwrap();
    stalled.write_all(&wire[..12]).unwrap();
    let mut next = server.addr.connect().unwrap();
    next.set_timeouts(Some(Duration::from_secs(5))).unwrap();
    assert!(client::fcgi_call(&mut next, &FcgiRequest::responder(PARAMS, b"hello")).is_ok());
    assert!(stalled.closed_within(DEADLINE));
    assert!(server.log_text().contains("timed out reading the request"), "{}", server.log_text());
}
