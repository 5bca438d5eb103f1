//! The simulation over simulated TCP, with turmoil: several independent broker
//! hosts, each serving the broker's real server loop on turmoil's listener, and
//! client hosts running klog's real producer and consumers over turmoil's
//! streams, all in one thread under one seed and one simulated clock.
//!
//! - [`wire`]: the listener and the client connector over turmoil's TCP.
//! - [`broker`]: a broker host whose data directory survives its crashes.
//! - [`chaos`]: partitions, held links and crashes between turmoil's steps.
//! - [`committer`]: a committing group member, checking commits never go back.
//! - [`intruder`]: a hostile host holding and abandoning misbehaving connections.
//! - [`scenario`]: the scenarios and their end-of-run checks (the same
//!   [`crate::check`] invariants as the in-process scenarios).
//! - [`seeds`]: running many seeds, printing failing ones with their replay.

pub mod broker;
pub mod chaos;
pub mod clock;
pub mod committer;
pub mod events;
pub mod intruder;
pub mod scenario;
pub mod seeds;
pub mod wire;

pub use scenario::{run_tcp, TcpReport, TcpScenario};
