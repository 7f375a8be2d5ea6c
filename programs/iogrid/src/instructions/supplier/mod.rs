pub mod claim_rewards;
pub mod delist;
pub mod list_gpu;
pub mod update_listing;

pub use {claim_rewards::*, delist::*, list_gpu::*, update_listing::*};
