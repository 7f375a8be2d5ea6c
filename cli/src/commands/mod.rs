pub mod gov;
pub mod localnet;
pub mod network;
pub mod stake;
