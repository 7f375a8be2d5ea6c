pub mod ai;
pub mod balance;
pub mod gov;
pub mod localnet;
pub mod market;
pub mod network;
pub mod rewards;
pub mod stake;
