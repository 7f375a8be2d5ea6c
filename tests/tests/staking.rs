//! stake, request_unstake, withdraw, cancel_unstake against the SBF program.

use {
    iogrid_sdk::{
        constants::IO,
        errors::{IogridError, ProgramFailure},
        events::{find_events, Staked},
        instructions::{StakeAccounts, UnstakeAccounts, WithdrawAccounts},
        pda, Address, PROGRAM_ID,
    },
    iogrid_tests::fixtures::Network,
    solana_instruction::error::InstructionError,
    solana_signer::Signer,
};

const WEEK: i64 = 7 * 86_400;

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

#[test]
fn test_stake() {
    let mut net = Network::new();
    let (user, tokens) = net.user_with_io(1_500 * IO);
    let ix = StakeAccounts::new(user.pubkey(), tokens).instruction(1_000 * IO);
    let meta = net.env.send_ok("stake", ix, &[&user]);
    net.check_invariants();

    assert_eq!(net.env.token_balance(&tokens), 500 * IO);
    assert_eq!(net.env.token_balance(&pda::stake_vault().0), 1_000 * IO);
    let stake = net.stake_account(&user.pubkey());
    assert_eq!(
        (stake.owner, stake.staked, stake.unbonding),
        (user.pubkey(), 1_000 * IO, 0)
    );
    assert_eq!(stake.bump, pda::stake(&user.pubkey()).1);
    assert_eq!(net.config().total_staked, 1_000 * IO);
    let events = find_events::<Staked>(&meta.logs);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].amount, events[0].total_staked_after),
        (1_000 * IO, 1_000 * IO)
    );

    // Staking again adds to the same account; nothing is re-initialized.
    let ix = StakeAccounts::new(user.pubkey(), tokens).instruction(500 * IO);
    net.env.send_ok("stake (existing account)", ix, &[&user]);
    net.check_invariants();
    let stake = net.stake_account(&user.pubkey());
    assert_eq!((stake.owner, stake.staked), (user.pubkey(), 1_500 * IO));
    assert_eq!(net.env.token_balance(&tokens), 0);
}

#[test]
fn test_stake_with_zero_amount_error() {
    let mut net = Network::new();
    let (user, tokens) = net.user_with_io(IO);
    let failure = net.env.send_err(
        StakeAccounts::new(user.pubkey(), tokens).instruction(0),
        &[&user],
    );
    assert_eq!(failure, iogrid(IogridError::ZeroAmount), "{failure}");
    net.check_invariants();
}

#[test]
fn test_stake_with_more_than_the_balance_error() {
    let mut net = Network::new();
    let (user, tokens) = net.user_with_io(IO);
    let failure = net.env.send_err(
        StakeAccounts::new(user.pubkey(), tokens).instruction(IO + 1),
        &[&user],
    );
    // The Token program refuses: insufficient funds (its error 1); nothing moved.
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::Custom(1)),
        "{failure}"
    );
    assert_eq!(net.env.token_balance(&tokens), IO);
    net.check_invariants();
}

#[test]
fn test_stake_with_another_users_tokens_error() {
    let mut net = Network::new();
    let (_victim, victim_tokens) = net.user_with_io(10 * IO);
    let (thief, _) = net.user_with_io(0);
    let ix = StakeAccounts::new(thief.pubkey(), victim_tokens).instruction(10 * IO);
    let failure = net.env.send_err(ix, &[&thief]);
    assert_eq!(failure, iogrid(IogridError::WrongTokenOwner), "{failure}");
    net.check_invariants();
}

#[test]
fn test_stake_with_wrong_mint_error() {
    let mut net = Network::new();
    let (user, _) = net.user_with_io(0);
    // A token account of some other mint: create a mint and an account for it.
    let fake_tokens = net.foreign_token_account(&user.pubkey());
    let failure = net.env.send_err(
        StakeAccounts::new(user.pubkey(), fake_tokens).instruction(1),
        &[&user],
    );
    assert_eq!(failure, iogrid(IogridError::WrongMint), "{failure}");
}

#[test]
fn test_stake_with_substituted_vault_error() {
    let mut net = Network::new();
    let (user, tokens) = net.user_with_io(10 * IO);
    let mut accounts = StakeAccounts::new(user.pubkey(), tokens);
    accounts.stake_vault = pda::treasury().0;
    let failure = net.env.send_err(accounts.instruction(10 * IO), &[&user]);
    assert_eq!(failure, iogrid(IogridError::WrongVault), "{failure}");
    net.check_invariants();
}

#[test]
fn test_stake_with_another_users_stake_account_error() {
    let mut net = Network::new();
    let victim = net.supplier(100 * IO);
    let (attacker, tokens) = net.user_with_io(10 * IO);
    let mut accounts = StakeAccounts::new(attacker.pubkey(), tokens);
    accounts.stake_account = pda::stake(&victim.owner.pubkey()).0;
    let failure = net
        .env
        .send_err(accounts.instruction(10 * IO), &[&attacker]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    net.check_invariants();
}

#[test]
fn test_stake_with_non_canonical_stake_pda_error() {
    let mut net = Network::new();
    let (user, tokens) = net.user_with_io(10 * IO);
    let user_key = user.pubkey();
    let seeds: [&[u8]; 2] = [pda::SEED_STAKE, user_key.as_ref()];
    let canonical = pda::stake(&user.pubkey()).1;
    let (other, _) = (0..canonical)
        .rev()
        .find_map(|bump| {
            Address::create_program_address(&[seeds[0], seeds[1], &[bump]], &PROGRAM_ID)
                .ok()
                .map(|a| (a, bump))
        })
        .expect("a lower bump");
    let mut accounts = StakeAccounts::new(user.pubkey(), tokens);
    accounts.stake_account = other;
    let failure = net.env.send_err(accounts.instruction(10 * IO), &[&user]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
}

#[test]
fn test_request_unstake_withdraw() {
    let mut net = Network::new();
    let supplier = net.supplier(1_000 * IO);
    let owner = supplier.owner.pubkey();
    let start = net.env.now();
    net.env.send_ok(
        "request_unstake",
        UnstakeAccounts::new(owner).request_unstake(400 * IO),
        &[&supplier.owner],
    );
    net.check_invariants();
    let stake = net.stake_account(&owner);
    assert_eq!((stake.staked, stake.unbonding), (600 * IO, 400 * IO));
    assert_eq!(stake.unbonding_available_at, start + WEEK);
    assert_eq!(net.config().total_staked, 600 * IO);

    net.env.advance_clock(WEEK);
    let ix = WithdrawAccounts::new(owner, supplier.tokens).instruction();
    net.env.send_ok("withdraw", ix, &[&supplier.owner]);
    net.check_invariants();
    assert_eq!(net.env.token_balance(&supplier.tokens), 400 * IO);
    assert_eq!(net.env.token_balance(&pda::stake_vault().0), 600 * IO);
    let stake = net.stake_account(&owner);
    assert_eq!(
        (stake.staked, stake.unbonding, stake.unbonding_available_at),
        (600 * IO, 0, 0)
    );
}

#[test]
fn test_withdraw_before_cooldown_error() {
    let mut net = Network::new();
    let supplier = net.supplier(100 * IO);
    let owner = supplier.owner.pubkey();
    net.env.send_ok(
        "request_unstake",
        UnstakeAccounts::new(owner).request_unstake(100 * IO),
        &[&supplier.owner],
    );
    net.env.advance_clock(WEEK - 1);
    let ix = WithdrawAccounts::new(owner, supplier.tokens).instruction();
    let failure = net.env.send_err(ix.clone(), &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::CooldownNotOver), "{failure}");
    net.check_invariants();
    net.env.advance_clock(1);
    net.env.send_ok("withdraw", ix.clone(), &[&supplier.owner]);
    // Replaying the withdrawal pays nothing twice.
    let failure = net.env.send_err(ix, &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::NothingUnbonding), "{failure}");
    assert_eq!(net.env.token_balance(&supplier.tokens), 100 * IO);
    net.check_invariants();
}

#[test]
fn test_withdraw_to_wrong_mint_error() {
    let mut net = Network::new();
    let supplier = net.supplier(100 * IO);
    let owner = supplier.owner.pubkey();
    net.env.send_ok(
        "request_unstake",
        UnstakeAccounts::new(owner).request_unstake(100 * IO),
        &[&supplier.owner],
    );
    net.env.advance_clock(WEEK);
    let fake = net.foreign_token_account(&owner);
    let failure = net.env.send_err(
        WithdrawAccounts::new(owner, fake).instruction(),
        &[&supplier.owner],
    );
    assert_eq!(failure, iogrid(IogridError::WrongMint), "{failure}");
    net.check_invariants();
}

#[test]
fn test_withdraw_from_another_users_stake_error() {
    let mut net = Network::new();
    let victim = net.supplier(100 * IO);
    let victim_key = victim.owner.pubkey();
    net.env.send_ok(
        "request_unstake",
        UnstakeAccounts::new(victim_key).request_unstake(100 * IO),
        &[&victim.owner],
    );
    net.env.advance_clock(WEEK);
    let (thief, thief_tokens) = net.user_with_io(0);
    let mut accounts = WithdrawAccounts::new(thief.pubkey(), thief_tokens);
    accounts.stake_account = pda::stake(&victim_key).0;
    let failure = net.env.send_err(accounts.instruction(), &[&thief]);
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    assert_eq!(net.env.token_balance(&thief_tokens), 0);
    net.check_invariants();
}

#[test]
fn test_cancel_unstake() {
    let mut net = Network::new();
    let supplier = net.supplier(100 * IO);
    let accounts = UnstakeAccounts::new(supplier.owner.pubkey());
    net.env.send_ok(
        "request_unstake",
        accounts.request_unstake(30 * IO),
        &[&supplier.owner],
    );
    net.env.send_ok(
        "cancel_unstake",
        accounts.cancel_unstake(),
        &[&supplier.owner],
    );
    net.check_invariants();
    let stake = net.stake_account(&supplier.owner.pubkey());
    assert_eq!((stake.staked, stake.unbonding), (100 * IO, 0));
    let failure = net
        .env
        .send_err(accounts.cancel_unstake(), &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::NothingUnbonding), "{failure}");
}

#[test]
fn test_request_unstake_of_locked_stake_error() {
    let mut net = Network::new();
    // 100 IO per GPU: listing 4 GPUs locks 400 of 500 IO.
    let supplier = net.supplier(500 * IO);
    net.list(&supplier, 4, IO).unwrap();
    let accounts = UnstakeAccounts::new(supplier.owner.pubkey());
    let failure = net
        .env
        .send_err(accounts.request_unstake(100 * IO + 1), &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::StakeLocked), "{failure}");
    net.env.send_ok(
        "request_unstake",
        accounts.request_unstake(100 * IO),
        &[&supplier.owner],
    );
    net.check_invariants();
    let failure = net
        .env
        .send_err(accounts.request_unstake(1), &[&supplier.owner]);
    assert_eq!(failure, iogrid(IogridError::StakeLocked), "{failure}");
}

#[test]
fn test_request_unstake_with_zero_amount_error() {
    let mut net = Network::new();
    let supplier = net.supplier(100 * IO);
    let failure = net.env.send_err(
        UnstakeAccounts::new(supplier.owner.pubkey()).request_unstake(0),
        &[&supplier.owner],
    );
    assert_eq!(failure, iogrid(IogridError::ZeroAmount), "{failure}");
}
