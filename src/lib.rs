//! sfpm: serves PHP (or any handler) behind web servers over FastCGI and SCGI.
//!
//! The data path, top-down, one module per step:
//!
//! 1. `listen` binds or inherits sockets and accepts connections (server loop, to come);
//! 2. [`sniff`] tells FastCGI from SCGI by the first byte;
//! 3. [`fastcgi`] and [`scgi`] turn bytes into request events — sans-IO, no sockets;
//! 4. [`request`] is the protocol-neutral request those parsers produce;
//! 5. the worker hands each request to the handler and writes the response (to come);
//! 6. [`client`] is the other side of both protocols, for tests, `sfpm call` and benchmarks.
//!
//! Protocol modules never touch a socket, a clock or a log: they take bytes and return
//! "consumed n, here is an event", "need more", or a typed error. The I/O edges decide
//! what an error means (log one line, close that connection).

#![deny(unsafe_code)]

pub mod access_log;
pub mod cli;
pub mod client;
pub mod config;
pub mod fastcgi;
mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod listen;
#[macro_use]
pub mod log;
pub mod master;
pub mod php;
pub mod request;
pub mod scgi;
pub mod sniff;
pub mod status_page;
pub mod sys;
pub mod worker;
