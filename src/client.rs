//! Client side of FastCGI and SCGI.
