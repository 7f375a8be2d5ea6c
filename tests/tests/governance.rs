//! Staker governance against the SBF program: every action kind passing and
//! failing, the handover, and the attacks on votes, bounds and the treasury.
//! The conservation and governance invariants are checked after every step.

use {
    iogrid_sdk::{
        accounts::{
            ActionKind, NetworkParams, Proposal, ProposalAction, ProposalStatus, VoteChoice,
        },
        constants::{IO, MAX_FREE_TOKENS_PER_IO_DAY},
        errors::{IogridError, ProgramFailure},
        events::{
            find_events, AuthorityTransferred, ProposalCreated, ProposalStatusChanged, VoteChanged,
        },
        inference::daily_free_tokens,
        instructions::*,
        pda, Address, BPF_LOADER_UPGRADEABLE_ID, CLOCK_SYSVAR_ID, PROGRAM_ID, RENT_SYSVAR_ID,
    },
    iogrid_tests::{
        fixtures::{Market, Network, Supplier, HOUR, WINDOW},
        TxFailure,
    },
    litesvm::types::TransactionMetadata,
    solana_instruction::{error::InstructionError, AccountMeta, Instruction},
    solana_keypair::Keypair,
    solana_signer::Signer,
};

const DAY: i64 = 86_400;
/// Default voting period and timelock (`NetworkParams::default`).
const VOTING: i64 = 3 * DAY;
const TIMELOCK: i64 = DAY;
const WHALE: u64 = 100_000 * IO;

/// A market whose stakers govern it: a whale holding most of the stake and
/// two small stakers.
struct Dao {
    m: Market,
    whale: Supplier,
    minnow: Supplier,
    shrimp: Supplier,
}

impl Dao {
    fn new() -> Self {
        let mut m = Market::new();
        let whale = m.net.supplier(WHALE);
        let minnow = m.net.supplier(20_000 * IO);
        let shrimp = m.net.supplier(5_000 * IO);
        m.net.check_invariants();
        Self {
            m,
            whale,
            minnow,
            shrimp,
        }
    }

    fn env(&mut self) -> &mut iogrid_tests::TestEnv {
        &mut self.m.net.env
    }

    fn send(
        &mut self,
        name: &str,
        ixs: &[solana_instruction::Instruction],
        signer: &Keypair,
    ) -> Result<TransactionMetadata, TxFailure> {
        let result = self.env().send(ixs, &[signer]);
        match &result {
            // Only single-instruction transactions measure one instruction.
            Ok(meta) if ixs.len() == 1 => {
                iogrid_tests::cu::record(name, meta.compute_units_consumed)
            }
            _ => {}
        }
        self.m.net.check_invariants();
        result
    }

    fn propose(
        &mut self,
        proposer: &Keypair,
        action: ProposalAction,
    ) -> Result<Address, TxFailure> {
        let id = self.m.net.config().proposal_count;
        let accounts = CreateProposalAccounts::new(proposer.pubkey(), id);
        let args = ProposalArgs {
            action,
            title: iogrid_sdk::accounts::ascii_field("Raise the fee").unwrap(),
            description_hash: [7; 32],
        };
        let meta = self.send("create_proposal", &[accounts.instruction(&args)], proposer)?;
        let created = find_events::<ProposalCreated>(&meta.logs);
        assert_eq!(created.len(), 1);
        assert_eq!(
            (created[0].proposal, created[0].id),
            (accounts.proposal, id)
        );
        Ok(accounts.proposal)
    }

    fn vote(
        &mut self,
        voter: &Keypair,
        proposal: &Address,
        choice: VoteChoice,
    ) -> Result<TransactionMetadata, TxFailure> {
        let ix = CastVoteAccounts::new(voter.pubkey(), *proposal).instruction(choice);
        self.send("cast_vote", &[ix], voter)
    }

    fn withdraw_vote(
        &mut self,
        voter: &Keypair,
        proposal: &Address,
    ) -> Result<TransactionMetadata, TxFailure> {
        let ix = WithdrawVoteAccounts::new(voter.pubkey(), *proposal).instruction();
        self.send("withdraw_vote", &[ix], voter)
    }

    fn finalize(&mut self, proposal: &Address) -> Result<ProposalStatus, TxFailure> {
        let payer = self.env().funded_keypair();
        let ix = FinalizeProposalAccounts::new(*proposal).instruction();
        self.send("finalize_proposal", &[ix], &payer)?;
        Ok(self.proposal(proposal).status())
    }

    fn execute(&mut self, proposal: &Address) -> Result<TransactionMetadata, TxFailure> {
        let action = self.proposal(proposal).action;
        let accounts = ExecuteProposalAccounts::new(*proposal, &action);
        self.execute_with(&accounts, action.kind())
    }

    fn execute_with(
        &mut self,
        accounts: &ExecuteProposalAccounts,
        kind: ActionKind,
    ) -> Result<TransactionMetadata, TxFailure> {
        let payer = self.env().funded_keypair();
        let name = match kind {
            ActionKind::TreasuryTransfer => "execute_proposal (treasury transfer)",
            ActionKind::SetParams => "execute_proposal (set params)",
            _ => "execute_proposal",
        };
        self.send(name, &[accounts.instruction()], &payer)
    }

    fn proposal(&self, address: &Address) -> Proposal {
        self.m.net.env.program_account(address)
    }

    /// Proposes `action` and carries it through a whale-backed vote, the
    /// voting period and the timelock to execution.
    fn pass(&mut self, action: ProposalAction) -> Address {
        let whale = self.whale.owner.insecure_clone();
        let proposal = self.propose(&whale, action).unwrap();
        self.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
        self.env().advance_clock(VOTING);
        assert_eq!(self.finalize(&proposal).unwrap(), ProposalStatus::Passed);
        self.env().advance_clock(TIMELOCK);
        self.execute(&proposal).unwrap();
        assert_eq!(self.proposal(&proposal).status(), ProposalStatus::Executed);
        proposal
    }

    /// Runs a one-GPU job to settlement so the treasury earns its fee.
    fn fund_treasury_with_a_job(&mut self, id: u64) -> u64 {
        let (supplier, listing) = self.m.supplier_with_listing(1, 40 * IO);
        let user = self.m.user.insecure_clone();
        let tokens = self.m.user_tokens;
        let spec = Network::job_spec(1, 40 * IO, HOUR);
        let job = self.m.net.create_job(&user, &tokens, id, &spec).unwrap();
        self.m.assign(&job, &[(listing, 1)]);
        self.m.run_for(HOUR as i64, &[(&supplier, listing)]);
        self.m.net.prove(&supplier, &job, &listing, HOUR).unwrap();
        self.env().advance_clock(WINDOW);
        self.m.settle(&job, &[(listing, supplier.tokens)]);
        self.m.net.config().treasury_balance
    }
}

fn iogrid(e: IogridError) -> Option<IogridError> {
    Some(e)
}

fn error_of(result: Result<impl Sized, TxFailure>) -> ProgramFailure {
    match result {
        Ok(_) => panic!("expected a failure, but it succeeded"),
        Err(failure) => failure.failure,
    }
}

#[test]
fn test_set_params_passes_after_voting_and_timelock_exactly_once() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let new_params = NetworkParams {
        fee_bps: 300,
        ..NetworkParams::default()
    };
    let proposal = dao
        .propose(&whale, ProposalAction::set_params(new_params))
        .unwrap();
    let state = dao.proposal(&proposal);
    assert_eq!(state.status(), ProposalStatus::Voting);
    assert_eq!(state.turnout_base, dao.m.net.config().total_staked);
    assert_eq!(state.voting_ends_at, dao.m.net.env.now() + VOTING);

    let meta = dao.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
    let voted = find_events::<VoteChanged>(&meta.logs);
    assert_eq!(
        (voted[0].weight_change, voted[0].yes),
        (WHALE as i64, WHALE)
    );
    let minnow = dao.minnow.owner.insecure_clone();
    dao.vote(&minnow, &proposal, VoteChoice::No).unwrap();

    assert_eq!(
        error_of(dao.finalize(&proposal)).iogrid(),
        iogrid(IogridError::VotingOpen)
    );
    dao.env().advance_clock(VOTING);
    assert_eq!(
        error_of(dao.vote(
            &dao.shrimp.owner.insecure_clone(),
            &proposal,
            VoteChoice::No
        ))
        .iogrid(),
        iogrid(IogridError::VotingClosed)
    );
    assert_eq!(
        error_of(dao.execute(&proposal)).iogrid(),
        iogrid(IogridError::WrongProposalStatus),
        "a proposal still in voting cannot execute"
    );
    assert_eq!(dao.finalize(&proposal).unwrap(), ProposalStatus::Passed);
    assert_eq!(
        dao.proposal(&proposal).executable_at,
        dao.m.net.env.now() + TIMELOCK
    );
    assert_eq!(
        error_of(dao.finalize(&proposal)).iogrid(),
        iogrid(IogridError::WrongProposalStatus),
        "finalized twice"
    );

    dao.env().advance_clock(TIMELOCK - 1);
    assert_eq!(
        error_of(dao.execute(&proposal)).iogrid(),
        iogrid(IogridError::TimelockNotOver)
    );
    assert_eq!(dao.m.net.config().params.fee_bps, 250);
    dao.env().advance_clock(1);
    let meta = dao.execute(&proposal).unwrap();
    assert_eq!(dao.m.net.config().params, new_params);
    let status = find_events::<ProposalStatusChanged>(&meta.logs);
    assert_eq!(status[0].status, 3, "Executed");

    assert_eq!(
        error_of(dao.execute(&proposal)).iogrid(),
        iogrid(IogridError::WrongProposalStatus),
        "executed twice"
    );
}

#[test]
fn test_rejected_without_quorum_or_below_threshold() {
    let mut dao = Dao::new();
    let shrimp = dao.shrimp.owner.insecure_clone();
    let minnow = dao.minnow.owner.insecure_clone();
    let whale = dao.whale.owner.insecure_clone();
    // Total stake 125,000 IO: 10% quorum is 12,500 IO; the shrimp's 5,000 is short.
    let no_quorum = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&shrimp, &no_quorum, VoteChoice::Yes).unwrap();
    // 20,000 yes against 100,000 no: far below the 60% threshold.
    let outvoted = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&minnow, &outvoted, VoteChoice::Yes).unwrap();
    dao.vote(&whale, &outvoted, VoteChoice::No).unwrap();
    // Abstentions count towards quorum, never towards the threshold.
    let abstained = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&whale, &abstained, VoteChoice::Abstain).unwrap();
    dao.vote(&shrimp, &abstained, VoteChoice::Yes).unwrap();

    dao.env().advance_clock(VOTING);
    assert_eq!(dao.finalize(&no_quorum).unwrap(), ProposalStatus::Rejected);
    assert_eq!(dao.finalize(&outvoted).unwrap(), ProposalStatus::Rejected);
    assert_eq!(dao.finalize(&abstained).unwrap(), ProposalStatus::Passed);
    dao.env().advance_clock(TIMELOCK);
    for rejected in [no_quorum, outvoted] {
        assert_eq!(
            error_of(dao.execute(&rejected)).iogrid(),
            iogrid(IogridError::WrongProposalStatus)
        );
    }
    assert_eq!(dao.m.net.config().paused, 0);
    dao.execute(&abstained).unwrap();
    assert_eq!(dao.m.net.config().paused, 1);
}

#[test]
fn test_keeper_and_arbiter_actions() {
    let mut dao = Dao::new();
    let keeper = dao.m.keeper.pubkey();
    let new_keeper = dao.env().funded_keypair();
    dao.pass(ProposalAction::add_keeper(new_keeper.pubkey()));
    assert_eq!(
        dao.m.net.config().active_keepers(),
        [keeper, new_keeper.pubkey()]
    );
    // The new keeper can assign.
    let (_, listing) = dao.m.supplier_with_listing(1, IO);
    let user = dao.m.user.insecure_clone();
    let tokens = dao.m.user_tokens;
    let job = dao
        .m
        .net
        .create_job(&user, &tokens, 1, &Network::job_spec(1, IO, HOUR))
        .unwrap();
    let assign = AssignJobAccounts::new(new_keeper.pubkey(), job).assign_job(&[(listing, 1)]);
    dao.send("assign_job (1 listing)", &[assign], &new_keeper)
        .unwrap();

    dao.pass(ProposalAction::remove_keeper(keeper));
    assert_eq!(dao.m.net.config().active_keepers(), [new_keeper.pubkey()]);

    let arbiter = Address::new_unique();
    dao.pass(ProposalAction::set_arbiter(arbiter));
    assert_eq!(dao.m.net.config().arbiter, arbiter);

    // A keeper already registered, or one that is not, is refused up front.
    let whale = dao.whale.owner.insecure_clone();
    for action in [
        ProposalAction::add_keeper(new_keeper.pubkey()),
        ProposalAction::remove_keeper(keeper),
        ProposalAction::add_keeper(Address::default()),
        ProposalAction::set_arbiter(Address::default()),
    ] {
        assert_eq!(
            error_of(dao.propose(&whale, action)).iogrid(),
            iogrid(IogridError::InvalidProposal),
            "{action:?}"
        );
    }
}

#[test]
fn test_pause_stops_new_business_but_never_exits() {
    let mut dao = Dao::new();
    dao.pass(ProposalAction::pause());
    assert!(dao.m.net.config().is_paused());

    let (user, tokens) = dao.m.net.user_with_io(1_000 * IO);
    let stake = StakeAccounts::new(user.pubkey(), tokens).instruction(IO);
    assert_eq!(
        error_of(dao.send("stake", &[stake], &user)).iogrid(),
        iogrid(IogridError::Paused)
    );
    let shrimp = Supplier {
        owner: dao.shrimp.owner.insecure_clone(),
        tokens: dao.shrimp.tokens,
        worker: dao.shrimp.worker.insecure_clone(),
    };
    assert_eq!(
        dao.m.net.list(&shrimp, 1, IO).unwrap_err().failure.iogrid(),
        iogrid(IogridError::Paused)
    );
    let owner = dao.m.user.insecure_clone();
    let owner_tokens = dao.m.user_tokens;
    let spec = Network::job_spec(1, IO, HOUR);
    assert_eq!(
        dao.m
            .net
            .create_job(&owner, &owner_tokens, 9, &spec)
            .unwrap_err()
            .failure
            .iogrid(),
        iogrid(IogridError::Paused)
    );
    // Stakers can still leave.
    let unstake = UnstakeAccounts::new(shrimp.owner.pubkey()).request_unstake(IO);
    dao.send("request_unstake", &[unstake], &shrimp.owner)
        .unwrap();

    // Governance still works while paused: that is how the network resumes.
    dao.pass(ProposalAction::unpause());
    assert!(!dao.m.net.config().is_paused());
    dao.m.net.list(&shrimp, 1, IO).unwrap();
}

#[test]
fn test_treasury_transfer_pays_at_most_the_treasury() {
    let mut dao = Dao::new();
    let funded = dao.fund_treasury_with_a_job(1);
    assert!(funded > 0);
    let (_, recipient) = dao.m.net.user_with_io(0);

    // Draining more than the treasury holds passes the vote but cannot execute.
    let drain = dao.propose(
        &dao.whale.owner.insecure_clone(),
        ProposalAction::treasury_transfer(funded + 1, recipient),
    );
    let drain = drain.unwrap();
    dao.vote(&dao.whale.owner.insecure_clone(), &drain, VoteChoice::Yes)
        .unwrap();
    dao.env().advance_clock(VOTING);
    dao.finalize(&drain).unwrap();
    dao.env().advance_clock(TIMELOCK);
    assert_eq!(
        error_of(dao.execute(&drain)).iogrid(),
        iogrid(IogridError::TreasuryInsufficient)
    );

    // Paying the named recipient only: another account is refused.
    let spend = {
        let whale = dao.whale.owner.insecure_clone();
        let p = dao
            .propose(&whale, ProposalAction::treasury_transfer(funded, recipient))
            .unwrap();
        dao.vote(&whale, &p, VoteChoice::Yes).unwrap();
        dao.env().advance_clock(VOTING);
        dao.finalize(&p).unwrap();
        dao.env().advance_clock(TIMELOCK);
        p
    };
    let action = dao.proposal(&spend).action;
    let mut wrong = ExecuteProposalAccounts::new(spend, &action);
    wrong.recipient = dao.m.user_tokens;
    assert_eq!(
        error_of(dao.execute_with(&wrong, action.kind())).iogrid(),
        iogrid(IogridError::WrongPayee)
    );
    dao.execute(&spend).unwrap();
    assert_eq!(dao.m.net.env.token_balance(&recipient), funded);
    assert_eq!(dao.m.net.config().treasury_balance, 0);
    assert_eq!(dao.m.net.env.token_balance(&pda::treasury().0), 0);

    // A zero transfer is refused at creation.
    assert_eq!(
        error_of(dao.propose(
            &dao.whale.owner.insecure_clone(),
            ProposalAction::treasury_transfer(0, recipient)
        ))
        .iogrid(),
        iogrid(IogridError::InvalidProposal)
    );
}

#[test]
fn test_proposals_outside_hard_bounds_are_refused() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let base = NetworkParams::default();
    let out_of_bounds = [
        NetworkParams {
            fee_bps: 1_001,
            ..base
        },
        NetworkParams {
            burn_bps: 5_001,
            ..base
        },
        NetworkParams {
            slash_bps: 10_001,
            ..base
        },
        NetworkParams {
            slash_cap_bps: 5_001,
            ..base
        },
        NetworkParams {
            quorum_bps: 0,
            ..base
        },
        NetworkParams {
            threshold_bps: 10_001,
            ..base
        },
        NetworkParams {
            min_stake_per_gpu: 0,
            ..base
        },
        NetworkParams {
            heartbeat_timeout_secs: base.heartbeat_interval_secs,
            ..base
        },
        NetworkParams {
            voting_secs: 31 * 86_400,
            ..base
        },
        NetworkParams {
            timelock_secs: 31 * 86_400,
            ..base
        },
        NetworkParams {
            unbonding_secs: 91 * 86_400,
            ..base
        },
        NetworkParams {
            challenge_window_secs: 8 * 86_400,
            ..base
        },
        NetworkParams {
            free_tokens_per_io_day: MAX_FREE_TOKENS_PER_IO_DAY + 1,
            ..base
        },
    ];
    for params in out_of_bounds {
        assert_eq!(
            error_of(dao.propose(&whale, ProposalAction::set_params(params))).iogrid(),
            iogrid(IogridError::ParamOutOfBounds),
            "{params:?}"
        );
    }
    let mut unknown = ProposalAction::pause();
    unknown.kind = 7;
    assert_eq!(
        error_of(dao.propose(&whale, unknown)).iogrid(),
        iogrid(IogridError::InvalidProposal)
    );
    assert_eq!(dao.m.net.config().proposal_count, 0, "nothing was created");
}

/// The free inference rate is governed like the other parameters: one token
/// above its hard bound is refused, the bound itself passes, executes and is
/// what Config (and so every wallet's quota) then shows; zero turns it off.
#[test]
fn test_set_free_tokens_per_io_day_within_its_hard_bound() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let base = dao.m.net.config().params;
    assert_eq!(base.free_tokens_per_io_day, 1_000);
    assert_eq!(
        daily_free_tokens(WHALE, base.free_tokens_per_io_day),
        100_000_000,
        "100,000 IO at 1,000 tokens per IO"
    );

    let above = NetworkParams {
        free_tokens_per_io_day: MAX_FREE_TOKENS_PER_IO_DAY + 1,
        ..base
    };
    assert_eq!(
        error_of(dao.propose(&whale, ProposalAction::set_params(above))),
        ProgramFailure::Iogrid(IogridError::ParamOutOfBounds)
    );
    assert_eq!(dao.m.net.config().proposal_count, 0, "nothing was created");

    let at_bound = NetworkParams {
        free_tokens_per_io_day: MAX_FREE_TOKENS_PER_IO_DAY,
        ..base
    };
    dao.pass(ProposalAction::set_params(at_bound));
    let config = dao.m.net.config();
    assert_eq!(config.params, at_bound);
    assert_eq!(
        daily_free_tokens(WHALE, config.params.free_tokens_per_io_day),
        100_000 * MAX_FREE_TOKENS_PER_IO_DAY
    );

    let off = NetworkParams {
        free_tokens_per_io_day: 0,
        ..at_bound
    };
    dao.pass(ProposalAction::set_params(off));
    assert_eq!(dao.m.net.config().params, off);
}

#[test]
fn test_proposal_needs_min_stake() {
    let mut dao = Dao::new();
    let small = dao.m.net.supplier(9_999 * IO);
    assert_eq!(
        error_of(dao.propose(&small.owner, ProposalAction::pause())).iogrid(),
        iogrid(IogridError::ProposalStakeTooLow)
    );
    let nobody = dao.env().funded_keypair();
    assert_eq!(
        error_of(dao.propose(&nobody, ProposalAction::pause())),
        ProgramFailure::Instruction(InstructionError::UninitializedAccount),
        "a wallet without a stake account"
    );
}

#[test]
fn test_double_vote_error() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
    // The vote record exists: the system program refuses to create it again.
    assert_eq!(
        error_of(dao.vote(&whale, &proposal, VoteChoice::Yes)),
        ProgramFailure::Instruction(InstructionError::Custom(0))
    );
    assert_eq!(dao.proposal(&proposal).yes, WHALE, "counted once");
}

#[test]
fn test_withdraw_vote_removes_weight_but_keeps_the_lock() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let minnow = dao.minnow.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&minnow, &proposal, VoteChoice::No).unwrap();
    dao.withdraw_vote(&minnow, &proposal).unwrap();
    assert_eq!(dao.proposal(&proposal).no, 0);
    // The stake counted once already: it stays locked until the vote ends.
    let unstake = UnstakeAccounts::new(minnow.pubkey()).request_unstake(IO);
    assert_eq!(
        error_of(dao.send("request_unstake", std::slice::from_ref(&unstake), &minnow)).iogrid(),
        iogrid(IogridError::StakeLocked)
    );
    // Changing one's mind is a new vote.
    dao.vote(&minnow, &proposal, VoteChoice::Yes).unwrap();
    assert_eq!(dao.proposal(&proposal).yes, 20_000 * IO);
    dao.env().advance_clock(VOTING);
    assert_eq!(
        error_of(dao.withdraw_vote(&minnow, &proposal)).iogrid(),
        iogrid(IogridError::VotingClosed)
    );
    // Voting is over: the lock lapses.
    dao.send("request_unstake", &[unstake], &minnow).unwrap();
}

#[test]
fn test_voted_stake_cannot_move_to_another_wallet() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
    // To vote the same IO from a second wallet it must first leave this stake.
    let all = UnstakeAccounts::new(whale.pubkey()).request_unstake(WHALE);
    assert_eq!(
        error_of(dao.send("request_unstake", &[all], &whale)).iogrid(),
        iogrid(IogridError::StakeLocked)
    );
    let stake = dao.m.net.stake_account(&whale.pubkey());
    assert_eq!(
        (stake.staked, stake.vote_locked, stake.vote_lock_until),
        (WHALE, WHALE, dao.proposal(&proposal).voting_ends_at)
    );
    // Stake added after voting is free to go; the voted part is not.
    let top_up = StakeAccounts::new(whale.pubkey(), dao.whale.tokens);
    dao.m.net.pay_from_distribution(&dao.whale.tokens, 10 * IO);
    dao.send("stake", &[top_up.instruction(10 * IO)], &whale)
        .unwrap();
    let unstake = UnstakeAccounts::new(whale.pubkey());
    dao.send(
        "request_unstake",
        &[unstake.request_unstake(10 * IO)],
        &whale,
    )
    .unwrap();
    assert_eq!(
        error_of(dao.send("request_unstake", &[unstake.request_unstake(1)], &whale)).iogrid(),
        iogrid(IogridError::StakeLocked)
    );
}

#[test]
fn test_flash_stake_cannot_vote_and_leave() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    // Borrowed IO: stake, vote and unstake in one transaction (one slot).
    let (flash, tokens) = dao.m.net.user_with_io(1_000_000 * IO);
    let ixs = [
        StakeAccounts::new(flash.pubkey(), tokens).instruction(1_000_000 * IO),
        CastVoteAccounts::new(flash.pubkey(), proposal).instruction(VoteChoice::No),
        UnstakeAccounts::new(flash.pubkey()).request_unstake(1_000_000 * IO),
    ];
    let failure = error_of(dao.send("flash", &ixs, &flash));
    assert_eq!(failure.iogrid(), iogrid(IogridError::StakeLocked));
    // The transaction is atomic: no vote, no stake, the IO is back in the wallet.
    assert_eq!(dao.proposal(&proposal).no, 0);
    assert!(dao
        .m
        .net
        .env
        .account(&pda::stake(&flash.pubkey()).0)
        .is_none());
    assert_eq!(dao.m.net.env.token_balance(&tokens), 1_000_000 * IO);
    // Staking to vote is allowed, but the stake then sits out the vote and
    // the unbonding period: it cannot be returned within the slot.
    dao.send("stake+vote", &ixs[..2], &flash).unwrap();
    assert_eq!(dao.proposal(&proposal).no, 1_000_000 * IO);
}

#[test]
fn test_cast_vote_with_substituted_accounts_error() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let minnow = dao.minnow.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    let second = dao.propose(&whale, ProposalAction::unpause()).unwrap();
    type Substitute = fn(&mut CastVoteAccounts, &Address, &Address);
    let substitutions: [(&Keypair, Substitute); 3] = [
        // The minnow votes with the whale's stake account.
        (
            &minnow,
            |a: &mut CastVoteAccounts, whale: &Address, _: &Address| {
                a.stake_account = pda::stake(whale).0
            },
        ),
        // The minnow's vote recorded at the whale's record address.
        (&minnow, |a, whale, _| {
            a.vote_record = pda::vote(&a.proposal, whale).0
        }),
        // A vote on the first proposal recorded as one on the second.
        (&whale, |a, whale, second| {
            a.vote_record = pda::vote(second, whale).0
        }),
    ];
    for (voter, substitute) in substitutions {
        let mut accounts = CastVoteAccounts::new(voter.pubkey(), proposal);
        substitute(&mut accounts, &whale.pubkey(), &second);
        let ix = accounts.instruction(VoteChoice::Yes);
        assert_eq!(
            error_of(dao.send("cast_vote", &[ix], voter)),
            ProgramFailure::Instruction(InstructionError::InvalidSeeds)
        );
    }
    // Proposal 2 created at proposal 1's address.
    let mut accounts = CreateProposalAccounts::new(whale.pubkey(), 2);
    accounts.proposal = second;
    let args = ProposalArgs {
        action: ProposalAction::pause(),
        title: [0; 64],
        description_hash: [0; 32],
    };
    assert_eq!(
        error_of(dao.send("create_proposal", &[accounts.instruction(&args)], &whale)),
        ProgramFailure::Instruction(InstructionError::InvalidSeeds)
    );
    assert_eq!(dao.proposal(&proposal).yes, 0, "no vote counted");
}

#[test]
fn test_former_authority_is_powerless_after_handover() {
    let mut dao = Dao::new();
    let authority = dao.m.net.env.upgrade_authority.insecure_clone();
    let stranger = dao.env().funded_keypair();
    let handover = |signer: &Keypair| TransferAuthorityAccounts::new(signer.pubkey()).instruction();
    assert_eq!(
        error_of(dao.send(
            "transfer_authority_to_governance",
            &[handover(&stranger)],
            &stranger
        ))
        .iogrid(),
        iogrid(IogridError::Unauthorized)
    );
    let mut fake = TransferAuthorityAccounts::new(authority.pubkey());
    fake.governance = stranger.pubkey();
    assert_eq!(
        error_of(dao.send(
            "transfer_authority_to_governance",
            &[fake.instruction()],
            &authority
        ))
        .iogrid(),
        iogrid(IogridError::WrongGovernance),
        "governance must be the PDA"
    );

    let meta = dao
        .send(
            "transfer_authority_to_governance",
            &[handover(&authority)],
            &authority,
        )
        .unwrap();
    let event = find_events::<AuthorityTransferred>(&meta.logs);
    assert_eq!(
        (event[0].previous, event[0].governance),
        (authority.pubkey(), pda::governance().0)
    );
    assert_eq!(dao.m.net.config().authority, pda::governance().0);

    let keepers = SetKeepersAccounts::new(authority.pubkey()).instruction(&[authority.pubkey()]);
    assert_eq!(
        error_of(dao.send("set_keepers", &[keepers], &authority)).iogrid(),
        iogrid(IogridError::Unauthorized)
    );
    assert_eq!(
        error_of(dao.send(
            "transfer_authority_to_governance",
            &[handover(&authority)],
            &authority
        ))
        .iogrid(),
        iogrid(IogridError::Unauthorized),
        "the handover cannot be undone or repeated"
    );
    // Governance is the only way left, and it works.
    let keeper = Address::new_unique();
    dao.pass(ProposalAction::add_keeper(keeper));
    assert!(dao.m.net.config().active_keepers().contains(&keeper));
}

#[test]
fn test_slashed_voter_keeps_its_stake_account_consistent() {
    // A supplier votes with stake that is then slashed for a fault: the vote
    // keeps its weight, the lock shrinks with the stake, the fault goes through.
    let mut dao = Dao::new();
    let (supplier, listing) = dao.m.supplier_with_listing(1, IO);
    let user = dao.m.user.insecure_clone();
    let tokens = dao.m.user_tokens;
    let job = dao
        .m
        .net
        .create_job(&user, &tokens, 1, &Network::job_spec(1, IO, HOUR))
        .unwrap();
    dao.m.assign(&job, &[(listing, 1)]);
    let whale = dao.whale.owner.insecure_clone();
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&supplier.owner, &proposal, VoteChoice::Yes)
        .unwrap();
    dao.env().advance_clock(3_600);
    let fault = ReportFaultAccounts::new(job, listing, &supplier.owner.pubkey(), supplier.tokens);
    let keeper = dao.m.keeper.insecure_clone();
    dao.send("report_fault", &[fault.instruction()], &keeper)
        .unwrap();
    let stake = dao.m.net.stake_account(&supplier.owner.pubkey());
    assert_eq!(stake.staked, 90 * IO, "10% of 100 IO slashed");
    assert_eq!(stake.vote_locked, 90 * IO);
    assert_eq!(dao.proposal(&proposal).yes, 100 * IO, "weight at vote time");
}

/// A passed proposal left unexecuted cannot be sprung on the network later:
/// it may execute for 14 days after its timelock, then never.
#[test]
fn test_passed_proposal_expires_unexecuted() {
    const WINDOW_DAYS: i64 = 14 * DAY;
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let late = dao.propose(&whale, ProposalAction::pause()).unwrap();
    let on_time = dao.propose(&whale, ProposalAction::pause()).unwrap();
    for proposal in [late, on_time] {
        dao.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
    }
    dao.env().advance_clock(VOTING);
    for proposal in [late, on_time] {
        assert_eq!(dao.finalize(&proposal).unwrap(), ProposalStatus::Passed);
    }
    dao.env().advance_clock(TIMELOCK + WINDOW_DAYS);
    dao.execute(&on_time).unwrap();
    dao.env().advance_clock(1);
    assert_eq!(
        error_of(dao.execute(&late)).iogrid(),
        iogrid(IogridError::ProposalExpired)
    );
    assert_eq!(dao.proposal(&late).status(), ProposalStatus::Passed);
}

/// A proposal is judged by the quorum and threshold it was put to the vote
/// under, not by whatever governance set while it was voting.
#[test]
fn test_finalize_uses_the_rules_at_creation() {
    let mut dao = Dao::new();
    let whale = dao.whale.owner.insecure_clone();
    let shrimp = dao.shrimp.owner.insecure_clone();
    // 5,000 of 125,000 IO turn out: short of the 10 % quorum at creation.
    let proposal = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&shrimp, &proposal, VoteChoice::Yes).unwrap();
    let state = dao.proposal(&proposal);
    assert_eq!((state.quorum_bps, state.threshold_bps), (1_000, 6_000));
    // Meanwhile the quorum is lowered to 1 % (an executed SetParams).
    dao.m.net.set_params(&NetworkParams {
        quorum_bps: 100,
        ..NetworkParams::default()
    });
    dao.env().advance_clock(VOTING);
    assert_eq!(dao.finalize(&proposal).unwrap(), ProposalStatus::Rejected);
    // A proposal created under the new quorum passes with the same turnout.
    let later = dao.propose(&whale, ProposalAction::pause()).unwrap();
    dao.vote(&shrimp, &later, VoteChoice::Yes).unwrap();
    dao.env().advance_clock(VOTING);
    assert_eq!(dao.finalize(&later).unwrap(), ProposalStatus::Passed);
}

/// A loader `Upgrade` instruction signed by `authority` (what `solana
/// program deploy` sends), to show which keys the loader still accepts.
fn loader_upgrade(buffer: &Address, spill: &Address, authority: &Address) -> Instruction {
    Instruction {
        program_id: BPF_LOADER_UPGRADEABLE_ID,
        accounts: vec![
            AccountMeta::new(pda::program_data(), false),
            AccountMeta::new(PROGRAM_ID, false),
            AccountMeta::new(*buffer, false),
            AccountMeta::new(*spill, false),
            AccountMeta::new_readonly(RENT_SYSVAR_ID, false),
            AccountMeta::new_readonly(CLOCK_SYSVAR_ID, false),
            AccountMeta::new_readonly(*authority, true),
        ],
        data: vec![3, 0, 0, 0],
    }
}

/// A loader buffer holding `elf` whose authority is `authority` (written
/// directly here; on a cluster `solana program write-buffer` and
/// `set-buffer-authority` make it).
fn buffer_with(env: &mut iogrid_tests::TestEnv, elf: &[u8], authority: &Address) -> Address {
    let buffer = Address::new_unique();
    let mut data = vec![1, 0, 0, 0, 1];
    data.extend_from_slice(authority.as_ref());
    data.extend_from_slice(elf);
    let lamports = env.svm.minimum_balance_for_rent_exemption(data.len());
    let account = solana_account::Account {
        lamports,
        data,
        owner: BPF_LOADER_UPGRADEABLE_ID,
        executable: false,
        rent_epoch: 0,
    };
    env.svm.set_account(buffer, account).unwrap();
    buffer
}

/// Item 9: the handover moves the program's upgrade authority to the
/// governance PDA with Config's; from then on the old key cannot upgrade and
/// an upgrade passes only as a voted, timelocked proposal.
#[test]
fn test_upgrade_passes_only_through_a_vote() {
    let mut dao = Dao::new();
    // Deployed with room to grow (as `solana program deploy --max-len`).
    let program_data = pda::program_data();
    let mut account = dao.env().account(&program_data).unwrap();
    account.data.resize(account.data.len() + 16 * 1024, 0);
    account.lamports = dao
        .env()
        .svm
        .minimum_balance_for_rent_exemption(account.data.len());
    dao.env().svm.set_account(program_data, account).unwrap();

    let authority = dao.m.net.env.upgrade_authority.insecure_clone();
    let handover = TransferAuthorityAccounts::new(authority.pubkey()).instruction();
    dao.send("transfer_authority_to_governance", &[handover], &authority)
        .unwrap();
    let governance = pda::governance().0;
    let data = dao.env().account(&program_data).unwrap().data;
    assert_eq!((data[12], &data[13..45]), (1, governance.as_ref()));

    // The new program: the measurement build, whose `bench_math` the
    // production program lacks.
    let elf =
        std::fs::read(iogrid_tests::program_so_path(iogrid_tests::BENCH_SO).unwrap()).unwrap();
    let buffer = buffer_with(dao.env(), &elf, &governance);
    let bench = |caller: &Keypair| {
        let mut data = iogrid_tests::anchor_discriminator("global:bench_math").to_vec();
        data.push(0);
        for operand in [1u64, 2, 3] {
            data.extend_from_slice(&operand.to_le_bytes());
        }
        data.extend_from_slice(&1u16.to_le_bytes());
        Instruction {
            program_id: PROGRAM_ID,
            accounts: vec![AccountMeta::new_readonly(caller.pubkey(), true)],
            data,
        }
    };
    let caller = dao.env().funded_keypair();
    assert!(dao.env().send(&[bench(&caller)], &[&caller]).is_err());

    // The old upgrade key is refused by the loader.
    let old = dao
        .env()
        .send(
            &[loader_upgrade(
                &buffer,
                &authority.pubkey(),
                &authority.pubkey(),
            )],
            &[&authority],
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        old.failure,
        ProgramFailure::Instruction(InstructionError::IncorrectAuthority),
        "{old}"
    );

    // Only a passed, timelocked proposal upgrades.
    let whale = dao.whale.owner.insecure_clone();
    let action = ProposalAction::upgrade_program(buffer);
    let proposal = dao.propose(&whale, action).unwrap();
    let accounts = ExecuteProposalAccounts::new(proposal, &action);
    let execute = |buffer: &Address| accounts.upgrade_instruction(buffer, &whale.pubkey());
    let payer = dao.env().funded_keypair();
    let early = error_of(dao.send("execute_proposal", &[execute(&buffer)], &payer));
    assert_eq!(
        early.iogrid(),
        iogrid(IogridError::WrongProposalStatus),
        "{early}"
    );
    dao.vote(&whale, &proposal, VoteChoice::Yes).unwrap();
    dao.env().advance_clock(VOTING);
    assert_eq!(dao.finalize(&proposal).unwrap(), ProposalStatus::Passed);
    dao.env().advance_clock(TIMELOCK);
    // Another buffer than the one voted on is refused.
    let other = buffer_with(dao.env(), &elf, &governance);
    let swapped = error_of(dao.send("execute_proposal", &[execute(&other)], &payer));
    assert_eq!(
        swapped.iogrid(),
        iogrid(IogridError::WrongRemainingAccounts),
        "{swapped}"
    );
    let whale_before = dao.env().svm.get_balance(&whale.pubkey()).unwrap();
    let buffer_lamports = dao.env().svm.get_balance(&buffer).unwrap();
    dao.send("execute_proposal (upgrade)", &[execute(&buffer)], &payer)
        .unwrap();
    assert_eq!(dao.proposal(&proposal).status(), ProposalStatus::Executed);
    assert_eq!(
        dao.env().svm.get_balance(&whale.pubkey()).unwrap(),
        whale_before + buffer_lamports,
        "the buffer's rent went back to the proposer"
    );
    let data = dao.env().account(&program_data).unwrap().data;
    assert_eq!(
        &data[45..45 + elf.len()],
        &elf[..],
        "ProgramData holds the new program"
    );
    // The upgraded program runs (from the next slot).
    let slot = dao.env().svm.get_sysvar::<solana_clock::Clock>().slot;
    dao.env().svm.warp_to_slot(slot + 1);
    dao.env().svm.expire_blockhash();
    dao.env()
        .send(&[bench(&caller)], &[&caller])
        .map(|_| ())
        .unwrap_or_else(|e| panic!("bench_math after the upgrade: {e}"));
}
