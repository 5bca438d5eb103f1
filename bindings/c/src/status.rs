//! `klog_status`: the result of every fallible call, with stable numbers.

use std::ffi::c_char;

use klog::ErrorKind;

/// The result of a libklog call. `KLOG_OK` (0) is success; every other value is a
/// failure whose message `klog_last_error_message` returns on the same thread.
///
/// The numbers are stable: a value keeps its meaning forever and is never reused.
/// New values may be added, so treat unknown ones as failures.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum klog_status {
    /// Success.
    KLOG_OK = 0,
    /// The request or data is malformed or violates a limit (also: an unknown
    /// config key or a bad value). Do not retry unchanged.
    KLOG_INVALID = 1,
    /// The topic, partition, group or offset does not exist.
    KLOG_NOT_FOUND = 2,
    /// It already exists (e.g. creating a topic twice).
    KLOG_ALREADY_EXISTS = 3,
    /// Temporarily unable to serve. Retry with backoff.
    KLOG_UNAVAILABLE = 4,
    /// The broker does not lead the partition. Retry (metadata is refreshed).
    KLOG_NOT_LEADER = 5,
    /// The operation did not finish in time. Retrying is safe for idempotent operations.
    KLOG_TIMEOUT = 6,
    /// A newer producer or group member took over. Re-create the client.
    KLOG_FENCED = 7,
    /// The handle (or the library, after `klog_shutdown`) was closed.
    KLOG_CLOSED = 8,
    /// Stored data failed a checksum or structure check.
    KLOG_CORRUPT = 9,
    /// Disk or operating-system I/O failed.
    KLOG_IO = 10,
    /// A bug or an unexpected state, including a panic caught at the boundary. Please report it.
    KLOG_INTERNAL = 11,
    /// A pointer argument that must not be NULL was NULL.
    KLOG_NULL_ARGUMENT = 12,
    /// An index argument was out of range.
    KLOG_OUT_OF_RANGE = 13,
}

/// Each core error kind and its status: the one table both directions read.
const KINDS: [(ErrorKind, klog_status); 11] = [
    (ErrorKind::Invalid, klog_status::KLOG_INVALID),
    (ErrorKind::NotFound, klog_status::KLOG_NOT_FOUND),
    (ErrorKind::AlreadyExists, klog_status::KLOG_ALREADY_EXISTS),
    (ErrorKind::Unavailable, klog_status::KLOG_UNAVAILABLE),
    (ErrorKind::NotLeader, klog_status::KLOG_NOT_LEADER),
    (ErrorKind::Timeout, klog_status::KLOG_TIMEOUT),
    (ErrorKind::Fenced, klog_status::KLOG_FENCED),
    (ErrorKind::Closed, klog_status::KLOG_CLOSED),
    (ErrorKind::Corrupt, klog_status::KLOG_CORRUPT),
    (ErrorKind::Io, klog_status::KLOG_IO),
    (ErrorKind::Internal, klog_status::KLOG_INTERNAL),
];

impl klog_status {
    /// The status for a core error kind (`KLOG_INTERNAL` for a kind newer than this table).
    pub(crate) fn of(kind: ErrorKind) -> klog_status {
        KINDS.iter().find(|(k, _)| *k == kind).map_or(klog_status::KLOG_INTERNAL, |(_, status)| *status)
    }

    /// The core error kind of a status (None for `KLOG_OK` and the argument checks).
    fn kind(self) -> Option<ErrorKind> {
        KINDS.iter().find(|(_, status)| *status == self).map(|(kind, _)| *kind)
    }

    /// The status's name as a NUL-terminated string, e.g. `"KLOG_NOT_FOUND"`.
    fn name(self) -> &'static std::ffi::CStr {
        match self {
            klog_status::KLOG_OK => c"KLOG_OK",
            klog_status::KLOG_INVALID => c"KLOG_INVALID",
            klog_status::KLOG_NOT_FOUND => c"KLOG_NOT_FOUND",
            klog_status::KLOG_ALREADY_EXISTS => c"KLOG_ALREADY_EXISTS",
            klog_status::KLOG_UNAVAILABLE => c"KLOG_UNAVAILABLE",
            klog_status::KLOG_NOT_LEADER => c"KLOG_NOT_LEADER",
            klog_status::KLOG_TIMEOUT => c"KLOG_TIMEOUT",
            klog_status::KLOG_FENCED => c"KLOG_FENCED",
            klog_status::KLOG_CLOSED => c"KLOG_CLOSED",
            klog_status::KLOG_CORRUPT => c"KLOG_CORRUPT",
            klog_status::KLOG_IO => c"KLOG_IO",
            klog_status::KLOG_INTERNAL => c"KLOG_INTERNAL",
            klog_status::KLOG_NULL_ARGUMENT => c"KLOG_NULL_ARGUMENT",
            klog_status::KLOG_OUT_OF_RANGE => c"KLOG_OUT_OF_RANGE",
        }
    }

    /// The status with number `code`, if there is one.
    fn from_code(code: i32) -> Option<klog_status> {
        const ALL: [klog_status; 14] = [
            klog_status::KLOG_OK,
            klog_status::KLOG_INVALID,
            klog_status::KLOG_NOT_FOUND,
            klog_status::KLOG_ALREADY_EXISTS,
            klog_status::KLOG_UNAVAILABLE,
            klog_status::KLOG_NOT_LEADER,
            klog_status::KLOG_TIMEOUT,
            klog_status::KLOG_FENCED,
            klog_status::KLOG_CLOSED,
            klog_status::KLOG_CORRUPT,
            klog_status::KLOG_IO,
            klog_status::KLOG_INTERNAL,
            klog_status::KLOG_NULL_ARGUMENT,
            klog_status::KLOG_OUT_OF_RANGE,
        ];
        ALL.into_iter().find(|s| *s as i32 == code)
    }
}

/// The name of a status, e.g. `"KLOG_NOT_FOUND"`, or `"KLOG_UNKNOWN_STATUS"` for a
/// number that is not (yet) a status. Takes the number as `int32_t` so any value is safe.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn klog_status_name(status: i32) -> *const c_char {
    klog_status::from_code(status).map_or(c"KLOG_UNKNOWN_STATUS", klog_status::name).as_ptr()
}

/// Whether retrying the same call later may succeed (`KLOG_UNAVAILABLE`,
/// `KLOG_NOT_LEADER`, `KLOG_TIMEOUT`), as the core's error kinds say.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn klog_status_is_retriable(status: i32) -> bool {
    klog_status::from_code(status).and_then(klog_status::kind).is_some_and(ErrorKind::is_retriable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_named() {
        assert_eq!(klog_status::KLOG_OK as i32, 0);
        assert_eq!(klog_status::KLOG_CLOSED as i32, 8);
        assert_eq!(klog_status::KLOG_OUT_OF_RANGE as i32, 13);
        for code in 0..14 {
            let status = klog_status::from_code(code).expect("every number up to 13 is a status");
            assert_eq!(status as i32, code);
            assert!(status.name().to_str().unwrap().starts_with("KLOG_"));
        }
        assert_eq!(klog_status::from_code(14), None);
        assert_eq!(klog_status::of(ErrorKind::NotFound), klog_status::KLOG_NOT_FOUND);
        assert!(klog_status_is_retriable(klog_status::KLOG_TIMEOUT as i32));
        assert!(!klog_status_is_retriable(klog_status::KLOG_INVALID as i32));
        let retriable: Vec<i32> = (0..20).filter(|code| klog_status_is_retriable(*code)).collect();
        assert_eq!(retriable, [4, 5, 6], "KLOG_UNAVAILABLE, KLOG_NOT_LEADER, KLOG_TIMEOUT");
        for (kind, status) in KINDS {
            assert_eq!((klog_status::of(kind), status.kind()), (status, Some(kind)));
        }
    }
}
