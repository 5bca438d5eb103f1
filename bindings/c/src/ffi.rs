//! The boundary every exported function goes through: panics caught and turned
//! into `KLOG_INTERNAL`, failures stored as the thread's last error, pointer
//! arguments NULL-checked and converted, handles boxed and freed, and the
//! closable slot that makes calls on a closed handle fail with `KLOG_CLOSED`.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{set_last, Failure, Result};
use crate::status::klog_status;

/// Runs the body of an exported function: `KLOG_OK` on success; otherwise the
/// failure (or the caught panic) becomes the last error and its status is returned.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> klog_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => klog_status::KLOG_OK,
        Ok(Err(failure)) => set_last(failure),
        Err(panic) => set_last(Failure::new(
            klog_status::KLOG_INTERNAL,
            format!("panic in libklog: {}", panic_message(panic.as_ref())),
        )),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Borrows the object behind a pointer argument.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` that outlives `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: guaranteed by the caller; NULL is turned into a failure.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Borrows the object behind a pointer argument mutably.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T`, not used elsewhere during `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: guaranteed by the caller; NULL is turned into a failure.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller guarantees.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| Failure::invalid(format!("argument {name} is not valid UTF-8")))
}

/// Borrows `len` bytes at `ptr`; a NULL `ptr` with `len` 0 means "no bytes" (`None`,
/// e.g. a null key), a NULL `ptr` with a length is a failure.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<Option<&'a [u8]>> {
    if ptr.is_null() {
        return if len == 0 { Ok(None) } else { Err(Failure::null(name)) };
    }
    // SAFETY: non-NULL with `len` readable bytes, as the caller guarantees.
    Ok(Some(unsafe { std::slice::from_raw_parts(ptr, len) }))
}

/// Borrows an array argument of `len` elements (NULL is allowed only when `len` is 0).
///
/// # Safety
/// `ptr` must be NULL or point to `len` initialized elements that outlive `'a`.
pub(crate) unsafe fn arg_slice<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Failure::null(name)) };
    }
    // SAFETY: non-NULL with `len` elements, as the caller guarantees.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Moves a new object to the heap and hands its pointer to C.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`] (NULL does nothing); panics are swallowed.
///
/// # Safety
/// `ptr` must be NULL or a pointer from [`into_handle`] for this `T`, not freed yet,
/// and not in use by another thread.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle_after(ptr, |_| ()) }
}

/// Like [`free_handle`], running `last` on the object first (e.g. to close it).
/// Neither touches the thread's last error.
///
/// # Safety
/// As [`free_handle`].
pub(crate) unsafe fn free_handle_after<T>(ptr: *mut T, last: impl FnOnce(&T)) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `Box::into_raw` and is freed only once, as the caller guarantees.
    let boxed = unsafe { Box::from_raw(ptr) };
    let _ = catch_unwind(AssertUnwindSafe(move || {
        last(&boxed);
        drop(boxed)
    }));
}

/// A core object behind a handle: calls share it, `close` takes it out so later
/// calls fail with `KLOG_CLOSED` while calls already running finish.
pub(crate) use klog::Handle as Slot;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_internal_errors() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, klog_status::KLOG_INTERNAL);
        let mut buf = [0u8; 64];
        // SAFETY: `buf` has 64 writable bytes.
        let n = unsafe { crate::error::klog_last_error_message(buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(&buf[..n], b"panic in libklog: boom");
    }

    #[test]
    fn null_arguments_fail() {
        // SAFETY: NULL pointers are what is being tested; none is dereferenced.
        unsafe {
            assert_eq!(arg::<u8>(std::ptr::null(), "x").unwrap_err().status, klog_status::KLOG_NULL_ARGUMENT);
            assert_eq!(arg_str(std::ptr::null(), "s").unwrap_err().status, klog_status::KLOG_NULL_ARGUMENT);
            assert!(arg_bytes(std::ptr::null(), 0, "b").unwrap().is_none());
            assert!(arg_bytes(std::ptr::null(), 1, "b").is_err());
            assert!(arg_slice::<u8>(std::ptr::null(), 0, "v").unwrap().is_empty());
        }
        let bad = [0xffu8, 0];
        // SAFETY: `bad` is NUL-terminated.
        let err = unsafe { arg_str(bad.as_ptr().cast(), "s") }.unwrap_err();
        assert_eq!(err.status, klog_status::KLOG_INVALID);
    }

    #[test]
    fn closed_slots_refuse() {
        let slot = Slot::new(5, "thing");
        assert_eq!(*slot.get().unwrap(), 5);
        assert!(slot.take().is_some());
        assert_eq!(Failure::from(slot.get().err().unwrap()).status, klog_status::KLOG_CLOSED);
        assert!(slot.take().is_none());
    }
}
