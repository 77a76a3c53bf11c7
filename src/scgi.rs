//! SCGI requests, sans-IO: the header netstring and the body that follows it.
//!
//! An SCGI request (Neil Schemenauer, "SCGI: A Simple Common Gateway Interface alternative",
//! `protocol.txt`, 2008) is one netstring of NUL-terminated name-value headers followed by
//! exactly `CONTENT_LENGTH` body bytes; the server answers and closes the connection, so a
//! connection carries one request (§2). [`parse_head`] turns the bytes received so far into a
//! [`Head`], "need more", or an [`Error`]; [`Body`] then counts off the body. Sockets, clocks
//! and logging stay with the caller, which also decides what an error means (one log line,
//! close the connection).
//!
//! Parsing is strict: every rule of §3 and §4 is checked, and a broken length prefix is
//! reported from the first byte that proves it, so a peer sending garbage is dropped after
//! a few bytes rather than after a megabyte. There is one leniency, for repeated `HTTP_*`
//! headers; see [`Limits::strict_duplicates`].
//!
//! ```
//! use sfpm::scgi::{encode_request, parse_head, Limits};
//!
//! let mut wire = Vec::new();
//! encode_request(&mut wire, &[(&b"REQUEST_METHOD"[..], &b"POST"[..])], b"hello");
//! let head = parse_head(&wire, &Limits::default()).unwrap().expect("a complete head");
//! assert_eq!(head.params.get(b"REQUEST_METHOD"), Some(&b"POST"[..]));
//! let mut body = head.body();
//! assert_eq!(body.take(&wire[head.header_len..]), b"hello");
//! assert!(body.is_complete());
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use crate::request::Params;

/// The header that must come first, with the body length in decimal (§3).
const CONTENT_LENGTH: &[u8] = b"CONTENT_LENGTH";
/// The header that must be present with the value `"1"` (§3).
const SCGI: &[u8] = b"SCGI";
/// Prefix of the variables that carry client request headers (CGI/1.1, RFC 3875 §4.1.18).
const HTTP_PREFIX: &[u8] = b"HTTP_";
/// [`Params`] indexes its buffer with `u32`, so no header block may be larger.
const MAX_BLOCK_BYTES: usize = u32::MAX as usize;

/// What a request may declare before it is refused, checked before anything is buffered
/// or allocated for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest header block (the netstring's `[len]`) accepted. Default 1 MiB: real blocks
    /// are a few KiB (nginx refuses client headers beyond `large_client_header_buffers`,
    /// 4 × 8 KiB by default), so this leaves room for long query strings and cookies while
    /// bounding what one connection makes us buffer. Values above 4 GiB act as 4 GiB.
    pub max_header_bytes: usize,
    /// Most headers accepted, repeats included. Default 1000: Apache lets a client send 100
    /// headers (`LimitRequestFields`) and servers add a few dozen CGI variables, so this is
    /// a wide margin that still bounds the per-request index and duplicate check.
    pub max_headers: usize,
    /// Largest `CONTENT_LENGTH` accepted. Default 1 TiB: not a policy but a sanity bound
    /// that rejects absurd lengths early; the real cap is PHP's `post_max_size`, applied
    /// after the head.
    pub max_body_bytes: u64,
    /// Whether any repeated name is an error, as §3 says ("Duplicate names are not
    /// allowed"). Default false: Debian 12's nginx 1.22 sends a repeated client header as
    /// two `HTTP_*` headers, so a strict server would fail those requests. When false,
    /// repeated `HTTP_*` headers are merged as nginx ≥ 1.23 merges them (see
    /// [`Head::merged`]); every other repeated name is an error either way.
    pub strict_duplicates: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 1 << 20,
            max_headers: 1000,
            max_body_bytes: 1 << 40,
            strict_duplicates: false,
        }
    }
}

/// A parsed request head: the headers, and where the body starts and how long it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The headers in wire order, `CONTENT_LENGTH` and `SCGI` included, repeats merged.
    pub params: Params,
    /// Input bytes the head took, `[len] ":" [headers] ","`: the body starts at this offset.
    pub header_len: usize,
    /// The body length, from `CONTENT_LENGTH`.
    pub content_length: u64,
    /// Names of the `HTTP_*` headers that arrived more than once and were merged, in wire
    /// order, so the I/O edge can log a notice. Empty for a request that follows §3.
    pub merged: Vec<Vec<u8>>,
}

impl Head {
    /// A tracker for the body that follows this head.
    pub fn body(&self) -> Body {
        Body::new(self.content_length)
    }
}

/// Why a request was refused. Each variant has a fixed description, its `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The first byte is not a digit: not a netstring.
    LengthNotDigit,
    /// The request starts with `:`; §4 wants a nonempty `[len]`.
    LengthEmpty,
    /// `[len]` starts with `0` but is not `0` (§4 prohibits extra zeros).
    LengthLeadingZero,
    /// `[len]` exceeds [`Limits::max_header_bytes`] (or has more digits than it).
    LengthTooLarge,
    /// A byte other than a digit or `:` follows the first digit of `[len]`.
    MissingColon,
    /// The byte after the header block is not `,`.
    MissingComma,
    /// The header block does not end on the NUL that terminates a value.
    UnterminatedHeader,
    /// A header name is empty (`name ::= notnull+`).
    EmptyName,
    /// More headers than [`Limits::max_headers`].
    TooManyHeaders,
    /// The first header is not `CONTENT_LENGTH`, or there are no headers.
    FirstNotContentLength,
    /// `CONTENT_LENGTH` is not a nonempty sequence of ASCII digits.
    ContentLengthInvalid,
    /// `CONTENT_LENGTH` exceeds [`Limits::max_body_bytes`] (or `u64`).
    BodyTooLarge,
    /// No `SCGI` header.
    ScgiMissing,
    /// The `SCGI` header's value is not `"1"`.
    ScgiVersion,
    /// A name occurs twice: always for non-`HTTP_*` names, for any name when strict.
    DuplicateName,
    /// The input ended before `CONTENT_LENGTH` body bytes arrived (see [`Body::finish`]).
    BodyTruncated,
}

impl Error {
    /// A fixed, human description, for the one log line the I/O edge writes.
    pub fn description(self) -> &'static str {
        use Error::*;
        match self {
            LengthNotDigit => "SCGI request does not start with a netstring length digit",
            LengthEmpty => "SCGI netstring length is empty",
            LengthLeadingZero => "SCGI netstring length has a leading zero",
            LengthTooLarge => "SCGI header netstring is longer than the header limit",
            MissingColon => "SCGI netstring length is not followed by ':'",
            MissingComma => "SCGI header netstring does not end with ','",
            UnterminatedHeader => "SCGI header block does not end with a NUL-terminated value",
            EmptyName => "SCGI header has an empty name",
            TooManyHeaders => "SCGI request has more headers than the limit",
            FirstNotContentLength => "SCGI header block does not start with CONTENT_LENGTH",
            ContentLengthInvalid => "SCGI CONTENT_LENGTH is not a decimal number",
            BodyTooLarge => "SCGI CONTENT_LENGTH is larger than the body limit",
            ScgiMissing => "SCGI header block has no SCGI header",
            ScgiVersion => "SCGI header SCGI is not \"1\"",
            DuplicateName => "SCGI header name occurs more than once",
            BodyTruncated => "SCGI request ended before its CONTENT_LENGTH body bytes",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for Error {}

/// Parses the head of an SCGI request from the bytes received so far.
///
/// Returns `Ok(None)` while more bytes are needed, and `Ok(Some(head))` once the whole
/// header netstring has arrived; the body starts at `head.header_len`. An error is
/// reported as soon as a prefix proves it, and a longer input never turns it into a
/// different answer, so feeding a request byte by byte gives the same result as feeding it
/// at once. Nothing is allocated until the whole header block is in `input`.
pub fn parse_head(input: &[u8], limits: &Limits) -> Result<Option<Head>, Error> {
    let max_len = limits.max_header_bytes.min(MAX_BLOCK_BYTES);
    let Some((len, colon)) = parse_length(input, max_len)? else {
        return Ok(None);
    };
    let start = colon + 1;
    let end = start.checked_add(len).ok_or(Error::LengthTooLarge)?;
    match input.get(end) {
        None => Ok(None),
        Some(b',') => {
            let block = &input[start..end];
            let (fields, content_length) = split_headers(block, limits)?;
            let (params, merged) = collect_params(block, &fields);
            Ok(Some(Head { params, header_len: end + 1, content_length, merged }))
        }
        Some(_) => Err(Error::MissingComma),
    }
}

/// Reads a netstring's `[len] ":"` (§4), returning the length and the index of the colon,
/// or `None` while only digits have arrived. Each byte is judged as it arrives.
fn parse_length(input: &[u8], max_len: usize) -> Result<Option<(usize, usize)>, Error> {
    let mut len: usize = 0;
    for (i, &byte) in input.iter().enumerate() {
        len = match byte {
            b':' if i == 0 => return Err(Error::LengthEmpty),
            b':' => return Ok(Some((len, i))),
            // "[len] begins with <30> exactly when [string] is empty."
            b'0'..=b'9' if i == 1 && len == 0 => return Err(Error::LengthLeadingZero),
            // Checked against the cap digit by digit: without leading zeros, a length with
            // more digits than the cap is already above it, so this one check also bounds
            // the digit count, keeps the sum from overflowing and fails at the first digit
            // that proves the length too large.
            b'0'..=b'9' => len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(byte - b'0')))
                .filter(|&l| l <= max_len)
                .ok_or(Error::LengthTooLarge)?,
            _ if i == 0 => return Err(Error::LengthNotDigit),
            _ => return Err(Error::MissingColon),
        };
    }
    Ok(None)
}

/// One header's place in the block, linked to the next header of the same name.
struct Field {
    name: Range<usize>,
    value: Range<usize>,
    /// The next header with this name, to be merged into this one.
    next_repeat: Option<usize>,
    /// This header repeats an earlier name and is merged into it.
    is_repeat: bool,
}

/// Headers a typical web server sends (nginx: ~30 CGI variables and request headers);
/// the first allocations are sized for it.
const TYPICAL_HEADERS: usize = 48;

/// The FNV-1a hash (64-bit), for the duplicate-name map.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// Splits the header block into fields and applies §3's rules in wire order, so the error
/// reported is the one at the earliest offending header. Returns the fields and the body
/// length.
fn split_headers<'a>(block: &'a [u8], limits: &Limits) -> Result<(Vec<Field>, u64), Error> {
    let mut fields: Vec<Field> = Vec::with_capacity(TYPICAL_HEADERS);
    // Where each name was last seen. A hash map rather than a scan, so a thousand long,
    // nearly equal names cost linear time, not quadratic. FNV rather than SipHash: the
    // names are short and at most `max_headers` of them, so even crafted collisions
    // cost a bounded amount, and SipHash's setup dominated parsing a typical request.
    let mut last_seen: HashMap<&'a [u8], usize, BuildHasherDefault<Fnv>> =
        HashMap::with_capacity_and_hasher(TYPICAL_HEADERS, BuildHasherDefault::default());
    let mut content_length = 0;
    let mut has_scgi = false;
    let mut pos = 0;
    while pos < block.len() {
        // header ::= name NUL value NUL
        let name = until_nul(block, pos)?;
        let value = until_nul(block, name.end + 1)?;
        pos = value.end + 1;
        // name ::= notnull+ (values may be empty: value ::= notnull*)
        if name.is_empty() {
            return Err(Error::EmptyName);
        }
        if fields.len() == limits.max_headers {
            return Err(Error::TooManyHeaders);
        }
        let (n, v) = (&block[name.clone()], &block[value.clone()]);
        if fields.is_empty() {
            // "The first header must have the name "CONTENT_LENGTH"."
            if n != CONTENT_LENGTH {
                return Err(Error::FirstNotContentLength);
            }
            content_length = parse_content_length(v, limits.max_body_bytes)?;
        }
        if n == SCGI {
            // "There must also always be a header with the name "SCGI" and a value of "1"."
            if v != b"1" {
                return Err(Error::ScgiVersion);
            }
            has_scgi = true;
        }
        let index = fields.len();
        let is_repeat = match last_seen.entry(n) {
            Entry::Vacant(slot) => {
                slot.insert(index);
                false
            }
            Entry::Occupied(mut slot) => {
                // "Duplicate names are not allowed in the headers." Only client headers are
                // let through, because nginx 1.22 repeats them; CONTENT_LENGTH and SCGI
                // never are, so the body length and version stay unambiguous.
                if limits.strict_duplicates || !n.starts_with(HTTP_PREFIX) {
                    return Err(Error::DuplicateName);
                }
                let previous = slot.insert(index);
                fields[previous].next_repeat = Some(index);
                true
            }
        };
        fields.push(Field { name, value, next_repeat: None, is_repeat });
    }
    // An empty block ("0:,") has no CONTENT_LENGTH, which "must always be present".
    if fields.is_empty() {
        return Err(Error::FirstNotContentLength);
    }
    if !has_scgi {
        return Err(Error::ScgiMissing);
    }
    Ok((fields, content_length))
}

/// The range from `start` up to the next NUL. Running out of block first means the block
/// does not end on a value's NUL.
fn until_nul(block: &[u8], start: usize) -> Result<Range<usize>, Error> {
    let rest = block.get(start..).unwrap_or_default();
    let len = rest.iter().position(|&b| b == 0).ok_or(Error::UnterminatedHeader)?;
    Ok(start..start + len)
}

/// Parses `CONTENT_LENGTH`: "a nonempty sequence of ASCII digits giving the body length in
/// decimal" (§3). Leading zeros are not forbidden for it, unlike for netstring lengths.
fn parse_content_length(value: &[u8], max_body_bytes: u64) -> Result<u64, Error> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Error::ContentLengthInvalid);
    }
    value
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .filter(|&n| n <= max_body_bytes)
        .ok_or(Error::BodyTooLarge)
}

/// Copies names and values into the one buffer [`Params`] owns, merging each repeated
/// `HTTP_*` header into its first occurrence as nginx ≥ 1.23 does: values joined by `", "`,
/// as a recipient may combine repeated field lines (RFC 9110 §5.3), and cookies by `"; "`,
/// the separator of one `Cookie` header (RFC 6265 §5.4).
fn collect_params(block: &[u8], fields: &[Field]) -> (Params, Vec<Vec<u8>>) {
    // A merge adds a 2-byte separator but drops a name and two NULs, so the result never
    // outgrows the block: one allocation, bounded by the header limit.
    let mut bytes = Vec::with_capacity(block.len());
    let mut pairs = Vec::with_capacity(fields.len());
    let mut merged = Vec::new();
    for field in fields.iter().filter(|f| !f.is_repeat) {
        let name = &block[field.name.clone()];
        let start = bytes.len();
        bytes.extend_from_slice(name);
        let mid = bytes.len();
        bytes.extend_from_slice(&block[field.value.clone()]);
        if field.next_repeat.is_some() {
            merged.push(name.to_vec());
        }
        let separator: &[u8] = if name == b"HTTP_COOKIE" { b"; " } else { b", " };
        let mut next = field.next_repeat;
        while let Some(i) = next {
            bytes.extend_from_slice(separator);
            bytes.extend_from_slice(&block[fields[i].value.clone()]);
            next = fields[i].next_repeat;
        }
        pairs.push((start..mid, mid..bytes.len()));
    }
    (Params::from_parts(bytes, pairs), merged)
}

/// Counts off a request body: exactly `CONTENT_LENGTH` bytes follow the head (§3), and
/// whatever arrives after them is not part of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Body {
    remaining: u64,
}

impl Body {
    /// A tracker for a body of `content_length` bytes.
    pub fn new(content_length: u64) -> Self {
        Body { remaining: content_length }
    }

    /// Takes the part of `input`, bytes received after the head and after earlier calls,
    /// that belongs to the body and counts it off. What is left of `input` after the
    /// returned slice lies beyond the request.
    pub fn take<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let n = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        self.remaining -= n as u64;
        &input[..n]
    }

    /// True once every body byte has been taken.
    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }

    /// Body bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// For the end of the input: a body cut short means the request was aborted.
    pub fn finish(&self) -> Result<(), Error> {
        if self.is_complete() { Ok(()) } else { Err(Error::BodyTruncated) }
    }
}

/// Writes exactly `pairs` as a header netstring, `[len] ":" (name NUL value NUL)* ","`.
/// Nothing is added or checked, so tests can build bad requests too; [`encode_request`]
/// builds valid ones.
pub fn encode_netstring_headers(out: &mut Vec<u8>, pairs: &[(&[u8], &[u8])]) {
    let len: usize = pairs.iter().map(|(name, value)| name.len() + value.len() + 2).sum();
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b':');
    for (name, value) in pairs {
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out.push(b',');
}

/// Writes a whole request: `CONTENT_LENGTH` first and `SCGI=1` second, as §3 requires and
/// as Apache sends them, then `pairs`, then `body`. The caller keeps `pairs` free of NUL
/// bytes, empty names, repeated names and those two names.
pub fn encode_request(out: &mut Vec<u8>, pairs: &[(&[u8], &[u8])], body: &[u8]) {
    let content_length = body.len().to_string();
    let mut all = Vec::with_capacity(pairs.len() + 2);
    all.push((CONTENT_LENGTH, content_length.as_bytes()));
    all.push((SCGI, &b"1"[..]));
    all.extend_from_slice(pairs);
    encode_netstring_headers(out, &all);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// The request of protocol.txt §5, body included.
    const SPEC_EXAMPLE: &[u8] = b"70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00\
        REQUEST_URI\x00/deepthought\x00,What is the answer to life?";

    fn parse(input: &[u8]) -> Result<Option<Head>, Error> {
        parse_head(input, &Limits::default())
    }

    /// A netstring around `block`, valid header block or not.
    fn netstring(block: &[u8]) -> Vec<u8> {
        let mut out = format!("{}:", block.len()).into_bytes();
        out.extend_from_slice(block);
        out.push(b',');
        out
    }

    /// A header netstring of exactly these pairs.
    fn headers(pairs: &[(&str, &str)]) -> Vec<u8> {
        let pairs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
        let mut out = Vec::new();
        encode_netstring_headers(&mut out, &pairs);
        out
    }

    /// A valid head with these headers after `CONTENT_LENGTH=0` and `SCGI=1`.
    fn request(pairs: &[(&str, &str)]) -> Vec<u8> {
        headers(&[&[("CONTENT_LENGTH", "0"), ("SCGI", "1")], pairs].concat())
    }

    /// A head whose `CONTENT_LENGTH` is `value`.
    fn content_length(value: &str) -> Vec<u8> {
        headers(&[("CONTENT_LENGTH", value), ("SCGI", "1")])
    }

    /// `name(limits): input, ... => Variant;` — each input fails with that error, under the
    /// default limits when none are given. Inputs that stop short of the netstring show the
    /// error is found from a prefix.
    macro_rules! rejects {
        ($($name:ident $(($limits:expr))?: $($input:expr),+ => $error:ident;)*) => {$(
            #[test]
            fn $name() {
                let limits: Option<Limits> = None $(.or(Some($limits)))?;
                let limits = limits.unwrap_or_default();
                $(
                    let input: &[u8] = &$input[..];
                    let shown = String::from_utf8_lossy(input);
                    assert_eq!(parse_head(input, &limits), Err(Error::$error), "{shown:?}");
                )+
            }
        )*};
    }

    rejects! {
        length_not_digit: b"x", b"-1:", b"\x01", b" 70:" => LengthNotDigit;
        length_empty: b":", b":," => LengthEmpty;
        length_leading_zero: b"00", b"01", b"070:" => LengthLeadingZero;
        length_too_large: b"1048577", b"99999999", b"18446744073709551616" => LengthTooLarge;
        missing_colon: b"0,", b"12 ", b"7\x00" => MissingColon;
        missing_comma: b"0:;", b"3:abc:", b"24:CONTENT_LENGTH\x000\x00SCGI\x001\x00;"
            => MissingComma;
        unterminated_header: netstring(b"CONTENT_LENGTH"),
            netstring(b"CONTENT_LENGTH\x000\x00SCGI"),
            netstring(b"CONTENT_LENGTH\x000\x00SCGI\x001\x00X") => UnterminatedHeader;
        empty_name: netstring(b"CONTENT_LENGTH\x000\x00SCGI\x001\x00\x00x\x00"),
            netstring(b"\x00\x00") => EmptyName;
        too_many_headers(Limits { max_headers: 2, ..Limits::default() }):
            request(&[("A", "1")]) => TooManyHeaders;
        first_not_content_length: b"0:,", headers(&[("SCGI", "1"), ("CONTENT_LENGTH", "0")]),
            headers(&[("content_length", "0"), ("SCGI", "1")]) => FirstNotContentLength;
        content_length_invalid: content_length(""), content_length("12a"), content_length("-1"),
            content_length("+1"), content_length(" 1"), content_length("0x10")
            => ContentLengthInvalid;
        body_too_large: content_length("1099511627777"), content_length("18446744073709551616")
            => BodyTooLarge;
        scgi_missing: headers(&[("CONTENT_LENGTH", "0")]),
            headers(&[("CONTENT_LENGTH", "0"), ("scgi", "1")]) => ScgiMissing;
        scgi_version: headers(&[("CONTENT_LENGTH", "0"), ("SCGI", "2")]),
            headers(&[("CONTENT_LENGTH", "0"), ("SCGI", "")]),
            headers(&[("CONTENT_LENGTH", "0"), ("SCGI", "01")]) => ScgiVersion;
        duplicate_name: request(&[("CONTENT_LENGTH", "0")]), request(&[("SCGI", "1")]),
            request(&[("REQUEST_METHOD", "GET"), ("REQUEST_METHOD", "GET")]) => DuplicateName;
    }

    #[test]
    fn spec_example_parses_exactly() {
        let head = parse(SPEC_EXAMPLE).unwrap().unwrap();
        let expected: Params = [
            ("CONTENT_LENGTH", "27"),
            ("SCGI", "1"),
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/deepthought"),
        ]
        .into_iter()
        .collect();
        assert_eq!(head.params, expected);
        assert_eq!((head.header_len, head.content_length), (74, 27));
        assert!(head.merged.is_empty());
        let mut body = head.body();
        assert_eq!(body.take(&SPEC_EXAMPLE[74..]), b"What is the answer to life?");
        assert!(body.is_complete());
        for end in 0..74 {
            assert_eq!(parse(&SPEC_EXAMPLE[..end]), Ok(None), "prefix of {end} bytes");
        }
    }

    #[test]
    fn spec_example_encodes_exactly() {
        let mut wire = Vec::new();
        let pairs: [(&[u8], &[u8]); 2] = [(b"REQUEST_METHOD", b"POST"), (b"REQUEST_URI", b"/deepthought")];
        encode_request(&mut wire, &pairs, b"What is the answer to life?");
        assert_eq!(wire, SPEC_EXAMPLE);
    }

    #[test]
    fn bytes_after_the_body_are_not_the_request() {
        let input = [SPEC_EXAMPLE, b"GET / HTTP/1.1\r\n"].concat();
        let head = parse(&input).unwrap().unwrap();
        assert_eq!(head.header_len, 74);
        let mut body = head.body();
        let (first, rest) = input[74..].split_at(10);
        assert_eq!(body.take(first).len(), 10);
        assert_eq!(body.remaining(), 17);
        assert_eq!(body.finish(), Err(Error::BodyTruncated));
        assert_eq!(body.take(rest), b"e answer to life?");
        assert!(body.is_complete() && body.finish().is_ok());
        assert_eq!(body.take(rest), b"");
    }

    #[test]
    fn empty_values_and_empty_bodies_are_legal() {
        let head = parse(&request(&[("QUERY_STRING", "")])).unwrap().unwrap();
        assert_eq!(head.params.get(b"QUERY_STRING"), Some(&b""[..]));
        assert!(head.body().is_complete());
    }

    #[test]
    fn limits_are_inclusive() {
        let input = request(&[("X", "y")]);
        let block_len = 28;
        assert!(input.starts_with(b"28:"));
        let exact = Limits { max_header_bytes: block_len, max_headers: 3, ..Limits::default() };
        assert!(parse_head(&input, &exact).unwrap().is_some());
        let short = Limits { max_header_bytes: block_len - 1, ..exact };
        assert_eq!(parse_head(&input, &short), Err(Error::LengthTooLarge));
        let body = content_length("100");
        let body_cap = |max_body_bytes| parse_head(&body, &Limits { max_body_bytes, ..Limits::default() });
        assert!(body_cap(100).unwrap().is_some());
        assert_eq!(body_cap(99), Err(Error::BodyTooLarge));
    }

    #[test]
    fn repeated_http_headers_merge_like_newer_nginx() {
        let input = request(&[
            ("HTTP_X_DUP", "a"),
            ("HTTP_COOKIE", "a=1"),
            ("REQUEST_METHOD", "GET"),
            ("HTTP_X_DUP", "b"),
            ("HTTP_COOKIE", "b=2"),
            ("HTTP_X_DUP", ""),
        ]);
        let head = parse(&input).unwrap().unwrap();
        let expected: Params = [
            ("CONTENT_LENGTH", "0"),
            ("SCGI", "1"),
            ("HTTP_X_DUP", "a, b, "),
            ("HTTP_COOKIE", "a=1; b=2"),
            ("REQUEST_METHOD", "GET"),
        ]
        .into_iter()
        .collect();
        assert_eq!(head.params, expected);
        assert_eq!(head.merged, [&b"HTTP_X_DUP"[..], b"HTTP_COOKIE"]);
        let strict = Limits { strict_duplicates: true, ..Limits::default() };
        assert_eq!(parse_head(&input, &strict), Err(Error::DuplicateName));
    }

    #[test]
    fn descriptions_are_fixed_and_distinct() {
        use Error::*;
        let all = [
            LengthNotDigit,
            LengthEmpty,
            LengthLeadingZero,
            LengthTooLarge,
            MissingColon,
            MissingComma,
            UnterminatedHeader,
            EmptyName,
            TooManyHeaders,
            FirstNotContentLength,
            ContentLengthInvalid,
            BodyTooLarge,
            ScgiMissing,
            ScgiVersion,
            DuplicateName,
            BodyTruncated,
        ];
        let texts: std::collections::HashSet<String> = all.iter().map(Error::to_string).collect();
        assert_eq!(texts.len(), all.len());
        assert!(texts.iter().all(|t| t.starts_with("SCGI ")));
        assert_eq!(LengthLeadingZero.to_string(), "SCGI netstring length has a leading zero");
    }

    /// Header names: common ones, so repeats occur, and arbitrary non-NUL bytes.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        const COMMON: &[&str] = &["HTTP_X", "HTTP_COOKIE", "REQUEST_METHOD", "SCGI", "CONTENT_LENGTH"];
        prop_oneof![prop::sample::select(COMMON).prop_map(|n| n.as_bytes().to_vec()), vec(1u8..=255, 1..12),]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        vec(1u8..=255, 0..12)
    }

    /// Pairs with distinct names, other than the two `encode_request` adds.
    fn distinct_pairs() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        prop::collection::btree_map(name(), value(), 0..12).prop_map(|mut pairs| {
            pairs.remove(CONTENT_LENGTH);
            pairs.remove(SCGI);
            pairs.into_iter().collect()
        })
    }

    /// A request from `encode_request`, possibly with a byte overwritten or cut off, so it
    /// may be invalid anywhere.
    fn damaged_request() -> impl Strategy<Value = Vec<u8>> {
        let pairs = vec((name(), value()), 0..8);
        let damage = prop::option::of((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()));
        (pairs, vec(any::<u8>(), 0..16), damage).prop_map(|(pairs, body, damage)| {
            let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
            let mut wire = Vec::new();
            encode_request(&mut wire, &refs, &body);
            if let Some((at, byte, cut)) = damage {
                let at = at.index(wire.len());
                if cut { wire.truncate(at) } else { wire[at] = byte }
            }
            wire
        })
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(
            pairs in distinct_pairs(),
            body in vec(any::<u8>(), 0..64),
        ) {
            let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
            let mut wire = Vec::new();
            encode_request(&mut wire, &refs, &body);
            let head = parse(&wire).unwrap().unwrap();
            let length = body.len().to_string();
            let first: [(&[u8], &[u8]); 2] = [(CONTENT_LENGTH, length.as_bytes()), (SCGI, b"1")];
            let expected: Params = first.into_iter().chain(refs.iter().copied()).collect();
            prop_assert_eq!(&head.params, &expected);
            prop_assert_eq!(head.header_len, wire.len() - body.len());
            prop_assert_eq!(head.content_length, body.len() as u64);
            prop_assert!(head.merged.is_empty());
        }

        #[test]
        fn repeats_merge_in_wire_order(values in vec(value(), 2..6)) {
            let pairs: Vec<_> = values.iter().map(|v| (&b"HTTP_X"[..], &v[..])).collect();
            let mut wire = Vec::new();
            encode_request(&mut wire, &pairs, b"");
            let head = parse(&wire).unwrap().unwrap();
            prop_assert_eq!(head.params.get(b"HTTP_X"), Some(&values.join(&b", "[..])[..]));
            prop_assert_eq!(head.params.len(), 3);
        }

        #[test]
        fn byte_by_byte_agrees_with_all_at_once(input in damaged_request(), strict: bool) {
            let small = Limits {
                max_header_bytes: 80,
                max_headers: 6,
                max_body_bytes: 10,
                strict_duplicates: strict,
            };
            for limits in [Limits::default(), small] {
                let whole = parse_head(&input, &limits);
                for end in 0..input.len() {
                    let part = parse_head(&input[..end], &limits);
                    prop_assert!(part == Ok(None) || part == whole, "{end}: {part:?}, {whole:?}");
                }
            }
        }

        #[test]
        fn fuzz_invariants_hold(input in prop_oneof![vec(any::<u8>(), 0..64), damaged_request()]) {
            crate::fuzzing::scgi_request(&input);
        }
    }
}
