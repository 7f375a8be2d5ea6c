use {
    super::super::escrow::{active_assignment, emit_status},
    crate::{
        events::{emit_event, ProofAccepted},
        proof::{check_preceding_ed25519, proof_message, ProofStatement},
        state::{Assignment, GpuListing, Job},
    },
    anchor_lang::{accounts::Slab, prelude::*},
};

/// Relayed by anyone (usually the keeper) with the worker's signature in the
/// Ed25519 instruction right before this one.
#[derive(Accounts)]
pub struct CompleteJob {
    #[account(
        mut,
        seeds = [crate::constants::SEED_JOB, job.owner.as_ref(), &job.id.to_le_bytes()],
        bump = job.bump
    )]
    pub job: Slab<Job, Assignment>,
    #[account(
        mut,
        seeds = [crate::constants::SEED_LISTING, listing.owner.as_ref(), &listing.id.to_le_bytes()],
        bump = listing.bump
    )]
    pub listing: Account<GpuListing>,
    pub instructions: Sysvar<SysvarInstructions>,
}

impl CompleteJob {
    pub fn complete_job(&mut self, result_hash: &[u8; 32], gpu_seconds: u64) -> Result<()> {
        let listing_key = *self.listing.address();
        let index = active_assignment(&self.job, &listing_key)?;
        // The statement of `iogrid_rules::proof`, which workers sign.
        let message = proof_message(&ProofStatement {
            program: crate::ID.as_array(),
            job: self.job.address().as_array(),
            listing: listing_key.as_array(),
            nonce: self.job[index].nonce,
            result_hash,
            gpu_seconds,
        });
        check_preceding_ed25519(&self.instructions, &self.listing.spec.worker, &message)?;

        let now = Clock::get()?.unix_timestamp;
        let until = now.min(self.job.end_time()?);
        // Claims beyond the time actually elapsed are cut to it.
        self.job[index].prove(result_hash, gpu_seconds, until)?;
        let proven = self.job[index];
        self.release_listing(proven.gpus)?;

        let fully_proven =
            self.job.missing_gpus() == 0 && !self.job.iter().any(Assignment::is_active);
        if fully_proven {
            self.job.open_challenge_window(now);
        }
        self.job.invariant()?;
        self.listing.invariant()?;
        emit_event(&ProofAccepted {
            job: *self.job.address(),
            assignment: proven,
            fully_proven: u8::from(fully_proven),
            _padding: [0; 7],
        });
        if fully_proven {
            emit_status(&self.job)?;
        }
        Ok(())
    }

    fn release_listing(&mut self, gpus: u16) -> Result<()> {
        let listing = &mut *self.listing;
        listing.release(gpus)?;
        listing.jobs_completed = listing.jobs_completed.saturating_add(1);
        Ok(())
    }
}
