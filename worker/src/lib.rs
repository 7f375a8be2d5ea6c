//! `iogrid-worker`, the supplier's node. It executes code that job owners
//! put on-chain, so it is its own binary, not part of the wallet CLI.
//! `agent` is the node loop: heartbeats, assignments, workloads, proofs;
//! `spec` reads and checks the workload spec a job commits to.

pub mod agent;
pub mod spec;
