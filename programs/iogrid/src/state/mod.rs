pub mod config;
pub mod job;
pub mod listing;
pub mod proposal;
pub mod stake;

pub use {config::*, job::*, listing::*, proposal::*, stake::*};
