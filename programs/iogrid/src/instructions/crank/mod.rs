pub mod close_job;
pub mod crank_emission;
pub mod expire_job;
pub mod mark_offline;
pub mod sweep_rewards;

pub use {close_job::*, crank_emission::*, expire_job::*, mark_offline::*, sweep_rewards::*};
