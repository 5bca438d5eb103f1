//! Mapping of internal errors to Kafka error codes (the protocol edge).

use kafka_protocol::ResponseError;

use klog_storage::LogError;

/// The Kafka error code for a storage error.
pub fn log_error_code(err: &LogError) -> i16 {
    let code = match err {
        LogError::CorruptBatch(_) => ResponseError::CorruptMessage,
        LogError::InvalidRecord(_) => ResponseError::InvalidRecord,
        LogError::InvalidTxnState => ResponseError::InvalidTxnState,
        LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::InvalidConfig(_) => ResponseError::InvalidConfig,
        LogError::Poisoned | LogError::Io(_) => ResponseError::KafkaStorageError,
        #[allow(unreachable_patterns)]
        _ => ResponseError::UnknownServerError,
    };
    code.code()
}
