//! Property test: random sequences of stake / unstake / withdraw / cancel /
//! list / update / delist / heartbeat / crank / claim / mark-offline / clock
//! moves against the SBF program. A model predicts each outcome (success or
//! the exact error); the conservation invariants are checked after every op.
//! 100 cases × 100 ops = 10,000 operations per run.

use {
    iogrid_sdk::{
        accounts::NetworkParams,
        constants::IO,
        errors::{IogridError, ProgramFailure},
        instructions::*,
        pda, Address,
    },
    iogrid_tests::fixtures::{Network, Supplier},
    proptest::prelude::*,
    solana_instruction::error::InstructionError,
    solana_signer::Signer,
};

const SUPPLIERS: usize = 3;
const WALLET: u64 = 5_000 * IO;
const STAKE_PER_GPU: u64 = 100 * IO;
const UNBONDING: i64 = 3_600;
const TIMEOUT: i64 = 300;

#[derive(Clone, Debug)]
enum Op {
    Stake(usize, u64),
    RequestUnstake(usize, u64),
    Withdraw(usize),
    CancelUnstake(usize),
    List(usize, u16),
    Delist(usize, usize),
    Heartbeat(usize, usize),
    SetOnline(usize, usize, bool),
    Claim(usize, usize),
    MarkOffline(usize, usize),
    Crank,
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..SUPPLIERS;
    let idx = 0..4usize;
    prop_oneof![
        3 => (who.clone(), 1..2_000u64).prop_map(|(w, a)| Op::Stake(w, a * IO)),
        2 => (who.clone(), 1..1_500u64).prop_map(|(w, a)| Op::RequestUnstake(w, a * IO)),
        1 => who.clone().prop_map(Op::Withdraw),
        1 => who.clone().prop_map(Op::CancelUnstake),
        3 => (who.clone(), 1..8u16).prop_map(|(w, g)| Op::List(w, g)),
        1 => (who.clone(), idx.clone()).prop_map(|(w, i)| Op::Delist(w, i)),
        4 => (who.clone(), idx.clone()).prop_map(|(w, i)| Op::Heartbeat(w, i)),
        1 => (who.clone(), idx.clone(), any::<bool>()).prop_map(|(w, i, on)| Op::SetOnline(w, i, on)),
        2 => (who.clone(), idx.clone()).prop_map(|(w, i)| Op::Claim(w, i)),
        1 => (who, idx).prop_map(|(w, i)| Op::MarkOffline(w, i)),
        1 => Just(Op::Crank),
        3 => (1..600i64).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug)]
struct ListingModel {
    address: Address,
    gpus: u16,
    online: bool,
    last_heartbeat: i64,
}

#[derive(Debug, Default)]
struct StakerModel {
    has_account: bool,
    staked: u64,
    locked: u64,
    unbonding: u64,
    available_at: i64,
    next_id: u64,
    listings: Vec<ListingModel>,
}

/// What the model expects of an operation.
#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    Err(ProgramFailure),
    /// Either outcome is legitimate (rewards depend on exact timing).
    OkOrNoRewards,
}

fn err(e: IogridError) -> Expect {
    Expect::Err(ProgramFailure::Iogrid(e))
}

struct Harness {
    net: Network,
    suppliers: Vec<Supplier>,
    model: Vec<StakerModel>,
}

impl Harness {
    fn new() -> Self {
        let params = NetworkParams {
            min_stake_per_gpu: STAKE_PER_GPU,
            unbonding_secs: UNBONDING as u32,
            heartbeat_interval_secs: 60,
            heartbeat_timeout_secs: TIMEOUT as u32,
            ..NetworkParams::default()
        };
        let mut net = Network::with_params(params);
        let suppliers = (0..SUPPLIERS).map(|_| {
            let (owner, tokens) = net.user_with_io(WALLET);
            let worker = net.env.funded_keypair();
            Supplier {
                owner,
                tokens,
                worker,
            }
        });
        let suppliers: Vec<_> = suppliers.collect();
        let model = (0..SUPPLIERS).map(|_| StakerModel::default()).collect();
        Self {
            net,
            suppliers,
            model,
        }
    }

    fn now(&self) -> i64 {
        self.net.env.now()
    }

    /// Runs one op: predicts, sends, compares.
    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Advance(secs) = op {
            self.net.env.advance_clock(*secs);
            return Ok(());
        }
        let Some((expect, instruction, signer)) = self.plan(op) else {
            return Ok(());
        };
        let signer = signer.insecure_clone();
        let outcome = self.net.env.send(&[instruction], &[&signer]);
        match (&expect, &outcome) {
            (Expect::Ok, Ok(_)) | (Expect::OkOrNoRewards, Ok(_)) => self.apply(op),
            (Expect::OkOrNoRewards, Err(f))
                if f.failure.iogrid() == Some(IogridError::NoRewards) => {}
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

    /// The instruction for `op`, who signs it, and what the model expects;
    /// `None` when the op names a listing that does not exist.
    fn plan(
        &self,
        op: &Op,
    ) -> Option<(
        Expect,
        solana_instruction::Instruction,
        &solana_keypair::Keypair,
    )> {
        let now = self.now();
        Some(match *op {
            Op::Stake(w, amount) => {
                let s = &self.suppliers[w];
                let balance = self.net.env.token_balance(&s.tokens);
                let expect = if amount > balance {
                    Expect::Err(ProgramFailure::Instruction(InstructionError::Custom(1)))
                } else {
                    Expect::Ok
                };
                (
                    expect,
                    StakeAccounts::new(s.owner.pubkey(), s.tokens).instruction(amount),
                    &s.owner,
                )
            }
            Op::RequestUnstake(w, amount) => {
                let (s, m) = (&self.suppliers[w], &self.model[w]);
                let expect = if !m.has_account {
                    Expect::Err(ProgramFailure::Instruction(
                        InstructionError::AccountDataTooSmall,
                    ))
                } else if amount > m.staked - m.locked {
                    err(IogridError::StakeLocked)
                } else {
                    Expect::Ok
                };
                (
                    expect,
                    UnstakeAccounts::new(s.owner.pubkey()).request_unstake(amount),
                    &s.owner,
                )
            }
            Op::Withdraw(w) => {
                let (s, m) = (&self.suppliers[w], &self.model[w]);
                let expect = if !m.has_account {
                    Expect::Err(ProgramFailure::Instruction(
                        InstructionError::AccountDataTooSmall,
                    ))
                } else if m.unbonding == 0 {
                    err(IogridError::NothingUnbonding)
                } else if now < m.available_at {
                    err(IogridError::CooldownNotOver)
                } else {
                    Expect::Ok
                };
                (
                    expect,
                    WithdrawAccounts::new(s.owner.pubkey(), s.tokens).instruction(),
                    &s.owner,
                )
            }
            Op::CancelUnstake(w) => {
                let (s, m) = (&self.suppliers[w], &self.model[w]);
                let expect = if !m.has_account {
                    Expect::Err(ProgramFailure::Instruction(
                        InstructionError::AccountDataTooSmall,
                    ))
                } else if m.unbonding == 0 {
                    err(IogridError::NothingUnbonding)
                } else {
                    Expect::Ok
                };
                (
                    expect,
                    UnstakeAccounts::new(s.owner.pubkey()).cancel_unstake(),
                    &s.owner,
                )
            }
            Op::List(w, gpus) => {
                let (s, m) = (&self.suppliers[w], &self.model[w]);
                let expect = if !m.has_account {
                    Expect::Err(ProgramFailure::Instruction(
                        InstructionError::AccountDataTooSmall,
                    ))
                } else if u64::from(gpus) * STAKE_PER_GPU > m.staked - m.locked {
                    err(IogridError::InsufficientStake)
                } else {
                    Expect::Ok
                };
                let spec = Network::spec(&s.worker.pubkey(), gpus, IO);
                (
                    expect,
                    ListGpuAccounts::new(s.owner.pubkey(), m.next_id).instruction(&spec, m.next_id),
                    &s.owner,
                )
            }
            Op::Delist(w, i) => {
                let (s, l) = (&self.suppliers[w], self.model[w].listings.get(i)?);
                (
                    Expect::Ok,
                    DelistAccounts::new(s.owner.pubkey(), l.address, s.tokens).instruction(),
                    &s.owner,
                )
            }
            Op::Heartbeat(w, i) => {
                let (s, l) = (&self.suppliers[w], self.model[w].listings.get(i)?);
                let expect = if l.online {
                    Expect::Ok
                } else {
                    err(IogridError::ListingOffline)
                };
                (
                    expect,
                    HeartbeatAccounts::new(s.worker.pubkey(), l.address).instruction(),
                    &s.worker,
                )
            }
            Op::SetOnline(w, i, online) => {
                let (s, l) = (&self.suppliers[w], self.model[w].listings.get(i)?);
                let expect = match (online, l.online) {
                    (true, true) => err(IogridError::ListingAlreadyOnline),
                    (false, false) => err(IogridError::ListingOffline),
                    _ => Expect::Ok,
                };
                let update = ListingUpdate {
                    online: Some(online),
                    ..Default::default()
                };
                (
                    expect,
                    UpdateListingAccounts::new(s.owner.pubkey(), l.address).instruction(&update),
                    &s.owner,
                )
            }
            Op::Claim(w, i) => {
                let (s, l) = (&self.suppliers[w], self.model[w].listings.get(i)?);
                let ix =
                    ClaimRewardsAccounts::new(s.owner.pubkey(), l.address, s.tokens).instruction();
                (Expect::OkOrNoRewards, ix, &s.owner)
            }
            Op::MarkOffline(w, i) => {
                let (s, l) = (&self.suppliers[w], self.model[w].listings.get(i)?);
                let expect = if !l.online {
                    err(IogridError::ListingOffline)
                } else if now - l.last_heartbeat <= TIMEOUT {
                    err(IogridError::ListingNotStale)
                } else {
                    Expect::Ok
                };
                (
                    expect,
                    MarkOfflineAccounts::new(l.address).instruction(),
                    &s.worker,
                )
            }
            Op::Crank => (
                Expect::Ok,
                CrankEmissionAccounts::new().instruction(),
                &self.suppliers[0].worker,
            ),
            Op::Advance(_) => unreachable!("handled in run"),
        })
    }

    /// Updates the model after `op` succeeded.
    fn apply(&mut self, op: &Op) {
        let now = self.now();
        match *op {
            Op::Stake(w, amount) => {
                let m = &mut self.model[w];
                m.has_account = true;
                m.staked += amount;
            }
            Op::RequestUnstake(w, amount) => {
                let m = &mut self.model[w];
                m.staked -= amount;
                m.unbonding += amount;
                m.available_at = now + UNBONDING;
            }
            Op::Withdraw(w) => self.model[w].unbonding = 0,
            Op::CancelUnstake(w) => {
                let m = &mut self.model[w];
                m.staked += m.unbonding;
                m.unbonding = 0;
            }
            Op::List(w, gpus) => {
                let owner = self.suppliers[w].owner.pubkey();
                let m = &mut self.model[w];
                let address = pda::listing(&owner, m.next_id).0;
                m.next_id += 1;
                m.locked += u64::from(gpus) * STAKE_PER_GPU;
                m.listings.push(ListingModel {
                    address,
                    gpus,
                    online: true,
                    last_heartbeat: now,
                });
            }
            Op::Delist(w, i) => {
                let m = &mut self.model[w];
                let l = m.listings.remove(i);
                m.locked -= u64::from(l.gpus) * STAKE_PER_GPU;
            }
            Op::Heartbeat(w, i) => self.model[w].listings[i].last_heartbeat = now,
            Op::SetOnline(w, i, online) => {
                let l = &mut self.model[w].listings[i];
                l.online = online;
                if online {
                    l.last_heartbeat = now;
                }
            }
            Op::MarkOffline(w, i) => self.model[w].listings[i].online = false,
            Op::Claim(..) | Op::Crank | Op::Advance(_) => {}
        }
    }

    fn check_model(&self) -> Result<(), TestCaseError> {
        for (s, m) in self.suppliers.iter().zip(&self.model) {
            if !m.has_account {
                continue;
            }
            let chain = self.net.stake_account(&s.owner.pubkey());
            prop_assert_eq!(
                (
                    chain.staked,
                    chain.locked_for_listings,
                    chain.unbonding,
                    chain.next_listing_id
                ),
                (m.staked, m.locked, m.unbonding, m.next_id)
            );
            for l in &m.listings {
                let listing = self.net.listing(&l.address);
                prop_assert_eq!(
                    (listing.is_online(), listing.spec.gpu_count),
                    (l.online, l.gpus)
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn supplier_operations_keep_every_invariant(ops in prop::collection::vec(op(), 100)) {
        let mut harness = Harness::new();
        for op in &ops {
            harness.run(op)?;
        }
    }
}
