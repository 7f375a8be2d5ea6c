//! What iogrid's long-running services — the keeper and the supplier's
//! worker — share, written once: one shutdown signal and named tasks,
//! retry backoff, the chain's clock, and log output.

pub mod backoff;
pub mod clock;
pub mod logging;
pub mod shutdown;

pub use shutdown::{Shutdown, Tasks};
