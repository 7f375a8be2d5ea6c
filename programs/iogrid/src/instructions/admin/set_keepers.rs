use {
    crate::{
        constants::MAX_KEEPERS,
        errors::IogridError,
        events::{emit_event, KeepersSet},
        state::Config,
    },
    anchor_lang::prelude::*,
};

#[derive(Accounts)]
pub struct SetKeepers {
    pub authority: Signer,
    #[account(
        mut,
        address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig,
        constraint = config.authority == *authority.address() @ IogridError::Unauthorized
    )]
    pub config: Account<Config>,
}

impl SetKeepers {
    /// Replaces the registered keepers (the bootstrap authority until it hands
    /// over to governance; governance proposals after).
    pub fn set_keepers(&mut self, keepers: &[Address; MAX_KEEPERS], count: u8) -> Result<()> {
        if usize::from(count) > MAX_KEEPERS {
            return Err(IogridError::TooManyKeepers.into());
        }
        let config = &mut *self.config;
        config.keepers = [Address::default(); MAX_KEEPERS];
        config.keepers[..usize::from(count)].copy_from_slice(&keepers[..usize::from(count)]);
        config.keeper_count = count;
        self.config.invariant()?;
        emit_event(&KeepersSet {
            authority: *self.authority.address(),
            count,
            _padding: [0; 7],
        });
        Ok(())
    }
}
