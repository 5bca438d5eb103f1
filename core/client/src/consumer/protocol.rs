//! The consumer protocol's JoinGroup metadata and SyncGroup assignments, in
//! Kafka's `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` encoding
//! (an i16 version, then the body), as Java, librdkafka and kafkajs write them.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::assignors::Subscription;
use super::TopicPartition;
use klog_protocol::error::{Error, Result};

/// The newest version of both messages.
const VERSION: i16 = 3;

fn by_topic(parts: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        topics.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    topics
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn encode<M: Encodable>(message: &M) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(VERSION);
    message.encode(&mut buf, VERSION).map_err(|e| Error::internal(format!("cannot encode consumer protocol: {e}")))?;
    Ok(buf.freeze())
}

/// A version header, then the body; newer versions only add fields, so they are read as ours.
fn decode<M: Decodable>(mut bytes: Bytes, what: &str) -> Result<M> {
    if bytes.len() < 2 {
        return Err(Error::corrupt(format!("{what} is too short")));
    }
    let version = bytes.get_i16();
    if version < 0 {
        return Err(Error::corrupt(format!("{what} has version {version}")));
    }
    M::decode(&mut bytes, version.min(VERSION)).map_err(|e| Error::corrupt(format!("undecodable {what}: {e}")))
}

/// JoinGroup metadata: subscribed topics, owned partitions and generation.
pub(crate) fn encode_subscription(topics: &[String], owned: &[TopicPartition], generation: i32) -> Result<Bytes> {
    let owned = by_topic(owned)
        .into_iter()
        .map(|(t, partitions)| OwnedTopic::default().with_topic(name(t)).with_partitions(partitions))
        .collect();
    let message = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| StrBytes::from_string(t.clone())).collect())
        .with_owned_partitions(owned)
        .with_generation_id(generation);
    encode(&message)
}

/// A member's subscription from its JoinGroup metadata.
pub(crate) fn decode_subscription(member_id: &str, instance_id: Option<&str>, bytes: Bytes) -> Result<Subscription> {
    let m: ConsumerProtocolSubscription = decode(bytes, "consumer subscription")?;
    Ok(Subscription {
        member_id: member_id.to_string(),
        instance_id: instance_id.map(String::from),
        topics: m.topics.iter().map(|t| t.to_string()).collect(),
        owned: m
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| TopicPartition::new(t.topic.as_str(), *p)))
            .collect(),
        generation: m.generation_id,
    })
}

/// A SyncGroup assignment.
pub(crate) fn encode_assignment(parts: &[TopicPartition]) -> Result<Bytes> {
    let assigned = by_topic(parts)
        .into_iter()
        .map(|(t, partitions)| AssignedTopic::default().with_topic(name(t)).with_partitions(partitions))
        .collect();
    encode(&ConsumerProtocolAssignment::default().with_assigned_partitions(assigned))
}

/// The partitions of a SyncGroup assignment (empty bytes: nothing assigned).
pub(crate) fn decode_assignment(bytes: Bytes) -> Result<Vec<TopicPartition>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let m: ConsumerProtocolAssignment = decode(bytes, "consumer assignment")?;
    let mut parts: Vec<TopicPartition> = m
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| TopicPartition::new(t.topic.as_str(), *p)))
        .collect();
    parts.sort();
    parts.dedup();
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_other_versions() {
        let owned = vec![TopicPartition::new("a", 1), TopicPartition::new("a", 0), TopicPartition::new("b", 2)];
        let bytes = encode_subscription(&["a".into(), "b".into()], &owned, 7).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        let s = decode_subscription("m", Some("i"), bytes).unwrap();
        assert_eq!(s.topics, ["a", "b"]);
        assert_eq!(s.generation, 7);
        assert_eq!(s.owned.len(), 3);
        // Version 0 (old clients): topics and user data only.
        let mut v0 = BytesMut::new();
        v0.put_i16(0);
        ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("x")])
            .encode(&mut v0, 0)
            .unwrap();
        let s = decode_subscription("m", None, v0.freeze()).unwrap();
        assert_eq!((s.topics.as_slice(), s.generation, s.owned.len()), (&["x".to_string()][..], -1, 0));
        let a = encode_assignment(&owned).unwrap();
        assert_eq!(
            decode_assignment(a).unwrap(),
            vec![TopicPartition::new("a", 0), TopicPartition::new("a", 1), TopicPartition::new("b", 2)]
        );
        assert!(decode_assignment(Bytes::new()).unwrap().is_empty());
        assert!(decode_assignment(Bytes::from_static(&[0, 1, 0xff])).is_err());
        assert!(decode_subscription("m", None, Bytes::from_static(&[0xff, 0xff, 0])).is_err());
    }
}
