pub mod resolve_dispute;

pub use resolve_dispute::*;
