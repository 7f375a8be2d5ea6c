//! One event per state-changing instruction, emitted once at its end, carrying
//! enough (key accounts, before/after amounts) for an indexer to rebuild state
//! from events alone.
//!
//! Events are fixed-size (`#[event(bytemuck)]`) and logged with
//! [`emit_event`], which assembles them on the stack instead of in a `Vec`
//! (Vec growth cannot link on this target). The log line is the same single
//! `Program data: base64(discriminator ‖ bytes)` entry Anchor's `emit!`
//! writes, so standard Anchor event parsers read it.

use anchor_lang::{prelude::*, Discriminator};

/// Largest event body; checked per event type at compile time.
const MAX_EVENT_BODY: usize = 248;

/// Logs `event` as `Program data: base64(discriminator ‖ bytes)`.
#[inline(always)]
pub fn emit_event<E: Discriminator + bytemuck::Pod>(event: &E) {
    const { assert!(core::mem::size_of::<E>() <= MAX_EVENT_BODY) };
    let body = bytemuck::bytes_of(event);
    let mut buffer = [0u8; 8 + MAX_EVENT_BODY];
    buffer[..8].copy_from_slice(E::DISCRIMINATOR);
    let end = 8usize.saturating_add(body.len());
    buffer[8..end].copy_from_slice(body);
    anchor_lang::sol_log_data(&[&buffer[..end]]);
}

#[event(bytemuck)]
pub struct NetworkInitialized {
    pub authority: Address,
    pub io_mint: Address,
    pub distribution: Address,
    pub genesis_supply: u64,
    pub supply_cap: u64,
    pub emission_start: i64,
}
