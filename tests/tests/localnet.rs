//! End to end on a real local validator (Agave's solana-test-validator): the
//! network `iogrid localnet` brings up, a one-GPU job from escrow to payment
//! and a governance proposal from creation to execution, all over JSON-RPC
//! exactly as against devnet. Prints each transaction's confirmation latency.
//!
//! Ignored by default because it needs the validator binary, which takes a
//! long one-time build: `scripts/install-validator`, then `scripts/e2e`.

use {
    iogrid_cli::{
        commands::localnet::Localnet,
        migrate::{self, MigrationFile},
    },
    iogrid_sdk::{
        accounts::{
            payment_for, GpuListing, GpuSpec, JobAccount, JobSpec, JobStatus, NetworkParams,
            Proposal, ProposalAction, ProposalStatus, VoteChoice,
        },
        constants::{GENESIS_SUPPLY, IO, MAX_CLUSTER},
        instructions::*,
        loader, pda, proof,
        rpc::{network_state, program_account, NonblockingRpcClient as RpcClient},
        send::{airdrop, send_and_confirm, transaction_size, SendOptions, PACKET_DATA_SIZE},
        token, Address,
    },
    iogrid_tests::localchain::{key, localnet_args, Chain},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::time::{Duration, Instant},
};

fn args() -> iogrid_cli::commands::localnet::LocalnetArgs {
    localnet_args(18_899, 19_900)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs solana-test-validator (scripts/install-validator); run by scripts/e2e"]
async fn localnet_job_and_governance_end_to_end() {
    let started = Instant::now();
    let localnet = Localnet::start(&args())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!("localnet ready in {:.1} s", started.elapsed().as_secs_f64());
    let mut chain = Chain::new(&localnet);
    let outcome = run_scenarios(&localnet, &mut chain).await;
    chain.latencies.report();
    localnet.stop().await.unwrap();
    outcome.unwrap();
}

async fn run_scenarios(localnet: &Localnet, chain: &mut Chain) -> anyhow::Result<()> {
    let authority = key(localnet, "authority");
    let keeper = key(localnet, "keeper");
    check_the_migration(localnet, chain, &authority, &keeper).await?;
    one_gpu_job_from_escrow_to_payment(localnet, chain, &keeper).await;
    pooled_heartbeats_for_a_rack(localnet, chain).await;
    largest_cluster_settles_in_one_transaction(localnet, chain, &keeper).await;
    fee_change_by_governance(localnet, chain).await;
    upgrade_only_through_a_vote(localnet, chain, &authority).await;
    Ok(())
}

/// A rack of three one-GPU listings served by one worker key: one
/// `iogrid-worker heartbeats --once` records all three in one transaction.
async fn pooled_heartbeats_for_a_rack(localnet: &Localnet, chain: &mut Chain) {
    let supplier = key(localnet, "supplier-1");
    let worker = key(localnet, "worker-3");
    let next = program_account::<iogrid_sdk::accounts::StakeAccount>(
        &chain.rpc,
        &pda::stake(&supplier.pubkey()).0,
        "staked",
    )
    .await
    .unwrap()
    .next_listing_id;
    let mut rack = Vec::new();
    for id in next..next + 3 {
        let listing = chain
            .list_gpus(&supplier, id, worker.pubkey(), ("RTX4090", 1), IO)
            .await;
        rack.push(listing);
    }
    let before: Vec<i64> = last_heartbeats(chain, &rack).await;
    // A beat in the same second as the listing would change nothing visible.
    let latest = *before.iter().max().unwrap();
    while chain.now().await <= latest {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let output =
        tokio::process::Command::new(iogrid_tests::localchain::workspace_bin("iogrid-worker"))
            .args([
                "--url",
                &localnet.info.rpc_url,
                "--output",
                "json",
                "heartbeats",
            ])
            .args([
                "--worker-keypair",
                &iogrid_tests::localchain::key_path(localnet, "worker-3"),
            ])
            .arg("--once")
            .output()
            .await
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let round: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            &round["listings"],
            &round["recorded"],
            &round["transactions"],
            &round["failed"]
        ),
        (&3.into(), &3.into(), &1.into(), &0.into()),
        "{round}"
    );
    let after = last_heartbeats(chain, &rack).await;
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "{before:?} -> {after:?}"
    );
    println!("pooled heartbeats: 3 listings in 1 transaction ({round})");
}

async fn last_heartbeats(chain: &Chain, listings: &[Address]) -> Vec<i64> {
    let mut beats = Vec::new();
    for listing in listings {
        beats.push(chain.listing(listing).await.last_heartbeat);
    }
    beats
}

/// The network is what the migration file says, and running it again
/// changes nothing.
async fn check_the_migration(
    localnet: &Localnet,
    chain: &mut Chain,
    authority: &Keypair,
    keeper: &Keypair,
) -> anyhow::Result<()> {
    let state = network_state(&chain.rpc).await?;
    let file = MigrationFile::load(&args().config)?;
    assert_eq!(state.config.params, file.params);
    assert_eq!(state.config.authority, authority.pubkey());
    assert_eq!(state.config.active_keepers(), [keeper.pubkey()]);
    assert_eq!(state.supply, GENESIS_SUPPLY);
    assert!(localnet.info.migration.created);
    let distribution = key(localnet, "distribution");
    let mut migration = file.resolve(authority, Some(distribution.pubkey()))?;
    migration.keepers.push(keeper.pubkey());
    let again = migrate::run(&chain.rpc, authority, &migration).await?;
    assert!(!again.created && again.signatures.is_empty() && again.differences.is_empty());
    for wallet in ["user", "supplier-1", "supplier-2", "voter"] {
        assert_eq!(
            chain.balance(&key(localnet, wallet).pubkey()).await,
            100_000 * IO
        );
    }
    Ok(())
}

async fn one_gpu_job_from_escrow_to_payment(
    localnet: &Localnet,
    chain: &mut Chain,
    keeper: &Keypair,
) {
    let params: NetworkParams = network_state(&chain.rpc).await.unwrap().config.params;
    let supplier = key(localnet, "supplier-1");
    let user = key(localnet, "user");
    let worker = Keypair::new();
    airdrop(
        &chain.rpc,
        &worker.pubkey(),
        1_000_000_000,
        &SendOptions::default(),
    )
    .await
    .unwrap();

    let owner = supplier.pubkey();
    let stake = StakeAccounts::new(owner, token::io_account_of(&owner)).instruction(1_000 * IO);
    chain.send("stake", &[stake], &[&supplier]).await;
    let price = 36 * IO; // 0.01 IO per GPU-second
    let spec = GpuSpec::new(worker.pubkey(), "H100-80GB", 80, 1, "local", price).unwrap();
    let list = ListGpuAccounts::new(owner, 0);
    chain
        .send("list_gpu", &[list.instruction(&spec, 0)], &[&supplier])
        .await;
    let listing = list.listing;
    chain.heartbeat(&worker, &listing).await;

    let user_before = chain.balance(&user.pubkey()).await;
    let job_spec = JobSpec {
        workload_hash: [1; 32],
        workload_uri: iogrid_sdk::accounts::ascii_field("https://example.com/train.sh").unwrap(),
        gpu_model: iogrid_sdk::accounts::ascii_field("H100-80GB").unwrap(),
        region: [0; 8],
        max_price_per_gpu_hour: price,
        duration_secs: 60,
        min_vram_gb: 80,
        gpus: 1,
        max_listings: 1,
        padding: [0; 3],
    };
    let create = CreateJobAccounts::new(user.pubkey(), 1, token::io_account_of(&user.pubkey()));
    chain
        .send("create_job", &[create.instruction(1, &job_spec)], &[&user])
        .await;
    let job = create.job;
    let assign = AssignJobAccounts::new(keeper.pubkey(), job).assign_job(&[(listing, 1)]);
    chain.send("assign_job", &[assign], &[keeper]).await;
    let state = job_account(chain, &job).await;
    assert_eq!(state.job.status(), JobStatus::Running);

    // The worker runs for a few seconds, beating, then signs its proof.
    tokio::time::sleep(Duration::from_secs(4)).await;
    chain.heartbeat(&worker, &listing).await;
    let started_at = state.assignments[0].started_at;
    let gpu_seconds = u64::try_from(chain.now().await - started_at)
        .unwrap()
        .clamp(1, 60);
    let result_hash = [9; 32];
    let nonce = state.assignments[0].nonce;
    let message = proof::proof_message(&job, &listing, nonce, &result_hash, gpu_seconds);
    let signature: [u8; 64] = worker.sign_message(&message).into();
    let complete = CompleteJobAccounts::new(job, listing).with_proof(
        &worker.pubkey(),
        &signature,
        nonce,
        &result_hash,
        gpu_seconds,
    );
    chain
        .send("complete_job (+ Ed25519)", &complete, &[&worker])
        .await;
    assert_eq!(
        job_account(chain, &job).await.job.status(),
        JobStatus::Proven
    );

    // Settlement waits out the challenge window, measured on the chain's clock.
    let proven_at = job_account(chain, &job).await.job.proven_at;
    while chain.now().await <= proven_at + i64::from(params.challenge_window_secs) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let supplier_before = chain.balance(&owner).await;
    let settle = CloseJobAccounts::new(job, user.pubkey(), token::io_account_of(&user.pubkey()))
        .settle_job(&[token::io_account_of(&owner)]);
    chain.send("settle_job", &[settle], &[keeper]).await;

    let gross = payment_for(price, gpu_seconds);
    let fee = gross * u64::from(params.fee_bps) / 10_000;
    let burn = gross * u64::from(params.burn_bps) / 10_000;
    assert_eq!(
        chain.balance(&owner).await - supplier_before,
        gross - fee - burn
    );
    assert_eq!(
        user_before - chain.balance(&user.pubkey()).await,
        gross,
        "the rest was refunded"
    );
    assert!(
        chain.rpc.get_account_data(&job).await.is_err(),
        "the job account is closed"
    );
    let listing_state: GpuListing = program_account(&chain.rpc, &listing, "listing")
        .await
        .unwrap();
    assert_eq!(listing_state.jobs_completed, 1);
}

/// A job on `MAX_CLUSTER` suppliers, each paid in the one settlement
/// transaction: the validator enforces the 1,232-byte packet limit that
/// LiteSVM does not.
async fn largest_cluster_settles_in_one_transaction(
    localnet: &Localnet,
    chain: &mut Chain,
    keeper: &Keypair,
) {
    let funder = key(localnet, "supplier-2");
    let user = key(localnet, "user");
    let price = 36 * IO;
    let suppliers: Vec<Keypair> = (0..MAX_CLUSTER).map(|_| Keypair::new()).collect();
    for batch in suppliers.chunks(4) {
        let mut ixs = Vec::new();
        for supplier in batch {
            let owner = supplier.pubkey();
            ixs.push(token::create_io_account_idempotent(
                &funder.pubkey(),
                &owner,
            ));
            ixs.push(token::transfer_io(
                &token::io_account_of(&funder.pubkey()),
                &token::io_account_of(&owner),
                &funder.pubkey(),
                100 * IO,
            ));
            ixs.push(solana_system_interface::instruction::transfer(
                &funder.pubkey(),
                &owner,
                50_000_000,
            ));
        }
        chain.send("fund 4 suppliers", &ixs, &[&funder]).await;
    }
    // Each supplier stakes, lists one GPU (its own key is the worker) and
    // heartbeats, in one transaction.
    let mut listings = Vec::new();
    for supplier in &suppliers {
        let owner = supplier.pubkey();
        let stake = StakeAccounts::new(owner, token::io_account_of(&owner)).instruction(100 * IO);
        let spec = GpuSpec::new(owner, "L4", 24, 1, "local", price).unwrap();
        let list = ListGpuAccounts::new(owner, 0);
        let beat = HeartbeatAccounts::new(owner, list.listing).instruction();
        chain
            .send(
                "stake + list_gpu + heartbeat",
                &[stake, list.instruction(&spec, 0), beat],
                &[supplier],
            )
            .await;
        listings.push(list.listing);
    }
    let job_spec = JobSpec {
        workload_hash: [2; 32],
        workload_uri: iogrid_sdk::accounts::ascii_field("https://example.com/16.sh").unwrap(),
        gpu_model: iogrid_sdk::accounts::ascii_field("L4").unwrap(),
        region: [0; 8],
        max_price_per_gpu_hour: price,
        duration_secs: 60,
        min_vram_gb: 24,
        gpus: MAX_CLUSTER as u16,
        max_listings: MAX_CLUSTER as u8,
        padding: [0; 3],
    };
    let user_tokens = token::io_account_of(&user.pubkey());
    let create = CreateJobAccounts::new(user.pubkey(), 16, user_tokens);
    chain
        .send(
            "create_job (16 GPUs)",
            &[create.instruction(16, &job_spec)],
            &[&user],
        )
        .await;
    let job = create.job;
    let picks: Vec<(Address, u16)> = listings.iter().map(|l| (*l, 1)).collect();
    let assign = AssignJobAccounts::new(keeper.pubkey(), job).assign_job(&picks);
    chain
        .send("assign_job (16 listings)", &[assign], &[keeper])
        .await;
    let state = job_account(chain, &job).await;
    assert_eq!(state.job.status(), JobStatus::Running);
    // Let a couple of seconds pass so each proof's second is paid.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (supplier, assignment) in suppliers.iter().zip(&state.assignments) {
        let message =
            proof::proof_message(&job, &assignment.listing, assignment.nonce, &[3; 32], 1);
        let signature: [u8; 64] = supplier.sign_message(&message).into();
        let complete = CompleteJobAccounts::new(job, assignment.listing).with_proof(
            &supplier.pubkey(),
            &signature,
            assignment.nonce,
            &[3; 32],
            1,
        );
        chain
            .send("complete_job (+ Ed25519)", &complete, &[supplier])
            .await;
    }
    let approve = ApproveJobAccounts::new(user.pubkey(), job).instruction();
    chain.send("approve_job", &[approve], &[&user]).await;
    let payees: Vec<Address> = suppliers
        .iter()
        .map(|s| token::io_account_of(&s.pubkey()))
        .collect();
    let settle = CloseJobAccounts::new(job, user.pubkey(), user_tokens).settle_job(&payees);
    let options = SendOptions {
        compute_unit_limit: Some(400_000),
        priority_micro_lamports: 1,
        ..SendOptions::default()
    };
    let size = transaction_size(std::slice::from_ref(&settle), &keeper.pubkey(), &options);
    println!("settle_job paying {MAX_CLUSTER} suppliers: {size}-byte transaction");
    assert!(size <= PACKET_DATA_SIZE);
    let before: Vec<u64> = supplier_balances(chain, &suppliers).await;
    let sent = send_and_confirm(&chain.rpc, &[settle], &[keeper], &options)
        .await
        .unwrap_or_else(|e| panic!("settle_job (16 payees): {e}"));
    println!("settle_job (16 payees) landed in slot {}", sent.slot);
    let gross = payment_for(price, 1);
    let params: NetworkParams = network_state(&chain.rpc).await.unwrap().config.params;
    let net = gross
        - gross * u64::from(params.fee_bps) / 10_000
        - gross * u64::from(params.burn_bps) / 10_000;
    assert!(net > 0);
    let after = supplier_balances(chain, &suppliers).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a - b, net, "every supplier paid its share");
    }
    assert!(chain.job(&job).await.is_none(), "settled and closed");
}

/// Item 9 of issue 12 on a real validator: the handover moves the program's
/// upgrade authority to the governance PDA; the old key's upgrade is refused;
/// a buffer handed to governance replaces the program only through a passed,
/// timelocked `UpgradeProgram` proposal. The new program is the measurement
/// build, whose `bench_math` the production program lacks.
async fn upgrade_only_through_a_vote(localnet: &Localnet, chain: &mut Chain, authority: &Keypair) {
    let voter = key(localnet, "voter");
    let elf =
        std::fs::read(iogrid_tests::program_so_path(iogrid_tests::BENCH_SO).unwrap()).unwrap();
    let program_data = pda::program_data();
    let governance = pda::governance().0;

    // Room for the new program (what `solana program extend` sends).
    let capacity = chain
        .rpc
        .get_account_data(&program_data)
        .await
        .unwrap()
        .len()
        - 45;
    if elf.len() > capacity {
        let extend =
            loader::extend_program(&voter.pubkey(), (elf.len() - capacity).max(10_240) as u32);
        let extended = chain.send("extend ProgramData", &[extend], &[&voter]).await;
        // An extended program is redeployed: it runs again from the next slot.
        chain.wait_past_slot(extended.slot).await;
    }
    let handover = TransferAuthorityAccounts::new(authority.pubkey()).instruction();
    chain
        .send(
            "transfer_authority_to_governance",
            &[handover],
            &[authority],
        )
        .await;
    let data = chain.rpc.get_account_data(&program_data).await.unwrap();
    assert_eq!((data[12], &data[13..45]), (1, governance.as_ref()));

    // The buffer, written by the voter, then handed to governance.
    let buffer = Keypair::new();
    let rent = chain
        .rpc
        .get_minimum_balance_for_rent_exemption(loader::BUFFER_HEADER + elf.len())
        .await
        .unwrap();
    let create = loader::create_buffer(&voter.pubkey(), &buffer.pubkey(), rent, elf.len());
    chain
        .send("create buffer", &create, &[&voter, &buffer])
        .await;
    let started = Instant::now();
    let writes = loader::write_buffer(&chain.rpc, &voter, &buffer.pubkey(), &elf)
        .await
        .unwrap_or_else(|e| panic!("writing the buffer: {e}"));
    println!(
        "buffer of {} bytes written in {writes} transactions, {:.1} s",
        elf.len(),
        started.elapsed().as_secs_f64()
    );
    let hand = loader::set_buffer_authority(&buffer.pubkey(), &voter.pubkey(), &governance);
    chain.send("set buffer authority", &[hand], &[&voter]).await;

    // The old upgrade key is refused by the loader.
    let old = loader::upgrade(&buffer.pubkey(), &authority.pubkey(), &authority.pubkey());
    let refused = send_and_confirm(&chain.rpc, &[old], &[authority], &SendOptions::default()).await;
    let err = refused.expect_err("the old key upgraded the program");
    assert!(format!("{err}").contains("ncorrect authority"), "{err}");

    // Only the vote upgrades.
    let state = network_state(&chain.rpc).await.unwrap();
    let id = state.config.proposal_count;
    let action = ProposalAction::upgrade_program(buffer.pubkey());
    let args = ProposalArgs {
        action,
        title: iogrid_sdk::accounts::ascii_field("Upgrade to the bench build").unwrap(),
        description_hash: [0; 32],
    };
    let create = CreateProposalAccounts::new(voter.pubkey(), id);
    chain
        .send(
            "create_proposal (upgrade)",
            &[create.instruction(&args)],
            &[&voter],
        )
        .await;
    let proposal = create.proposal;
    let vote = CastVoteAccounts::new(voter.pubkey(), proposal).instruction(VoteChoice::Yes);
    chain.send("cast_vote", &[vote], &[&voter]).await;
    let execute = ExecuteProposalAccounts::new(proposal, &action)
        .upgrade_instruction(&buffer.pubkey(), &voter.pubkey());
    let early = send_and_confirm(
        &chain.rpc,
        std::slice::from_ref(&execute),
        &[&voter],
        &SendOptions::default(),
    )
    .await
    .expect_err("executed before the vote");
    assert!(
        format!("{early}").contains("WrongProposalStatus"),
        "{early}"
    );
    let ends = proposal_state(&chain.rpc, &proposal).await.voting_ends_at;
    while chain.now().await < ends {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let finalize = FinalizeProposalAccounts::new(proposal).instruction();
    chain
        .send("finalize_proposal", &[finalize], &[&voter])
        .await;
    let passed = proposal_state(&chain.rpc, &proposal).await;
    assert_eq!(passed.status(), ProposalStatus::Passed);
    while chain.now().await < passed.executable_at {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let upgraded = chain
        .send("execute_proposal (upgrade)", &[execute], &[&voter])
        .await;
    let data = chain.rpc.get_account_data(&program_data).await.unwrap();
    assert_eq!(
        &data[45..45 + elf.len()],
        &elf[..],
        "ProgramData holds the new program"
    );
    // The upgraded program answers `bench_math` from the next slot on.
    chain.wait_past_slot(upgraded.slot).await;
    let mut bench = iogrid_tests::anchor_discriminator("global:bench_math").to_vec();
    bench.push(0);
    for operand in [1u64, 2, 3] {
        bench.extend_from_slice(&operand.to_le_bytes());
    }
    bench.extend_from_slice(&1u16.to_le_bytes());
    let ix = solana_instruction::Instruction {
        program_id: iogrid_sdk::PROGRAM_ID,
        accounts: vec![solana_instruction::AccountMeta::new_readonly(
            voter.pubkey(),
            true,
        )],
        data: bench,
    };
    chain
        .send("bench_math (upgraded program)", &[ix], &[&voter])
        .await;
}

async fn supplier_balances(chain: &Chain, suppliers: &[Keypair]) -> Vec<u64> {
    let mut balances = Vec::new();
    for supplier in suppliers {
        balances.push(chain.balance(&supplier.pubkey()).await);
    }
    balances
}

async fn job_account(chain: &Chain, job: &Address) -> JobAccount {
    chain.job(job).await.expect("the job account exists")
}

async fn fee_change_by_governance(localnet: &Localnet, chain: &mut Chain) {
    let voter = key(localnet, "voter");
    let owner = voter.pubkey();
    let stake = StakeAccounts::new(owner, token::io_account_of(&owner)).instruction(20_000 * IO);
    chain.send("stake", &[stake], &[&voter]).await;
    let state = network_state(&chain.rpc).await.unwrap();
    let params = NetworkParams {
        fee_bps: 300,
        ..state.config.params
    };
    let id = state.config.proposal_count;
    let args = ProposalArgs {
        action: ProposalAction::set_params(params),
        title: iogrid_sdk::accounts::ascii_field("Fee to 3%").unwrap(),
        description_hash: [0; 32],
    };
    let create = CreateProposalAccounts::new(owner, id);
    chain
        .send("create_proposal", &[create.instruction(&args)], &[&voter])
        .await;
    let proposal = create.proposal;
    let vote = CastVoteAccounts::new(owner, proposal).instruction(VoteChoice::Yes);
    chain.send("cast_vote", &[vote], &[&voter]).await;

    let ends = proposal_state(&chain.rpc, &proposal).await.voting_ends_at;
    while chain.now().await < ends {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    chain
        .send(
            "finalize_proposal",
            &[FinalizeProposalAccounts::new(proposal).instruction()],
            &[&voter],
        )
        .await;
    let passed = proposal_state(&chain.rpc, &proposal).await;
    assert_eq!(passed.status(), ProposalStatus::Passed);
    while chain.now().await < passed.executable_at {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let execute = ExecuteProposalAccounts::new(proposal, &passed.action).instruction();
    chain.send("execute_proposal", &[execute], &[&voter]).await;
    assert_eq!(
        network_state(&chain.rpc)
            .await
            .unwrap()
            .config
            .params
            .fee_bps,
        300
    );
}

async fn proposal_state(rpc: &RpcClient, address: &Address) -> Proposal {
    program_account(rpc, address, "proposal").await.unwrap()
}
