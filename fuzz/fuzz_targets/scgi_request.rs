//! An SCGI request: netstring headers, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sfpm::fuzzing::scgi_request(data));
