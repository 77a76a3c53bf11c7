//! The client side of FastCGI and SCGI: what a web server does, for `sfpm call`, tests
//! and benchmarks.
//!
//! Encoding and response decoding are sans-IO like the server side; the `call`
//! functions at the bottom are a thin blocking edge over any `Read + Write` stream.

use crate::fastcgi::params::{Pairs, encode_pair};
use crate::fastcgi::record::{
    self, BeginRequestBody, EndRequestBody, KEEP_CONN, NULL_REQUEST_ID, RecordReader, RecordType,
};
use crate::fastcgi::{Error, Role};
use crate::request::Params;
use std::io::{self, Read, Write};

/// A name-value pair as the client sends it.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// One FastCGI request as a web server sends it.
#[derive(Clone, Copy, Debug)]
pub struct FcgiRequest<'a> {
    /// Request id; front ends use 1.
    pub id: u16,
    /// The role asked for.
    pub role: Role,
    /// Ask the application to keep the connection open afterwards.
    pub keep_conn: bool,
    /// CGI variables.
    pub params: &'a [Pair<'a>],
    /// Request body.
    pub stdin: &'a [u8],
    /// FILTER data; sent only for [`Role::Filter`].
    pub data: &'a [u8],
}

impl<'a> FcgiRequest<'a> {
    /// A responder request with id 1, without keep-conn, as nginx sends by default.
    pub fn responder(params: &'a [Pair<'a>], stdin: &'a [u8]) -> FcgiRequest<'a> {
        FcgiRequest { id: 1, role: Role::Responder, keep_conn: false, params, stdin, data: &[] }
    }

    /// Appends the whole request: `BEGIN_REQUEST`, the `PARAMS` stream, the `STDIN`
    /// stream, and for FILTER the `DATA` stream, each stream closed by its empty record.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = if self.keep_conn { KEEP_CONN } else { 0 };
        let begin = BeginRequestBody { role: self.role as u16, flags }.encode();
        record::encode_record(out, RecordType::BeginRequest, self.id, &begin);
        let mut params = Vec::new();
        for (name, value) in self.params {
            encode_pair(&mut params, name, value);
        }
        let streams: &[(RecordType, &[u8])] = match self.role {
            Role::Filter => &[
                (RecordType::Params, &params),
                (RecordType::Stdin, self.stdin),
                (RecordType::Data, self.data),
            ],
            _ => &[(RecordType::Params, &params), (RecordType::Stdin, self.stdin)],
        };
        for (kind, bytes) in streams {
            record::encode_stream(out, *kind, self.id, bytes);
            record::encode_stream_end(out, *kind, self.id);
        }
    }
}

/// Appends a `GET_VALUES` management record asking for `names`.
pub fn encode_get_values(out: &mut Vec<u8>, names: &[&[u8]]) {
    let mut content = Vec::new();
    for name in names {
        encode_pair(&mut content, name, b"");
    }
    record::encode_record(out, RecordType::GetValues, NULL_REQUEST_ID, &content);
}

/// Appends an `ABORT_REQUEST` for request `id`.
pub fn encode_abort(out: &mut Vec<u8>, id: u16) {
    record::encode_record(out, RecordType::AbortRequest, id, &[]);
}

/// What an application's bytes mean to a web server.
#[derive(Debug, PartialEq, Eq)]
pub enum ResponseEvent<'a> {
    /// `STDOUT` bytes of request `id`, borrowed from the input.
    Stdout { id: u16, bytes: &'a [u8] },
    /// `STDERR` bytes of request `id`, borrowed from the input.
    Stderr { id: u16, bytes: &'a [u8] },
    /// `END_REQUEST` for request `id`.
    End { id: u16, app_status: u32, protocol_status: u8 },
    /// `GET_VALUES_RESULT`.
    Values(Params),
    /// `UNKNOWN_TYPE`: the application did not know a management record type.
    UnknownType(u8),
}

/// Decodes an application's records, sans-IO.
#[derive(Debug, Default)]
pub struct ResponseDecoder {
    reader: RecordReader,
    /// Content of the discrete record being read (at most 65535 bytes).
    body: Vec<u8>,
}

impl ResponseDecoder {
    /// A decoder at the start of a connection.
    pub fn new() -> ResponseDecoder {
        ResponseDecoder::default()
    }

    /// Consumes `input` up to the next event; returns bytes consumed and the event, or
    /// `None` when all input was consumed without completing one.
    pub fn advance<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<ResponseEvent<'a>>), Error> {
        let mut consumed = 0;
        loop {
            let (n, piece) = self.reader.read(&input[consumed..])?;
            consumed += n;
            let Some(piece) = piece else { return Ok((consumed, None)) };
            let id = piece.header.request_id;
            let kind = piece.header.kind().ok_or(Error::UnknownRecordType)?;
            if piece.is_start {
                self.body.clear();
            }
            let event = match kind {
                // Empty stream records only mark the end of a stream.
                RecordType::Stdout if !piece.content.is_empty() => {
                    Some(ResponseEvent::Stdout { id, bytes: piece.content })
                }
                RecordType::Stderr if !piece.content.is_empty() => {
                    Some(ResponseEvent::Stderr { id, bytes: piece.content })
                }
                RecordType::Stdout | RecordType::Stderr => None,
                RecordType::EndRequest | RecordType::GetValuesResult | RecordType::UnknownType => {
                    self.body.extend_from_slice(piece.content);
                    if piece.is_end { Some(self.discrete(kind, id)?) } else { None }
                }
                _ => return Err(Error::RequestRecordFromPeer),
            };
            if event.is_some() {
                return Ok((consumed, event));
            }
        }
    }

    fn discrete(&mut self, kind: RecordType, id: u16) -> Result<ResponseEvent<'static>, Error> {
        Ok(match kind {
            RecordType::EndRequest => {
                let end = EndRequestBody::decode(&self.body).ok_or(Error::BadEndRequestLength)?;
                ResponseEvent::End { id, app_status: end.app_status, protocol_status: end.protocol_status }
            }
            RecordType::GetValuesResult => {
                ResponseEvent::Values(Pairs::new(&self.body).collect::<Result<Params, Error>>()?)
            }
            _ => ResponseEvent::UnknownType(self.body.first().copied().unwrap_or(0)),
        })
    }
}

/// A complete FastCGI response to one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FcgiResponse {
    /// Everything sent on `STDOUT`: CGI headers, blank line, body.
    pub stdout: Vec<u8>,
    /// Everything sent on `STDERR`.
    pub stderr: Vec<u8>,
    /// `appStatus` of `END_REQUEST`.
    pub app_status: u32,
    /// `protocolStatus` of `END_REQUEST`.
    pub protocol_status: u8,
}

impl FcgiResponse {
    /// `STDOUT` split into CGI headers and body; see [`CgiResponse::parse`].
    pub fn cgi(&self) -> Option<CgiResponse<'_>> {
        CgiResponse::parse(&self.stdout)
    }
}

/// Sends `request` and reads until its `END_REQUEST`. The stream stays open, so a
/// keep-conn connection can carry the next request.
pub fn fcgi_call<S: Read + Write>(stream: &mut S, request: &FcgiRequest<'_>) -> io::Result<FcgiResponse> {
    let mut wire = Vec::new();
    request.encode(&mut wire);
    stream.write_all(&wire)?;
    stream.flush()?;
    read_fcgi_response(stream, request.id)
}

/// Reads the response to request `id` until its `END_REQUEST`. Records for other ids
/// are an error: this client never has two requests in flight.
pub fn read_fcgi_response<S: Read>(stream: &mut S, id: u16) -> io::Result<FcgiResponse> {
    let mut response = FcgiResponse::default();
    let mut decoder = ResponseDecoder::new();
    read_events(stream, &mut decoder, |event| match event {
        ResponseEvent::Stdout { id: got, bytes } if got == id => {
            response.stdout.extend_from_slice(bytes);
            Ok(false)
        }
        ResponseEvent::Stderr { id: got, bytes } if got == id => {
            response.stderr.extend_from_slice(bytes);
            Ok(false)
        }
        ResponseEvent::End { id: got, app_status, protocol_status } if got == id => {
            response.app_status = app_status;
            response.protocol_status = protocol_status;
            Ok(true)
        }
        other => Err(invalid(format!("unexpected record while waiting for request {id}: {other:?}"))),
    })?;
    Ok(response)
}

/// Sends `GET_VALUES` for `names` and returns the answer.
pub fn fcgi_get_values<S: Read + Write>(stream: &mut S, names: &[&[u8]]) -> io::Result<Params> {
    let mut wire = Vec::new();
    encode_get_values(&mut wire, names);
    stream.write_all(&wire)?;
    let mut values = None;
    read_events(stream, &mut ResponseDecoder::new(), |event| match event {
        ResponseEvent::Values(v) => {
            values = Some(v);
            Ok(true)
        }
        other => Err(invalid(format!("unexpected record while waiting for GET_VALUES_RESULT: {other:?}"))),
    })?;
    Ok(values.expect("set before returning true"))
}

/// Reads from `stream`, feeding `decoder`, and hands each event to `on_event` until it
/// returns `true`. End of stream first is `UnexpectedEof`.
fn read_events<S: Read>(
    stream: &mut S,
    decoder: &mut ResponseDecoder,
    mut on_event: impl FnMut(ResponseEvent<'_>) -> io::Result<bool>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before END_REQUEST"));
        }
        let mut pos = 0;
        while pos < n {
            let (used, event) = decoder.advance(&buf[pos..n]).map_err(|e| invalid(e.to_string()))?;
            pos += used;
            if let Some(event) = event {
                if on_event(event)? {
                    return Ok(());
                }
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Sends one SCGI request (`CONTENT_LENGTH` and `SCGI=1` first, then `params`, then the
/// body) and returns everything the server wrote until it closed the connection.
pub fn scgi_call<S: Read + Write>(stream: &mut S, params: &[Pair<'_>], body: &[u8]) -> io::Result<Vec<u8>> {
    let mut wire = Vec::new();
    crate::scgi::encode_request(&mut wire, params, body);
    stream.write_all(&wire)?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(response)
}

/// A CGI response (RFC 3875 §6): header lines, a blank line, the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgiResponse<'a> {
    /// The status from a `Status:` header, else 302 with `Location:`, else 200.
    pub status: u16,
    /// Header lines as (name, value), value trimmed, in order.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Everything after the blank line.
    pub body: &'a [u8],
}

impl<'a> CgiResponse<'a> {
    /// Splits `stdout` at the first blank line (`\r\n\r\n` or `\n\n`); `None` when there
    /// is none or a header line is not `name: value` text.
    pub fn parse(stdout: &'a [u8]) -> Option<CgiResponse<'a>> {
        let crlf = find(stdout, b"\r\n\r\n").map(|i| (i, i + 4));
        let lf = find(stdout, b"\n\n").map(|i| (i, i + 2));
        let (head_end, body_start) = match (crlf, lf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        let head = std::str::from_utf8(&stdout[..head_end]).ok()?;
        let headers = head
            .lines()
            .map(|line| line.split_once(':').map(|(n, v)| (n.trim(), v.trim())))
            .collect::<Option<Vec<_>>>()?;
        let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        let status = match (header("Status"), header("Location")) {
            (Some(s), _) => s.split(' ').next()?.parse().ok()?,
            (None, Some(_)) => 302,
            (None, None) => 200,
        };
        Some(CgiResponse { status, headers, body: &stdout[body_start..] })
    }

    /// The first header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastcgi::{Connection, Event, Limits, ManagementValues};

    #[test]
    fn requests_round_trip_through_the_server_side() {
        let params: &[Pair<'_>] = &[(b"REQUEST_METHOD", b"POST"), (b"CONTENT_LENGTH", b"4")];
        for role in [Role::Responder, Role::Authorizer, Role::Filter] {
            let req = FcgiRequest { id: 3, role, keep_conn: true, params, stdin: b"body", data: b"file" };
            let mut wire = Vec::new();
            req.encode(&mut wire);
            let mut conn = Connection::new(Limits::default(), ManagementValues::default());
            let mut out = Vec::new();
            let mut pos = 0;
            let mut seen = Vec::new();
            while pos < wire.len() {
                let p = conn.advance(&wire[pos..], &mut out).unwrap();
                pos += p.consumed;
                match p.event {
                    Some(Event::Request(head)) => {
                        assert_eq!((head.id, head.role, head.keep_conn), (3, role, true));
                        assert_eq!(head.params.get(b"REQUEST_METHOD"), Some(&b"POST"[..]));
                        seen.push("request".to_string());
                    }
                    Some(e) => seen.push(format!("{e:?}")),
                    None => {}
                }
            }
            let expected = if role == Role::Filter { 5 } else { 3 };
            assert_eq!(seen.len(), expected, "{seen:?}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn decoder_reads_a_full_response() {
        let mut wire = Vec::new();
        record::encode_stream(
            &mut wire,
            RecordType::Stdout,
            1,
            b"Status: 404 Not Found\r\nX-A: b\r\n\r\nnope",
        );
        record::encode_stream(&mut wire, RecordType::Stderr, 1, b"Primary script unknown");
        record::encode_stream_end(&mut wire, RecordType::Stdout, 1);
        record::encode_end_request(&mut wire, 1, 0, record::ProtocolStatus::RequestComplete);
        let mut stream = Duplex { input: io::Cursor::new(wire), output: Vec::new() };
        let r = fcgi_call(&mut stream, &FcgiRequest::responder(&[], b"")).unwrap();
        assert_eq!(r.stderr, b"Primary script unknown");
        let cgi = r.cgi().unwrap();
        assert_eq!(cgi.status, 404);
        assert_eq!(cgi.header("x-a"), Some("b"));
        assert_eq!(cgi.body, b"nope");
        assert!(stream.output.starts_with(&[1, 1, 0, 1, 0, 8]), "a BEGIN_REQUEST went out first");
    }

    #[test]
    fn decoder_rejects_records_only_servers_send_and_short_end_request() {
        let mut d = ResponseDecoder::new();
        let mut wire = Vec::new();
        record::encode_record(&mut wire, RecordType::Params, 1, b"");
        assert_eq!(d.advance(&wire), Err(Error::RequestRecordFromPeer));
        let mut d = ResponseDecoder::new();
        let mut wire = Vec::new();
        record::encode_record(&mut wire, RecordType::EndRequest, 1, &[0; 4]);
        assert_eq!(d.advance(&wire), Err(Error::BadEndRequestLength));
    }

    #[test]
    fn cgi_parsing() {
        let r = CgiResponse::parse(b"Location: /x\n\n").unwrap();
        assert_eq!((r.status, r.body), (302, &b""[..]));
        assert_eq!(CgiResponse::parse(b"Content-Type: text/html\r\n\r\nhi").unwrap().status, 200);
        assert_eq!(CgiResponse::parse(b"no blank line"), None);
        assert_eq!(CgiResponse::parse(b"not a header\r\n\r\n"), None);
    }

    /// A stream that reads from a buffer and records what is written.
    struct Duplex {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
