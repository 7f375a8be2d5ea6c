pub mod initialize;
pub mod set_keepers;

pub use {initialize::*, set_keepers::*};
