//! Errors of the storage layer, precise enough to map to Kafka error codes.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A batch failed validation (CRC, magic, sizes, counts).
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    /// A produced batch whose records contradict its header, do not decode or
    /// decompress beyond the budget, or whose producer fields are impossible.
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),
    /// A transactional batch, while no transaction can be open (klog has no
    /// transaction coordinator yet).
    #[error("transactional batch without an open transaction")]
    InvalidTxnState,
    /// A batch exceeds `max.message.bytes`.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Size of the offending batch.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// Requested offset outside [log start, log end].
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// First offset kept.
        log_start: i64,
        /// Next offset to be written.
        log_end: i64,
    },
    /// An idempotent producer skipped sequence numbers.
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        /// Producer id.
        producer_id: i64,
        /// Next sequence expected.
        expected: i32,
        /// Sequence received.
        got: i32,
    },
    /// A producer with an older epoch than the current one.
    #[error("producer {producer_id} epoch {epoch} is fenced by epoch {current}")]
    InvalidProducerEpoch {
        /// Producer id.
        producer_id: i64,
        /// Epoch received.
        epoch: i16,
        /// Current epoch.
        current: i16,
    },
    /// Replicated batches do not continue the log: the first must start at the log
    /// end and offsets must increase.
    #[error("replicated batch at offset {got} where offset {expected} was expected")]
    UnexpectedOffset {
        /// The offset the log expected.
        expected: i64,
        /// The batch's base offset.
        got: i64,
    },
    /// A config key or value that is not accepted.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The partition refuses writes after an fsync failure until reopened.
    #[error("partition is read-only after an earlier fsync failure")]
    Poisoned,
    /// Disk I/O failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<klog_protocol::record::CorruptBatch> for LogError {
    fn from(err: klog_protocol::record::CorruptBatch) -> Self {
        LogError::CorruptBatch(err.0)
    }
}

impl From<klog_protocol::record::InvalidRecords> for LogError {
    fn from(err: klog_protocol::record::InvalidRecords) -> Self {
        LogError::InvalidRecord(err.0)
    }
}
