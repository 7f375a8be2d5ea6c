pub mod crank_emission;
pub mod mark_offline;

pub use {crank_emission::*, mark_offline::*};
