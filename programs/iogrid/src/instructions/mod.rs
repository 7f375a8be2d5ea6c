pub mod admin;

pub use admin::*;
