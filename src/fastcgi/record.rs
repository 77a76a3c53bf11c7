//! FastCGI records: the 8-byte header, the fixed-size bodies, an incremental record
//! reader, and output framing.
//!
//! Every byte on a FastCGI connection belongs to a record (spec §3.3): a header, then
//! `contentLength` bytes of content, then `paddingLength` bytes of padding. Integers are
//! big-endian.

use super::Error;

/// `FCGI_VERSION_1`, the only version the spec defines (§8).
pub const VERSION_1: u8 = 1;

/// `FCGI_HEADER_LEN`: every record starts with this many header bytes (§8).
pub const HEADER_LEN: usize = 8;

/// `FCGI_NULL_REQUEST_ID`: records with this id are management records (§3.3).
pub const NULL_REQUEST_ID: u16 = 0;

/// The largest content an output record carries.
///
/// The spec allows 65535 bytes of content plus up to 255 of padding, and recommends that
/// records start on 8-byte boundaries (§3.3). 0xfff8 is the largest multiple of 8 below
/// 65536, so full records need no padding and content + padding never exceeds 65535,
/// which php-fpm's own reader requires of some record types — a peer as strict as that
/// still accepts every record sfpm writes.
pub const MAX_OUTPUT_CONTENT: usize = 0xfff8;

/// `FCGI_KEEP_CONN`, the only flag of `FCGI_BEGIN_REQUEST` (§5.1): when set, the
/// application leaves the connection open after the response.
pub const KEEP_CONN: u8 = 1;

/// Record types (§8). Direction: WS = sent by the web server, App = sent by the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// WS → App: starts a request; 8-byte body (role, flags).
    BeginRequest = 1,
    /// WS → App: the HTTP client went away; empty body.
    AbortRequest = 2,
    /// App → WS: ends a request; 8-byte body (app status, protocol status).
    EndRequest = 3,
    /// WS → App: stream of name-value pairs, the CGI variables.
    Params = 4,
    /// WS → App: stream, the request body.
    Stdin = 5,
    /// App → WS: stream, the CGI response.
    Stdout = 6,
    /// App → WS: stream, error text.
    Stderr = 7,
    /// WS → App: stream, the FILTER role's file data.
    Data = 8,
    /// WS → App, management: asks for variables (names with empty values).
    GetValues = 9,
    /// App → WS, management: answers `GetValues`.
    GetValuesResult = 10,
    /// App → WS, management: a management record type the application does not know.
    UnknownType = 11,
}

impl RecordType {
    /// The type with this wire value, if the spec defines one.
    pub fn from_u8(value: u8) -> Option<RecordType> {
        use RecordType::*;
        Some(match value {
            1 => BeginRequest,
            2 => AbortRequest,
            3 => EndRequest,
            4 => Params,
            5 => Stdin,
            6 => Stdout,
            7 => Stderr,
            8 => Data,
            9 => GetValues,
            10 => GetValuesResult,
            11 => UnknownType,
            _ => return None,
        })
    }
}

/// The role a request asks the application to play (§6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Role {
    /// `FCGI_RESPONDER`: CGI/1.1 semantics — params and body in, response out.
    Responder = 1,
    /// `FCGI_AUTHORIZER`: decides whether a request may proceed; no body.
    Authorizer = 2,
    /// `FCGI_FILTER`: like a responder, plus a data stream (the file to filter).
    Filter = 3,
}

impl Role {
    /// The role with this wire value, if the spec defines one.
    pub fn from_u16(value: u16) -> Option<Role> {
        match value {
            1 => Some(Role::Responder),
            2 => Some(Role::Authorizer),
            3 => Some(Role::Filter),
            _ => None,
        }
    }

    /// The name php-fpm puts in `$_SERVER['FCGI_ROLE']`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Responder => "RESPONDER",
            Role::Authorizer => "AUTHORIZER",
            Role::Filter => "FILTER",
        }
    }
}

/// `protocolStatus` of `FCGI_END_REQUEST` (§5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ProtocolStatus {
    /// `FCGI_REQUEST_COMPLETE`: normal end.
    RequestComplete = 0,
    /// `FCGI_CANT_MPX_CONN`: refused, this connection already carries a request.
    CantMpxConn = 1,
    /// `FCGI_OVERLOADED`: refused, a resource ran out.
    Overloaded = 2,
    /// `FCGI_UNKNOWN_ROLE`: refused, the role is not one the application plays.
    UnknownRole = 3,
}

impl ProtocolStatus {
    /// The status with this wire value, if the spec defines one.
    pub fn from_u8(value: u8) -> Option<ProtocolStatus> {
        match value {
            0 => Some(ProtocolStatus::RequestComplete),
            1 => Some(ProtocolStatus::CantMpxConn),
            2 => Some(ProtocolStatus::Overloaded),
            3 => Some(ProtocolStatus::UnknownRole),
            _ => None,
        }
    }
}

/// A record header (§3.3). `record_type` stays a raw byte: unknown types must be
/// reported back (`FCGI_UNKNOWN_TYPE`), not rejected while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version, [`VERSION_1`].
    pub version: u8,
    /// Raw record type; see [`RecordType::from_u8`].
    pub record_type: u8,
    /// Request id; [`NULL_REQUEST_ID`] for management records.
    pub request_id: u16,
    /// Bytes of content that follow the header.
    pub content_length: u16,
    /// Bytes of padding that follow the content.
    pub padding_length: u8,
}

impl Header {
    /// A version-1 header.
    pub fn new(record_type: RecordType, request_id: u16, content_length: u16, padding_length: u8) -> Header {
        Header {
            version: VERSION_1,
            record_type: record_type as u8,
            request_id,
            content_length,
            padding_length,
        }
    }

    /// Decodes the 8 header bytes; the reserved byte is ignored, as the spec asks.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        Header {
            version: bytes[0],
            record_type: bytes[1],
            request_id: u16::from_be_bytes([bytes[2], bytes[3]]),
            content_length: u16::from_be_bytes([bytes[4], bytes[5]]),
            padding_length: bytes[6],
        }
    }

    /// Encodes the header, reserved byte zero.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [id1, id0] = self.request_id.to_be_bytes();
        let [len1, len0] = self.content_length.to_be_bytes();
        [self.version, self.record_type, id1, id0, len1, len0, self.padding_length, 0]
    }

    /// The record type, if known.
    pub fn kind(&self) -> Option<RecordType> {
        RecordType::from_u8(self.record_type)
    }
}

/// The body of `FCGI_BEGIN_REQUEST` (§5.1): role and flags, then 5 reserved bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeginRequestBody {
    /// Raw role; see [`Role::from_u16`].
    pub role: u16,
    /// Flags; [`KEEP_CONN`] is the only one defined.
    pub flags: u8,
}

impl BeginRequestBody {
    /// Length of the body on the wire.
    pub const LEN: usize = 8;

    /// Decodes the body; `None` unless it is exactly [`Self::LEN`] bytes.
    pub fn decode(content: &[u8]) -> Option<BeginRequestBody> {
        match content {
            [r1, r0, flags, _, _, _, _, _] => {
                Some(BeginRequestBody { role: u16::from_be_bytes([*r1, *r0]), flags: *flags })
            }
            _ => None,
        }
    }

    /// Encodes the body, reserved bytes zero.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let [r1, r0] = self.role.to_be_bytes();
        [r1, r0, self.flags, 0, 0, 0, 0, 0]
    }
}

/// The body of `FCGI_END_REQUEST` (§5.5): application status, protocol status, 3 reserved
/// bytes (zeroed here; php-fpm leaks stale buffer bytes into them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndRequestBody {
    /// The application's exit status, as a CGI program's.
    pub app_status: u32,
    /// Raw protocol status; see [`ProtocolStatus::from_u8`].
    pub protocol_status: u8,
}

impl EndRequestBody {
    /// Length of the body on the wire.
    pub const LEN: usize = 8;

    /// Decodes the body; `None` unless it is exactly [`Self::LEN`] bytes.
    pub fn decode(content: &[u8]) -> Option<EndRequestBody> {
        match content {
            [a3, a2, a1, a0, status, _, _, _] => Some(EndRequestBody {
                app_status: u32::from_be_bytes([*a3, *a2, *a1, *a0]),
                protocol_status: *status,
            }),
            _ => None,
        }
    }

    /// Encodes the body, reserved bytes zero.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let [a3, a2, a1, a0] = self.app_status.to_be_bytes();
        [a3, a2, a1, a0, self.protocol_status, 0, 0, 0]
    }
}

/// The body of `FCGI_UNKNOWN_TYPE` (§4.2): the unknown type, then 7 reserved bytes.
pub fn encode_unknown_type_body(record_type: u8) -> [u8; 8] {
    [record_type, 0, 0, 0, 0, 0, 0, 0]
}

/// Padding that brings `content_len` to a multiple of 8 (§3.3 recommends 8-byte alignment).
pub fn padding_for(content_len: usize) -> u8 {
    ((8 - content_len % 8) % 8) as u8
}

/// Zero bytes to copy padding from.
const ZEROS: [u8; 8] = [0; 8];

/// One output record, ready for a vectored write: header, borrowed content, padding.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The encoded header.
    pub header: [u8; HEADER_LEN],
    /// The content, borrowed from the caller's data.
    pub content: &'a [u8],
    /// The padding (zero bytes).
    pub padding: &'static [u8],
}

impl Frame<'_> {
    /// Appends the whole record to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header);
        out.extend_from_slice(self.content);
        out.extend_from_slice(self.padding);
    }
}

/// Splits `data` into the non-empty records of a stream: [`MAX_OUTPUT_CONTENT`] bytes
/// each, the last padded to 8. Empty `data` yields no record: a stream's end is the
/// separate empty record written by [`encode_stream_end`].
pub fn frames(record_type: RecordType, request_id: u16, data: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    data.chunks(MAX_OUTPUT_CONTENT).map(move |content| frame(record_type, request_id, content))
}

/// One record of at most 65535 bytes of content, padded to 8.
///
/// Panics if `content` is longer than 65535 bytes: callers pass fixed bodies or chunks
/// cut by [`frames`], so that would be a bug.
pub fn frame(record_type: RecordType, request_id: u16, content: &[u8]) -> Frame<'_> {
    let len = u16::try_from(content.len()).expect("record content over 65535 bytes");
    let padding = padding_for(content.len());
    Frame {
        header: Header::new(record_type, request_id, len, padding).encode(),
        content,
        padding: &ZEROS[..padding as usize],
    }
}

/// Appends the non-empty records of a stream carrying `data` (see [`frames`]).
pub fn encode_stream(out: &mut Vec<u8>, record_type: RecordType, request_id: u16, data: &[u8]) {
    for f in frames(record_type, request_id, data) {
        f.write_to(out);
    }
}

/// Appends the empty record that ends a stream (§3.3).
pub fn encode_stream_end(out: &mut Vec<u8>, record_type: RecordType, request_id: u16) {
    frame(record_type, request_id, &[]).write_to(out);
}

/// Appends one discrete record.
pub fn encode_record(out: &mut Vec<u8>, record_type: RecordType, request_id: u16, content: &[u8]) {
    frame(record_type, request_id, content).write_to(out);
}

/// Appends `FCGI_END_REQUEST`.
pub fn encode_end_request(out: &mut Vec<u8>, request_id: u16, app_status: u32, status: ProtocolStatus) {
    let body = EndRequestBody { app_status, protocol_status: status as u8 }.encode();
    encode_record(out, RecordType::EndRequest, request_id, &body);
}

/// A piece of one record, as [`RecordReader`] hands it out: all or part of its content.
/// Every record yields at least one piece (an empty record exactly one, with
/// `is_start` and `is_end` both set); padding is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The record's header.
    pub header: Header,
    /// Content bytes, borrowed from the input; may be empty.
    pub content: &'a [u8],
    /// First piece of this record: decide here what to do with it, before any content.
    pub is_start: bool,
    /// Last piece: the record's content is complete.
    pub is_end: bool,
}

/// Where the reader is inside the byte stream.
#[derive(Clone, Copy, Debug)]
enum ReadState {
    /// Collecting the 8 header bytes; `have` of them so far.
    Header { bytes: [u8; HEADER_LEN], have: usize },
    /// Inside the content of a record; `started` once its first piece went out.
    Content { header: Header, remaining: usize, started: bool },
    /// Skipping padding.
    Padding { remaining: usize },
}

/// Reads records from a byte stream that arrives in arbitrary pieces, without copying
/// content: a record's content is handed out as slices of the input as it arrives, so a
/// caller never needs a buffer bigger than what one `read` returned.
#[derive(Clone, Debug)]
pub struct RecordReader {
    state: ReadState,
}

impl Default for RecordReader {
    fn default() -> Self {
        RecordReader { state: ReadState::Header { bytes: [0; HEADER_LEN], have: 0 } }
    }
}

impl RecordReader {
    /// A reader at a record boundary.
    pub fn new() -> RecordReader {
        RecordReader::default()
    }

    /// True between records: no header byte, content or padding is pending.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, ReadState::Header { have: 0, .. })
    }

    /// Consumes bytes of `input` up to and including the next piece of content.
    /// Returns how many bytes were consumed and the piece, or `None` when all of
    /// `input` was consumed without completing one (more bytes needed).
    pub fn read<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Piece<'a>>), Error> {
        let mut pos = 0;
        loop {
            match &mut self.state {
                ReadState::Header { bytes, have } => {
                    let n = (HEADER_LEN - *have).min(input.len() - pos);
                    bytes[*have..*have + n].copy_from_slice(&input[pos..pos + n]);
                    *have += n;
                    pos += n;
                    if *have < HEADER_LEN {
                        return Ok((pos, None));
                    }
                    let header = Header::decode(bytes);
                    // §3.3: the spec defines version 1 only; a peer speaking anything
                    // else is not speaking this protocol.
                    if header.version != VERSION_1 {
                        return Err(Error::BadVersion);
                    }
                    let remaining = usize::from(header.content_length);
                    self.state = ReadState::Content { header, remaining, started: false };
                }
                ReadState::Content { header, remaining, started } => {
                    let n = (*remaining).min(input.len() - pos);
                    if n == 0 && *remaining > 0 && *started {
                        return Ok((pos, None));
                    }
                    let piece = Piece {
                        header: *header,
                        content: &input[pos..pos + n],
                        is_start: !*started,
                        is_end: *remaining == n,
                    };
                    pos += n;
                    *remaining -= n;
                    *started = true;
                    if *remaining == 0 {
                        self.state = ReadState::Padding { remaining: usize::from(header.padding_length) };
                        self.skip_padding(input, &mut pos);
                    }
                    return Ok((pos, Some(piece)));
                }
                ReadState::Padding { .. } => {
                    self.skip_padding(input, &mut pos);
                    if !matches!(self.state, ReadState::Header { .. }) {
                        return Ok((pos, None));
                    }
                }
            }
        }
    }

    /// Skips padding bytes available in `input` from `pos`; moves to the next header when done.
    fn skip_padding(&mut self, input: &[u8], pos: &mut usize) {
        if let ReadState::Padding { remaining } = &mut self.state {
            let n = (*remaining).min(input.len() - *pos);
            *remaining -= n;
            *pos += n;
            if *remaining == 0 {
                self.state = ReadState::Header { bytes: [0; HEADER_LEN], have: 0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_layout() {
        let h = Header::new(RecordType::Stdout, 0x1234, 0xabcd, 3);
        let bytes = h.encode();
        assert_eq!(bytes, [1, 6, 0x12, 0x34, 0xab, 0xcd, 3, 0]);
        assert_eq!(Header::decode(&bytes), h);
    }

    #[test]
    fn header_ignores_reserved_byte() {
        let h = Header::decode(&[1, 5, 0, 1, 0, 0, 0, 0xff]);
        assert_eq!(h, Header::new(RecordType::Stdin, 1, 0, 0));
    }

    #[test]
    fn every_record_type_has_its_spec_value() {
        for v in 0..=255u8 {
            match RecordType::from_u8(v) {
                Some(t) => assert_eq!(t as u8, v),
                None => assert!(v == 0 || v > 11, "type {v} should be known"),
            }
        }
    }

    #[test]
    fn roles_and_statuses_have_spec_values() {
        assert_eq!(Role::from_u16(1), Some(Role::Responder));
        assert_eq!(Role::from_u16(2), Some(Role::Authorizer));
        assert_eq!(Role::from_u16(3), Some(Role::Filter));
        assert_eq!(Role::from_u16(0), None);
        assert_eq!(Role::from_u16(4), None);
        assert_eq!(Role::from_u16(0x0101), None);
        for v in 0..=3u8 {
            assert_eq!(ProtocolStatus::from_u8(v).map(|s| s as u8), Some(v));
        }
        assert_eq!(ProtocolStatus::from_u8(4), None);
    }

    #[test]
    fn begin_and_end_bodies_round_trip() {
        let b = BeginRequestBody { role: 3, flags: KEEP_CONN };
        assert_eq!(b.encode(), [0, 3, 1, 0, 0, 0, 0, 0]);
        assert_eq!(BeginRequestBody::decode(&b.encode()), Some(b));
        assert_eq!(BeginRequestBody::decode(&[0, 1, 0]), None);
        assert_eq!(BeginRequestBody::decode(&[0; 9]), None);
        let e = EndRequestBody { app_status: 0xdead_beef, protocol_status: 2 };
        assert_eq!(e.encode(), [0xde, 0xad, 0xbe, 0xef, 2, 0, 0, 0]);
        assert_eq!(EndRequestBody::decode(&e.encode()), Some(e));
        assert_eq!(EndRequestBody::decode(&[0; 7]), None);
    }

    #[test]
    fn streams_split_at_aligned_maximum_and_pad_to_eight() {
        let data = vec![7u8; MAX_OUTPUT_CONTENT * 2 + 5];
        let fs: Vec<_> = frames(RecordType::Stdout, 1, &data).collect();
        assert_eq!(fs.len(), 3);
        assert_eq!(fs[0].content.len(), MAX_OUTPUT_CONTENT);
        assert!(fs[0].padding.is_empty());
        assert_eq!(fs[2].content.len(), 5);
        assert_eq!(fs[2].padding.len(), 3);
        assert_eq!(frames(RecordType::Stdout, 1, &[]).count(), 0);
        let mut out = Vec::new();
        encode_stream(&mut out, RecordType::Stderr, 9, b"abc");
        assert_eq!(out, [1, 7, 0, 9, 0, 3, 5, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0]);
        out.clear();
        encode_stream_end(&mut out, RecordType::Stdout, 9);
        assert_eq!(out, [1, 6, 0, 9, 0, 0, 0, 0]);
    }

    #[test]
    fn end_request_encoding() {
        let mut out = Vec::new();
        encode_end_request(&mut out, 1, 255, ProtocolStatus::RequestComplete);
        assert_eq!(out, [1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0]);
    }

    #[test]
    fn reader_hands_out_content_as_it_arrives_and_skips_padding() {
        let mut wire = Vec::new();
        encode_record(&mut wire, RecordType::Stdin, 1, b"hello");
        encode_stream_end(&mut wire, RecordType::Stdin, 1);
        let mut r = RecordReader::new();
        // Header plus two content bytes.
        let (n, p) = r.read(&wire[..10]).unwrap();
        assert_eq!(n, 10);
        let p = p.unwrap();
        assert!(p.is_start && !p.is_end);
        assert_eq!(p.content, b"he");
        let (n, p) = r.read(&wire[10..]).unwrap();
        let p = p.unwrap();
        assert!(!p.is_start && p.is_end);
        assert_eq!(p.content, b"llo");
        assert_eq!(n, 3 + 3, "the padding is consumed with the last piece");
        let (n, p) = r.read(&wire[16..]).unwrap();
        assert_eq!(n, 8);
        let p = p.unwrap();
        assert!(p.is_start && p.is_end && p.content.is_empty());
        assert!(r.at_boundary());
    }

    #[test]
    fn reader_rejects_other_versions() {
        let mut r = RecordReader::new();
        assert_eq!(r.read(&[2, 1, 0, 1, 0, 0, 0, 0]), Err(Error::BadVersion));
    }

    #[test]
    fn reader_reports_need_more_inside_header_and_padding() {
        let mut r = RecordReader::new();
        assert_eq!(r.read(&[1, 5, 0]).unwrap(), (3, None));
        let (n, p) = r.read(&[1, 0, 1, 200, 0, b'x']).unwrap();
        assert_eq!((n, p.unwrap().content), (6, &b"x"[..]));
        assert_eq!(r.read(&[0; 150]).unwrap(), (150, None));
        assert!(!r.at_boundary());
        assert_eq!(r.read(&[0; 50]).unwrap(), (50, None));
        assert!(r.at_boundary());
    }
}
