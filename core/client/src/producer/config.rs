//! `ProducerConfig`: Kafka's defaults and Kafka's option names.

use std::time::Duration;

use super::{Acks, Partitioner, ProducerConfig};
use crate::cluster::ClientConfig;
use crate::options::{bad, boolean, millis, number, UnknownOption, CONNECTION_OPTIONS};
use klog_protocol::error::{Error, Result};
use klog_protocol::record::Compression;

impl ProducerConfig {
    /// The option names [`ProducerConfig::set`] knows.
    pub const OPTIONS: [&'static str; 15] = [
        "acks",
        "compression.type",
        "batch.size",
        "linger.ms",
        "buffer.memory",
        "max.in.flight.requests.per.connection",
        "enable.idempotence",
        "delivery.timeout.ms",
        "max.block.ms",
        "max.request.size",
        "partitioner",
        CONNECTION_OPTIONS[0],
        CONNECTION_OPTIONS[1],
        CONNECTION_OPTIONS[2],
        CONNECTION_OPTIONS[3],
    ];

    /// Kafka's defaults (idempotent, `acks=all`, `linger.ms=5`, 16 KiB batches).
    pub fn new(client: ClientConfig) -> ProducerConfig {
        ProducerConfig {
            client,
            acks: Acks::All,
            compression: Compression::None,
            batch_size: 16_384,
            linger: Duration::from_millis(5),
            buffer_memory: 32 * 1024 * 1024,
            max_in_flight: 5,
            enable_idempotence: true,
            delivery_timeout: Duration::from_secs(120),
            max_block: Duration::from_secs(60),
            max_request_size: 1_048_576,
            partitioner: Partitioner::Default,
        }
    }

    /// Sets one option by its Kafka name (`acks`, `compression.type`, `batch.size`,
    /// `linger.ms`, `buffer.memory`, `enable.idempotence`, ...); unknown names are errors.
    ///
    /// As in Kafka, `acks` other than `all` turns idempotence off; setting
    /// `enable.idempotence=true` afterwards makes [`Producer::connect`](super::Producer::connect)
    /// refuse the combination.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let value = value.trim();
        match key.trim() {
            "acks" => {
                self.acks = match value.to_ascii_lowercase().as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "-1" | "all" => Acks::All,
                    _ => return Err(bad(key, value, "0, 1, -1 or all")),
                };
                if self.acks != Acks::All {
                    self.enable_idempotence = false;
                }
            }
            "compression.type" | "compression.codec" => {
                self.compression =
                    Compression::from_name(value).map_err(|_| bad(key, value, "none, gzip, snappy, lz4 or zstd"))?
            }
            "batch.size" => self.batch_size = number(key, value, 0, i32::MAX as u64)?.max(1) as usize,
            "linger.ms" => self.linger = millis(key, value, 0)?,
            "buffer.memory" => self.buffer_memory = number(key, value, 1, u32::MAX as u64)? as usize,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = number(key, value, 1, i32::MAX as u64)? as usize
            }
            "enable.idempotence" => self.enable_idempotence = boolean(key, value)?,
            "delivery.timeout.ms" => self.delivery_timeout = millis(key, value, 1)?,
            "max.block.ms" => self.max_block = millis(key, value, 0)?,
            "max.request.size" => self.max_request_size = number(key, value, 1, i32::MAX as u64)? as usize,
            "partitioner" | "partitioner.class" => {
                self.partitioner = match value {
                    "default"
                    | "murmur2_random"
                    | "murmur2"
                    | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" => Partitioner::Default,
                    "round_robin" | "roundrobin" | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                        Partitioner::RoundRobin
                    }
                    _ => return Err(bad(key, value, "default, murmur2_random or round_robin")),
                }
            }
            other => {
                self.client.set(other, value).map_err(|e| match UnknownOption::is(&e) {
                    true => UnknownOption::error("producer", other, &Self::OPTIONS),
                    false => e,
                })?;
            }
        }
        Ok(self)
    }

    /// Checks combinations that cannot work.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.enable_idempotence {
            if self.acks != Acks::All {
                return Err(Error::invalid("enable.idempotence=true requires acks=all"));
            }
            if self.max_in_flight > 5 {
                return Err(Error::invalid(
                    "enable.idempotence=true requires max.in.flight.requests.per.connection <= 5",
                ));
            }
        }
        if self.batch_size == 0 || self.buffer_memory == 0 || self.max_in_flight == 0 || self.max_request_size == 0 {
            return Err(Error::invalid(
                "batch.size, buffer.memory, max.in.flight and max.request.size must be positive",
            ));
        }
        Ok(())
    }
}
