//! Mapping of internal errors to Kafka error codes (the protocol edge).

use kafka_protocol::ResponseError;

use klog_storage::LogError;

/// The Kafka error code for a storage error (what the data path answers).
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

/// What a coordinator answers when appending to its partition failed with the
/// data-path code `code` (as Kafka's group coordinator translates append errors):
/// clients then look for the coordinator again, retry, or give up on the commit.
pub fn coordinator_code(code: i16) -> i16 {
    use ResponseError as E;
    let translated = match ResponseError::try_from_code(code) {
        Some(E::NotLeaderOrFollower | E::KafkaStorageError) => E::NotCoordinator,
        Some(
            E::UnknownTopicOrPartition | E::NotEnoughReplicas | E::NotEnoughReplicasAfterAppend | E::RequestTimedOut,
        ) => E::CoordinatorNotAvailable,
        Some(E::MessageTooLarge | E::RecordListTooLarge) => E::InvalidCommitOffsetSize,
        _ => E::UnknownServerError,
    };
    translated.code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::ResponseError as E;

    #[test]
    fn append_failures_become_coordinator_errors() {
        let io = LogError::Io(std::io::Error::other("disk gone"));
        assert_eq!(coordinator_code(log_error_code(&io)), E::NotCoordinator.code());
        let large = LogError::MessageTooLarge { size: 10, max: 1 };
        assert_eq!(coordinator_code(log_error_code(&large)), E::InvalidCommitOffsetSize.code());
        assert_eq!(coordinator_code(E::NotLeaderOrFollower.code()), E::NotCoordinator.code());
        assert_eq!(coordinator_code(E::RequestTimedOut.code()), E::CoordinatorNotAvailable.code());
        assert_eq!(coordinator_code(E::CorruptMessage.code()), E::UnknownServerError.code());
    }
}
