pub mod assign_job;
pub mod report_fault;

pub use {assign_job::*, report_fault::*};
