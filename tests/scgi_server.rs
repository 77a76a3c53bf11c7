//! SCGI end to end, and one socket serving both protocols (`listen.protocol = auto`).

mod support;

use sfpm::client::{self, FcgiRequest, Pair};
use std::io::Write;
use support::*;

fn tcp() -> Addr {
    Addr::Tcp(format!("127.0.0.1:{}", free_port()).parse().unwrap())
}

const PARAMS: &[Pair<'static>] = &[(b"REQUEST_METHOD", b"POST"), (b"REQUEST_URI", b"/deepthought")];

#[test]
fn scgi_request_is_answered_and_the_connection_closed() {
    let server = start_echo(&echo_bin(), tcp(), 1, &[], TempDir::new("scgi"));
    let mut conn = server.addr.connect().unwrap();
    let response = client::scgi_call(&mut conn, PARAMS, b"What is the answer to life?").unwrap();
    let cgi = client::CgiResponse::parse(&response).expect("a CGI response");
    assert_eq!(cgi.status, 200);
    let body = String::from_utf8_lossy(cgi.body);
    assert!(body.contains("protocol=scgi\n"), "{body}");
    assert!(body.contains("CONTENT_LENGTH=27\nSCGI=1\nREQUEST_METHOD=POST\n"), "{body}");
    assert!(body.contains("stdin=27:What is the answer to life?\n"), "{body}");
}

#[test]
fn repeated_http_headers_from_nginx_1_22_are_merged() {
    let server = start_echo(&echo_bin(), tcp(), 1, &[], TempDir::new("scgi-dup"));
    let mut conn = server.addr.connect().unwrap();
    let params: &[Pair<'_>] =
        &[(b"HTTP_X_DUP", b"a"), (b"HTTP_COOKIE", b"x=1"), (b"HTTP_X_DUP", b"b"), (b"HTTP_COOKIE", b"y=2")];
    let response = client::scgi_call(&mut conn, params, b"").unwrap();
    let body = String::from_utf8_lossy(&response).into_owned();
    assert!(body.contains("HTTP_X_DUP=a, b\n"), "{body}");
    assert!(body.contains("HTTP_COOKIE=x=1; y=2\n"), "{body}");
    wait_for("a notice names the merged headers", DEADLINE, || {
        server.log_text().contains("merged repeated SCGI headers: HTTP_X_DUP, HTTP_COOKIE").then_some(())
    });
}

#[test]
fn one_socket_serves_fastcgi_and_scgi() {
    let server = start_echo(&echo_bin(), tcp(), 1, &[], TempDir::new("auto"));
    for _ in 0..3 {
        let mut conn = server.addr.connect().unwrap();
        let response = client::fcgi_call(&mut conn, &FcgiRequest::responder(PARAMS, b"")).unwrap();
        assert!(String::from_utf8_lossy(&response.stdout).contains("protocol=fastcgi\n"));
        let mut conn = server.addr.connect().unwrap();
        let response = client::scgi_call(&mut conn, PARAMS, b"").unwrap();
        assert!(String::from_utf8_lossy(&response).contains("protocol=scgi\n"));
    }
}

#[test]
fn a_socket_restricted_to_one_protocol_refuses_the_other() {
    let server = start_echo(&echo_bin(), tcp(), 1, &["listen.protocol=fastcgi"], TempDir::new("fcgi-only"));
    let mut conn = server.addr.connect().unwrap();
    let response = client::scgi_call(&mut conn, PARAMS, b"").unwrap();
    assert!(response.is_empty(), "an SCGI request on a FastCGI-only socket gets no answer");
    wait_for("the refusal is logged", DEADLINE, || server.log_text().contains("first byte 0x").then_some(()));
}

#[test]
fn malformed_scgi_closes_with_one_log_line_and_the_next_client_is_served() {
    let server = start_echo(&echo_bin(), tcp(), 1, &[], TempDir::new("scgi-bad"));
    let netstring = |pairs: &[Pair<'_>]| {
        let mut out = Vec::new();
        sfpm::scgi::encode_netstring_headers(&mut out, pairs);
        out
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"07:CONTENT_LENGTH\x000\x00,".to_vec(), "SCGI netstring length has a leading zero"),
        (
            netstring(&[(b"REQUEST_METHOD", b"GET"), (b"SCGI", b"1")]),
            "SCGI header block does not start with CONTENT_LENGTH",
        ),
        (netstring(&[(b"CONTENT_LENGTH", b"0"), (b"X", b"1")]), "SCGI header block has no SCGI header"),
        (netstring(&[(b"CONTENT_LENGTH", b"0"), (b"SCGI", b"2")]), "SCGI header SCGI is not \"1\""),
        (b"99999999999:".to_vec(), "SCGI header netstring is longer than the header limit"),
    ];
    for (bytes, line) in &cases {
        let mut conn = server.addr.connect().unwrap();
        conn.write_all(bytes).unwrap();
        assert!(conn.closed_within(DEADLINE), "not closed after {line}");
        wait_for(line, DEADLINE, || server.log_text().contains(line).then_some(()));
        let mut next = server.addr.connect().unwrap();
        let ok = client::scgi_call(&mut next, PARAMS, b"").unwrap();
        assert!(String::from_utf8_lossy(&ok).contains("protocol=scgi"), "next client after {line}");
    }
}
