//! Failures and the thread-local last error: a failing call stores its message
//! (and Kafka error code, if a broker sent one) for the calling thread, where
//! `klog_last_error_message` reads it, like `errno`.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::status::klog_status;

/// A failed call: the status returned and the message kept for the caller.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub status: klog_status,
    pub message: String,
    pub kafka_code: Option<i16>,
}

impl Failure {
    /// A failure with an explicit status.
    pub fn new(status: klog_status, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into(), kafka_code: None }
    }

    /// A NULL pointer where an argument was required.
    pub fn null(argument: &str) -> Failure {
        Failure::new(klog_status::KLOG_NULL_ARGUMENT, format!("argument {argument} is NULL"))
    }

    /// An invalid argument.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(klog_status::KLOG_INVALID, message)
    }
}

impl From<klog::Error> for Failure {
    fn from(err: klog::Error) -> Failure {
        Failure { status: klog_status::of(err.kind()), message: err.to_string(), kafka_code: err.kafka_code() }
    }
}

/// Result of the safe code behind an exported function.
pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

thread_local! {
    static LAST: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Stores `failure` as this thread's last error and returns its status.
pub(crate) fn set_last(failure: Failure) -> klog_status {
    let status = failure.status;
    LAST.with(|last| *last.borrow_mut() = Some(failure));
    status
}

/// Copies the message of the last failed call on this thread into `buf`.
///
/// Writes at most `len - 1` bytes and a terminating NUL (nothing when `buf` is NULL
/// or `len` is 0) and returns the message's full length in bytes, without the NUL,
/// so a return value `>= len` means the message was truncated. Returns 0 (and
/// writes `""`) when no call on this thread has failed yet. Only failing calls
/// change the message (successful calls leave it as it was), so read it right
/// after the call that returned a status other than `KLOG_OK`.
///
/// Ownership: `buf` belongs to the caller. Thread safety: each thread has its own last error.
///
/// # Safety
/// `buf` must be NULL or point to at least `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn klog_last_error_message(buf: *mut c_char, len: usize) -> usize {
    LAST.with(|last| {
        let last = last.borrow();
        let message = last.as_ref().map_or("", |f| f.message.as_str()).as_bytes();
        if !buf.is_null() && len > 0 {
            let n = message.len().min(len - 1);
            // SAFETY: the caller guarantees `buf` has `len` writable bytes; `n + 1 <= len`,
            // and `message` is a distinct Rust allocation, so the ranges do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        message.len()
    })
}

/// The Kafka error code the broker answered the last failed call on this thread
/// with, or 0 (Kafka's `NONE`) when the failure did not come from a broker.
///
/// Thread safety: each thread has its own last error.
#[no_mangle]
pub extern "C" fn klog_last_error_kafka_code() -> i16 {
    LAST.with(|last| last.borrow().as_ref().and_then(|f| f.kafka_code).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(len: usize) -> (usize, Vec<u8>) {
        let mut buf = vec![0x7f_u8; len];
        // SAFETY: `buf` has `len` writable bytes.
        let n = unsafe { klog_last_error_message(buf.as_mut_ptr().cast(), len) };
        (n, buf)
    }

    #[test]
    fn message_is_truncated_and_terminated() {
        set_last(Failure::invalid("abcdef"));
        assert_eq!(read(0).0, 6);
        let (n, buf) = read(4);
        assert_eq!(n, 6);
        assert_eq!(&buf, b"abc\0");
        let (n, buf) = read(16);
        assert_eq!(n, 6);
        assert_eq!(&buf[..7], b"abcdef\0");
        assert_eq!(klog_last_error_kafka_code(), 0);
        set_last(klog::Error::new(klog::ErrorKind::NotFound, "gone").with_kafka_code(3).into());
        assert_eq!(klog_last_error_kafka_code(), 3);
        // SAFETY: a NULL buffer is allowed and only the length is returned.
        assert_eq!(unsafe { klog_last_error_message(std::ptr::null_mut(), 10) }, "not found: gone".len());
    }
}
