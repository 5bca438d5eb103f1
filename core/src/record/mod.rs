//! RecordBatch v2 framing: header parsing, validation and in-place stamping.
//! The broker never decodes individual records on the hot path.

mod batch;

pub use batch::{
    increment_sequence, set_base_offset, set_create_time, set_log_append_time, set_partition_leader_epoch, BatchHeader,
    BatchIter, TailKind, LOG_OVERHEAD, MIN_BATCH_LENGTH,
};
