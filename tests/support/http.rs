//! A tiny HTTP/1.1 client over `std::net::TcpStream` for front-end tests: one request per
//! connection (`Connection: close`), the response read to EOF with the deadline as read
//! timeout, `Transfer-Encoding: chunked` decoded. Enough to assert what a browser would see.

use super::DEADLINE;
use std::io::{Read, Write};
use std::net::TcpStream;

/// An HTTP response as the client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `head` (request line and header lines, without the blank line; `Host` and
/// `Connection: close` are added) and `body` to 127.0.0.1:`port`.
pub fn request(port: u16, head: &str, body: &[u8]) -> Response {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to :{port}: {e}"));
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    let mut bytes = format!("{head}\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n").into_bytes();
    if !body.is_empty() {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).unwrap_or_else(|e| panic!("send {head:?}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("no complete response to {head:?} within {DEADLINE:?}: {e}"));
    parse(&raw).unwrap_or_else(|e| panic!("bad response to {head:?}: {e}\n{}", String::from_utf8_lossy(&raw)))
}

/// `GET path`.
pub fn get(port: u16, path: &str) -> Response {
    request(port, &format!("GET {path} HTTP/1.1"), b"")
}

/// `POST path` with an `application/x-www-form-urlencoded` body.
pub fn post_form(port: u16, path: &str, form: &str) -> Response {
    request(
        port,
        &format!("POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"),
        form.as_bytes(),
    )
}

/// Parses a whole response (head and body up to EOF).
pub fn parse(raw: &[u8]) -> Result<Response, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = Response { status, headers, body: Vec::new() };
    let rest = &raw[end + 4..];
    response.body = if response.header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = response.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        rest.get(..len).ok_or_else(|| format!("body shorter than Content-Length {len}"))?.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

/// RFC 9112 §7.1: `chunk-size [ext] CRLF data CRLF` … `0 CRLF [trailers] CRLF`.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or("chunk size line not terminated")?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "chunk size not ASCII")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let data = rest.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(data);
        rest = rest.get(size..).and_then(|r| r.strip_prefix(b"\r\n")).ok_or("chunk not followed by CRLF")?;
    }
}
