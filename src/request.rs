//! The protocol-neutral request: what FastCGI and SCGI both hand to a handler.
//!
//! [`Request`] is one request being served: its CGI variables ([`Params`]), its body as
//! a stream, its response writer, its abort flag. It borrows the worker's connection;
//! the bytes move through the worker's buffers and the sans-IO parsers.
//!
//! Both protocol parsers produce [`Params`]: FastCGI from its reassembled `PARAMS`
//! stream, SCGI from its netstring header block. The bytes are stored once, in the order the peer sent them, and every
//! name and value is a range into that one buffer, so building it costs one allocation
//! for the bytes and one for the index, whatever the number of variables.

use crate::fastcgi::Role;
use crate::listen::Peer;
use crate::worker::Channel;
use std::fmt;
use std::io;
use std::ops::Range;

/// The wire protocol a request arrived by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// FastCGI 1.0.
    FastCgi,
    /// SCGI.
    Scgi,
}

/// One request being served. Obtained from [`crate::worker::Worker::accept`] or passed
/// to [`crate::worker::Handler::handle`]; valid until the next request is accepted.
pub struct Request<'c> {
    channel: &'c mut Channel,
    pool: &'c str,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("pool", &self.pool).field("request", &self.channel.request).finish()
    }
}

impl<'c> Request<'c> {
    pub(crate) fn new(channel: &'c mut Channel, pool: &'c str) -> Request<'c> {
        debug_assert!(channel.request.is_some());
        Request { channel, pool }
    }

    fn open(&self) -> &crate::worker::OpenRequest {
        self.channel.request.as_ref().expect("a Request exists only while its request is open")
    }

    /// The CGI variables.
    pub fn params(&self) -> &Params {
        &self.open().params
    }

    /// The last value of parameter `name`.
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        self.open().params.get(name)
    }

    /// The FastCGI role; SCGI requests are responders.
    pub fn role(&self) -> Role {
        self.open().role
    }

    /// The protocol the request arrived by.
    pub fn protocol(&self) -> Protocol {
        self.open().protocol
    }

    /// The pool serving the request.
    pub fn pool(&self) -> &str {
        self.pool
    }

    /// The peer (the web server).
    pub fn peer(&self) -> &Peer {
        &self.channel.peer
    }

    /// Reads request body bytes; 0 at the end of the body (or after an abort).
    pub fn read_stdin(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.channel.read_body(buf, false)
    }

    /// Reads FILTER data bytes; 0 at the end (or for other roles). Unread body bytes
    /// are skipped: the web server sends the body before the data.
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.channel.read_body(buf, true)
    }

    /// Appends to the response (CGI headers, blank line, body). Small writes are
    /// batched; call [`Request::flush`] to send what is buffered now.
    pub fn write_stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.channel.write(data, false)
    }

    /// Sends error text to the web server's log (FastCGI `STDERR`; SCGI has none, so
    /// it goes to sfpm's log).
    pub fn write_stderr(&mut self, data: &[u8]) -> io::Result<()> {
        self.channel.write(data, true)
    }

    /// Sends buffered response bytes now.
    pub fn flush(&mut self) -> io::Result<()> {
        self.channel.flush()
    }

    /// Ends the response on the wire with `app_status`; the handler may go on working
    /// (`fastcgi_finish_request()`). Later writes fail. Finishing twice does nothing.
    pub fn finish(&mut self, app_status: u32) -> io::Result<()> {
        self.channel.finish(app_status)
    }

    /// True once the response is complete on the wire.
    pub fn is_finished(&self) -> bool {
        self.open().finished
    }

    /// True when the web server aborted the request or went away.
    pub fn aborted(&mut self) -> bool {
        self.channel.aborted()
    }
}

/// One name-value pair's place in [`Params`]'s buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    name: Range<u32>,
    value: Range<u32>,
}

/// The CGI variables of one request (`REQUEST_METHOD`, `SCRIPT_FILENAME`, `HTTP_*`, ...).
///
/// Names and values are raw bytes: the wire carries no encoding, and the PHP SAPI passes
/// them on as (pointer, length) pairs. Pairs keep the order the peer sent them in;
/// a name may occur more than once (nginx 1.22 sends one FastCGI pair per repeated HTTP
/// header), and [`Params::get`] then returns the *last* one, as php-fpm does.
#[derive(Clone, Default)]
pub struct Params {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

impl Params {
    /// An empty set with room for `bytes` bytes of names and values.
    pub fn with_capacity(bytes: usize, pairs: usize) -> Self {
        Params { bytes: Vec::with_capacity(bytes), entries: Vec::with_capacity(pairs) }
    }

    /// Builds a set that indexes into `bytes`, which a parser has already validated.
    /// `pairs` are (name, value) ranges into `bytes`.
    ///
    /// Panics if a range lies outside `bytes`: parsers only pass ranges they produced
    /// themselves from this buffer, so that would be a bug, not bad input. Buffers are
    /// bounded far below `u32::MAX` by the protocol limits.
    pub(crate) fn from_parts(bytes: Vec<u8>, pairs: Vec<(Range<usize>, Range<usize>)>) -> Self {
        let to32 = |r: Range<usize>| -> Range<u32> {
            assert!(r.start <= r.end && r.end <= bytes.len(), "param range outside buffer");
            r.start as u32..r.end as u32
        };
        let entries = pairs.into_iter().map(|(n, v)| Entry { name: to32(n), value: to32(v) }).collect();
        Params { bytes, entries }
    }

    /// Appends a pair, copying its bytes.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        let mid = self.bytes.len();
        self.bytes.extend_from_slice(value);
        let end = self.bytes.len();
        assert!(end <= u32::MAX as usize, "params exceed 4 GiB");
        self.entries.push(Entry { name: start as u32..mid as u32, value: mid as u32..end as u32 });
    }

    /// Number of pairs, duplicates included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of all names and values.
    pub fn byte_len(&self) -> usize {
        self.entries.iter().map(|e| (e.name.end - e.name.start + e.value.end - e.value.start) as usize).sum()
    }

    /// The pair at `index`, in wire order.
    pub fn get_index(&self, index: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(index).map(|e| (self.slice(&e.name), self.slice(&e.value)))
    }

    /// The value of the last pair named `name`.
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// [`Params::get`] for a name, as UTF-8 text; `None` if absent or not UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name.as_bytes()).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All pairs in wire order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], &[u8])> + ExactSizeIterator {
        self.entries.iter().map(|e| (self.slice(&e.name), self.slice(&e.value)))
    }

    fn slice(&self, r: &Range<u32>) -> &[u8] {
        &self.bytes[r.start as usize..r.end as usize]
    }
}

/// Two sets are equal when they hold the same pairs in the same order, however their
/// bytes are laid out (a FastCGI stream keeps its length fields between the pairs).
impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Params {}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))))
            .finish()
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(N, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut p = Params::default();
        for (n, v) in iter {
            p.push(n.as_ref(), v.as_ref());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_duplicate_wins_and_order_is_kept() {
        let p: Params = [("A", "1"), ("B", "2"), ("A", "3")].into_iter().collect();
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(b"A"), Some(&b"3"[..]));
        assert_eq!(p.get_index(0), Some((&b"A"[..], &b"1"[..])));
        assert_eq!(p.get(b"C"), None);
        assert_eq!(p.byte_len(), 6);
    }

    #[test]
    fn empty_values_and_names_are_kept() {
        let p: Params = [("EMPTY", "")].into_iter().collect();
        assert_eq!(p.get(b"EMPTY"), Some(&b""[..]));
    }
}
