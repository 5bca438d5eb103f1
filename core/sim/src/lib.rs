//! Deterministic simulation of klog (test only). One process runs a broker node
//! and its clients on a current-thread tokio runtime with paused time; every
//! random choice comes from one `u64` seed, so a run is a function of its seed and
//! a failing seed replays exactly.
//!
//! - [`network`]: a [`FaultyConnector`] that loses and delays requests and
//!   responses, around any client connector (also used by `klog`'s own tests).
//! - [`node`]: a broker that can be restarted on its directory, and the in-process
//!   wire to it.
//! - [`scenario`]: the scenarios, [`workload`] and [`consume`]: their clients,
//!   [`check`]: the invariants they end with.
//!
//! - [`net`]: the same checks over turmoil's simulated TCP, with several broker
//!   hosts and client hosts, partitions and crashes.
//!
//! See `docs/testing.md` for why it is built this way and how to run many seeds.

mod block_on;
pub mod chaos;
pub mod check;
pub mod consume;
pub mod faults;
pub mod history;
pub mod net;
pub mod network;
pub mod node;
pub mod readback;
pub mod rng;
pub mod scenario;
pub mod seeds;
pub mod trace;
pub mod workload;

pub use faults::{Fate, FaultPlan, Faults, Loss};
pub use network::FaultyConnector;
pub use node::{SimConnector, SimNode};
pub use rng::SimRng;
pub use scenario::{run, Report, Scenario};
