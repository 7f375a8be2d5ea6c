//! `iogrid balance [ADDRESS]`: a wallet's SOL and IO (default: the signer).

use {
    crate::{
        keys::{load_keypair, parse_address},
        output::{print, OutputFormat},
    },
    anyhow::Result,
    clap::Args,
    iogrid_sdk::{
        constants::format_io,
        rpc::{NonblockingRpcClient as RpcClient, RpcReadError},
        token, Address,
    },
    serde::Serialize,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// A wallet address or keypair file (default: the signer).
    pub address: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BalanceView {
    pub address: String,
    pub lamports: u64,
    /// IO base units in the wallet's IO account (0 without one).
    pub io: u64,
}

impl fmt::Display for BalanceView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} SOL, {}",
            self.address,
            self.lamports as f64 / 1e9,
            format_io(self.io)
        )
    }
}

pub async fn execute(
    args: &BalanceArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    let address = match &args.address {
        Some(text) if Path::new(text).is_file() => {
            solana_signer::Signer::pubkey(&load_keypair(Some(Path::new(text)))?)
        }
        Some(text) => match text.parse() {
            Ok(address) => address,
            Err(_) => parse_address(text, &load_keypair(keypair)?)?,
        },
        None => solana_signer::Signer::pubkey(&load_keypair(keypair)?),
    };
    let io_account = token::io_account_of(&address);
    let accounts = rpc
        .get_multiple_accounts_with_commitment(&[address, io_account], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value;
    let lamports = accounts[0].as_ref().map_or(0, |a| a.lamports);
    let io = accounts[1]
        .as_ref()
        .and_then(|a| token::balance(&a.data))
        .unwrap_or(0);
    print(
        output,
        &BalanceView {
            address: address.to_string(),
            lamports,
            io,
        },
    )
}

/// `owner`'s IO balance (0 without an IO account).
pub async fn io_balance(rpc: &RpcClient, owner: &Address) -> Result<u64> {
    let account = rpc
        .get_multiple_accounts_with_commitment(&[token::io_account_of(owner)], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value
        .pop()
        .flatten();
    Ok(account.and_then(|a| token::balance(&a.data)).unwrap_or(0))
}

/// Refuses, before anything is signed, when `owner` holds less IO than
/// `need`: "you have 5.000000 IO, the escrow needs 9.000000 IO".
pub async fn ensure_io(rpc: &RpcClient, owner: &Address, need: u64, what: &str) -> Result<()> {
    let have = io_balance(rpc, owner).await?;
    anyhow::ensure!(
        have >= need,
        "you have {}, {what} needs {}",
        format_io(have),
        format_io(need)
    );
    Ok(())
}
