//! The transport-agnostic broker.

pub mod group;
