//! Property test: random sequences of stake / unstake / cancel / propose /
//! vote / withdraw-vote / finalize / execute / clock moves against the SBF
//! program. A model predicts every outcome (success or the exact error),
//! the tallies, the vote locks, the pass/reject decision and what execution
//! changes; the conservation and governance invariants are checked after
//! every op. 100 cases × 100 ops = 10,000 operations per run, fixed seed.

use {
    iogrid_sdk::{
        accounts::{NetworkParams, Proposal, ProposalAction, ProposalStatus, VoteChoice},
        constants::IO,
        errors::{IogridError, ProgramFailure},
        instructions::*,
        pda,
    },
    iogrid_tests::{
        fixtures::Network,
        prop::{run_sequences, Successes},
    },
    proptest::prelude::*,
    solana_instruction::{error::InstructionError, Instruction},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::collections::HashMap,
};

const STAKERS: usize = 4;
const WALLET: u64 = 5_000 * IO;
const INITIAL_STAKE: u64 = 2_000 * IO;
const MIN_PROPOSAL_STAKE: u64 = 1_500 * IO;
const VOTING: i64 = 1_800;
const TIMELOCK: i64 = 300;
const UNBONDING: i64 = 3_600;
const QUORUM_BPS: u64 = 2_000;
const THRESHOLD_BPS: u64 = 6_000;

fn params() -> NetworkParams {
    NetworkParams {
        proposal_min_stake: MIN_PROPOSAL_STAKE,
        voting_secs: VOTING as u32,
        timelock_secs: TIMELOCK as u32,
        unbonding_secs: UNBONDING as u32,
        quorum_bps: QUORUM_BPS as u16,
        threshold_bps: THRESHOLD_BPS as u16,
        ..NetworkParams::default()
    }
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Pause,
    Unpause,
    SetFee(u16),
}

#[derive(Clone, Debug)]
enum Op {
    Stake(usize, u64),
    RequestUnstake(usize, u64),
    CancelUnstake(usize),
    Propose(usize, Action),
    Vote(usize, usize, u8),
    WithdrawVote(usize, usize),
    Finalize(usize),
    Execute(usize),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..STAKERS;
    let which = 0..4usize;
    let action = prop_oneof![
        Just(Action::Pause),
        Just(Action::Unpause),
        (0..1_200u16).prop_map(Action::SetFee),
    ];
    prop_oneof![
        2 => (who.clone(), 1..2_000u64).prop_map(|(w, a)| Op::Stake(w, a * IO)),
        2 => (who.clone(), 1..1_500u64).prop_map(|(w, a)| Op::RequestUnstake(w, a * IO)),
        1 => who.clone().prop_map(Op::CancelUnstake),
        2 => (who.clone(), action).prop_map(|(w, a)| Op::Propose(w, a)),
        // Three votes in five are yes, so proposals pass as well as fail.
        6 => (who.clone(), which.clone(), 0..5u8).prop_map(|(w, p, c)| Op::Vote(w, p, c.saturating_sub(2))),
        1 => (who, which.clone()).prop_map(|(w, p)| Op::WithdrawVote(w, p)),
        3 => which.clone().prop_map(Op::Finalize),
        3 => which.prop_map(Op::Execute),
        4 => (1..400i64).prop_map(Op::Advance),
    ]
}

/// Which kind of op succeeded, over the whole run: the test is not vacuous.
static SUCCESSES: Successes = Successes::new();

fn kind(op: &Op) -> &'static str {
    match op {
        Op::Stake(..) => "stake",
        Op::RequestUnstake(..) => "request_unstake",
        Op::CancelUnstake(_) => "cancel_unstake",
        Op::Propose(..) => "propose",
        Op::Vote(..) => "vote",
        Op::WithdrawVote(..) => "withdraw_vote",
        Op::Finalize(_) => "finalize",
        Op::Execute(_) => "execute",
        Op::Advance(_) => "advance",
    }
}

#[derive(Debug, Default)]
struct StakerModel {
    staked: u64,
    unbonding: u64,
    vote_locked: u64,
    vote_lock_until: i64,
}

impl StakerModel {
    fn unstakeable(&self, now: i64) -> u64 {
        if now < self.vote_lock_until {
            self.staked - self.vote_locked
        } else {
            self.staked
        }
    }
}

#[derive(Debug)]
struct ProposalModel {
    action: Action,
    ends: i64,
    executable_at: i64,
    base: u64,
    tally: [u64; 3],
    status: ProposalStatus,
}

impl ProposalModel {
    fn passes(&self) -> bool {
        let [yes, no, abstain] = self.tally.map(u128::from);
        let ceil = |x: u128, bps: u64| (x * u128::from(bps)).div_ceil(10_000);
        let turnout = yes + no + abstain;
        turnout > 0
            && turnout >= ceil(u128::from(self.base), QUORUM_BPS)
            && yes > 0
            && yes >= ceil(yes + no, THRESHOLD_BPS)
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    Err(ProgramFailure),
}

fn err(e: IogridError) -> Expect {
    Expect::Err(ProgramFailure::Iogrid(e))
}

struct Harness {
    net: Network,
    stakers: Vec<(Keypair, iogrid_sdk::Address)>,
    model: Vec<StakerModel>,
    proposals: Vec<ProposalModel>,
    /// (staker, proposal) → (choice, weight).
    votes: HashMap<(usize, usize), (u8, u64)>,
    paused: bool,
    fee_bps: u16,
}

impl Harness {
    fn new() -> Self {
        let mut net = Network::with_params(params());
        let stakers: Vec<_> = (0..STAKERS)
            .map(|_| {
                let (owner, tokens) = net.user_with_io(WALLET);
                let ix = StakeAccounts::new(owner.pubkey(), tokens).instruction(INITIAL_STAKE);
                net.env.send(&[ix], &[&owner]).expect("initial stake");
                (owner, tokens)
            })
            .collect();
        let model = (0..STAKERS)
            .map(|_| StakerModel {
                staked: INITIAL_STAKE,
                ..StakerModel::default()
            })
            .collect();
        Self {
            net,
            stakers,
            model,
            proposals: Vec::new(),
            votes: HashMap::new(),
            paused: false,
            fee_bps: params().fee_bps,
        }
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Advance(secs) = op {
            self.net.env.advance_clock(*secs);
            return Ok(());
        }
        let Some((expect, instruction, signer)) = self.plan(op) else {
            return Ok(());
        };
        let outcome = self.net.env.send(&[instruction], &[&signer]);
        match (&expect, &outcome) {
            (Expect::Ok, Ok(_)) => {
                self.apply(op);
                SUCCESSES.record(kind(op));
            }
            (Expect::Err(want), Err(got)) if *want == got.failure => {}
            _ => {
                let got = outcome
                    .map(|_| "success".to_string())
                    .unwrap_or_else(|f| f.to_string());
                return Err(TestCaseError::fail(format!(
                    "{op:?}: expected {expect:?}, got {got}"
                )));
            }
        }
        self.net.check_invariants();
        self.check_model()
    }

    fn proposal_address(p: usize) -> iogrid_sdk::Address {
        pda::proposal(p as u64).0
    }

    fn action(&self, action: Action) -> ProposalAction {
        match action {
            Action::Pause => ProposalAction::pause(),
            Action::Unpause => ProposalAction::unpause(),
            Action::SetFee(fee_bps) => ProposalAction::set_params(NetworkParams {
                fee_bps,
                ..params()
            }),
        }
    }

    /// The instruction for `op`, its signer and the expected outcome; `None`
    /// when the op names a proposal or vote that does not exist.
    fn plan(&self, op: &Op) -> Option<(Expect, Instruction, Keypair)> {
        let now = self.net.env.now();
        let staker = |w: usize| self.stakers[w].0.insecure_clone();
        Some(match *op {
            Op::Stake(w, amount) => {
                let (owner, tokens) = &self.stakers[w];
                let expect = if self.paused {
                    err(IogridError::Paused)
                } else if amount > self.net.env.token_balance(tokens) {
                    Expect::Err(ProgramFailure::Instruction(InstructionError::Custom(1)))
                } else {
                    Expect::Ok
                };
                let ix = StakeAccounts::new(owner.pubkey(), *tokens).instruction(amount);
                (expect, ix, staker(w))
            }
            Op::RequestUnstake(w, amount) => {
                let expect = if amount > self.model[w].unstakeable(now) {
                    err(IogridError::StakeLocked)
                } else {
                    Expect::Ok
                };
                let ix = UnstakeAccounts::new(staker(w).pubkey()).request_unstake(amount);
                (expect, ix, staker(w))
            }
            Op::CancelUnstake(w) => {
                let expect = if self.model[w].unbonding == 0 {
                    err(IogridError::NothingUnbonding)
                } else {
                    Expect::Ok
                };
                let ix = UnstakeAccounts::new(staker(w).pubkey()).cancel_unstake();
                (expect, ix, staker(w))
            }
            Op::Propose(w, action) => {
                let expect = if self.model[w].staked < MIN_PROPOSAL_STAKE {
                    err(IogridError::ProposalStakeTooLow)
                } else if matches!(action, Action::SetFee(fee) if fee > 1_000) {
                    err(IogridError::ParamOutOfBounds)
                } else {
                    Expect::Ok
                };
                let args = ProposalArgs {
                    action: self.action(action),
                    title: [b'x'; 64],
                    description_hash: [1; 32],
                };
                let id = self.proposals.len() as u64;
                let ix = CreateProposalAccounts::new(staker(w).pubkey(), id).instruction(&args);
                (expect, ix, staker(w))
            }
            Op::Vote(w, p, choice) => {
                let proposal = self.proposals.get(p)?;
                let expect = if self.votes.contains_key(&(w, p)) {
                    // The system program refuses to create the record again.
                    Expect::Err(ProgramFailure::Instruction(InstructionError::Custom(0)))
                } else if proposal.status != ProposalStatus::Voting {
                    err(IogridError::WrongProposalStatus)
                } else if now >= proposal.ends {
                    err(IogridError::VotingClosed)
                } else if self.model[w].staked == 0 {
                    err(IogridError::NoVotingPower)
                } else {
                    Expect::Ok
                };
                let choice =
                    [VoteChoice::Yes, VoteChoice::No, VoteChoice::Abstain][usize::from(choice)];
                let ix = CastVoteAccounts::new(staker(w).pubkey(), Self::proposal_address(p))
                    .instruction(choice);
                (expect, ix, staker(w))
            }
            Op::WithdrawVote(w, p) => {
                self.votes.get(&(w, p))?;
                let proposal = &self.proposals[p];
                let expect = if proposal.status != ProposalStatus::Voting {
                    err(IogridError::WrongProposalStatus)
                } else if now >= proposal.ends {
                    err(IogridError::VotingClosed)
                } else {
                    Expect::Ok
                };
                let ix = WithdrawVoteAccounts::new(staker(w).pubkey(), Self::proposal_address(p))
                    .instruction();
                (expect, ix, staker(w))
            }
            Op::Finalize(p) => {
                let proposal = self.proposals.get(p)?;
                let expect = if proposal.status != ProposalStatus::Voting {
                    err(IogridError::WrongProposalStatus)
                } else if now < proposal.ends {
                    err(IogridError::VotingOpen)
                } else {
                    Expect::Ok
                };
                let ix = FinalizeProposalAccounts::new(Self::proposal_address(p)).instruction();
                (expect, ix, staker(0))
            }
            Op::Execute(p) => {
                let proposal = self.proposals.get(p)?;
                let expect = if proposal.status != ProposalStatus::Passed {
                    err(IogridError::WrongProposalStatus)
                } else if now < proposal.executable_at {
                    err(IogridError::TimelockNotOver)
                } else {
                    Expect::Ok
                };
                let action = self.action(proposal.action);
                let ix =
                    ExecuteProposalAccounts::new(Self::proposal_address(p), &action).instruction();
                (expect, ix, staker(0))
            }
            Op::Advance(_) => unreachable!("handled in run"),
        })
    }

    fn apply(&mut self, op: &Op) {
        let now = self.net.env.now();
        match *op {
            Op::Stake(w, amount) => self.model[w].staked += amount,
            Op::RequestUnstake(w, amount) => {
                let m = &mut self.model[w];
                if now >= m.vote_lock_until {
                    (m.vote_locked, m.vote_lock_until) = (0, 0);
                }
                m.staked -= amount;
                m.unbonding += amount;
            }
            Op::CancelUnstake(w) => {
                let m = &mut self.model[w];
                m.staked += m.unbonding;
                m.unbonding = 0;
            }
            Op::Propose(_, action) => {
                let base = self.model.iter().map(|m| m.staked).sum();
                self.proposals.push(ProposalModel {
                    action,
                    ends: now + VOTING,
                    executable_at: 0,
                    base,
                    tally: [0; 3],
                    status: ProposalStatus::Voting,
                });
            }
            Op::Vote(w, p, choice) => {
                let m = &mut self.model[w];
                let weight = m.staked;
                let proposal = &mut self.proposals[p];
                proposal.tally[usize::from(choice)] += weight;
                m.vote_locked = m.vote_locked.max(weight);
                m.vote_lock_until = m.vote_lock_until.max(proposal.ends);
                self.votes.insert((w, p), (choice, weight));
            }
            Op::WithdrawVote(w, p) => {
                let (choice, weight) = self.votes.remove(&(w, p)).unwrap();
                self.proposals[p].tally[usize::from(choice)] -= weight;
            }
            Op::Finalize(p) => {
                let proposal = &mut self.proposals[p];
                if proposal.passes() {
                    proposal.status = ProposalStatus::Passed;
                    proposal.executable_at = now + TIMELOCK;
                } else {
                    proposal.status = ProposalStatus::Rejected;
                }
            }
            Op::Execute(p) => {
                let proposal = &mut self.proposals[p];
                proposal.status = ProposalStatus::Executed;
                match proposal.action {
                    Action::Pause => self.paused = true,
                    Action::Unpause => self.paused = false,
                    Action::SetFee(fee) => self.fee_bps = fee,
                }
            }
            Op::Advance(_) => {}
        }
    }

    fn check_model(&self) -> Result<(), TestCaseError> {
        for ((owner, _), m) in self.stakers.iter().zip(&self.model) {
            let chain = self.net.stake_account(&owner.pubkey());
            prop_assert_eq!(
                (
                    chain.staked,
                    chain.unbonding,
                    chain.vote_locked,
                    chain.vote_lock_until
                ),
                (m.staked, m.unbonding, m.vote_locked, m.vote_lock_until)
            );
        }
        for (p, model) in self.proposals.iter().enumerate() {
            let chain: Proposal = self.net.env.program_account(&Self::proposal_address(p));
            prop_assert_eq!(
                (
                    [chain.yes, chain.no, chain.abstain],
                    chain.status(),
                    chain.turnout_base
                ),
                (model.tally, model.status, model.base)
            );
        }
        let config = self.net.config();
        prop_assert_eq!(
            (config.is_paused(), config.params.fee_bps),
            (self.paused, self.fee_bps)
        );
        Ok(())
    }
}

#[test]
fn governance_operations_keep_every_invariant() {
    run_sequences(op(), 100, 100, |ops| {
        let mut harness = Harness::new();
        for op in &ops {
            harness.run(op)?;
        }
        Ok(())
    });
    SUCCESSES.assert_each_succeeded(&[
        "stake",
        "request_unstake",
        "cancel_unstake",
        "propose",
        "vote",
        "withdraw_vote",
        "finalize",
        "execute",
    ]);
}
