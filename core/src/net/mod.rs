//! The TCP front end of the broker.
