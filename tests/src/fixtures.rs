//! Shared scenario fixtures: an initialized network and the invariant checks
//! every scenario runs after every step.

use {
    crate::{cu, TestEnv, TxFailure},
    iogrid_sdk::{
        accounts::{
            ascii_field, Assignment, AssignmentStatus, Config, GpuListing, GpuSpec,
            InferenceCredit, JobAccount, JobSpec, NetworkParams, ProgramAccount, Proposal,
            ProposalStatus, StakeAccount, VoteRecord,
        },
        constants::{IO, MAX_CLUSTER, SUPPLY_CAP},
        emission,
        instructions::{
            AssignJobAccounts, CloseJobAccounts, CompleteJobAccounts, CrankEmissionAccounts,
            CreateJobAccounts, ExpireJobAccounts, HeartbeatAccounts, InitializeAccounts,
            ListGpuAccounts, SetKeepersAccounts, StakeAccounts,
        },
        pda, proof, Address, PROGRAM_ID, TOKEN_PROGRAM_ID,
    },
    litesvm::types::TransactionMetadata,
    solana_keypair::Keypair,
    solana_program_pack::Pack,
    solana_signer::Signer,
};

pub const HOUR: u64 = 3_600;
/// Heartbeat step of [`Market::run_for`] (the default interval).
pub const BEAT: i64 = 60;
/// The default challenge window.
pub const WINDOW: i64 = 86_400;

/// A program account with its address.
pub type Keyed<T> = (Address, T);

/// The program's accounts by type.
#[derive(Default)]
pub struct ProgramState {
    pub stakes: Vec<Keyed<StakeAccount>>,
    pub listings: Vec<Keyed<GpuListing>>,
    pub jobs: Vec<Keyed<JobAccount>>,
    pub proposals: Vec<Keyed<Proposal>>,
    pub votes: Vec<Keyed<VoteRecord>>,
    pub credits: Vec<Keyed<InferenceCredit>>,
}

/// A supplier: a wallet, its IO account and its worker node's key.
pub struct Supplier {
    pub owner: Keypair,
    pub tokens: Address,
    pub worker: Keypair,
}

/// An initialized network in a fresh SVM.
pub struct Network {
    pub env: TestEnv,
    /// Token authority of the genesis distribution account.
    pub distribution_owner: Keypair,
    pub arbiter: Keypair,
    pub params: NetworkParams,
}

impl Network {
    /// Initializes with the default launch parameters.
    pub fn new() -> Self {
        Self::with_params(NetworkParams::default())
    }

    pub fn with_params(params: NetworkParams) -> Self {
        Self::on(TestEnv::new(), params)
    }

    /// Initializes `env` with `params`.
    pub fn on(mut env: TestEnv, params: NetworkParams) -> Self {
        let distribution_owner = env.funded_keypair();
        let arbiter = Keypair::new();
        let accounts =
            InitializeAccounts::new(env.upgrade_authority.pubkey(), distribution_owner.pubkey());
        let ix = accounts.instruction(&params, &arbiter.pubkey());
        let authority = env.upgrade_authority.insecure_clone();
        env.send_ok("initialize", ix, &[&authority]);
        let network = Self {
            env,
            distribution_owner,
            arbiter,
            params,
        };
        network.check_invariants();
        network
    }

    /// A new IO token account owned by `owner` (created by a fresh keypair).
    pub fn io_account(&mut self, owner: &Address) -> Address {
        let account = Keypair::new();
        let payer = self.env.funded_keypair();
        let rent = self
            .env
            .svm
            .minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN);
        let create = solana_system_interface::instruction::create_account(
            &payer.pubkey(),
            &account.pubkey(),
            rent,
            TOKEN_ACCOUNT_LEN as u64,
            &TOKEN_PROGRAM_ID,
        );
        let init = spl_token_interface::instruction::initialize_account3(
            &TOKEN_PROGRAM_ID,
            &account.pubkey(),
            &pda::io_mint().0,
            owner,
        )
        .expect("initialize_account3");
        self.env
            .send(&[create, init], &[&payer, &account])
            .unwrap_or_else(|e| panic!("creating an IO account: {e}"));
        account.pubkey()
    }

    /// A token account of a mint that is not IO, owned by `owner`.
    pub fn foreign_token_account(&mut self, owner: &Address) -> Address {
        let payer = self.env.funded_keypair();
        let mint = Keypair::new();
        let account = Keypair::new();
        let mint_rent = self.env.svm.minimum_balance_for_rent_exemption(MINT_LEN);
        let account_rent = self
            .env
            .svm
            .minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN);
        let ixs = [
            solana_system_interface::instruction::create_account(
                &payer.pubkey(),
                &mint.pubkey(),
                mint_rent,
                MINT_LEN as u64,
                &TOKEN_PROGRAM_ID,
            ),
            spl_token_interface::instruction::initialize_mint2(
                &TOKEN_PROGRAM_ID,
                &mint.pubkey(),
                &payer.pubkey(),
                None,
                6,
            )
            .expect("initialize_mint2"),
            solana_system_interface::instruction::create_account(
                &payer.pubkey(),
                &account.pubkey(),
                account_rent,
                TOKEN_ACCOUNT_LEN as u64,
                &TOKEN_PROGRAM_ID,
            ),
            spl_token_interface::instruction::initialize_account3(
                &TOKEN_PROGRAM_ID,
                &account.pubkey(),
                &mint.pubkey(),
                owner,
            )
            .expect("initialize_account3"),
        ];
        self.env
            .send(&ixs, &[&payer, &mint, &account])
            .unwrap_or_else(|e| panic!("creating a foreign token account: {e}"));
        account.pubkey()
    }

    /// Moves `amount` of the genesis allocation to `to`.
    pub fn pay_from_distribution(&mut self, to: &Address, amount: u64) {
        let ix = spl_token_interface::instruction::transfer(
            &TOKEN_PROGRAM_ID,
            &pda::distribution().0,
            to,
            &self.distribution_owner.pubkey(),
            &[],
            amount,
        )
        .expect("transfer");
        let owner = self.distribution_owner.insecure_clone();
        self.env
            .send(&[ix], &[&owner])
            .unwrap_or_else(|e| panic!("paying from distribution: {e}"));
    }

    /// A funded wallet holding `io` base units in a fresh IO account.
    pub fn user_with_io(&mut self, io: u64) -> (Keypair, Address) {
        let user = self.env.funded_keypair();
        let tokens = self.io_account(&user.pubkey());
        if io > 0 {
            self.pay_from_distribution(&tokens, io);
        }
        (user, tokens)
    }

    /// A supplier holding `io` base units, all staked.
    pub fn supplier(&mut self, io: u64) -> Supplier {
        let (owner, tokens) = self.user_with_io(io);
        // The worker pays its own heartbeat fees.
        let worker = self.env.funded_keypair();
        let supplier = Supplier {
            owner,
            tokens,
            worker,
        };
        if io > 0 {
            let ix = StakeAccounts::new(supplier.owner.pubkey(), tokens).instruction(io);
            self.env.send_ok("stake", ix, &[&supplier.owner]);
        }
        supplier
    }

    pub fn stake_account(&self, owner: &Address) -> StakeAccount {
        self.env.program_account(&pda::stake(owner).0)
    }

    pub fn listing(&self, address: &Address) -> GpuListing {
        self.env.program_account(address)
    }

    /// The spec `list` uses: an H100 node in `eu-west`.
    pub fn spec(worker: &Address, gpus: u16, price: u64) -> GpuSpec {
        GpuSpec::new(*worker, "H100-80GB", 80, gpus, "eu-west", price).expect("valid spec")
    }

    /// Lists `gpus` GPUs at `price` per GPU-hour; returns the listing address.
    pub fn list(
        &mut self,
        supplier: &Supplier,
        gpus: u16,
        price: u64,
    ) -> Result<Address, TxFailure> {
        let owner = supplier.owner.pubkey();
        let next = self
            .env
            .account(&pda::stake(&owner).0)
            .map_or(0, |_| self.stake_account(&owner).next_listing_id);
        let id = pda::fast_listing_id(&owner, next);
        let accounts = ListGpuAccounts::new(owner, id);
        let ix = accounts.instruction(&Self::spec(&supplier.worker.pubkey(), gpus, price), id);
        let meta = self.env.send(&[ix], &[&supplier.owner])?;
        cu::record("list_gpu", meta.compute_units_consumed);
        Ok(accounts.listing)
    }

    pub fn heartbeat(&mut self, supplier: &Supplier, listing: &Address) -> Result<(), TxFailure> {
        let ix = HeartbeatAccounts::new(supplier.worker.pubkey(), *listing).instruction();
        let meta = self.env.send(&[ix], &[&supplier.worker])?;
        cu::record("heartbeat", meta.compute_units_consumed);
        Ok(())
    }

    pub fn crank(&mut self) -> Result<(), TxFailure> {
        let payer = self.env.funded_keypair();
        let meta = self
            .env
            .send(&[CrankEmissionAccounts::new().instruction()], &[&payer])?;
        cu::record("crank_emission", meta.compute_units_consumed);
        Ok(())
    }

    /// Registers a new keeper (the bootstrap authority signs).
    pub fn register_keeper(&mut self) -> Keypair {
        let keeper = self.env.funded_keypair();
        let mut keepers: Vec<Address> = self.config().active_keepers().to_vec();
        keepers.push(keeper.pubkey());
        let authority = self.env.upgrade_authority.insecure_clone();
        let ix = SetKeepersAccounts::new(authority.pubkey()).instruction(&keepers);
        self.env.send_ok("set_keepers", ix, &[&authority]);
        keeper
    }

    /// A job spec for `gpus` H100s at up to `max_price` per GPU-hour for `secs`.
    pub fn job_spec(gpus: u16, max_price: u64, secs: u64) -> JobSpec {
        let mut uri = [0u8; 64];
        uri[..24].copy_from_slice(b"https://w.example/job.sh");
        JobSpec {
            workload_hash: [0xAB; 32],
            workload_uri: uri,
            gpu_model: ascii_field("H100-80GB").unwrap(),
            region: [0; 8],
            max_price_per_gpu_hour: max_price,
            duration_secs: secs,
            min_vram_gb: 80,
            gpus,
            max_listings: gpus.min(MAX_CLUSTER as u16) as u8,
            padding: [0; 3],
        }
    }

    /// Creates job `id` for `owner`; returns its address.
    pub fn create_job(
        &mut self,
        owner: &Keypair,
        tokens: &Address,
        id: u64,
        spec: &JobSpec,
    ) -> Result<Address, TxFailure> {
        let accounts = CreateJobAccounts::new(owner.pubkey(), id, *tokens);
        let meta = self.env.send(&[accounts.instruction(id, spec)], &[owner])?;
        cu::record("create_job", meta.compute_units_consumed);
        Ok(accounts.job)
    }

    pub fn job(&self, address: &Address) -> JobAccount {
        let account = self
            .env
            .account(address)
            .unwrap_or_else(|| panic!("no job at {address}"));
        JobAccount::decode(&account.data).unwrap_or_else(|e| panic!("{address}: {e}"))
    }

    /// The worker signs a completion proof and anyone relays it.
    pub fn prove(
        &mut self,
        supplier: &Supplier,
        job: &Address,
        listing: &Address,
        gpu_seconds: u64,
    ) -> Result<TransactionMetadata, TxFailure> {
        let assignments = self.job(job).assignments;
        let named = |a: &&Assignment| a.listing == *listing;
        let nonce = assignments
            .iter()
            .filter(named)
            .find(|a| a.status() == AssignmentStatus::Active)
            .or_else(|| assignments.iter().find(named))
            .map_or(0, |a| a.nonce);
        let result_hash = [0x5E; 32];
        let message = proof::proof_message(job, listing, nonce, &result_hash, gpu_seconds);
        let signature: [u8; 64] = supplier.worker.sign_message(&message).into();
        let ixs = CompleteJobAccounts::new(*job, *listing).with_proof(
            &supplier.worker.pubkey(),
            &signature,
            nonce,
            &result_hash,
            gpu_seconds,
        );
        let relayer = self.env.funded_keypair();
        let meta = self.env.send(&ixs, &[&relayer])?;
        cu::record(
            "complete_job (with Ed25519 verify)",
            meta.compute_units_consumed,
        );
        Ok(meta)
    }

    /// Stores `params` in Config as an executed SetParams proposal would (the
    /// vote itself is tested in governance.rs).
    pub fn set_params(&mut self, params: &NetworkParams) {
        let config = pda::config().0;
        let mut account = self.env.account(&config).unwrap();
        let offset = 8 + std::mem::offset_of!(Config, params);
        let bytes = bytemuck::bytes_of(params);
        account.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        self.env.svm.set_account(config, account).unwrap();
        assert_eq!(self.config().params, *params);
    }

    /// Sets Config's pause flag as an executed Pause/Unpause proposal would
    /// (the vote itself is tested in governance.rs).
    pub fn set_paused(&mut self, paused: bool) {
        let config = pda::config().0;
        let mut account = self.env.account(&config).unwrap();
        account.data[8 + std::mem::offset_of!(Config, paused)] = u8::from(paused);
        self.env.svm.set_account(config, account).unwrap();
        assert_eq!(self.config().is_paused(), paused);
    }

    pub fn config(&self) -> Config {
        self.env.program_account(&pda::config().0)
    }

    /// Every IO token account in existence, with its balance.
    pub fn io_balances(&self) -> Vec<(Address, u64)> {
        let mint = pda::io_mint().0;
        self.env
            .svm
            .get_program_accounts(&TOKEN_PROGRAM_ID)
            .into_iter()
            .filter(|(_, a)| a.data.len() == spl_token_interface::state::Account::LEN)
            .filter_map(|(address, a)| {
                let state = spl_token_interface::state::Account::unpack(&a.data).ok()?;
                (state.mint == mint).then_some((address, state.amount))
            })
            .collect()
    }

    /// Every StakeAccount, GpuListing and Job the program holds.
    pub fn program_state(&self) -> ProgramState {
        let mut state = ProgramState::default();
        for (address, account) in self.env.svm.get_program_accounts(&PROGRAM_ID) {
            if account.lamports == 0 {
                continue;
            }
            if let Ok(stake) = StakeAccount::decode(&account.data) {
                state.stakes.push((address, stake));
            } else if let Ok(listing) = GpuListing::decode(&account.data) {
                state.listings.push((address, listing));
            } else if let Ok(job) = JobAccount::decode(&account.data) {
                state.jobs.push((address, job));
            } else if let Ok(proposal) = Proposal::decode(&account.data) {
                state.proposals.push((address, proposal));
            } else if let Ok(vote) = VoteRecord::decode(&account.data) {
                state.votes.push((address, vote));
            } else if let Ok(credit) = InferenceCredit::decode(&account.data) {
                state.credits.push((address, credit));
            }
        }
        state
    }

    /// The conservation invariants, checked after every step of every test.
    pub fn check_invariants(&self) {
        let config = self.config();
        let env = &self.env;
        // Supply: ≤ cap, exactly genesis + emission (nothing else creates IO),
        // and every unit sits in some token account.
        let supply = env.mint_supply(&config.io_mint);
        assert!(
            supply <= SUPPLY_CAP,
            "supply {supply} exceeds the cap {SUPPLY_CAP}"
        );
        assert_eq!(
            supply,
            config.genesis_supply + config.emitted - config.burned,
            "supply != genesis + emitted − burned"
        );
        let held: u64 = self.io_balances().iter().map(|(_, amount)| amount).sum();
        assert_eq!(
            held, supply,
            "token accounts hold {held}, supply is {supply}"
        );

        // Stake vault == what the program owes stakers.
        let ProgramState {
            stakes,
            listings,
            jobs,
            proposals,
            votes,
            credits,
        } = self.program_state();
        let owed_to_stakers: u64 = stakes.iter().map(|(_, s)| s.staked + s.unbonding).sum();
        assert_eq!(
            env.token_balance(&config.stake_vault),
            owed_to_stakers,
            "stake vault != Σ stake"
        );
        let active: u64 = stakes.iter().map(|(_, s)| s.staked).sum();
        assert_eq!(
            config.total_staked, active,
            "total_staked != Σ active stake"
        );
        for (address, stake) in &stakes {
            assert!(
                stake.locked_for_listings <= stake.staked,
                "{address}: locked > staked"
            );
            let listed: Vec<_> = listings
                .iter()
                .filter(|(_, l)| l.owner == stake.owner)
                .collect();
            let locked: u64 = listed.iter().map(|(_, l)| l.stake_locked).sum();
            assert_eq!(
                stake.locked_for_listings, locked,
                "{address}: locked != Σ its listings"
            );
            assert_eq!(
                stake.listings as usize,
                listed.len(),
                "{address}: listing count"
            );
        }

        // Rewards vault == minted emission − rewards paid, and it (plus what
        // the schedule already released) covers every reward owed.
        let pool = &config.rewards;
        let rewards_vault = env.token_balance(&config.rewards_vault);
        assert_eq!(
            rewards_vault,
            config.emitted - pool.claimed,
            "rewards vault != emitted − claimed"
        );
        let online: u64 = listings
            .iter()
            .filter(|(_, l)| l.is_online())
            .map(|(_, l)| u64::from(l.spec.gpu_count))
            .sum();
        assert_eq!(pool.gpus_online, online, "pool weight != Σ online GPUs");
        let owed: u64 = listings
            .iter()
            .map(|(_, l)| l.rewards_accrued + l.pending_rewards(pool.acc_reward_per_gpu))
            .sum();
        let released = emission::emitted_by(env.now() - config.emission_start);
        assert!(
            owed + pool.unallocated + pool.claimed <= released,
            "rewards owed {owed} + unallocated {} + claimed {} exceed released emission {released}",
            pool.unallocated,
            pool.claimed,
        );
        assert!(pool.accounted <= released, "accounted beyond the schedule");
        assert!(config.emitted <= released, "minted beyond the schedule");
        for (address, listing) in &listings {
            assert!(
                listing.gpus_free <= listing.spec.gpu_count,
                "{address}: free GPUs > GPUs"
            );
            // Free GPUs + GPUs running jobs == the listing's GPUs.
            let running: u16 = jobs
                .iter()
                .flat_map(|(_, j)| j.active())
                .filter(|a| a.listing == *address)
                .map(|a| a.gpus)
                .sum();
            assert_eq!(
                listing.gpus_free + running,
                listing.spec.gpu_count,
                "{address}: GPUs booked twice or lost"
            );
        }

        // Every escrow holds exactly what its job still owes: deposit plus
        // compensation minus what was already paid out.
        for (address, job) in &jobs {
            let escrow = env.token_balance(&pda::escrow(address).0);
            let owed = job.job.deposit + job.job.compensation - job.job.paid_out;
            assert_eq!(
                escrow, owed,
                "{address}: escrow != deposit + compensation − paid out"
            );
        }
        // Every credit escrow holds exactly its credit's balance (so Σ credit
        // escrows == Σ credit balances); what settlements burned is in
        // `config.burned`, which the supply check above subtracts.
        for (address, credit) in &credits {
            assert_eq!(
                credit.escrow,
                pda::credit_escrow(address).0,
                "{address}: credit escrow address"
            );
            assert_eq!(
                *address,
                pda::credit(&credit.owner).0,
                "{address}: credit PDA"
            );
            let escrow = env.token_account_state(&credit.escrow);
            assert_eq!(
                escrow.amount, credit.balance,
                "{address}: credit escrow != balance"
            );
            assert_eq!(escrow.owner, *address, "{address}: escrow authority");
            assert_eq!(
                credit.withdrawal_pending == 0,
                credit.withdrawal_available_at == 0,
                "{address}: withdrawal request half set"
            );
        }
        // The treasury holds what the program recorded for it.
        assert_eq!(
            env.token_balance(&config.treasury),
            config.treasury_balance,
            "treasury != recorded"
        );
        check_governance(&config, env.now(), &stakes, &proposals, &votes);
    }
}

/// Governance: proposals are numbered without gaps; each tally is exactly
/// the sum of its vote records; and while voting is open every vote's stake
/// is locked until the end (it cannot leave and vote again elsewhere).
fn check_governance(
    config: &Config,
    now: i64,
    stakes: &[Keyed<StakeAccount>],
    proposals: &[Keyed<Proposal>],
    votes: &[Keyed<VoteRecord>],
) {
    assert_eq!(
        proposals.len() as u64,
        config.proposal_count,
        "proposal accounts != proposal_count"
    );
    for (address, proposal) in proposals {
        assert_eq!(*address, pda::proposal(proposal.id).0, "proposal PDA");
        let mut tally = [0u64; 3];
        for (_, vote) in votes.iter().filter(|(_, v)| v.proposal == *address) {
            tally[usize::from(vote.choice)] += vote.weight;
            let open = proposal.status() == ProposalStatus::Voting && now < proposal.voting_ends_at;
            if open {
                let (_, stake) = stakes
                    .iter()
                    .find(|(_, s)| s.owner == vote.voter)
                    .expect("a voter has a stake account");
                assert!(
                    stake.vote_locked >= vote.weight.min(stake.staked)
                        && stake.vote_lock_until >= proposal.voting_ends_at,
                    "{}: voted stake is not locked until the vote ends",
                    vote.voter
                );
            }
        }
        assert_eq!(
            tally,
            [proposal.yes, proposal.no, proposal.abstain],
            "{address}: tally != Σ vote records"
        );
    }
}

const TOKEN_ACCOUNT_LEN: usize = spl_token_interface::state::Account::LEN;
const MINT_LEN: usize = spl_token_interface::state::Mint::LEN;

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

/// A network with a keeper and a user holding 100,000 IO.
pub struct Market {
    pub net: Network,
    pub keeper: Keypair,
    pub user: Keypair,
    pub user_tokens: Address,
}

impl Default for Market {
    fn default() -> Self {
        Self::new()
    }
}

impl Market {
    pub fn new() -> Self {
        Self::with_params(NetworkParams::default())
    }

    pub fn with_params(params: NetworkParams) -> Self {
        Self::on(Network::with_params(params))
    }

    /// A market where the Token program is SPL Token 3.5.0, not p-token:
    /// settlement makes one CPI per movement instead of one `Batch`.
    pub fn on_classic_token() -> Self {
        Self::on(Network::on(
            TestEnv::with_classic_token(),
            NetworkParams::default(),
        ))
    }

    fn on(mut net: Network) -> Self {
        let keeper = net.register_keeper();
        let (user, user_tokens) = net.user_with_io(100_000 * IO);
        Self {
            net,
            keeper,
            user,
            user_tokens,
        }
    }

    pub fn supplier_with_listing(&mut self, gpus: u16, price: u64) -> (Supplier, Address) {
        let supplier = self.net.supplier(u64::from(gpus) * 100 * IO);
        let listing = self.net.list(&supplier, gpus, price).unwrap();
        (supplier, listing)
    }

    pub fn assign(&mut self, job: &Address, listings: &[(Address, u16)]) -> TransactionMetadata {
        let ix = AssignJobAccounts::new(self.keeper.pubkey(), *job).assign_job(listings);
        let name = format!(
            "assign_job ({} listing{})",
            listings.len(),
            if listings.len() == 1 { "" } else { "s" }
        );
        let keeper = self.keeper.insecure_clone();
        let meta = self.net.env.send_ok(&name, ix, &[&keeper]);
        self.net.check_invariants();
        meta
    }

    /// Advances `secs` in heartbeat steps, every listed worker beating.
    pub fn run_for(&mut self, secs: i64, workers: &[(&Supplier, Address)]) {
        let mut left = secs;
        while left > 0 {
            let step = left.min(BEAT);
            self.net.env.advance_clock(step);
            for (supplier, listing) in workers {
                self.net.heartbeat(supplier, listing).unwrap();
            }
            left -= step;
        }
        self.net.check_invariants();
    }

    /// Refills `job`'s missing GPUs from `listings` (`reassign`).
    pub fn reassign(&mut self, job: &Address, listings: &[(Address, u16)]) -> TransactionMetadata {
        let ix = AssignJobAccounts::new(self.keeper.pubkey(), *job).reassign(listings);
        let keeper = self.keeper.insecure_clone();
        let meta = self.net.env.send_ok("reassign", ix, &[&keeper]);
        self.net.check_invariants();
        meta
    }

    /// Settles `job`; `payees` name each payable assignment's listing (for
    /// the reader) and the supplier's IO account the program pays.
    pub fn settle(&mut self, job: &Address, payees: &[(Address, Address)]) -> TransactionMetadata {
        let owner_tokens = self.user_tokens;
        let accounts: Vec<Address> = payees.iter().map(|(_, payee)| *payee).collect();
        let ix =
            CloseJobAccounts::new(*job, self.user.pubkey(), owner_tokens).settle_job(&accounts);
        let name = format!(
            "settle_job ({} supplier{})",
            payees.len(),
            if payees.len() == 1 { "" } else { "s" }
        );
        let payer = self.net.env.funded_keypair();
        let meta = self.net.env.send_ok(&name, ix, &[&payer]);
        self.net.check_invariants();
        meta
    }

    /// Expires `job` (past its end + grace), naming every running
    /// assignment's listing as the program requires.
    pub fn expire(&mut self, job: &Address) -> TransactionMetadata {
        let listings: Vec<Address> = self.net.job(job).active().map(|a| a.listing).collect();
        let ix = ExpireJobAccounts::new(*job).instruction(&listings);
        let payer = self.net.env.funded_keypair();
        let meta = self.net.env.send_ok("expire_job", ix, &[&payer]);
        self.net.check_invariants();
        meta
    }
}
