//! A hostile client host: against one broker it keeps opening connections that
//! misbehave (frames that stop half-way, frames claiming the largest size and
//! sending a few bytes, long polls that want everything and are then abandoned,
//! requests pipelined by a client that never reads), more of them than the
//! broker allows one address. The honest client host beside it must still get
//! every acknowledged record read back: the limits, idle timeouts and hang-up
//! detection are what keep the intruder from starving it.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, MetadataRequest, RequestHeader, TopicName};
use kafka_protocol::protocol::{Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::TcpStream;

use super::events::Events;
use crate::rng::SimRng;

/// Connections the intruder keeps open at most: twice what the broker lets one
/// address hold, so some are always refused.
pub const INTRUDER_CONNECTIONS: usize = 2 * MAX_CONNECTIONS_PER_IP;

/// `max.connections.per.ip` of the simulated brokers: far above what an honest
/// client host opens, far below what the intruder tries.
pub const MAX_CONNECTIONS_PER_IP: usize = 16;

/// One misbehaviour.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Sends the first bytes of a Metadata frame and stops.
    Stall,
    /// Sends a length prefix claiming 100 MiB and a few bytes.
    ClaimHuge,
    /// Sends a Fetch wanting 2^31-1 bytes, waiting 2^31-1 ms.
    EndlessPoll,
    /// Sends Metadata requests and never reads an answer.
    NeverRead,
}

/// What the intruder aims at.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` of the broker.
    pub address: String,
    /// The topic it serves.
    pub topic: String,
    /// That topic's partition count.
    pub partitions: i32,
}

/// Misbehaves against `target` until `done()` holds, then closes everything.
pub async fn intruder_host(
    target: Target,
    rng: SimRng,
    events: Events,
    done: impl Fn() -> bool + 'static,
) -> turmoil::Result {
    let mut open: Vec<TcpStream> = Vec::new();
    let (mut moves_made, mut turned_away) = (0u64, 0u64);
    while !done() {
        tokio::time::sleep(rng.millis(1..200)).await;
        if open.len() >= INTRUDER_CONNECTIONS || (!open.is_empty() && rng.chance(0.3)) {
            // An abandoned connection: whatever it had asked for is left behind.
            open.swap_remove(rng.range(0..open.len() as u64) as usize);
            continue;
        }
        let connect = TcpStream::connect(target.address.as_str());
        let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(1), connect).await else {
            turned_away += 1;
            continue;
        };
        let moves = [Move::Stall, Move::ClaimHuge, Move::EndlessPoll, Move::NeverRead];
        let chosen = moves[rng.range(0..moves.len() as u64) as usize];
        moves_made += 1;
        let sent = stream.write_all(&bytes_of(chosen, &target, &rng)).await.is_ok();
        if !sent || (!matches!(chosen, Move::NeverRead) && closed_at_once(&mut stream).await) {
            turned_away += 1;
            continue;
        }
        open.push(stream);
    }
    let address = &target.address;
    events.record(format_args!("intruder at {address}: {moves_made} moves, {turned_away} connections turned away"));
    Ok(())
}

/// Whether the broker closes `stream` right away (a move that expects no answer
/// soon reads nothing from a connection the broker keeps).
async fn closed_at_once(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(Duration::from_millis(5), stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

/// The bytes a move sends.
fn bytes_of(chosen: Move, target: &Target, rng: &SimRng) -> Vec<u8> {
    match chosen {
        Move::Stall => {
            let frame = frame(&MetadataRequest::default(), 12);
            let cut = rng.range(1..frame.len() as u64) as usize;
            frame[..cut].to_vec()
        }
        Move::ClaimHuge => {
            let mut bytes = (100 * 1024 * 1024i32).to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0, 1, 0, 11]);
            bytes
        }
        Move::EndlessPoll => frame(&endless_poll(target), 11),
        Move::NeverRead => (0..rng.range(1..50)).flat_map(|_| frame(&MetadataRequest::default(), 12)).collect(),
    }
}

/// A Fetch of every partition of the target's topic from offset 0 that wants
/// more bytes than there will ever be, and is willing to wait for ever.
fn endless_poll(target: &Target) -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(target.topic.clone()));
    t.partitions = (0..target.partitions)
        .map(|p| {
            let mut part = FetchPartition::default();
            part.partition = p;
            part.partition_max_bytes = i32::MAX;
            part
        })
        .collect();
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = i32::MAX;
    req.min_bytes = i32::MAX;
    req.max_bytes = i32::MAX;
    req.session_epoch = -1;
    req.topics = vec![t];
    req
}

/// `request` framed at `version` with correlation id 1.
fn frame<R: Request + Encodable>(request: &R, version: i16) -> Vec<u8> {
    let api_key = ApiKey::try_from(R::KEY).expect("a known API");
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = 1;
    header.client_id = Some(StrBytes::from_static_str("intruder"));
    let mut body = BytesMut::new();
    header.encode(&mut body, api_key.request_header_version(version)).expect("header encodes");
    request.encode(&mut body, version).expect("request encodes");
    let mut out = BytesMut::with_capacity(body.len() + 4);
    out.put_i32(body.len() as i32);
    out.extend_from_slice(&body);
    out.to_vec()
}
