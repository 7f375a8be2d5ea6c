pub mod close_job;
pub mod crank_emission;
pub mod mark_offline;

pub use {close_job::*, crank_emission::*, mark_offline::*};
