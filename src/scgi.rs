//! SCGI, sans-IO.
/// Placeholder until the SCGI module lands.
pub fn encode_request(_out: &mut Vec<u8>, _pairs: &[(&[u8], &[u8])], _body: &[u8]) {}
