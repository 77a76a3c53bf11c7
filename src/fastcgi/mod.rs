//! FastCGI 1.0, sans-IO.
pub mod record;
