pub mod approve_job;
pub mod cancel_job;
pub mod create_job;
pub mod dispute_job;
pub mod top_up_job;

pub use {approve_job::*, cancel_job::*, create_job::*, dispute_job::*, top_up_job::*};
