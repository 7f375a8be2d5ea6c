pub mod cancel_unstake;
pub mod request_unstake;
pub mod stake;
pub mod withdraw;

pub use {cancel_unstake::*, request_unstake::*, stake::*, withdraw::*};
