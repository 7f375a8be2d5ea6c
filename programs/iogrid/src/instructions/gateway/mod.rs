pub mod settle_usage;

pub use settle_usage::*;
