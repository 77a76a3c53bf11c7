//! FastCGI record header.
/// `FCGI_VERSION_1`.
pub const VERSION_1: u8 = 1;
