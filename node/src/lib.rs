//! What iogrid's long-running services — the keeper and the supplier's
//! worker — share, written once: one shutdown signal and named tasks,
//! retry backoff, the chain's clock, log output, and following the program's
//! accounts over the websocket.

pub mod backoff;
pub mod clock;
pub mod logging;
pub mod shutdown;
pub mod watch;

pub use shutdown::{AbortOnDrop, Shutdown, Tasks};
