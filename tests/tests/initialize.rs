//! `initialize`: the network bootstrap, run against the compiled SBF program.

use {
    iogrid_sdk::{
        accounts::NetworkParams,
        constants::{GENESIS_SUPPLY, IO_DECIMALS, MAX_FREE_TOKENS_PER_IO_DAY, SUPPLY_CAP},
        errors::{IogridError, ProgramFailure},
        events::{find_events, NetworkInitialized},
        instructions::InitializeAccounts,
        pda, Address, PROGRAM_ID,
    },
    iogrid_tests::{fixtures::Network, TestEnv},
    solana_instruction::error::InstructionError,
    solana_keypair::Keypair,
    solana_signer::Signer,
};

fn initialize_ix(env: &TestEnv, distribution_owner: &Address) -> InitializeAccounts {
    InitializeAccounts::new(env.upgrade_authority.pubkey(), *distribution_owner)
}

fn send_as_authority(
    env: &mut TestEnv,
    accounts: &InitializeAccounts,
    params: &NetworkParams,
) -> ProgramFailure {
    let authority = env.upgrade_authority.insecure_clone();
    env.send_err(
        accounts.instruction(params, &Address::new_unique()),
        &[&authority],
    )
}

/// A valid PDA for `seeds` whose bump is not the canonical (highest) one.
fn non_canonical_pda(seeds: &[&[u8]]) -> (Address, u8) {
    let (_, canonical) = Address::find_program_address(seeds, &PROGRAM_ID);
    (0..canonical)
        .rev()
        .find_map(|bump| {
            let mut with_bump = seeds.to_vec();
            let bump_bytes = [bump];
            with_bump.push(&bump_bytes);
            Address::create_program_address(&with_bump, &PROGRAM_ID)
                .ok()
                .map(|a| (a, bump))
        })
        .expect("some lower bump is off-curve")
}

#[test]
fn test_initialize() {
    let network = Network::new();
    let env = &network.env;
    let config = network.config();

    assert_eq!(config.authority, env.upgrade_authority.pubkey());
    assert_eq!(config.io_mint, pda::io_mint().0);
    assert_eq!(config.distribution, pda::distribution().0);
    assert_eq!(config.treasury, pda::treasury().0);
    assert_eq!(config.rewards_vault, pda::rewards_vault().0);
    assert_eq!(config.stake_vault, pda::stake_vault().0);
    assert_eq!(config.arbiter, network.arbiter.pubkey());
    assert_eq!(config.supply_cap, SUPPLY_CAP);
    assert_eq!(config.genesis_supply, GENESIS_SUPPLY);
    assert_eq!(config.emitted, 0);
    assert_eq!(config.params, network.params);
    assert_eq!(config.keeper_count, 0);
    assert_eq!(config.paused, 0);
    assert_eq!(config.version, 1);

    // The mint: 6 decimals, Config is the only minter, nobody can freeze.
    let mint_account = env.account(&config.io_mint).expect("mint exists");
    let mint =
        <spl_token_interface::state::Mint as solana_program_pack::Pack>::unpack(&mint_account.data)
            .unwrap();
    assert_eq!(mint.decimals, IO_DECIMALS);
    assert_eq!(mint.mint_authority, Some(pda::config().0).into());
    assert!(mint.freeze_authority.is_none());
    assert_eq!(
        mint.supply, GENESIS_SUPPLY,
        "supply is exactly 500,000,000 IO"
    );

    // Genesis sits in the distribution account, owned by its owner.
    let distribution = env.token_account_state(&config.distribution);
    assert_eq!(distribution.amount, GENESIS_SUPPLY);
    assert_eq!(distribution.owner, network.distribution_owner.pubkey());
    assert_eq!(distribution.mint, config.io_mint);

    // Pooled vaults are empty IO accounts under Config's authority.
    for vault in [config.treasury, config.rewards_vault, config.stake_vault] {
        let state = env.token_account_state(&vault);
        assert_eq!(
            (state.mint, state.owner, state.amount),
            (config.io_mint, pda::config().0, 0)
        );
    }
    network.check_invariants();
}

/// A mis-configured SBF build loads but calls syscalls with garbage; this
/// proves logging, PDA derivation, the clock and CPIs all work in the binary.
#[test]
fn test_initialize_exercises_syscalls() {
    let mut env = TestEnv::new();
    let owner = Keypair::new();
    let accounts = initialize_ix(&env, &owner.pubkey());
    let authority = env.upgrade_authority.insecure_clone();
    let meta = env.send_ok(
        "initialize",
        accounts.instruction(&NetworkParams::default(), &owner.pubkey()),
        &[&authority],
    );

    // sol_log_data: the event decodes with the right fields.
    let events = find_events::<NetworkInitialized>(&meta.logs);
    assert_eq!(events.len(), 1, "logs: {:#?}", meta.logs);
    assert_eq!(events[0].authority, authority.pubkey());
    assert_eq!(events[0].genesis_supply, GENESIS_SUPPLY);
    // sol_get_clock_sysvar.
    assert_eq!(events[0].emission_start, env.now());
    // PDA derivation (sha256 + curve check): the stored bump is canonical.
    let config: iogrid_sdk::accounts::Config = env.program_account(&pda::config().0);
    assert_eq!(config.bump, pda::config().1);
    // CPIs: six account creations plus mint/account initializations and the
    // genesis mint_to all ran as inner instructions of the one instruction.
    let inner = &meta.inner_instructions;
    assert_eq!(inner.len(), 1);
    assert!(
        inner[0].len() >= 12,
        "expected ≥ 12 CPIs, saw {}",
        inner[0].len()
    );
}

#[test]
fn test_initialize_twice_with_already_initialized_error() {
    let mut network = Network::new();
    let accounts = initialize_ix(&network.env, &network.distribution_owner.pubkey());
    let failure = send_as_authority(&mut network.env, &accounts, &NetworkParams::default());
    // The system program refuses to create an account that already exists.
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::Custom(0)),
        "{failure}"
    );
    network.check_invariants();
    assert_eq!(network.env.mint_supply(&pda::io_mint().0), GENESIS_SUPPLY);
}

#[test]
fn test_initialize_with_wrong_signer_error() {
    let mut env = TestEnv::new();
    let intruder = env.funded_keypair();
    let accounts = InitializeAccounts::new(intruder.pubkey(), Address::new_unique());
    let failure = env.send_err(
        accounts.instruction(&NetworkParams::default(), &intruder.pubkey()),
        &[&intruder],
    );
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::NotUpgradeAuthority),
        "{failure}"
    );
    assert!(env.account(&pda::config().0).is_none());
}

#[test]
fn test_initialize_with_immutable_program_error() {
    let mut env = TestEnv::new();
    env.set_upgrade_authority(None);
    let accounts = initialize_ix(&env, &Address::new_unique());
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::NotUpgradeAuthority),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_substituted_program_data_error() {
    let mut env = TestEnv::new();
    // Forge a ProgramData-shaped account naming the intruder, at another address.
    let intruder = env.funded_keypair();
    let mut forged = env.account(&pda::program_data()).unwrap();
    forged.data[13..45].copy_from_slice(intruder.pubkey().as_ref());
    let forged_address = Address::new_unique();
    env.svm.set_account(forged_address, forged).unwrap();
    let mut accounts = InitializeAccounts::new(intruder.pubkey(), Address::new_unique());
    accounts.program_data = forged_address;
    let failure = env.send_err(
        accounts.instruction(&NetworkParams::default(), &intruder.pubkey()),
        &[&intruder],
    );
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::InvalidProgramData),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_substituted_program_error() {
    let mut env = TestEnv::new();
    let mut accounts = initialize_ix(&env, &Address::new_unique());
    accounts.program = iogrid_sdk::TOKEN_PROGRAM_ID;
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure.iogrid(),
        Some(IogridError::InvalidProgramAccount),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_substituted_mint_error() {
    let mut env = TestEnv::new();
    let mut accounts = initialize_ix(&env, &Address::new_unique());
    accounts.io_mint = Address::new_unique();
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_substituted_vault_error() {
    let mut env = TestEnv::new();
    let mut accounts = initialize_ix(&env, &Address::new_unique());
    // Any other address in the treasury's place: its seeds must catch it.
    accounts.treasury = Address::new_unique();
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
    // Another vault's PDA in its place: the same account twice as writable.
    accounts.treasury = pda::stake_vault().0;
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::Custom(2040)),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_non_canonical_config_pda_error() {
    let mut env = TestEnv::new();
    let mut accounts = initialize_ix(&env, &Address::new_unique());
    let (config, bump) = non_canonical_pda(&[pda::SEED_CONFIG]);
    assert_ne!(bump, pda::config().1);
    accounts.config = config;
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::InvalidSeeds),
        "{failure}"
    );
}

#[test]
fn test_initialize_with_params_out_of_bounds_error() {
    type Mutation = fn(&mut NetworkParams);
    let cases: [(&str, Mutation); 7] = [
        ("fee above 10%", |p| p.fee_bps = 1_001),
        ("free inference above the bound", |p| {
            p.free_tokens_per_io_day = MAX_FREE_TOKENS_PER_IO_DAY + 1
        }),
        ("slash cap above 50%", |p| p.slash_cap_bps = 5_001),
        ("timeout not above the interval", |p| {
            p.heartbeat_timeout_secs = p.heartbeat_interval_secs
        }),
        ("threshold not a majority", |p| p.threshold_bps = 5_000),
        ("zero stake per GPU", |p| p.min_stake_per_gpu = 0),
        ("quorum above 100%", |p| p.quorum_bps = 10_001),
    ];
    for (case, mutate) in cases {
        let mut env = TestEnv::new();
        let accounts = initialize_ix(&env, &Address::new_unique());
        let mut params = NetworkParams::default();
        mutate(&mut params);
        let failure = send_as_authority(&mut env, &accounts, &params);
        assert_eq!(
            failure.iogrid(),
            Some(IogridError::ParamOutOfBounds),
            "{case}: {failure}"
        );
    }
}

/// The free inference rate's hard bound is inclusive: one token more is
/// refused, the bound itself (and zero, no free quota) is stored.
#[test]
fn test_initialize_free_tokens_per_io_day_bound() {
    let mut env = TestEnv::new();
    let accounts = initialize_ix(&env, &Address::new_unique());
    let above = NetworkParams {
        free_tokens_per_io_day: MAX_FREE_TOKENS_PER_IO_DAY + 1,
        ..NetworkParams::default()
    };
    let failure = send_as_authority(&mut env, &accounts, &above);
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::ParamOutOfBounds),
        "{failure}"
    );
    // The refusal created nothing: the same chain initializes at the bound.
    let at_bound = NetworkParams {
        free_tokens_per_io_day: MAX_FREE_TOKENS_PER_IO_DAY,
        ..NetworkParams::default()
    };
    let network = Network::on(env, at_bound);
    assert_eq!(network.config().params, at_bound);

    let none = NetworkParams {
        free_tokens_per_io_day: 0,
        ..NetworkParams::default()
    };
    let network = Network::with_params(none);
    assert_eq!(network.config().params.free_tokens_per_io_day, 0);
}

#[test]
fn test_initialize_with_wrong_token_program_error() {
    let mut env = TestEnv::new();
    let mut accounts = initialize_ix(&env, &Address::new_unique());
    accounts.token_program = iogrid_sdk::SYSTEM_PROGRAM_ID;
    let failure = send_as_authority(&mut env, &accounts, &NetworkParams::default());
    assert_eq!(
        failure,
        ProgramFailure::Instruction(InstructionError::IncorrectProgramId),
        "{failure}"
    );
}

/// A zero arbiter would leave every dispute to lapse with nobody to decide.
#[test]
fn test_initialize_with_zero_arbiter_error() {
    let mut env = TestEnv::new();
    let accounts = initialize_ix(&env, &Address::new_unique());
    let authority = env.upgrade_authority.insecure_clone();
    let failure = env.send_err(
        accounts.instruction(&NetworkParams::default(), &Address::default()),
        &[&authority],
    );
    assert_eq!(
        failure,
        ProgramFailure::Iogrid(IogridError::InvalidArbiter),
        "{failure}"
    );
    assert!(env.account(&pda::config().0).is_none(), "nothing created");
}

/// Researchers find whom to tell: the binary carries a `security.txt` block
/// (the `security_txt!` format, found by its markers).
#[test]
fn test_binary_carries_security_txt() {
    let path = iogrid_tests::program_so_path(iogrid_tests::PROGRAM_SO).unwrap();
    let so = std::fs::read(path).unwrap();
    let begin = b"=======BEGIN SECURITY.TXT V1=======\0";
    let end = b"=======END SECURITY.TXT V1=======\0";
    let start = so
        .windows(begin.len())
        .position(|w| w == begin)
        .expect("BEGIN marker");
    let stop = so[start..]
        .windows(end.len())
        .position(|w| w == end)
        .expect("END marker");
    let body = &so[start + begin.len()..start + stop];
    let fields: Vec<&[u8]> = body.split(|b| *b == 0).collect();
    let value = |key: &[u8]| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == key)
            .map(|pair| String::from_utf8_lossy(pair[1]).into_owned())
    };
    assert_eq!(value(b"name").as_deref(), Some("iogrid"));
    assert!(value(b"contacts").is_some_and(|c| c.starts_with("email:")));
    assert!(value(b"policy").is_some_and(|p| p.ends_with("docs/security.md")));
}
