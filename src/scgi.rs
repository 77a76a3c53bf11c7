//! SCGI, sans-IO.
