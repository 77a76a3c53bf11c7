//! FastCGI 1.0 (Open Market, 1996), sans-IO.
//!
//! - [`record`]: the 8-byte record header, fixed bodies, an incremental reader, output framing;
//! - [`params`]: name-value pairs, the content of `PARAMS` and `GET_VALUES`;
//! - [`conn`]: the server side of one connection, a state machine from bytes to request
//!   events that answers management records itself.
//!
//! Nothing here reads a socket, a clock or writes a log. Output (management answers,
//! refusals, responses) is appended to a caller's buffer; errors are a [`Error`] that the
//! I/O edge turns into "log one line, close this connection".

pub mod conn;
pub mod params;
pub mod record;

pub use conn::{Connection, Event, ManagementValues, RequestHead};
pub use record::{ProtocolStatus, RecordType, Role};

use std::fmt;

/// Bounds on what a peer may make a connection hold. Every length read from the wire is
/// checked against these before anything is allocated for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `PARAMS` stream (names, values and length fields), in bytes.
    ///
    /// 1 MiB: nginx never sends more than one 64 KiB record, while Apache's defaults
    /// allow 100 request headers of 8190 bytes (~800 KiB) split over several records;
    /// php-fpm has no total bound at all.
    pub max_params_bytes: usize,
    /// Most name-value pairs in one request. 1000: ten times Apache's default
    /// `LimitRequestFields` plus the CGI variables; bounds the index built per request.
    pub max_params: usize,
    /// Longest parameter name. 4 KiB: HTTP header names become `HTTP_*` names, and
    /// front ends cap a whole header line at 8 KiB by default.
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_params_bytes: 1 << 20, max_params: 1000, max_name_bytes: 4096 }
    }
}

/// What is wrong with the bytes a peer sent. Each is fatal to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// A record header's version is not 1.
    BadVersion,
    /// An application record (non-zero id) of a type the spec does not define.
    UnknownRecordType,
    /// A record type that only applications send (`STDOUT`, `STDERR`, `END_REQUEST`)
    /// arrived from the web server.
    ResponseRecordFromPeer,
    /// A management record type (`GET_VALUES`) carried a non-zero request id.
    ManagementRecordWithRequestId,
    /// `BEGIN_REQUEST` content is not exactly 8 bytes.
    BadBeginRequestLength,
    /// `BEGIN_REQUEST` for the request id that is already active.
    DuplicateBeginRequest,
    /// The `PARAMS` stream is larger than [`Limits::max_params_bytes`].
    ParamsTooLarge,
    /// More name-value pairs than [`Limits::max_params`].
    TooManyParams,
    /// A parameter name longer than [`Limits::max_name_bytes`].
    NameTooLong,
    /// A parameter with an empty name.
    EmptyName,
    /// A parameter name containing a NUL byte.
    NulInName,
    /// A name-value stream ends inside a pair, or a length exceeds the bytes present.
    TruncatedPair,
    /// `STDIN` or `DATA` before the end of the `PARAMS` stream.
    StreamBeforeParamsEnd,
    /// A record on a stream that already ended.
    StreamAfterEnd,
    /// `DATA` for a request whose role is not FILTER.
    DataForNonFilter,
    /// More `STDIN` bytes than `CONTENT_LENGTH` announced.
    StdinExceedsContentLength,
    /// More `DATA` bytes than `FCGI_DATA_LENGTH` announced.
    DataExceedsDataLength,
    /// A record type only web servers send (`BEGIN_REQUEST`, `PARAMS`, `STDIN`, ...)
    /// arrived from the application (client side).
    RequestRecordFromPeer,
    /// `END_REQUEST` content is not exactly 8 bytes (client side).
    BadEndRequestLength,
}

impl Error {
    /// A fixed, human description, for the one log line the I/O edge writes.
    pub fn description(self) -> &'static str {
        use Error::*;
        match self {
            BadVersion => "FastCGI record version is not 1",
            UnknownRecordType => "unknown FastCGI record type on a request",
            ResponseRecordFromPeer => {
                "FastCGI record type that only applications send (STDOUT, STDERR, END_REQUEST)"
            }
            ManagementRecordWithRequestId => "FastCGI GET_VALUES record with a non-zero request id",
            BadBeginRequestLength => "FastCGI BEGIN_REQUEST body is not 8 bytes",
            DuplicateBeginRequest => "FastCGI BEGIN_REQUEST for the request id already active",
            ParamsTooLarge => "FastCGI PARAMS stream exceeds the size limit",
            TooManyParams => "FastCGI PARAMS stream exceeds the parameter count limit",
            NameTooLong => "FastCGI parameter name exceeds the length limit",
            EmptyName => "FastCGI parameter with an empty name",
            NulInName => "FastCGI parameter name contains a NUL byte",
            TruncatedPair => "FastCGI name-value pair is truncated or its length exceeds the data",
            StreamBeforeParamsEnd => "FastCGI STDIN or DATA record before the end of PARAMS",
            StreamAfterEnd => "FastCGI record on a stream that already ended",
            DataForNonFilter => "FastCGI DATA record for a role other than FILTER",
            StdinExceedsContentLength => "FastCGI STDIN exceeds CONTENT_LENGTH",
            DataExceedsDataLength => "FastCGI DATA exceeds FCGI_DATA_LENGTH",
            RequestRecordFromPeer => {
                "FastCGI record type that only web servers send (BEGIN_REQUEST, PARAMS, STDIN)"
            }
            BadEndRequestLength => "FastCGI END_REQUEST body is not 8 bytes",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for Error {}
