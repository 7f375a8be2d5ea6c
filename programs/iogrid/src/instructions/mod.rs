pub mod admin;
pub mod bench;

pub use admin::*;
pub use bench::*;
