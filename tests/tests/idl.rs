//! The sdk against the program's IDL (`target/idl/iogrid.json`, made by
//! `scripts/build-idl`): discriminators, account and event layouts (field
//! names, order and byte offsets), instruction accounts and args, errors.

use {
    iogrid_sdk::{
        accounts::{
            Assignment, Config, GpuListing, GpuSpec, InferenceCredit, Job, JobSpec, JobTerms,
            NetworkParams, ProgramAccount, Proposal, ProposalAction, RewardPool, StakeAccount,
            VoteChoice, VoteRecord,
        },
        errors::IogridError,
        events::*,
        instructions::*,
        Address, PROGRAM_ID,
    },
    serde_json::Value,
    std::{collections::HashMap, mem::offset_of},
};

fn idl() -> Value {
    let path = iogrid_tests::repo_root().join("target/idl/iogrid.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-idl first", path.display()));
    serde_json::from_str(&text).expect("the IDL is JSON")
}

fn by_name<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .expect("an IDL list")
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the IDL"))
}

fn discriminator(item: &Value) -> [u8; 8] {
    let bytes: Vec<u8> = serde_json::from_value(item["discriminator"].clone()).expect("bytes");
    bytes.try_into().expect("8 bytes")
}

/// Size of a fixed-size IDL type, following `defined` types through `types`;
/// `None` for variable-size ones (options).
fn fixed_size(idl: &Value, ty: &Value) -> Option<usize> {
    Some(match ty {
        Value::String(s) => match s.as_str() {
            "u8" | "i8" | "bool" => 1,
            "u16" | "i16" => 2,
            "u32" | "i32" => 4,
            "u64" | "i64" => 8,
            "u128" | "i128" => 16,
            "pubkey" => 32,
            other => panic!("unknown IDL type {other}"),
        },
        Value::Object(o) if o.contains_key("option") => return None,
        Value::Object(o) if o.contains_key("array") => {
            let array = &o["array"];
            fixed_size(idl, &array[0])? * array[1].as_u64().expect("array length") as usize
        }
        Value::Object(o) if o.contains_key("defined") => {
            let name = o["defined"]["name"].as_str().expect("defined name");
            let sizes: Option<Vec<usize>> = fields(idl, name)
                .iter()
                .map(|(_, ty)| fixed_size(idl, ty))
                .collect();
            sizes?.iter().sum()
        }
        other => panic!("unexpected IDL type {other}"),
    })
}

fn type_size(idl: &Value, ty: &Value) -> usize {
    fixed_size(idl, ty).unwrap_or_else(|| panic!("{ty} has no fixed size"))
}

fn fields(idl: &Value, type_name: &str) -> Vec<(String, Value)> {
    let ty = by_name(&idl["types"], type_name);
    ty["type"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{type_name} has no fields"))
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["type"].clone()))
        .collect()
}

/// Asserts the IDL's fields of `type_name`, in order, sit at the sdk's offsets
/// and that the sdk struct has no more bytes than the IDL's.
fn assert_layout(idl: &Value, type_name: &str, sdk_size: usize, sdk_offsets: &[(&str, usize)]) {
    let fields = fields(idl, type_name);
    let mut offset = 0;
    let idl_offsets: Vec<(String, usize)> = fields
        .iter()
        .map(|(name, ty)| {
            let at = offset;
            offset += type_size(idl, ty);
            (name.trim_start_matches('_').to_string(), at)
        })
        .collect();
    let sdk: Vec<(String, usize)> = sdk_offsets
        .iter()
        .map(|(n, o)| (n.to_string(), *o))
        .collect();
    assert_eq!(sdk, idl_offsets, "{type_name}: field names/order/offsets");
    assert_eq!(sdk_size, offset, "{type_name}: total size");
}

macro_rules! offsets {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        &[$((stringify!($field), offset_of!($ty, $field))),*]
    };
}

#[test]
fn idl_address_is_the_sdk_program_id() {
    assert_eq!(idl()["address"], PROGRAM_ID.to_string());
}

#[test]
fn every_instruction_discriminator_matches() {
    let idl = idl();
    let instructions = idl["instructions"].as_array().unwrap();
    assert_eq!(
        instructions.len(),
        ALL_DISCRIMINATORS.len(),
        "the sdk builds every instruction"
    );
    for (name, disc) in ALL_DISCRIMINATORS {
        assert_eq!(
            discriminator(by_name(&idl["instructions"], name)),
            *disc,
            "{name}"
        );
    }
}

#[test]
fn account_layouts_match() {
    let idl = idl();
    for (name, disc) in [
        (Config::NAME, Config::DISCRIMINATOR),
        (StakeAccount::NAME, StakeAccount::DISCRIMINATOR),
        (GpuListing::NAME, GpuListing::DISCRIMINATOR),
        (Job::NAME, Job::DISCRIMINATOR),
        (Proposal::NAME, Proposal::DISCRIMINATOR),
        (VoteRecord::NAME, VoteRecord::DISCRIMINATOR),
        (InferenceCredit::NAME, InferenceCredit::DISCRIMINATOR),
    ] {
        assert_eq!(
            discriminator(by_name(&idl["accounts"], name)),
            disc,
            "{name}"
        );
    }
    assert_eq!(
        idl["accounts"].as_array().unwrap().len(),
        7,
        "the sdk decodes every account"
    );
    assert_layout(
        &idl,
        "InferenceCredit",
        std::mem::size_of::<InferenceCredit>(),
        offsets!(InferenceCredit {
            owner,
            gateway,
            escrow,
            balance,
            max_price_per_mtok,
            last_seq,
            spent,
            withdrawal_pending,
            withdrawal_available_at,
            bump,
            escrow_bump,
            version,
            padding,
            reserved
        }),
    );
    assert_layout(
        &idl,
        "Proposal",
        std::mem::size_of::<Proposal>(),
        offsets!(Proposal {
            proposer,
            description_hash,
            title,
            action,
            id,
            created_at,
            voting_ends_at,
            executable_at,
            yes,
            no,
            abstain,
            turnout_base,
            status,
            bump,
            version,
            padding,
            quorum_bps,
            threshold_bps
        }),
    );
    assert_layout(
        &idl,
        "ProposalAction",
        std::mem::size_of::<ProposalAction>(),
        offsets!(ProposalAction {
            kind,
            padding,
            amount,
            address,
            params
        }),
    );
    assert_layout(
        &idl,
        "VoteRecord",
        std::mem::size_of::<VoteRecord>(),
        offsets!(VoteRecord {
            voter,
            proposal,
            weight,
            choice,
            bump,
            version,
            padding
        }),
    );
    assert_layout(
        &idl,
        "Job",
        std::mem::size_of::<Job>(),
        offsets!(Job {
            owner,
            workload_hash,
            workload_uri,
            gpu_model,
            region,
            id,
            max_price_per_gpu_hour,
            duration_secs,
            deposit,
            compensation,
            paid_out,
            started_at,
            proven_at,
            disputed_at,
            min_vram_gb,
            gpus,
            gpus_assigned,
            award_bps,
            status,
            bump,
            escrow_bump,
            version,
            padding,
            terms,
            created_at,
            escrow
        }),
    );
    assert_layout(
        &idl,
        "JobTerms",
        std::mem::size_of::<JobTerms>(),
        offsets!(JobTerms {
            challenge_window_secs,
            job_grace_secs,
            fee_bps,
            burn_bps,
            slash_bps,
            padding
        }),
    );
    assert_layout(
        &idl,
        "JobSpec",
        std::mem::size_of::<JobSpec>(),
        offsets!(JobSpec {
            workload_hash,
            workload_uri,
            gpu_model,
            region,
            max_price_per_gpu_hour,
            duration_secs,
            min_vram_gb,
            gpus,
            max_listings,
            padding
        }),
    );
    assert_layout(
        &idl,
        "Assignment",
        std::mem::size_of::<Assignment>(),
        offsets!(Assignment {
            listing,
            supplier,
            price_per_gpu_hour,
            started_at,
            gpu_seconds,
            nonce,
            result_hash,
            gpus,
            status,
            padding
        }),
    );
    assert_layout(
        &idl,
        "Config",
        std::mem::size_of::<Config>(),
        offsets!(Config {
            authority,
            io_mint,
            distribution,
            treasury,
            rewards_vault,
            stake_vault,
            arbiter,
            keepers,
            supply_cap,
            genesis_supply,
            emitted,
            emission_start,
            last_emission,
            total_staked,
            burned,
            treasury_balance,
            proposal_count,
            rewards,
            params,
            keeper_count,
            paused,
            bump,
            version,
            reserved
        }),
    );
    assert_layout(
        &idl,
        "RewardPool",
        std::mem::size_of::<RewardPool>(),
        offsets!(RewardPool {
            acc_reward_per_gpu,
            gpus_online,
            accounted,
            unallocated,
            claimed,
            last_update
        }),
    );
    assert_layout(
        &idl,
        "NetworkParams",
        std::mem::size_of::<NetworkParams>(),
        offsets!(NetworkParams {
            min_stake_per_gpu,
            proposal_min_stake,
            free_tokens_per_io_day,
            unbonding_secs,
            heartbeat_interval_secs,
            heartbeat_timeout_secs,
            challenge_window_secs,
            job_grace_secs,
            voting_secs,
            timelock_secs,
            fee_bps,
            burn_bps,
            slash_bps,
            slash_cap_bps,
            quorum_bps,
            threshold_bps
        }),
    );
    assert_layout(
        &idl,
        "StakeAccount",
        std::mem::size_of::<StakeAccount>(),
        offsets!(StakeAccount {
            owner,
            staked,
            locked_for_listings,
            unbonding,
            unbonding_available_at,
            vote_locked,
            vote_lock_until,
            next_listing_id,
            listings,
            bump,
            version,
            padding,
            reserved
        }),
    );
    assert_layout(
        &idl,
        "GpuSpec",
        std::mem::size_of::<GpuSpec>(),
        offsets!(GpuSpec {
            worker,
            gpu_model,
            price_per_gpu_hour,
            region,
            vram_gb,
            gpu_count,
            padding
        }),
    );
    assert_layout(
        &idl,
        "GpuListing",
        std::mem::size_of::<GpuListing>(),
        offsets!(GpuListing {
            owner,
            spec,
            id,
            stake_locked,
            listed_at,
            last_heartbeat,
            reward_debt,
            rewards_accrued,
            rewards_forfeited,
            rewards_claimed,
            jobs_completed,
            jobs_faulted,
            gpus_free,
            status,
            bump,
            version,
            padding,
            assignments_made,
            slashed_at_heartbeat,
            forfeits_folded,
            reserved
        }),
    );
}

macro_rules! check_events {
    ($idl:expr, $($event:ident { $($field:ident),* $(,)? })*) => {{
        let mut count = 0;
        $(
            assert_eq!(discriminator(by_name(&$idl["events"], $event::NAME)), $event::DISCRIMINATOR, "{}", $event::NAME);
            assert_layout(&$idl, $event::NAME, std::mem::size_of::<$event>(), offsets!($event { $($field),* }));
            count += 1;
        )*
        assert_eq!($idl["events"].as_array().unwrap().len(), count, "the sdk decodes every event");
    }};
}

#[test]
fn event_layouts_match() {
    let idl = idl();
    check_events!(idl,
        NetworkInitialized { authority, io_mint, distribution, genesis_supply, supply_cap, emission_start }
        Staked { owner, amount, staked_after, total_staked_after }
        UnstakeRequested { owner, amount, unbonding_after, available_at, staked_after }
        UnstakeCancelled { owner, amount, staked_after }
        Withdrawn { owner, destination, amount }
        GpuListed {
            owner, listing, worker, id, price_per_gpu_hour, stake_locked, gpus_online_after,
            gpu_count, vram_gb, padding
        }
        ListingUpdated { listing, worker, price_per_gpu_hour, gpus_online_after, status, padding }
        GpuDelisted { owner, listing, stake_unlocked, rewards_paid, rewards_forfeited, gpus_online_after }
        RewardsClaimed { listing, destination, amount, claimed_total }
        HeartbeatRecorded { listing, at, credited, forfeited }
        EmissionMinted { amount, emitted_after, at }
        RewardsSwept { amount, folded_from_listings, treasury_after, at }
        ListingMarkedOffline { listing, last_heartbeat, forfeited, gpus_online_after }
        JobCreated {
            job, owner, id, deposit, max_price_per_gpu_hour, duration_secs, gpus, min_vram_gb, padding
        }
        JobAssigned { job, assigner, started_at, gpus_assigned_after, listings, padding }
        ProofAccepted { job, assignment, fully_proven, padding }
        JobStatusChanged { job, at, status, padding, award_bps, padding2 }
        JobToppedUp { job, amount, deposit_after, duration_secs_after, gpus_after, padding }
        FaultReported { job, listing, last_heartbeat, gpu_seconds_paid, slashed, compensation }
        JobPayment { job, listing, payee, gross, net, fee, burned }
        JobClosed { job, deposit, compensation, paid_out, refund, outcome, padding }
        KeepersSet { authority, count, padding }
        ProposalCreated { proposal, proposer, id, voting_ends_at, turnout_base, kind, padding }
        VoteChanged { proposal, voter, weight_change, yes, no, abstain, choice, padding }
        ProposalStatusChanged { proposal, at, executable_at, status, padding }
        AuthorityTransferred { previous, governance }
        CreditOpened { credit, owner, gateway, escrow, max_price_per_mtok }
        CreditDeposited { credit, amount, balance_after }
        CreditWithdrawalRequested { credit, amount, available_at, balance }
        CreditWithdrawn { credit, destination, amount, requested, balance_after }
        UsageSettled {
            credit, listing, payee, seq, tokens, price_per_mtok, charge, net, fee, burned,
            balance_after, spent_after
        }
        CreditClosed { credit, owner, spent, swept }
    );
}

/// Names, order, writable/signer flags, fixed addresses and constant PDAs of
/// each instruction's accounts agree with what the sdk sends.
fn assert_instruction_accounts(
    idl: &Value,
    name: &str,
    sdk: &[(&str, solana_instruction::AccountMeta)],
) {
    let idl_accounts = by_name(&idl["instructions"], name)["accounts"]
        .as_array()
        .unwrap()
        .clone();
    let idl_names: Vec<&str> = idl_accounts
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    let sdk_names: Vec<&str> = sdk.iter().map(|(n, _)| *n).collect();
    assert_eq!(sdk_names, idl_names, "{name}: account order");
    for (account, (_, meta)) in idl_accounts.iter().zip(sdk) {
        let label = format!("{name}.{}", account["name"]);
        assert_eq!(
            meta.is_writable,
            account["writable"] == true,
            "{label} writable"
        );
        assert_eq!(meta.is_signer, account["signer"] == true, "{label} signer");
        if let Some(address) = account["address"].as_str() {
            assert_eq!(meta.pubkey.to_string(), address, "{label} address");
        }
        let seeds = account["pda"]["seeds"].as_array();
        if let Some(seeds) = seeds.filter(|s| s.iter().all(|seed| seed["kind"] == "const")) {
            let seeds: Vec<Vec<u8>> = seeds
                .iter()
                .map(|s| serde_json::from_value(s["value"].clone()).unwrap())
                .collect();
            let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
            let (pda, _) = Address::find_program_address(&refs, &PROGRAM_ID);
            assert_eq!(meta.pubkey, pda, "{label} PDA seeds");
        }
    }
}

/// Asserts an instruction's arg names and that the sdk's encoding has the
/// IDL's size (Option args are sized as encoded by the sdk).
fn assert_args(idl: &Value, name: &str, names: &[&str], data_len: usize) {
    let args = by_name(&idl["instructions"], name)["args"]
        .as_array()
        .unwrap()
        .clone();
    let arg_names: Vec<&str> = args.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(arg_names, names, "{name}: args");
    let sizes: Option<Vec<usize>> = args.iter().map(|a| fixed_size(idl, &a["type"])).collect();
    if let Some(sizes) = sizes {
        assert_eq!(
            data_len,
            8 + sizes.iter().sum::<usize>(),
            "{name}: encoded args size"
        );
    }
}

#[test]
fn instruction_accounts_and_args_match() {
    let idl = idl();
    let (a, b, c) = (
        Address::new_unique(),
        Address::new_unique(),
        Address::new_unique(),
    );
    let init = InitializeAccounts::new(a, b);
    assert_instruction_accounts(&idl, "initialize", &init.named_metas());
    assert_args(
        &idl,
        "initialize",
        &["params", "arbiter"],
        init.instruction(&NetworkParams::default(), &c).data.len(),
    );

    let stake = StakeAccounts::new(a, b);
    assert_instruction_accounts(&idl, "stake", &stake.named_metas());
    assert_args(&idl, "stake", &["amount"], stake.instruction(1).data.len());
    let unstake = UnstakeAccounts::new(a);
    assert_instruction_accounts(&idl, "request_unstake", &unstake.named_metas());
    assert_args(
        &idl,
        "request_unstake",
        &["amount"],
        unstake.request_unstake(1).data.len(),
    );
    assert_instruction_accounts(&idl, "cancel_unstake", &unstake.named_metas());
    assert_args(
        &idl,
        "cancel_unstake",
        &[],
        unstake.cancel_unstake().data.len(),
    );
    let withdraw = WithdrawAccounts::new(a, b);
    assert_instruction_accounts(&idl, "withdraw", &withdraw.named_metas());
    assert_args(&idl, "withdraw", &[], withdraw.instruction().data.len());

    let list = ListGpuAccounts::new(a, 0);
    assert_instruction_accounts(&idl, "list_gpu", &list.named_metas());
    let spec = GpuSpec::new(c, "A100", 40, 1, "us", 1).unwrap();
    assert_args(
        &idl,
        "list_gpu",
        &["spec", "id"],
        list.instruction(&spec, 0).data.len(),
    );
    let update = UpdateListingAccounts::new(a, b);
    assert_instruction_accounts(&idl, "update_listing", &update.named_metas());
    assert_args(
        &idl,
        "update_listing",
        &["update"],
        update.instruction(&ListingUpdate::default()).data.len(),
    );
    let delist = DelistAccounts::new(a, b, c);
    assert_instruction_accounts(&idl, "delist", &delist.named_metas());
    assert_args(&idl, "delist", &[], delist.instruction().data.len());
    let claim = ClaimRewardsAccounts::new(a, b, c);
    assert_instruction_accounts(&idl, "claim_rewards", &claim.named_metas());
    assert_args(&idl, "claim_rewards", &[], claim.instruction().data.len());
    let heartbeat = HeartbeatAccounts::new(a, b);
    assert_instruction_accounts(&idl, "heartbeat", &heartbeat.named_metas());
    assert_args(&idl, "heartbeat", &[], heartbeat.instruction().data.len());
    let crank = CrankEmissionAccounts::new();
    assert_instruction_accounts(&idl, "crank_emission", &crank.named_metas());
    assert_args(&idl, "crank_emission", &[], crank.instruction().data.len());
    let sweep = SweepRewardsAccounts::new();
    assert_instruction_accounts(&idl, "sweep_rewards", &sweep.named_metas());
    assert_args(
        &idl,
        "sweep_rewards",
        &[],
        sweep.instruction(&[]).data.len(),
    );
    let offline = MarkOfflineAccounts::new(a);
    assert_instruction_accounts(&idl, "mark_offline", &offline.named_metas());
    assert_args(&idl, "mark_offline", &[], offline.instruction().data.len());

    let keepers = SetKeepersAccounts::new(a);
    assert_instruction_accounts(&idl, "set_keepers", &keepers.named_metas());
    assert_args(
        &idl,
        "set_keepers",
        &["keepers", "count"],
        keepers.instruction(&[b]).data.len(),
    );
    let create = CreateJobAccounts::new(a, 3, b);
    assert_instruction_accounts(&idl, "create_job", &create.named_metas());
    let spec = iogrid_tests::fixtures::Network::job_spec(1, 1, 1);
    assert_args(
        &idl,
        "create_job",
        &["id", "spec"],
        create.instruction(3, &spec).data.len(),
    );
    let cancel = CancelJobAccounts::new(a, b, c);
    assert_instruction_accounts(&idl, "cancel_job", &cancel.named_metas());
    assert_args(&idl, "cancel_job", &[], cancel.instruction().data.len());
    let assign = AssignJobAccounts::new(a, b);
    for name in ["assign_job", "reassign"] {
        assert_instruction_accounts(&idl, name, &assign.named_metas());
    }
    // Remaining accounts (the listings) follow the fixed ones.
    assert_args(
        &idl,
        "assign_job",
        &["gpus"],
        assign.assign_job(&[]).data.len(),
    );
    assert_args(&idl, "reassign", &["gpus"], assign.reassign(&[]).data.len());
    let complete = CompleteJobAccounts::new(a, b);
    assert_instruction_accounts(&idl, "complete_job", &complete.named_metas());
    assert_args(
        &idl,
        "complete_job",
        &["result_hash", "gpu_seconds"],
        complete.instruction(&[0; 32], 1).data.len(),
    );
    let approve = ApproveJobAccounts::new(a, b);
    assert_instruction_accounts(&idl, "approve_job", &approve.named_metas());
    assert_args(&idl, "approve_job", &[], approve.instruction().data.len());
    let dispute = DisputeJobAccounts::new(a, b);
    assert_instruction_accounts(&idl, "dispute_job", &dispute.named_metas());
    assert_args(&idl, "dispute_job", &[], dispute.instruction().data.len());
    let resolve = ResolveDisputeAccounts::new(a, b);
    assert_instruction_accounts(&idl, "resolve_dispute", &resolve.named_metas());
    assert_args(
        &idl,
        "resolve_dispute",
        &["award_bps"],
        resolve.instruction(1).data.len(),
    );
    let close = CloseJobAccounts::new(a, b, c);
    assert_instruction_accounts(&idl, "settle_job", &close.named_metas());
    assert_args(&idl, "settle_job", &[], close.settle_job(&[]).data.len());
    let expire = ExpireJobAccounts::new(a);
    assert_instruction_accounts(&idl, "expire_job", &expire.named_metas());
    assert_args(&idl, "expire_job", &[], expire.instruction(&[]).data.len());
    let fault = ReportFaultAccounts::new(a, b, &c, c);
    assert_instruction_accounts(&idl, "report_fault", &fault.named_metas());
    assert_args(&idl, "report_fault", &[], fault.instruction().data.len());
    let top_up = TopUpJobAccounts::new(a, b, c);
    for name in ["extend_job", "scale_job"] {
        assert_instruction_accounts(&idl, name, &top_up.named_metas());
    }
    assert_args(
        &idl,
        "extend_job",
        &["extra_secs"],
        top_up.extend_job(1).data.len(),
    );
    assert_args(
        &idl,
        "scale_job",
        &["extra_gpus", "capacity"],
        top_up.scale_job(1, 1).data.len(),
    );

    let args = ProposalArgs {
        action: ProposalAction::set_params(NetworkParams::default()),
        title: [0; 64],
        description_hash: [0; 32],
    };
    let propose = CreateProposalAccounts::new(a, 7);
    assert_instruction_accounts(&idl, "create_proposal", &propose.named_metas());
    assert_args(
        &idl,
        "create_proposal",
        &["args"],
        propose.instruction(&args).data.len(),
    );
    let vote = CastVoteAccounts::new(a, b);
    assert_instruction_accounts(&idl, "cast_vote", &vote.named_metas());
    assert_args(
        &idl,
        "cast_vote",
        &["choice"],
        vote.instruction(VoteChoice::Yes).data.len(),
    );
    let unvote = WithdrawVoteAccounts::new(a, b);
    assert_instruction_accounts(&idl, "withdraw_vote", &unvote.named_metas());
    assert_args(&idl, "withdraw_vote", &[], unvote.instruction().data.len());
    let finalize = FinalizeProposalAccounts::new(a);
    assert_instruction_accounts(&idl, "finalize_proposal", &finalize.named_metas());
    assert_args(
        &idl,
        "finalize_proposal",
        &[],
        finalize.instruction().data.len(),
    );
    let execute = ExecuteProposalAccounts::new(a, &ProposalAction::pause());
    assert_instruction_accounts(&idl, "execute_proposal", &execute.named_metas());
    assert_args(
        &idl,
        "execute_proposal",
        &[],
        execute.instruction().data.len(),
    );
    let handover = TransferAuthorityAccounts::new(a);
    assert_instruction_accounts(
        &idl,
        "transfer_authority_to_governance",
        &handover.named_metas(),
    );
    assert_args(
        &idl,
        "transfer_authority_to_governance",
        &[],
        handover.instruction().data.len(),
    );

    let open = OpenCreditAccounts::new(a);
    assert_instruction_accounts(&idl, "open_credit", &open.named_metas());
    assert_args(
        &idl,
        "open_credit",
        &["gateway", "max_price_per_mtok"],
        open.instruction(&b, 1).data.len(),
    );
    let deposit = DepositCreditAccounts::new(a, b);
    assert_instruction_accounts(&idl, "deposit_credit", &deposit.named_metas());
    assert_args(
        &idl,
        "deposit_credit",
        &["amount"],
        deposit.instruction(1).data.len(),
    );
    let request = RequestCreditWithdrawalAccounts::new(a);
    assert_instruction_accounts(&idl, "request_credit_withdrawal", &request.named_metas());
    assert_args(
        &idl,
        "request_credit_withdrawal",
        &["amount"],
        request.instruction(1).data.len(),
    );
    let withdraw_credit = WithdrawCreditAccounts::new(a, b);
    assert_instruction_accounts(&idl, "withdraw_credit", &withdraw_credit.named_metas());
    assert_args(
        &idl,
        "withdraw_credit",
        &[],
        withdraw_credit.instruction().data.len(),
    );
    let settle = SettleUsageAccounts::new(a, b, c, a);
    assert_instruction_accounts(&idl, "settle_usage", &settle.named_metas());
    assert_args(
        &idl,
        "settle_usage",
        &["seq", "tokens", "price_per_mtok"],
        settle.instruction(1, 1, 1).data.len(),
    );
    let close_credit = CloseCreditAccounts::new(a, b);
    assert_instruction_accounts(&idl, "close_credit", &close_credit.named_metas());
    assert_args(
        &idl,
        "close_credit",
        &[],
        close_credit.instruction().data.len(),
    );

    // Option args: the sdk's borsh encoding of ListingUpdate matches the IDL's
    // field order (option tags then values).
    let fields = fields(&idl, "ListingUpdate");
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["price_per_gpu_hour", "worker", "online"]);
    let full = ListingUpdate {
        price_per_gpu_hour: Some(1),
        worker: Some(c),
        online: Some(true),
    };
    assert_eq!(
        update.instruction(&full).data.len(),
        8 + (1 + 8) + (1 + 32) + (1 + 1)
    );
}

#[test]
fn errors_match() {
    let idl = idl();
    let idl_errors: HashMap<u64, (String, String)> = idl["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (e["code"].as_u64().unwrap(), (text("name"), text("msg")))
        })
        .collect();
    assert_eq!(
        idl_errors.len(),
        IogridError::ALL.len(),
        "the sdk knows every error"
    );
    for error in IogridError::ALL {
        let (name, msg) = &idl_errors[&u64::from(error.code())];
        assert_eq!(
            (name.as_str(), msg.as_str()),
            (error.name(), error.message())
        );
    }
}
