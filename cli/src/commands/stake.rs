//! `iogrid stake`: stake IO, unbond it, withdraw it, and see where it stands.

use {
    crate::{
        commands::balance::ensure_io,
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{Context, Result},
    clap::{Args, Subcommand},
    iogrid_sdk::{
        accounts::StakeAccount,
        constants::{format_io, parse_io},
        instructions::{StakeAccounts, UnstakeAccounts, WithdrawAccounts},
        pda,
        rpc::{program_account, NonblockingRpcClient as RpcClient},
        token, Address,
    },
    serde::Serialize,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct StakeArgs {
    #[command(subcommand)]
    pub command: StakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum StakeCommand {
    /// Stake IO from your IO account (e.g. `iogrid stake add 1000`).
    Add {
        /// IO to stake, e.g. 1000 or 2.5.
        amount: String,
    },
    /// Start unbonding IO that no listing or vote locks.
    Unstake {
        /// IO to start unbonding, e.g. 250.
        amount: String,
    },
    /// Return unbonding IO to active stake.
    Cancel,
    /// Pay unbonded IO back to your IO account after the cooldown.
    Withdraw,
    /// Show a staker (default: you).
    Show {
        /// Whose stake (default: the signer's).
        owner: Option<Address>,
    },
}

/// A staker's position.
#[derive(Debug, Serialize)]
pub struct StakeView {
    pub owner: String,
    pub staked: u64,
    pub locked_for_listings: u64,
    pub vote_locked: u64,
    pub vote_lock_until: i64,
    pub unbonding: u64,
    pub unbonding_available_at: i64,
    pub listings: u32,
    /// Set when this view follows a transaction.
    pub signature: Option<String>,
}

impl StakeView {
    fn new(stake: &StakeAccount, signature: Option<String>) -> Self {
        Self {
            owner: stake.owner.to_string(),
            staked: stake.staked,
            locked_for_listings: stake.locked_for_listings,
            vote_locked: stake.vote_locked,
            vote_lock_until: stake.vote_lock_until,
            unbonding: stake.unbonding,
            unbonding_available_at: stake.unbonding_available_at,
            listings: stake.listings,
            signature,
        }
    }
}

impl fmt::Display for StakeView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "staker {}", self.owner)?;
        writeln!(f, "  active       {}", format_io(self.staked))?;
        writeln!(
            f,
            "  locked       {} for {} listing(s)",
            format_io(self.locked_for_listings),
            self.listings
        )?;
        if self.vote_locked > 0 {
            writeln!(
                f,
                "  vote-locked  {} until {} (unix)",
                format_io(self.vote_locked),
                self.vote_lock_until
            )?;
        }
        if self.unbonding > 0 {
            writeln!(
                f,
                "  unbonding    {} until {} (unix)",
                format_io(self.unbonding),
                self.unbonding_available_at
            )?;
        }
        Ok(())
    }
}

const NO_STAKE: &str = "this wallet has never staked (iogrid stake add <IO>)";

pub async fn execute(
    args: &StakeArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    if let StakeCommand::Show { owner: Some(owner) } = &args.command {
        return show(rpc, owner, None, output).await;
    }
    let signer = load_keypair(keypair)?;
    let owner = signer.pubkey();
    let ix = match &args.command {
        StakeCommand::Add { amount } => {
            let amount = parse_io(amount).map_err(anyhow::Error::msg)?;
            ensure_io(rpc, &owner, amount, "the stake").await?;
            StakeAccounts::new(owner, token::io_account_of(&owner)).instruction(amount)
        }
        StakeCommand::Unstake { amount } => UnstakeAccounts::new(owner)
            .request_unstake(parse_io(amount).map_err(anyhow::Error::msg)?),
        StakeCommand::Cancel => UnstakeAccounts::new(owner).cancel_unstake(),
        StakeCommand::Withdraw => {
            WithdrawAccounts::new(owner, token::io_account_of(&owner)).instruction()
        }
        StakeCommand::Show { .. } => return show(rpc, &owner, None, output).await,
    };
    let sent = tx::send_and_confirm(rpc, &[ix], &[&signer])
        .await
        .context("the stake transaction failed")?;
    show(rpc, &owner, Some(sent.signature.to_string()), output).await
}

async fn show(
    rpc: &RpcClient,
    owner: &Address,
    signature: Option<String>,
    output: OutputFormat,
) -> Result<()> {
    let stake: StakeAccount = program_account(rpc, &pda::stake(owner).0, NO_STAKE).await?;
    print(output, &StakeView::new(&stake, signature))
}
