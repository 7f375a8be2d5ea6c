pub mod heartbeat;

pub use heartbeat::*;
