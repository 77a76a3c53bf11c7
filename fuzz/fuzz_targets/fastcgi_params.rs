//! A FastCGI name-value pair stream (PARAMS / GET_VALUES content).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sfpm::fuzzing::fastcgi_params(data));
