//! The keeper's decision logic as a library (`iogrid_keeper`), next to the
//! `iogrid-keeper` binary that drives it. Everything here is pure — no RPC,
//! no clock, no I/O — so it is unit-tested directly and benchmarked
//! (`cargo bench -p iogrid-keeper`).
//!
//! - [`matcher`]: which listings to assign to each open job (`assign_job` /
//!   `reassign`), or a typed explanation of why a job cannot match.

pub mod matcher;
