//! `iogrid-worker`, the supplier's node. It executes code that job owners
//! put on-chain, so it is its own binary, not part of the wallet CLI.
//! `agent` is the node loop: heartbeats, assignments, workloads, proofs;
//! `ray` runs spec workloads on the job's Ray cluster, each node in a
//! `sandbox`; `serve` runs a model server for the inference gateway.

pub mod agent;
pub mod beats;
pub mod doctor;
pub mod gpu;
pub mod ray;
pub mod sandbox;
pub mod serve;
