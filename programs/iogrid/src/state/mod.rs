pub mod config;
pub mod credit;
pub mod job;
pub mod listing;
pub mod proposal;
pub mod stake;

pub use {config::*, credit::*, job::*, listing::*, proposal::*, stake::*};
