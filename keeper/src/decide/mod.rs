//! Pure decisions: what the keeper should send next, from the chain state and
//! the chain's clock alone. Every action is safe to recompute and re-send:
//! the program refuses a repeat, and the executor treats that as done.

pub mod agenda;
pub mod matcher;
pub mod plan;
