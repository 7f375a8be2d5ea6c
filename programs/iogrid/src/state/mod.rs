pub mod config;
pub mod listing;
pub mod stake;

pub use {config::*, listing::*, stake::*};
