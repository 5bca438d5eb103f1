//! Arbitrary bytes as produced record batches: iteration, validation and stamping
//! must return errors, never panic.
#![no_main]

use klog::record::{set_base_offset, set_log_append_time, BatchHeader, BatchIter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut owned = data.to_vec();
    let mut starts = Vec::new();
    for (header, bytes) in BatchIter::new(data) {
        if BatchHeader::validate_produced(bytes).is_ok() {
            assert!(header.total_size() == bytes.len());
            starts.push((bytes.as_ptr() as usize - data.as_ptr() as usize, bytes.len()));
        }
    }
    for (start, len) in starts {
        let batch = &mut owned[start..start + len];
        set_base_offset(batch, 42);
        let _ = set_log_append_time(batch, 1_700_000_000_000);
        let stamped = BatchHeader::validate(batch).expect("stamping keeps a valid batch valid");
        assert_eq!(stamped.base_offset, 42);
    }
});
