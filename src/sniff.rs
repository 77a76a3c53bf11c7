//! Protocol detection on a socket that serves both FastCGI and SCGI
//! (`listen.protocol = auto`).
//!
//! A FastCGI connection starts with a record header whose first byte is the version, 1.
//! An SCGI request starts with a netstring, whose first byte is an ASCII digit. The two
//! sets are disjoint, so one byte decides.

/// The wire protocol of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// FastCGI 1.0.
    FastCgi,
    /// SCGI.
    Scgi,
}

/// Decides the protocol from the first byte a peer sent; `None` when it is neither.
pub fn sniff(first_byte: u8) -> Option<Protocol> {
    match first_byte {
        crate::fastcgi::record::VERSION_1 => Some(Protocol::FastCgi),
        b'0'..=b'9' => Some(Protocol::Scgi),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_decides() {
        assert_eq!(sniff(1), Some(Protocol::FastCgi));
        assert_eq!(sniff(b'7'), Some(Protocol::Scgi));
        assert_eq!(sniff(b'0'), Some(Protocol::Scgi));
        assert_eq!(sniff(0), None);
        assert_eq!(sniff(2), None);
        assert_eq!(sniff(b'G'), None);
    }
}
