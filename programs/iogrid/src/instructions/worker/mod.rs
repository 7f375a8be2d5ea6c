pub mod complete_job;
pub mod heartbeat;
pub mod heartbeat_many;

pub use {complete_job::*, heartbeat::*, heartbeat_many::*};
