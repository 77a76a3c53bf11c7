//! FastCGI name-value pairs (§3.4): the encoding of `FCGI_PARAMS`, `FCGI_GET_VALUES`
//! and `FCGI_GET_VALUES_RESULT` content.
//!
//! ```text
//! pair   = nameLength valueLength nameData valueData
//! length = B0                          ; high bit clear: 0..127
//!        | B3 B2 B1 B0                 ; high bit of B3 set: ((B3 & 0x7f) << 24) | ...
//! ```
//!
//! Decoding works on a whole, reassembled stream: the spec (§3.3) gives no meaning to
//! how a stream's bytes are split into records, and its own example splits a pair across
//! two `FCGI_PARAMS` records. Every length is checked against the bytes that are really
//! there before it is used — the lesson of CVE-2025-23016, where libfcgi summed two
//! peer-supplied 31-bit lengths in `int` arithmetic and allocated what they claimed.

use super::{Error, Limits};
use crate::request::Params;
use std::ops::Range;

/// The largest length a 4-byte length field can carry (31 bits).
pub const MAX_PAIR_LENGTH: u32 = 0x7fff_ffff;

/// A pair's name and value as ranges into the stream.
type PairRanges = (Range<usize>, Range<usize>);

/// Iterates over the pairs of a complete name-value stream, borrowing from it.
/// Yields an error, then stops, when the stream ends inside a pair.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    stream: &'a [u8],
    pos: usize,
}

impl<'a> Pairs<'a> {
    /// Pairs of `stream`.
    pub fn new(stream: &'a [u8]) -> Pairs<'a> {
        Pairs { stream, pos: 0 }
    }

    /// The next pair as ranges into the stream.
    fn next_ranges(&mut self) -> Option<Result<PairRanges, Error>> {
        if self.pos >= self.stream.len() {
            return None;
        }
        let result = self.decode_pair();
        if result.is_err() {
            // A broken pair leaves no reliable place to resume from.
            self.pos = self.stream.len();
        }
        Some(result)
    }

    fn decode_pair(&mut self) -> Result<PairRanges, Error> {
        let name_len = self.decode_length()?;
        let value_len = self.decode_length()?;
        let remaining = self.stream.len() - self.pos;
        // Both lengths are ≤ 2^31 - 1, so the sum cannot overflow a usize of 64 bits;
        // checked_add keeps that true on 32-bit targets too.
        let total = name_len.checked_add(value_len).ok_or(Error::TruncatedPair)?;
        if total > remaining {
            return Err(Error::TruncatedPair);
        }
        let name = self.pos..self.pos + name_len;
        let value = name.end..name.end + value_len;
        self.pos = value.end;
        Ok((name, value))
    }

    fn decode_length(&mut self) -> Result<usize, Error> {
        let rest = &self.stream[self.pos..];
        match rest {
            [b0, ..] if b0 & 0x80 == 0 => {
                self.pos += 1;
                Ok(usize::from(*b0))
            }
            [b3, b2, b1, b0, ..] => {
                self.pos += 4;
                let len = u32::from_be_bytes([b3 & 0x7f, *b2, *b1, *b0]);
                usize::try_from(len).map_err(|_| Error::TruncatedPair)
            }
            _ => Err(Error::TruncatedPair),
        }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream;
        self.next_ranges().map(|r| r.map(|(n, v)| (&stream[n], &stream[v])))
    }
}

/// Decodes a complete `FCGI_PARAMS` stream into [`Params`], taking ownership of the
/// buffer (no copy). Enforces the count and name limits; the caller has already held the
/// stream to `limits.max_params_bytes` while reassembling it.
pub fn decode_params(stream: Vec<u8>, limits: &Limits) -> Result<Params, Error> {
    let mut pairs = Vec::new();
    let mut iter = Pairs::new(&stream);
    while let Some(pair) = iter.next_ranges() {
        let (name, value) = pair?;
        if pairs.len() >= limits.max_params {
            return Err(Error::TooManyParams);
        }
        check_name(&stream[name.clone()], limits)?;
        pairs.push((name, value));
    }
    Ok(Params::from_parts(stream, pairs))
}

/// A name must be non-empty, within the limit, and free of NUL: names become C strings
/// and PHP array keys, where a NUL would silently truncate or alias them.
fn check_name(name: &[u8], limits: &Limits) -> Result<(), Error> {
    if name.is_empty() {
        Err(Error::EmptyName)
    } else if name.len() > limits.max_name_bytes {
        Err(Error::NameTooLong)
    } else if name.contains(&0) {
        Err(Error::NulInName)
    } else {
        Ok(())
    }
}

/// Appends one length field: one byte when it fits in 7 bits, else four.
///
/// Panics above [`MAX_PAIR_LENGTH`]: no caller has a name or value of 2 GiB.
pub fn encode_length(out: &mut Vec<u8>, len: usize) {
    if len <= 0x7f {
        out.push(len as u8);
    } else {
        let len =
            u32::try_from(len).ok().filter(|l| *l <= MAX_PAIR_LENGTH).expect("pair length over 2^31 - 1");
        out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes());
    }
}

/// Appends one name-value pair.
pub fn encode_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    encode_length(out, name.len());
    encode_length(out, value.len());
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pair<'a> = (&'a [u8], &'a [u8]);

    fn pairs(stream: &[u8]) -> Result<Vec<Pair<'_>>, Error> {
        Pairs::new(stream).collect()
    }

    #[test]
    fn spec_example_two_pairs() {
        // §3.4 / appendix B example 2, reassembled: SERVER_PORT=80, SERVER_ADDR=199.170.183.42.
        let stream = b"\x0b\x02SERVER_PORT80\x0b\x0eSERVER_ADDR199.170.183.42";
        assert_eq!(
            pairs(stream).unwrap(),
            vec![(&b"SERVER_PORT"[..], &b"80"[..]), (&b"SERVER_ADDR"[..], &b"199.170.183.42"[..])]
        );
    }

    #[test]
    fn all_four_length_combinations() {
        let long = vec![b'v'; 200];
        let mut s = Vec::new();
        encode_pair(&mut s, b"A", b"1");
        encode_pair(&mut s, b"B", &long);
        encode_pair(&mut s, &long, b"2");
        encode_pair(&mut s, &long, &long);
        let got = pairs(&s).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], (&b"B"[..], &long[..]));
        assert_eq!(got[3], (&long[..], &long[..]));
    }

    #[test]
    fn a_small_length_in_four_bytes_is_legal() {
        // "lengths of 127 and less *can* be encoded in one byte" (§3.4): not must.
        let s = b"\x80\x00\x00\x01\x01AB";
        assert_eq!(pairs(s).unwrap(), vec![(&b"A"[..], &b"B"[..])]);
    }

    #[test]
    fn truncation_anywhere_is_an_error() {
        let mut s = Vec::new();
        encode_pair(&mut s, b"NAME", &[b'x'; 300]);
        for cut in 1..s.len() {
            assert_eq!(pairs(&s[..cut]), Err(Error::TruncatedPair), "cut at {cut}");
        }
    }

    #[test]
    fn huge_claimed_lengths_are_rejected_without_allocating() {
        // CVE-2025-23016's shape: two 2^31-1 lengths and almost no data.
        let s = b"\xff\xff\xff\xff\xff\xff\xff\xffAB";
        assert_eq!(pairs(s), Err(Error::TruncatedPair));
        let limits = Limits::default();
        assert_eq!(decode_params(s.to_vec(), &limits), Err(Error::TruncatedPair));
    }

    #[test]
    fn decode_params_limits() {
        let limits = Limits { max_params: 2, max_name_bytes: 4, ..Limits::default() };
        let mut s = Vec::new();
        encode_pair(&mut s, b"A", b"1");
        encode_pair(&mut s, b"B", b"2");
        assert_eq!(decode_params(s.clone(), &limits).unwrap().len(), 2);
        encode_pair(&mut s, b"C", b"3");
        assert_eq!(decode_params(s, &limits), Err(Error::TooManyParams));
        let mut s = Vec::new();
        encode_pair(&mut s, b"LONGER", b"1");
        assert_eq!(decode_params(s, &limits), Err(Error::NameTooLong));
        assert_eq!(decode_params(b"\x00\x01x".to_vec(), &limits), Err(Error::EmptyName));
        assert_eq!(decode_params(b"\x02\x01A\x00x".to_vec(), &limits), Err(Error::NulInName));
    }

    #[test]
    fn values_may_be_empty_and_duplicates_are_kept() {
        let mut s = Vec::new();
        encode_pair(&mut s, b"A", b"");
        encode_pair(&mut s, b"A", b"2");
        let p = decode_params(s, &Limits::default()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.get(b"A"), Some(&b"2"[..]));
    }

    #[test]
    fn length_encoding_boundaries() {
        let mut out = Vec::new();
        encode_length(&mut out, 127);
        encode_length(&mut out, 128);
        encode_length(&mut out, MAX_PAIR_LENGTH as usize);
        assert_eq!(out, [0x7f, 0x80, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff]);
    }
}
