//! Fuzz entry points, shared by `fuzz/` (libFuzzer) and the corpus replay and random
//! runs in `make test`.
//!
//! Each takes arbitrary bytes and checks the parser's invariants; it panics only when an
//! invariant breaks, which is what a fuzzer reports.

use crate::fastcgi::{self, Connection, Event, ManagementValues};
use crate::request::Params;

/// What a server-side FastCGI connection made of a byte stream, independent of how the
/// bytes were split into reads: body pieces are joined.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Events, with consecutive body pieces joined.
    pub events: Vec<OwnedEvent>,
    /// Everything the connection wrote back.
    pub output: Vec<u8>,
    /// The error that ended the stream, if any.
    pub error: Option<fastcgi::Error>,
    /// Whether the connection asked to be closed.
    pub closed: bool,
}

/// [`Event`] without the borrow.
#[derive(Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum OwnedEvent {
    Request { id: u16, role: fastcgi::Role, keep_conn: bool, params: Params },
    Stdin(Vec<u8>),
    StdinEnd,
    Data(Vec<u8>),
    DataEnd,
    Abort,
}

/// Runs `input` through a connection in reads of `chunk` bytes, playing a minimal
/// application: it answers each request with a short `STDOUT` once its body (and, for
/// FILTER, its data) is complete, or at once on abort. Stops at the first error or when
/// the connection asks to close.
pub fn drive(input: &[u8], chunk: usize, limits: fastcgi::Limits) -> Transcript {
    let mut conn = Connection::new(limits, ManagementValues { max_conns: 4, max_reqs: 4, mpxs_conns: false });
    let mut t = Transcript::default();
    let mut waiting_for = 0u8;
    for piece in input.chunks(chunk.max(1)) {
        let mut pos = 0;
        while pos < piece.len() && !conn.should_close() {
            let progress = match conn.advance(&piece[pos..], &mut t.output) {
                Ok(p) => p,
                Err(e) => {
                    t.error = Some(e);
                    return t;
                }
            };
            pos += progress.consumed;
            let Some(event) = progress.event else { continue };
            let ends = match &event {
                Event::Request(head) => {
                    waiting_for = if head.role == fastcgi::Role::Filter { 2 } else { 1 };
                    false
                }
                Event::StdinEnd | Event::DataEnd => {
                    waiting_for -= 1;
                    waiting_for == 0
                }
                Event::Abort => true,
                Event::Stdin(_) | Event::Data(_) => false,
            };
            push_event(&mut t.events, event);
            if ends {
                conn.write_stdout(b"Status: 200\r\n\r\nok", &mut t.output).expect("request is running");
                conn.end_request(0, &mut t.output).expect("request is running");
            }
        }
    }
    t.closed = conn.should_close();
    t
}

fn push_event(events: &mut Vec<OwnedEvent>, event: Event<'_>) {
    match (events.last_mut(), event) {
        (Some(OwnedEvent::Stdin(acc)), Event::Stdin(b)) | (Some(OwnedEvent::Data(acc)), Event::Data(b)) => {
            acc.extend_from_slice(b)
        }
        (_, Event::Request(h)) => events.push(OwnedEvent::Request {
            id: h.id,
            role: h.role,
            keep_conn: h.keep_conn,
            params: h.params,
        }),
        (_, Event::Stdin(b)) => events.push(OwnedEvent::Stdin(b.to_vec())),
        (_, Event::Data(b)) => events.push(OwnedEvent::Data(b.to_vec())),
        (_, Event::StdinEnd) => events.push(OwnedEvent::StdinEnd),
        (_, Event::DataEnd) => events.push(OwnedEvent::DataEnd),
        (_, Event::Abort) => events.push(OwnedEvent::Abort),
    }
}

/// Feeds `data` to a server-side FastCGI connection whole and in small reads: the two
/// must agree exactly, and no request may carry more params than the limits allow.
pub fn fastcgi_connection(data: &[u8]) {
    let limits = fastcgi::Limits { max_params_bytes: 4096, max_params: 64, max_name_bytes: 64 };
    let whole = drive(data, data.len(), limits);
    let split = drive(data, 1 + data.first().map_or(0, |b| usize::from(*b % 7)), limits);
    assert_eq!(whole, split, "splitting the input changed the result");
    for e in &whole.events {
        if let OwnedEvent::Request { params, .. } = e {
            assert!(params.len() <= limits.max_params);
            assert!(params.byte_len() <= limits.max_params_bytes);
        }
    }
}

/// Decodes `data` as a FastCGI name-value stream; a success re-encodes to a stream that
/// decodes to the same pairs.
pub fn fastcgi_params(data: &[u8]) {
    let limits = fastcgi::Limits::default();
    if let Ok(params) = fastcgi::params::decode_params(data.to_vec(), &limits) {
        let mut again = Vec::new();
        for (n, v) in params.iter() {
            fastcgi::params::encode_pair(&mut again, n, v);
        }
        let decoded = fastcgi::params::decode_params(again, &limits).expect("re-encoded params decode");
        assert_eq!(decoded.iter().collect::<Vec<_>>(), params.iter().collect::<Vec<_>>());
    }
}

/// Parses `data` as an SCGI request.
pub fn scgi_request(data: &[u8]) {
    use crate::scgi::{Limits, parse_head};
    use std::collections::HashSet;

    let small = Limits { max_header_bytes: 64, max_headers: 4, max_body_bytes: 16, strict_duplicates: true };
    for limits in [Limits::default(), small] {
        let whole = parse_head(data, &limits);
        let mut head_end = data.len();
        if let Ok(Some(head)) = &whole {
            head_end = head.header_len;
            assert!(head.header_len <= data.len());
            // Names and values are copied once from the header block, which the limit bounds.
            assert!(head.params.byte_len() < head.header_len);
            assert!(head.params.byte_len() <= limits.max_header_bytes);
            assert!(head.params.len() <= limits.max_headers);
            assert!(head.content_length <= limits.max_body_bytes);
            assert_eq!(head.params.get_index(0).map(|(name, _)| name), Some(&b"CONTENT_LENGTH"[..]));
            assert_eq!(head.params.get(b"SCGI"), Some(&b"1"[..]));
            // Repeats are merged or refused: no name is left twice.
            let names: HashSet<&[u8]> = head.params.iter().map(|(name, _)| name).collect();
            assert_eq!(names.len(), head.params.len());
            assert!(head.merged.iter().all(|name| name.starts_with(b"HTTP_")));
            assert!(!limits.strict_duplicates || head.merged.is_empty());
            // The head ends where it says: what follows is the body's, not the parser's.
            assert!(parse_head(&data[..head.header_len], &limits) == whole);
            let taken = head.body().take(&data[head.header_len..]);
            assert!(taken.len() as u64 <= head.content_length);
        }
        // Fed in pieces, the answer is the same: a prefix needs more bytes or already fails
        // the way the whole input does.
        for end in [1, 2, 3, head_end / 2, head_end.saturating_sub(1), data.len().saturating_sub(1)] {
            if end < data.len() {
                let part = parse_head(&data[..end], &limits);
                assert!(
                    part == Ok(None) || part == whole,
                    "prefix of {end} bytes: {part:?}, whole: {whole:?}"
                );
            }
        }
    }
}
