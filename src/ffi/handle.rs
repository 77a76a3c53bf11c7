//! Handles: the one place where pointers from C become Rust references, and back.
//!
//! A handle is a pointer to an opaque C type (`sfpm_config`, `sfpm_worker`,
//! `sfpm_request`) that really points to a Rust value. [`Castable`] ties each C type to
//! that Rust type and says who owns the value:
//!
//! - [`Owned`]: C owns it. `_new` boxes the value and gives C the box ([`to_owned_ptr`]);
//!   `_free` takes it back ([`free_owned`]); in between C lends it to calls ([`owned`],
//!   [`owned_mut`]).
//! - [`Lent`]: sfpm owns it and lends it to a C callback ([`lend`]); C passes it back to
//!   calls ([`lent`]) until the callback returns, and never frees it.
//!
//! Entry points never cast by hand: they call these functions, which check for NULL and
//! trust the rest of the C contract (a non-NULL handle is one sfpm made and has not
//! freed; a buffer really has the length passed with it). Byte buffers, C strings, C
//! structs and out-parameters from C come through here too.

use std::ffi::{CStr, c_char};
use std::ptr::NonNull;

/// Ownership marker: C owns the value (a `Box` made by `_new`, freed by `_free`).
#[derive(Debug)]
pub struct Owned;

/// Ownership marker: sfpm owns the value and lends it to C for the length of a callback.
#[derive(Debug)]
pub struct Lent;

/// A C-facing opaque type and the Rust value its pointers really point to.
pub trait Castable {
    /// [`Owned`] or [`Lent`].
    type Ownership;
    /// The Rust type behind the pointer; `'a` is how long a borrow recovered from C
    /// lasts (one call).
    type RustType<'a>;
}

/// Boxes `value` and hands the box to C, which frees it with the type's `_free`.
pub fn to_owned_ptr<C: Castable<Ownership = Owned>>(value: C::RustType<'static>) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes back and drops a value made by [`to_owned_ptr`]; NULL does nothing.
pub fn free_owned<C: Castable<Ownership = Owned>>(ptr: *mut C) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: C contract of `_free`: a non-NULL pointer came from `to_owned_ptr` for this
    // type and is freed once, so it is a live `Box<C::RustType>` that nobody else uses.
    drop(unsafe { Box::from_raw(ptr.cast::<C::RustType<'static>>()) });
}

/// Borrows an owned value for one call; `None` for NULL.
pub fn owned<'a, C: Castable<Ownership = Owned>>(ptr: *const C) -> Option<&'a C::RustType<'a>> {
    // SAFETY: C contract: a non-NULL handle came from `to_owned_ptr` and is not freed, so
    // it points to a live, aligned value; C does not use it from another thread meanwhile.
    unsafe { ptr.cast::<C::RustType<'a>>().as_ref() }
}

/// Borrows an owned value mutably for one call; `None` for NULL.
pub fn owned_mut<'a, C: Castable<Ownership = Owned>>(ptr: *mut C) -> Option<&'a mut C::RustType<'a>> {
    // SAFETY: as in `owned`; a `*mut` handle is the caller's promise of exclusive use
    // for the call (one thread at a time, documented on each handle type).
    unsafe { ptr.cast::<C::RustType<'a>>().as_mut() }
}

/// Lends `value` to C as a `C` pointer, for the length of a callback.
pub fn lend<'b, C: Castable<Ownership = Lent>>(value: &mut C::RustType<'b>) -> *mut C {
    std::ptr::from_mut(value).cast()
}

/// Borrows back a value lent with [`lend`], for one call; `None` for NULL.
///
/// Takes a `*const` because some C functions take `const` handles to say they change
/// nothing visible; the Rust side still needs `&mut` to reach the worker's request
/// (building a view of it changes nothing), so every lent borrow is mutable.
pub fn lent<'a, C: Castable<Ownership = Lent>>(ptr: *const C) -> Option<&'a mut C::RustType<'a>> {
    // SAFETY: C contract: a non-NULL handle is one sfpm lent to the callback that is
    // running now, so it points to a live value. `lend` made it from a `&mut`, so the
    // pointer may be written through; the code that lent it does not touch the value
    // until the callback returns, and C uses it from one thread at a time.
    unsafe { ptr.cast_mut().cast::<C::RustType<'a>>().as_mut() }
}

/// A `#[repr(C)]` struct passed in by pointer; `None` for NULL.
pub fn c_struct<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: C contract: a non-NULL pointer points to a live, initialised struct of
    // this type (its ABI version was checked first where the layout may differ).
    unsafe { ptr.as_ref() }
}

/// A NUL-terminated string from C; `None` for NULL.
pub fn c_str<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: C contract: a non-NULL string is NUL-terminated and unchanged for the call.
    Some(unsafe { CStr::from_ptr(ptr) })
}

/// A read-only byte buffer of `len` bytes; `None` for NULL or a length no buffer can have.
pub fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() || len > isize::MAX as usize {
        return None;
    }
    // SAFETY: C contract: a buffer is readable for the length passed with it and not
    // written to during the call; u8 has no alignment or validity requirement.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A C array of `len` elements (`argv`); `None` for NULL or an impossible length.
pub fn slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if ptr.is_null() || len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return None;
    }
    // SAFETY: C contract: the array holds `len` initialised elements, properly aligned,
    // unchanged during the call.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A writable byte buffer of `len` bytes; `None` for NULL or a length no buffer can have.
pub fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if ptr.is_null() || len > isize::MAX as usize {
        return None;
    }
    // SAFETY: C contract: a buffer is writable for the length passed with it and not
    // used by anything else during the call. Its bytes may be uninitialised: they are
    // only written (read_body copies into it), and u8 has no invalid values.
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// An out-parameter: checked for NULL when the call starts, written once it succeeded
/// (outputs are written only on `SFPM_OK`).
#[derive(Debug)]
pub struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Stores `value` without reading what was there (C may pass uninitialised storage).
    pub fn write(self, value: T) {
        // SAFETY: C contract: a non-NULL out-parameter points to writable, aligned storage
        // for a T. `write` neither reads nor drops the old contents.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// An out-parameter from C; `None` for NULL.
pub fn out<T>(ptr: *mut T) -> Option<Out<T>> {
    NonNull::new(ptr).map(Out)
}

/// Writes a byte string's pointer and length into two out-parameters.
pub fn write_bytes(ptr_out: Out<*const u8>, len_out: Out<usize>, value: &[u8]) {
    ptr_out.write(value.as_ptr());
    len_out.write(value.len());
}
