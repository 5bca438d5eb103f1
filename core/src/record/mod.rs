//! RecordBatch v2 framing: header parsing, validation and in-place stamping.
//! The broker never decodes individual records on the hot path.

mod batch;

pub use batch::{BatchHeader, BatchIter};
