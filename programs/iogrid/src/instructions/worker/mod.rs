pub mod complete_job;
pub mod heartbeat;

pub use {complete_job::*, heartbeat::*};
