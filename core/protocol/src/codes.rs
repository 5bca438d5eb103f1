//! Kafka error codes in responses, mapped to klog's [`ErrorKind`] (the client's edge).

use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::ResponseError;

use crate::error::{Error, ErrorKind};

/// The kind of error a Kafka error code stands for.
pub fn kind_of(code: i16) -> ErrorKind {
    use ResponseError as E;
    match code.err() {
        None => ErrorKind::Internal,
        Some(e) => match e {
            E::UnknownTopicOrPartition
            | E::UnknownTopicId
            | E::GroupIdNotFound
            | E::UnknownMemberId
            | E::UnknownProducerId => ErrorKind::NotFound,
            E::TopicAlreadyExists => ErrorKind::AlreadyExists,
            E::NotLeaderOrFollower
            | E::LeaderNotAvailable
            | E::FencedLeaderEpoch
            | E::UnknownLeaderEpoch
            | E::NotCoordinator => ErrorKind::NotLeader,
            E::RequestTimedOut => ErrorKind::Timeout,
            E::InvalidProducerEpoch | E::ProducerFenced | E::FencedInstanceId => ErrorKind::Fenced,
            E::CorruptMessage => ErrorKind::Corrupt,
            // Retriable, as in Kafka's clients: the broker's disk may recover (space freed)
            // or, in a cluster, a replica on a healthy disk takes the lead.
            E::CoordinatorNotAvailable
            | E::KafkaStorageError
            | E::CoordinatorLoadInProgress
            | E::RebalanceInProgress
            | E::NotEnoughReplicas
            | E::NotEnoughReplicasAfterAppend
            | E::NetworkException
            | E::ThrottlingQuotaExceeded => ErrorKind::Unavailable,
            E::UnknownServerError => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        },
    }
}

/// `Ok(())` for code 0, else an [`Error`] carrying the code and `context`.
pub fn check(code: i16, context: impl FnOnce() -> String) -> Result<(), Error> {
    if code == 0 {
        return Ok(());
    }
    let name = code.err().map_or_else(|| format!("error {code}"), |e| format!("{e:?}"));
    Err(Error::new(kind_of(code), format!("{}: {name}", context())).with_kafka_code(code))
}

/// Like [`check`], preferring the broker's message when it sent one.
pub fn check_with_message(code: i16, message: Option<&str>, context: impl FnOnce() -> String) -> Result<(), Error> {
    check(code, || match message {
        Some(m) if !m.is_empty() => format!("{} ({m})", context()),
        _ => context(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_caller_should_do() {
        assert!(check(0, String::new).is_ok());
        let e = check(ResponseError::NotLeaderOrFollower.code(), || "produce".into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotLeader);
        assert!(e.kind().is_retriable());
        assert_eq!(e.kafka_code(), Some(6));
        assert_eq!(kind_of(ResponseError::TopicAlreadyExists.code()), ErrorKind::AlreadyExists);
        assert_eq!(kind_of(ResponseError::InvalidConfig.code()), ErrorKind::Invalid);
        // A broker's disk error is retriable, as Kafka's clients treat it.
        assert!(kind_of(ResponseError::KafkaStorageError.code()).is_retriable());
    }
}
