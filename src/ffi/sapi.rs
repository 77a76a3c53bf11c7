//! The PHP SAPI shim (`sapi/`), seen from Rust: its functions, declared by bindgen from
//! `sapi/sfpm_sapi.h`, as the [`super::main::Interpreter`] the `sfpm` binary runs. Only
//! built with the `php` feature.

#![allow(dead_code, non_upper_case_globals, non_camel_case_types)]

use super::main::{Interpreter, sfpm_interpreter};

include!(concat!(env!("OUT_DIR"), "/sfpm_sapi.rs"));

/// PHP, as the shim runs it.
pub(crate) fn php() -> Interpreter {
    // SAFETY: `sfpm_sapi_interpreter` is a constant struct defined by the shim, valid for
    // the whole program.
    let c = unsafe { sfpm_sapi_interpreter };
    Interpreter::new(c).expect("the shim's interpreter is complete and of this ABI version")
}
