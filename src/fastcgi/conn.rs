//! The server side of one FastCGI connection: bytes in, request events out.
//!
//! [`Connection::advance`] consumes what the socket delivered and returns the next
//! [`Event`] (a request's params are complete, a piece of body, an abort). Records the
//! application need not see are handled here and answered into the caller's output
//! buffer, whatever state the connection is in:
//!
//! - `GET_VALUES` → `GET_VALUES_RESULT` with truthful `FCGI_MAX_CONNS`, `FCGI_MAX_REQS`,
//!   `FCGI_MPXS_CONNS` (§4.1), at any time;
//! - an unknown management type → `UNKNOWN_TYPE` (§4.2);
//! - a second `BEGIN_REQUEST` while one is active → `END_REQUEST{FCGI_CANT_MPX_CONN}` (§5.5);
//! - an unknown role → `END_REQUEST{FCGI_UNKNOWN_ROLE}`;
//! - `ABORT_REQUEST` before the params are complete → `END_REQUEST` (nothing to abort yet).
//!
//! One request is active at a time; sfpm does not multiplex (it answers
//! `FCGI_MPXS_CONNS=0`). The response side — `STDOUT`, `STDERR`, `END_REQUEST` — is
//! written through the same object so its state follows the request's.

use super::params::{Pairs, decode_params};
use super::record::{
    self, BeginRequestBody, Header, KEEP_CONN, NULL_REQUEST_ID, Piece, ProtocolStatus, RecordReader,
    RecordType, Role,
};
use super::{Error, Limits};
use crate::request::Params;
use std::fmt;

/// What `GET_VALUES` answers. They must be true of the whole server, not this process:
/// a front end sizes its connection pool by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagementValues {
    /// `FCGI_MAX_CONNS`: concurrent transport connections the server accepts.
    pub max_conns: u32,
    /// `FCGI_MAX_REQS`: concurrent requests the server accepts.
    pub max_reqs: u32,
    /// `FCGI_MPXS_CONNS`: whether a connection carries several requests at once.
    pub mpxs_conns: bool,
}

impl Default for ManagementValues {
    /// One worker, no multiplexing.
    fn default() -> Self {
        ManagementValues { max_conns: 1, max_reqs: 1, mpxs_conns: false }
    }
}

/// A request whose `PARAMS` stream is complete: what the application needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The request id, for logs; responses use it through [`Connection`].
    pub id: u16,
    /// The role the web server asked for.
    pub role: Role,
    /// `FCGI_KEEP_CONN`: the connection stays open after this request.
    pub keep_conn: bool,
    /// The CGI variables.
    pub params: Params,
}

/// What the peer's bytes mean to the application.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A request is ready to run: its params are complete. Its body follows as
    /// `Stdin` events (and `Data` for FILTER), which may come while it runs.
    Request(RequestHead),
    /// Request body bytes, borrowed from the input.
    Stdin(&'a [u8]),
    /// The request body is complete.
    StdinEnd,
    /// FILTER file data, borrowed from the input.
    Data(&'a [u8]),
    /// The FILTER data is complete.
    DataEnd,
    /// The web server aborted the active request; answer with [`Connection::end_request`]
    /// as soon as possible (§5.4).
    Abort,
}

/// The result of one [`Connection::advance`] call.
#[derive(Debug, PartialEq, Eq)]
pub struct Progress<'a> {
    /// Bytes of the input consumed; the rest must be passed again.
    pub consumed: usize,
    /// The event those bytes completed, if any. `None` with all input consumed means
    /// more bytes are needed; `None` with input left means output was produced — write
    /// it before feeding more, so a peer's management requests cannot grow it unboundedly.
    pub event: Option<Event<'a>>,
}

/// Progress of one input stream (`STDIN` or `DATA`) of the active request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    /// Receiving; at most `limit` bytes in all when the params announced a length.
    Open { received: u64, limit: Option<u64> },
    /// The empty record that ends the stream arrived.
    Ended,
}

/// The active request's parameters, while they last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Active {
    id: u16,
    role: Role,
    keep_conn: bool,
}

/// Where the connection is in its request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No active request: a `BEGIN_REQUEST` may start one.
    Idle,
    /// `BEGIN_REQUEST` accepted; reassembling the `PARAMS` stream.
    Params(Active),
    /// Params delivered; the application runs the request while body streams arrive.
    Running { request: Active, stdin: Stream, data: Stream },
    /// The last request ended without `FCGI_KEEP_CONN`: the server closes the connection.
    Closing,
}

/// Where the content of the record being read goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    /// A `BEGIN_REQUEST` body, collected in `record_body`.
    Begin,
    /// A `GET_VALUES` body, collected in `record_body`.
    GetValues,
    /// `PARAMS` stream content, collected in `params` up to the limit.
    Params,
    /// Body bytes for the application.
    Stdin,
    /// FILTER data for the application.
    Data,
    /// Content nobody needs: inactive request ids, abort bodies, unknown management records.
    Discard,
}

/// The server side of one FastCGI connection. See the module documentation.
pub struct Connection {
    limits: Limits,
    values: ManagementValues,
    reader: RecordReader,
    state: State,
    sink: Sink,
    /// The body of the discrete record being read (`BEGIN_REQUEST`, `GET_VALUES`):
    /// at most one record's content, 65535 bytes.
    record_body: Vec<u8>,
    /// The `PARAMS` stream being reassembled, at most `limits.max_params_bytes`. Apart
    /// from `record_body` because a `GET_VALUES` may arrive between `PARAMS` records.
    params: Vec<u8>,
    /// Whether the active request wrote to `STDERR`, so its end gets an empty record.
    stderr_used: bool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

/// Calling a response method with no active request: a bug in the caller, not the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoActiveRequest;

impl fmt::Display for NoActiveRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no active FastCGI request on this connection")
    }
}

impl std::error::Error for NoActiveRequest {}

impl Connection {
    /// A fresh connection, before its first record.
    pub fn new(limits: Limits, values: ManagementValues) -> Connection {
        Connection {
            limits,
            values,
            reader: RecordReader::new(),
            state: State::Idle,
            sink: Sink::Discard,
            record_body: Vec::new(),
            params: Vec::new(),
            stderr_used: false,
        }
    }

    /// Consumes `input` until it yields an event or produces output into `out`, or is
    /// used up. See [`Progress`] for what the caller does next.
    pub fn advance<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Progress<'a>, Error> {
        let mut consumed = 0;
        loop {
            let (n, piece) = self.reader.read(&input[consumed..])?;
            consumed += n;
            let Some(piece) = piece else {
                return Ok(Progress { consumed, event: None });
            };
            let out_before = out.len();
            let event = self.on_piece(piece, out)?;
            if event.is_some() || out.len() != out_before {
                return Ok(Progress { consumed, event });
            }
        }
    }

    /// The active request's id, from `BEGIN_REQUEST` until [`Connection::end_request`].
    pub fn request_id(&self) -> Option<u16> {
        self.active().map(|a| a.id)
    }

    /// True when the server must close the connection once its output is written:
    /// the last request ended without `FCGI_KEEP_CONN` (§5.1).
    pub fn should_close(&self) -> bool {
        self.state == State::Closing
    }

    /// True between requests on a kept connection, at a record boundary: the
    /// connection holds no state but itself and may wait for its next request anywhere.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle && self.reader.at_boundary()
    }

    /// Appends `data` as `STDOUT` records of the active request.
    pub fn write_stdout(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), NoActiveRequest> {
        let id = self.running_id()?;
        record::encode_stream(out, RecordType::Stdout, id, data);
        Ok(())
    }

    /// Appends `data` as `STDERR` records of the active request.
    pub fn write_stderr(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), NoActiveRequest> {
        let id = self.running_id()?;
        self.stderr_used |= !data.is_empty();
        record::encode_stream(out, RecordType::Stderr, id, data);
        Ok(())
    }

    /// Ends the active request (§5.5): the empty records that close its output streams,
    /// then `END_REQUEST{app_status, FCGI_REQUEST_COMPLETE}`. Afterwards the connection
    /// waits for the next request, or [`Connection::should_close`] says it is done.
    /// Body records still in flight for the ended request are skipped (§3.3: records for
    /// an inactive id are ignored).
    pub fn end_request(&mut self, app_status: u32, out: &mut Vec<u8>) -> Result<(), NoActiveRequest> {
        let State::Running { request, .. } = self.state else {
            return Err(NoActiveRequest);
        };
        if self.stderr_used {
            record::encode_stream_end(out, RecordType::Stderr, request.id);
        }
        record::encode_stream_end(out, RecordType::Stdout, request.id);
        record::encode_end_request(out, request.id, app_status, ProtocolStatus::RequestComplete);
        self.finish(request.keep_conn);
        Ok(())
    }

    fn active(&self) -> Option<Active> {
        match self.state {
            State::Params(a) | State::Running { request: a, .. } => Some(a),
            State::Idle | State::Closing => None,
        }
    }

    fn running_id(&self) -> Result<u16, NoActiveRequest> {
        match self.state {
            State::Running { request, .. } => Ok(request.id),
            _ => Err(NoActiveRequest),
        }
    }

    fn finish(&mut self, keep_conn: bool) {
        self.state = if keep_conn { State::Idle } else { State::Closing };
        self.stderr_used = false;
        self.params = Vec::new();
    }

    fn on_piece<'a>(&mut self, piece: Piece<'a>, out: &mut Vec<u8>) -> Result<Option<Event<'a>>, Error> {
        if piece.is_start {
            self.record_body.clear();
            let (sink, event) = self.route(piece.header, out)?;
            self.sink = sink;
            if event.is_some() {
                return Ok(event);
            }
        }
        let content = piece.content;
        let event = match self.sink {
            // Bounded by the record's own content length, at most 65535.
            Sink::Begin | Sink::GetValues => {
                self.record_body.extend_from_slice(content);
                None
            }
            // Within the limit: `route` checked the whole record's length.
            Sink::Params => {
                self.params.extend_from_slice(content);
                None
            }
            Sink::Stdin => (!content.is_empty()).then_some(Event::Stdin(content)),
            Sink::Data => (!content.is_empty()).then_some(Event::Data(content)),
            Sink::Discard => None,
        };
        if piece.is_end {
            match self.sink {
                Sink::Begin => self.on_begin_request(piece.header.request_id, out),
                Sink::GetValues => self.answer_get_values(out)?,
                _ => {}
            }
        }
        Ok(event)
    }

    /// Decides, from a record's header alone, what its content means. Rejects what can
    /// be rejected before reading any content; handles empty stream records (stream ends).
    fn route(&mut self, header: Header, out: &mut Vec<u8>) -> Result<(Sink, Option<Event<'static>>), Error> {
        let id = header.request_id;
        if id == NULL_REQUEST_ID {
            // §3.3: a record with id 0 is a management record, whatever its type.
            if header.kind() == Some(RecordType::GetValues) {
                return Ok((Sink::GetValues, None));
            }
            let body = record::encode_unknown_type_body(header.record_type);
            record::encode_record(out, RecordType::UnknownType, NULL_REQUEST_ID, &body);
            return Ok((Sink::Discard, None));
        }
        let Some(kind) = header.kind() else {
            return Err(Error::UnknownRecordType);
        };
        let is_active = self.active().is_some_and(|a| a.id == id);
        let len = u64::from(header.content_length);
        match kind {
            RecordType::EndRequest | RecordType::Stdout | RecordType::Stderr => {
                Err(Error::ResponseRecordFromPeer)
            }
            RecordType::GetValues | RecordType::GetValuesResult | RecordType::UnknownType => {
                Err(Error::ManagementRecordWithRequestId)
            }
            RecordType::BeginRequest => {
                if usize::from(header.content_length) != BeginRequestBody::LEN {
                    Err(Error::BadBeginRequestLength)
                } else if is_active {
                    Err(Error::DuplicateBeginRequest)
                } else {
                    Ok((Sink::Begin, None))
                }
            }
            // §3.3: records for an inactive request id are ignored.
            _ if !is_active => Ok((Sink::Discard, None)),
            RecordType::AbortRequest => Ok((Sink::Discard, self.on_abort(out))),
            RecordType::Params => match self.state {
                State::Params(request) if len == 0 => Ok((Sink::Discard, Some(self.on_params_end(request)?))),
                State::Params(_) => {
                    // Checked from the header, before any content: the whole record must fit.
                    let total = self.params.len().saturating_add(usize::from(header.content_length));
                    if total > self.limits.max_params_bytes {
                        return Err(Error::ParamsTooLarge);
                    }
                    self.params.reserve(usize::from(header.content_length));
                    Ok((Sink::Params, None))
                }
                _ => Err(Error::StreamAfterEnd),
            },
            RecordType::Stdin => self.route_stream(len, false),
            RecordType::Data => self.route_stream(len, true),
        }
    }

    /// Routes a `STDIN` or `DATA` record of `len` bytes for the active request.
    fn route_stream(&mut self, len: u64, is_data: bool) -> Result<(Sink, Option<Event<'static>>), Error> {
        let State::Running { request, stdin, data } = &mut self.state else {
            return Err(Error::StreamBeforeParamsEnd);
        };
        if is_data && request.role != Role::Filter {
            return Err(Error::DataForNonFilter);
        }
        let (stream, over_limit, sink, end) = if is_data {
            (data, Error::DataExceedsDataLength, Sink::Data, Event::DataEnd)
        } else {
            (stdin, Error::StdinExceedsContentLength, Sink::Stdin, Event::StdinEnd)
        };
        let Stream::Open { received, limit } = stream else {
            return Err(Error::StreamAfterEnd);
        };
        if len == 0 {
            *stream = Stream::Ended;
            return Ok((Sink::Discard, Some(end)));
        }
        // Checked before any byte of the record is handed on.
        *received = received.saturating_add(len);
        if limit.is_some_and(|limit| *received > limit) {
            return Err(over_limit);
        }
        Ok((sink, None))
    }

    fn on_begin_request(&mut self, id: u16, out: &mut Vec<u8>) {
        let body = BeginRequestBody::decode(&self.record_body).expect("length checked in route");
        match self.state {
            State::Idle => {}
            State::Params(_) | State::Running { .. } => {
                record::encode_end_request(out, id, 0, ProtocolStatus::CantMpxConn);
                return;
            }
            // The server is closing this connection: nothing more is served on it.
            State::Closing => return,
        }
        let keep_conn = body.flags & KEEP_CONN != 0;
        match Role::from_u16(body.role) {
            Some(role) => self.state = State::Params(Active { id, role, keep_conn }),
            None => {
                record::encode_end_request(out, id, 0, ProtocolStatus::UnknownRole);
                self.finish(keep_conn);
            }
        }
    }

    fn on_abort(&mut self, out: &mut Vec<u8>) -> Option<Event<'static>> {
        match self.state {
            State::Running { .. } => Some(Event::Abort),
            // The application never saw this request: end it here.
            State::Params(request) => {
                record::encode_end_request(out, request.id, 0, ProtocolStatus::RequestComplete);
                self.finish(request.keep_conn);
                None
            }
            State::Idle | State::Closing => None,
        }
    }

    fn on_params_end(&mut self, request: Active) -> Result<Event<'static>, Error> {
        let params = decode_params(std::mem::take(&mut self.params), &self.limits)?;
        let length_of = |name: &[u8]| params.get(name).and_then(parse_decimal);
        let stdin = Stream::Open { received: 0, limit: length_of(b"CONTENT_LENGTH") };
        let data = match request.role {
            Role::Filter => Stream::Open { received: 0, limit: length_of(b"FCGI_DATA_LENGTH") },
            _ => Stream::Ended,
        };
        self.state = State::Running { request, stdin, data };
        Ok(Event::Request(RequestHead {
            id: request.id,
            role: request.role,
            keep_conn: request.keep_conn,
            params,
        }))
    }

    fn answer_get_values(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let values = [
            (&b"FCGI_MAX_CONNS"[..], self.values.max_conns.to_string()),
            (&b"FCGI_MAX_REQS"[..], self.values.max_reqs.to_string()),
            (&b"FCGI_MPXS_CONNS"[..], u8::from(self.values.mpxs_conns).to_string()),
        ];
        let mut answered = [false; 3];
        let mut content = Vec::new();
        for pair in Pairs::new(&self.record_body) {
            let (name, _) = pair?;
            // §4.1: unknown names are left out; each known one is answered once, so the
            // answer is at most three pairs whatever the question repeats.
            if let Some(i) = values.iter().position(|(n, _)| *n == name) {
                if !std::mem::replace(&mut answered[i], true) {
                    super::params::encode_pair(&mut content, values[i].0, values[i].1.as_bytes());
                }
            }
        }
        record::encode_record(out, RecordType::GetValuesResult, NULL_REQUEST_ID, &content);
        Ok(())
    }
}

/// A length parameter as plain decimal digits; anything else (Caddy sends `-1` for a
/// chunked body) means "unknown" and leaves the stream unbounded by it.
fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastcgi::params::encode_pair;
    use crate::fastcgi::record::{EndRequestBody, encode_record, encode_stream, encode_stream_end};
    use crate::fuzzing::{OwnedEvent, Transcript, drive};

    /// Builds a web server's byte stream record by record.
    #[derive(Default)]
    struct Wire(Vec<u8>);

    impl Wire {
        fn begin(mut self, id: u16, role: u16, flags: u8) -> Self {
            encode_record(
                &mut self.0,
                RecordType::BeginRequest,
                id,
                &BeginRequestBody { role, flags }.encode(),
            );
            self
        }
        fn params(mut self, id: u16, pairs: &[(&str, &str)]) -> Self {
            let mut content = Vec::new();
            for (n, v) in pairs {
                encode_pair(&mut content, n.as_bytes(), v.as_bytes());
            }
            encode_stream(&mut self.0, RecordType::Params, id, &content);
            encode_stream_end(&mut self.0, RecordType::Params, id);
            self
        }
        fn stream(mut self, kind: RecordType, id: u16, data: &[u8]) -> Self {
            encode_stream(&mut self.0, kind, id, data);
            encode_stream_end(&mut self.0, kind, id);
            self
        }
        fn record(mut self, kind: RecordType, id: u16, content: &[u8]) -> Self {
            encode_record(&mut self.0, kind, id, content);
            self
        }
        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }
        fn get_values(self, names: &[&str]) -> Self {
            let mut content = Vec::new();
            for n in names {
                encode_pair(&mut content, n.as_bytes(), b"");
            }
            self.record(RecordType::GetValues, 0, &content)
        }
        /// Runs it whole and byte by byte; both must give the same transcript.
        fn run(&self) -> Transcript {
            self.run_with(Limits::default())
        }
        fn run_with(&self, limits: Limits) -> Transcript {
            let whole = drive(&self.0, self.0.len().max(1), limits);
            assert_eq!(whole, drive(&self.0, 1, limits), "byte-by-byte feeding differs");
            whole
        }
    }

    /// Decodes an output byte stream into (type, id, content) records.
    fn records(out: &[u8]) -> Vec<(RecordType, u16, Vec<u8>)> {
        let mut reader = RecordReader::new();
        let mut pos = 0;
        let mut recs: Vec<(RecordType, u16, Vec<u8>)> = Vec::new();
        while pos < out.len() {
            let (n, piece) = reader.read(&out[pos..]).unwrap();
            pos += n;
            let p = piece.expect("output holds whole records");
            if p.is_start {
                recs.push((p.header.kind().unwrap(), p.header.request_id, Vec::new()));
            }
            recs.last_mut().unwrap().2.extend_from_slice(p.content);
        }
        assert!(reader.at_boundary());
        recs
    }

    fn end_request(id: u16, status: ProtocolStatus) -> (RecordType, u16, Vec<u8>) {
        let body = EndRequestBody { app_status: 0, protocol_status: status as u8 };
        (RecordType::EndRequest, id, body.encode().to_vec())
    }

    fn response(id: u16) -> Vec<(RecordType, u16, Vec<u8>)> {
        vec![
            (RecordType::Stdout, id, b"Status: 200\r\n\r\nok".to_vec()),
            (RecordType::Stdout, id, vec![]),
            end_request(id, ProtocolStatus::RequestComplete),
        ]
    }

    fn request(id: u16, role: Role, keep_conn: bool, pairs: &[(&str, &str)]) -> OwnedEvent {
        OwnedEvent::Request { id, role, keep_conn, params: pairs.iter().copied().collect() }
    }

    const NGINX: &[(&str, &str)] = &[
        ("QUERY_STRING", "a=1"),
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", "7"),
        ("SCRIPT_FILENAME", "/srv/www/index.php"),
    ];

    #[test]
    fn responder_request_without_keep_conn() {
        let t =
            Wire::default().begin(1, 1, 0).params(1, NGINX).stream(RecordType::Stdin, 1, b"a=1&b=2").run();
        assert_eq!(
            t.events,
            vec![
                request(1, Role::Responder, false, NGINX),
                OwnedEvent::Stdin(b"a=1&b=2".to_vec()),
                OwnedEvent::StdinEnd
            ]
        );
        assert_eq!(records(&t.output), response(1));
        assert!(t.closed, "without FCGI_KEEP_CONN the application closes (§5.1)");
        assert_eq!(t.error, None);
    }

    #[test]
    fn keep_conn_serves_requests_in_turn() {
        let t = Wire::default()
            .begin(1, 1, KEEP_CONN)
            .params(1, &[("A", "1")])
            .stream(RecordType::Stdin, 1, b"")
            .begin(2, 1, KEEP_CONN)
            .params(2, &[("A", "2")])
            .stream(RecordType::Stdin, 2, b"")
            .run();
        assert_eq!(
            t.events,
            vec![
                request(1, Role::Responder, true, &[("A", "1")]),
                OwnedEvent::StdinEnd,
                request(2, Role::Responder, true, &[("A", "2")]),
                OwnedEvent::StdinEnd,
            ]
        );
        assert_eq!(records(&t.output), [response(1), response(2)].concat());
        assert!(!t.closed);
    }

    #[test]
    fn a_pair_split_across_params_records_is_reassembled() {
        // The spec's example 2 splits SERVER_ADDR's pair over two PARAMS records.
        let t = Wire::default()
            .begin(1, 1, 0)
            .record(RecordType::Params, 1, b"\x0b\x02SERVER_PORT80\x0b\x0eSER")
            .record(RecordType::Params, 1, b"VER_ADDR199.170.183.42")
            .record(RecordType::Params, 1, b"")
            .run();
        assert_eq!(
            t.events[0],
            request(1, Role::Responder, false, &[("SERVER_PORT", "80"), ("SERVER_ADDR", "199.170.183.42")])
        );
    }

    #[test]
    fn any_padding_is_honoured() {
        let mut w = Wire::default().begin(1, 1, 0);
        let mut content = Vec::new();
        encode_pair(&mut content, b"A", b"1");
        let header = Header::new(RecordType::Params, 1, content.len() as u16, 255).encode();
        w = w.raw(&header).raw(&content).raw(&[0xaa; 255]).record(RecordType::Params, 1, b"");
        let t = w.stream(RecordType::Stdin, 1, b"").run();
        assert_eq!(t.events[0], request(1, Role::Responder, false, &[("A", "1")]));
        assert_eq!(t.error, None);
    }

    #[test]
    fn get_values_is_answered_truthfully_at_any_time() {
        let expect = |names: &[(&str, &str)]| {
            let mut c = Vec::new();
            for (n, v) in names {
                encode_pair(&mut c, n.as_bytes(), v.as_bytes());
            }
            (RecordType::GetValuesResult, 0, c)
        };
        let all = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"];
        let t = Wire::default()
            .get_values(&all)
            .begin(1, 1, KEEP_CONN)
            .get_values(&["FCGI_MPXS_CONNS", "NO_SUCH_VAR", "FCGI_MPXS_CONNS"])
            .params(1, &[("A", "1")])
            .get_values(&["FCGI_MAX_REQS"])
            .stream(RecordType::Stdin, 1, b"")
            .get_values(&[])
            .run();
        let mut want = vec![
            expect(&[("FCGI_MAX_CONNS", "4"), ("FCGI_MAX_REQS", "4"), ("FCGI_MPXS_CONNS", "0")]),
            expect(&[("FCGI_MPXS_CONNS", "0")]),
            expect(&[("FCGI_MAX_REQS", "4")]),
        ];
        want.extend(response(1));
        want.push(expect(&[]));
        assert_eq!(records(&t.output), want);
    }

    #[test]
    fn unknown_management_types_get_unknown_type() {
        // Type 200 is unknown; BEGIN_REQUEST with id 0 is a management record of a type
        // the application does not know as management (§3.3, §4.2).
        let t = Wire::default()
            .raw(
                &Header { version: 1, record_type: 200, request_id: 0, content_length: 3, padding_length: 0 }
                    .encode(),
            )
            .raw(b"xyz")
            .begin(0, 1, 0)
            .run();
        assert_eq!(
            records(&t.output),
            vec![
                (RecordType::UnknownType, 0, vec![200, 0, 0, 0, 0, 0, 0, 0]),
                (RecordType::UnknownType, 0, vec![1, 0, 0, 0, 0, 0, 0, 0]),
            ]
        );
        assert_eq!(t.error, None);
    }

    #[test]
    fn a_second_request_while_one_is_active_is_refused() {
        let t = Wire::default()
            .begin(1, 1, 0)
            .begin(2, 1, 0)
            .params(1, &[("A", "1")])
            .begin(3, 1, KEEP_CONN)
            .stream(RecordType::Stdin, 1, b"x")
            .run();
        let mut want =
            vec![end_request(2, ProtocolStatus::CantMpxConn), end_request(3, ProtocolStatus::CantMpxConn)];
        want.extend(response(1));
        assert_eq!(records(&t.output), want);
        assert_eq!(t.events.len(), 3);
    }

    #[test]
    fn unknown_roles_are_refused() {
        let t = Wire::default()
            .begin(1, 7, KEEP_CONN)
            .params(1, &[("IGNORED", "1")])
            .begin(2, 2, 0)
            .params(2, &[("A", "1")])
            .stream(RecordType::Stdin, 2, b"")
            .run();
        let mut want = vec![end_request(1, ProtocolStatus::UnknownRole)];
        want.extend(response(2));
        assert_eq!(records(&t.output), want);
        assert_eq!(t.events[0], request(2, Role::Authorizer, false, &[("A", "1")]));

        let t = Wire::default().begin(1, 0, 0).begin(2, 1, 0).run();
        assert_eq!(records(&t.output), vec![end_request(1, ProtocolStatus::UnknownRole)]);
        assert!(t.closed, "an unknown role without KEEP_CONN ends the connection");
    }

    #[test]
    fn abort_while_running_reaches_the_application() {
        let t = Wire::default()
            .begin(1, 1, KEEP_CONN)
            .params(1, &[("CONTENT_LENGTH", "10")])
            .record(RecordType::Stdin, 1, b"12345")
            .record(RecordType::AbortRequest, 1, b"")
            .record(RecordType::Stdin, 1, b"67890")
            .record(RecordType::Stdin, 1, b"")
            .run();
        assert_eq!(
            t.events,
            vec![
                request(1, Role::Responder, true, &[("CONTENT_LENGTH", "10")]),
                OwnedEvent::Stdin(b"12345".to_vec()),
                OwnedEvent::Abort
            ]
        );
        assert_eq!(records(&t.output), response(1), "records for the ended request are ignored");
        assert_eq!(t.error, None);
    }

    #[test]
    fn abort_before_params_end_is_answered_by_the_connection() {
        let t = Wire::default()
            .begin(1, 1, KEEP_CONN)
            .record(RecordType::Params, 1, b"\x01\x01A1")
            .record(RecordType::AbortRequest, 1, b"")
            .record(RecordType::AbortRequest, 9, b"")
            .run();
        assert_eq!(t.events, vec![]);
        assert_eq!(records(&t.output), vec![end_request(1, ProtocolStatus::RequestComplete)]);
        assert!(!t.closed);
    }

    #[test]
    fn filter_receives_stdin_then_data() {
        let pairs =
            [("CONTENT_LENGTH", "2"), ("FCGI_DATA_LENGTH", "4"), ("FCGI_DATA_LAST_MOD", "1700000000")];
        let t = Wire::default()
            .begin(5, 3, 0)
            .params(5, &pairs)
            .stream(RecordType::Stdin, 5, b"in")
            .stream(RecordType::Data, 5, b"file")
            .run();
        assert_eq!(
            t.events,
            vec![
                request(5, Role::Filter, false, &pairs),
                OwnedEvent::Stdin(b"in".to_vec()),
                OwnedEvent::StdinEnd,
                OwnedEvent::Data(b"file".to_vec()),
                OwnedEvent::DataEnd,
            ]
        );
        assert_eq!(records(&t.output), response(5));
    }

    #[test]
    fn content_length_that_is_not_decimal_leaves_stdin_unbounded() {
        // Caddy 2.6 sends CONTENT_LENGTH=-1 with a chunked body.
        let t = Wire::default()
            .begin(1, 1, 0)
            .params(1, &[("CONTENT_LENGTH", "-1")])
            .stream(RecordType::Stdin, 1, b"abc")
            .run();
        assert_eq!(t.error, None);
        assert_eq!(t.events[1], OwnedEvent::Stdin(b"abc".to_vec()));
    }

    /// Bad input: each case is a stream and the error it must end with.
    macro_rules! rejects {
        ($($name:ident: $wire:expr => $err:expr;)*) => {$(
            #[test]
            fn $name() {
                let t = $wire.run_with(Limits { max_params_bytes: 64, max_params: 3, max_name_bytes: 16 });
                assert_eq!(t.error, Some($err));
            }
        )*};
    }

    fn header(version: u8, record_type: u8, id: u16, len: u16) -> [u8; 8] {
        Header { version, record_type, request_id: id, content_length: len, padding_length: 0 }.encode()
    }

    rejects! {
        version_2: Wire::default().raw(&header(2, 1, 1, 8)) => Error::BadVersion;
        version_0: Wire::default().raw(&header(0, 1, 1, 8)) => Error::BadVersion;
        unknown_application_type: Wire::default().raw(&header(1, 12, 1, 0)) => Error::UnknownRecordType;
        stdout_from_peer: Wire::default().record(RecordType::Stdout, 1, b"x") => Error::ResponseRecordFromPeer;
        end_request_from_peer: Wire::default().record(RecordType::EndRequest, 1, &[0; 8]) => Error::ResponseRecordFromPeer;
        get_values_with_id: Wire::default().record(RecordType::GetValues, 1, b"") => Error::ManagementRecordWithRequestId;
        short_begin: Wire::default().record(RecordType::BeginRequest, 1, &[0, 1, 0]) => Error::BadBeginRequestLength;
        begin_for_active_id: Wire::default().begin(1, 1, 0).begin(1, 1, 0) => Error::DuplicateBeginRequest;
        params_over_limit: Wire::default().begin(1, 1, 0).params(1, &[("A", &"x".repeat(70))]) => Error::ParamsTooLarge;
        too_many_params: Wire::default().begin(1, 1, 0).params(1, &[("A", ""), ("B", ""), ("C", ""), ("D", "")]) => Error::TooManyParams;
        long_name: Wire::default().begin(1, 1, 0).params(1, &[("SEVENTEEN_LETTERS", "")]) => Error::NameTooLong;
        empty_name: Wire::default().begin(1, 1, 0).params(1, &[("", "x")]) => Error::EmptyName;
        nul_in_name: Wire::default().begin(1, 1, 0).params(1, &[("A\0B", "x")]) => Error::NulInName;
        truncated_pair: Wire::default().begin(1, 1, 0).record(RecordType::Params, 1, b"\x05\x01AB").record(RecordType::Params, 1, b"") => Error::TruncatedPair;
        malformed_get_values: Wire::default().record(RecordType::GetValues, 0, b"\x7f") => Error::TruncatedPair;
        stdin_before_params_end: Wire::default().begin(1, 1, 0).record(RecordType::Stdin, 1, b"x") => Error::StreamBeforeParamsEnd;
        params_after_end: Wire::default().begin(1, 1, KEEP_CONN).params(1, &[]).record(RecordType::Params, 1, b"") => Error::StreamAfterEnd;
        stdin_after_end: Wire::default().begin(1, 3, 0).params(1, &[]).stream(RecordType::Stdin, 1, b"").record(RecordType::Stdin, 1, b"x") => Error::StreamAfterEnd;
        data_for_responder: Wire::default().begin(1, 1, 0).params(1, &[]).record(RecordType::Data, 1, b"x") => Error::DataForNonFilter;
        stdin_over_content_length: Wire::default().begin(1, 1, 0).params(1, &[("CONTENT_LENGTH", "3")]).record(RecordType::Stdin, 1, b"abcd") => Error::StdinExceedsContentLength;
        data_over_data_length: Wire::default().begin(1, 3, 0).params(1, &[("FCGI_DATA_LENGTH", "1")]).record(RecordType::Data, 1, b"ab") => Error::DataExceedsDataLength;
    }

    #[test]
    fn response_streams_and_errors_of_the_response_side() {
        let mut conn = Connection::new(Limits::default(), ManagementValues::default());
        let mut out = Vec::new();
        assert_eq!(conn.write_stdout(b"x", &mut out), Err(NoActiveRequest));
        assert_eq!(conn.end_request(0, &mut out), Err(NoActiveRequest));
        let wire = Wire::default().begin(7, 1, 0).params(7, &[]);
        let p = conn.advance(&wire.0, &mut out).unwrap();
        assert!(matches!(p.event, Some(Event::Request(_))));
        assert_eq!(conn.request_id(), Some(7));
        let big = vec![b'z'; 70_000];
        conn.write_stdout(&big, &mut out).unwrap();
        conn.write_stderr(b"warning", &mut out).unwrap();
        conn.end_request(3, &mut out).unwrap();
        let recs = records(&out);
        assert_eq!(
            recs.iter().map(|r| (r.0, r.2.len())).collect::<Vec<_>>(),
            vec![
                (RecordType::Stdout, 0xfff8),
                (RecordType::Stdout, 70_000 - 0xfff8),
                (RecordType::Stderr, 7),
                (RecordType::Stderr, 0),
                (RecordType::Stdout, 0),
                (RecordType::EndRequest, 8),
            ]
        );
        assert_eq!(EndRequestBody::decode(&recs[5].2).unwrap().app_status, 3);
        assert!(out.len() % 8 == 0, "every record is padded to 8 bytes");
        assert!(conn.should_close());
        assert_eq!(conn.request_id(), None);
    }

    #[test]
    fn idle_only_between_requests_at_a_record_boundary() {
        let mut conn = Connection::new(Limits::default(), ManagementValues::default());
        let mut out = Vec::new();
        assert!(conn.is_idle());
        conn.advance(&[1, 9, 0], &mut out).unwrap();
        assert!(!conn.is_idle());
    }
}
