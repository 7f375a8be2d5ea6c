//! The sdk against the program's IDL (`target/idl/iogrid.json`, made by
//! `scripts/build-idl`): discriminators, account and event layouts (field
//! names, order and byte offsets), instruction accounts and args, errors.

use {
    iogrid_sdk::{
        accounts::{Config, NetworkParams, ProgramAccount},
        errors::IogridError,
        events::{NetworkInitialized, ProgramEvent},
        instructions::{InitializeAccounts, ALL_DISCRIMINATORS},
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

/// Size of an IDL type, following `defined` types through `types`.
fn type_size(idl: &Value, ty: &Value) -> usize {
    match ty {
        Value::String(s) => match s.as_str() {
            "u8" | "i8" | "bool" => 1,
            "u16" | "i16" => 2,
            "u32" | "i32" => 4,
            "u64" | "i64" => 8,
            "u128" | "i128" => 16,
            "pubkey" => 32,
            other => panic!("unsized IDL type {other}"),
        },
        Value::Object(o) if o.contains_key("array") => {
            let array = &o["array"];
            type_size(idl, &array[0]) * array[1].as_u64().expect("array length") as usize
        }
        Value::Object(o) if o.contains_key("defined") => {
            let name = o["defined"]["name"].as_str().expect("defined name");
            fields(idl, name)
                .iter()
                .map(|(_, ty)| type_size(idl, ty))
                .sum()
        }
        other => panic!("unexpected IDL type {other}"),
    }
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
    assert_eq!(
        discriminator(by_name(&idl["accounts"], Config::NAME)),
        Config::DISCRIMINATOR
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
        "NetworkParams",
        std::mem::size_of::<NetworkParams>(),
        offsets!(NetworkParams {
            min_stake_per_gpu,
            proposal_min_stake,
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
}

#[test]
fn event_layouts_match() {
    let idl = idl();
    assert_eq!(
        discriminator(by_name(&idl["events"], NetworkInitialized::NAME)),
        NetworkInitialized::DISCRIMINATOR
    );
    assert_layout(
        &idl,
        "NetworkInitialized",
        std::mem::size_of::<NetworkInitialized>(),
        offsets!(NetworkInitialized {
            authority,
            io_mint,
            distribution,
            genesis_supply,
            supply_cap,
            emission_start
        }),
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

#[test]
fn instruction_accounts_and_args_match() {
    let idl = idl();
    let accounts = InitializeAccounts::new(Address::new_unique(), Address::new_unique());
    assert_instruction_accounts(&idl, "initialize", &accounts.named_metas());

    let args = by_name(&idl["instructions"], "initialize")["args"]
        .as_array()
        .unwrap()
        .clone();
    let arg_names: Vec<&str> = args.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(arg_names, ["params", "arbiter"]);
    let args_size: usize = args.iter().map(|a| type_size(&idl, &a["type"])).sum();
    let ix = accounts.instruction(&NetworkParams::default(), &Address::new_unique());
    assert_eq!(
        ix.data.len(),
        8 + args_size,
        "initialize args encode to the IDL's size"
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
