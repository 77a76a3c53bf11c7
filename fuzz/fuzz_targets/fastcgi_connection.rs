//! Bytes from a web server, fed to a server-side FastCGI connection.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sfpm::fuzzing::fastcgi_connection(data));
