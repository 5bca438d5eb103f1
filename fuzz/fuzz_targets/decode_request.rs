//! Any frame body must decode to a request or an error, never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = klog::net::decode_request(bytes::Bytes::copy_from_slice(data));
});
