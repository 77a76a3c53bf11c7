//! What PHP needs from a request beyond the wire protocol: the script to run and the
//! `$_SERVER` rewrites php-fpm makes (`request_info`). The PHP interpreter itself is
//! reached through the C shim in `sapi/`.

pub mod request_info;
