// Anchor v2's derive re-reads `#[instruction(...)]` arguments in
// `exit_accounts`, where nothing uses them; scoped to this module only.
#![allow(unused_variables)]

use {
    crate::{
        constants::ACCOUNT_VERSION,
        errors::IogridError,
        events::{emit_event, JobCreated},
        spl::{cpi, token, Mint, TokenAccount},
        state::{Assignment, Config, Job, JobSpec, JobStatus, JobTerms},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

#[derive(Accounts)]
#[instruction(id: u64, spec: JobSpec)]
pub struct CreateJob {
    #[account(mut)]
    pub owner: Signer,
    #[account(address = crate::constants::CONFIG_ADDRESS @ crate::errors::IogridError::WrongConfig)]
    pub config: Account<Config>,
    #[account(
        init,
        payer = owner,
        seeds = [crate::constants::SEED_JOB, owner.address().as_ref(), &id.to_le_bytes()],
        bump,
        space = Slab::<Job, Assignment>::space_for(u32::from(spec.max_listings))
    )]
    pub job: Slab<Job, Assignment>,
    #[account(
        init,
        payer = owner,
        seeds = [crate::constants::SEED_ESCROW, job.address().as_ref()],
        bump,
        token::mint = io_mint,
        token::authority = job
    )]
    pub escrow: Account<TokenAccount>,
    #[account(mut, token::mint = config.io_mint, token::authority = owner)]
    pub owner_tokens: Account<TokenAccount>,
    #[account(address = config.io_mint @ IogridError::NotMint)]
    pub io_mint: Account<Mint>,
    pub token_program: Program<Token>,
    pub system_program: Program<System>,
}

impl CreateJob {
    /// Escrows `max_price × gpus × duration` for a job the keeper (or the
    /// owner) can then assign to listings.
    pub fn create_job(&mut self, id: u64, spec: &JobSpec, bumps: (u8, u8)) -> Result<()> {
        self.config.require_not_paused()?;
        spec.validate()?;
        let deposit = spec.deposit()?;
        let job = &mut *self.job;
        job.owner = *self.owner.address();
        job.workload_hash = spec.workload_hash;
        job.workload_uri = spec.workload_uri;
        job.gpu_model = spec.gpu_model;
        job.region = spec.region;
        job.id = id;
        job.max_price_per_gpu_hour = spec.max_price_per_gpu_hour;
        job.duration_secs = spec.duration_secs;
        job.deposit = deposit;
        job.min_vram_gb = spec.min_vram_gb;
        job.gpus = spec.gpus;
        job.award_bps = 10_000;
        job.terms = JobTerms::from_params(&self.config.params);
        job.created_at = Clock::get()?.unix_timestamp;
        job.set_status(JobStatus::Open);
        (job.bump, job.escrow_bump) = bumps;
        job.escrow = *self.escrow.address();
        job.version = ACCOUNT_VERSION;
        cpi::transfer(
            self.owner_tokens.account(),
            self.escrow.account(),
            self.owner.account(),
            deposit,
            &[],
        )?;
        self.job.invariant()?;
        emit_event(&JobCreated {
            job: *self.job.address(),
            owner: *self.owner.address(),
            id,
            deposit,
            max_price_per_gpu_hour: spec.max_price_per_gpu_hour,
            duration_secs: spec.duration_secs,
            gpus: spec.gpus,
            min_vram_gb: spec.min_vram_gb,
            _padding: [0; 4],
        });
        Ok(())
    }
}
