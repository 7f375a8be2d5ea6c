//! `iogrid credit`: the wallet's prepaid inference credit on-chain — open it
//! naming the gateway that may settle usage against it and the highest price
//! accepted, deposit IO, withdraw what is unspent (an hour after asking, the
//! gateway's time to settle what was served), close it.

use {
    crate::{
        commands::balance::ensure_io,
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{ensure, Context, Result},
    clap::{Args, Subcommand},
    iogrid_sdk::{
        accounts::InferenceCredit,
        constants::{format_io, parse_io},
        instructions::{
            CloseCreditAccounts, DepositCreditAccounts, OpenCreditAccounts,
            RequestCreditWithdrawalAccounts, WithdrawCreditAccounts,
        },
        pda,
        rpc::{program_account, NonblockingRpcClient as RpcClient},
        token, Address,
    },
    serde::Serialize,
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct CreditArgs {
    #[command(subcommand)]
    pub command: CreditCommand,
}

#[derive(Debug, Subcommand)]
pub enum CreditCommand {
    /// Open your credit: only `--gateway` may settle usage against it, at
    /// most `--max-price` IO per million tokens.
    Open {
        /// The gateway's settlement key (its operator publishes it).
        #[arg(long)]
        gateway: Address,
        /// The highest price you accept, IO per million tokens (e.g. 0.5).
        #[arg(long)]
        max_price: String,
    },
    /// Add IO to your credit (e.g. `iogrid credit deposit 10`).
    Deposit {
        /// IO to add to the credit, e.g. 5.
        amount: String,
    },
    /// Ask to withdraw unspent IO; `withdraw` pays it an hour later.
    RequestWithdrawal {
        /// IO to withdraw once the delay has passed.
        amount: String,
    },
    /// Pay the requested withdrawal to your IO account once the hour is over.
    Withdraw,
    /// Close an empty credit and get its rent back (to change gateway or price).
    Close,
    /// Show a credit (default: yours).
    Show {
        /// Whose credit (default: the signer's).
        owner: Option<Address>,
    },
}

/// A credit as `iogrid credit` shows it.
#[derive(Debug, Serialize)]
pub struct CreditView {
    pub address: String,
    pub owner: String,
    pub gateway: String,
    pub balance: u64,
    pub max_price_per_mtok: u64,
    pub spent: u64,
    pub withdrawal_pending: u64,
    pub withdrawal_available_at: i64,
    /// Set when this view follows a transaction.
    pub signature: Option<String>,
}

impl CreditView {
    fn new(address: &Address, credit: &InferenceCredit, signature: Option<String>) -> Self {
        Self {
            address: address.to_string(),
            owner: credit.owner.to_string(),
            gateway: credit.gateway.to_string(),
            balance: credit.balance,
            max_price_per_mtok: credit.max_price_per_mtok,
            spent: credit.spent,
            withdrawal_pending: credit.withdrawal_pending,
            withdrawal_available_at: credit.withdrawal_available_at,
            signature,
        }
    }
}

impl fmt::Display for CreditView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(signature) = &self.signature {
            writeln!(f, "transaction {signature}")?;
        }
        writeln!(f, "credit {} of {}", self.address, self.owner)?;
        writeln!(f, "  balance    {}", format_io(self.balance))?;
        writeln!(f, "  spent      {}", format_io(self.spent))?;
        writeln!(
            f,
            "  gateway    {} (at most {} per million tokens)",
            self.gateway,
            format_io(self.max_price_per_mtok)
        )?;
        if self.withdrawal_pending > 0 {
            writeln!(
                f,
                "  withdrawal {} requested, payable from {} (unix)",
                format_io(self.withdrawal_pending),
                self.withdrawal_available_at
            )?;
        }
        Ok(())
    }
}

const NO_CREDIT: &str =
    "this wallet has no inference credit (iogrid credit open --gateway <key> --max-price <IO>)";

pub async fn execute(
    args: &CreditArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    if let CreditCommand::Show { owner: Some(owner) } = &args.command {
        return show(rpc, owner, None, output).await;
    }
    let signer = load_keypair(keypair)?;
    let owner = signer.pubkey();
    let amount = |text: &str| -> Result<u64> {
        let amount = parse_io(text).map_err(anyhow::Error::msg)?;
        ensure!(amount > 0, "the amount must be more than 0 IO");
        Ok(amount)
    };
    let ix = match &args.command {
        CreditCommand::Open { gateway, max_price } => {
            let max_price = amount(max_price)?;
            OpenCreditAccounts::new(owner).instruction(gateway, max_price)
        }
        CreditCommand::Deposit { amount: text } => {
            let amount = amount(text)?;
            ensure_io(rpc, &owner, amount, "the deposit").await?;
            DepositCreditAccounts::new(owner, token::io_account_of(&owner)).instruction(amount)
        }
        CreditCommand::RequestWithdrawal { amount: text } => {
            RequestCreditWithdrawalAccounts::new(owner).instruction(amount(text)?)
        }
        CreditCommand::Withdraw => {
            WithdrawCreditAccounts::new(owner, token::io_account_of(&owner)).instruction()
        }
        CreditCommand::Close => {
            CloseCreditAccounts::new(owner, token::io_account_of(&owner)).instruction()
        }
        CreditCommand::Show { .. } => return show(rpc, &owner, None, output).await,
    };
    if matches!(args.command, CreditCommand::Close) {
        let sent = tx::send_and_confirm(rpc, &[ix], &[&signer])
            .await
            .context("the credit transaction failed")?;
        return print(output, &Closed(sent.signature.to_string()));
    }
    send_and_show(rpc, &signer, &[ix], output).await
}

/// Sends credit instructions signed by the owner, then shows the credit.
pub async fn send_and_show(
    rpc: &RpcClient,
    signer: &Keypair,
    ixs: &[Instruction],
    output: OutputFormat,
) -> Result<()> {
    let sent = tx::send_and_confirm(rpc, ixs, &[signer])
        .await
        .context("the credit transaction failed")?;
    show(
        rpc,
        &signer.pubkey(),
        Some(sent.signature.to_string()),
        output,
    )
    .await
}

/// The wallet's credit, if it has one.
pub async fn credit_of(rpc: &RpcClient, owner: &Address) -> Result<Option<InferenceCredit>> {
    match program_account::<InferenceCredit>(rpc, &pda::credit(owner).0, NO_CREDIT).await {
        Ok(credit) => Ok(Some(credit)),
        Err(iogrid_sdk::rpc::RpcReadError::Missing { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

async fn show(
    rpc: &RpcClient,
    owner: &Address,
    signature: Option<String>,
    output: OutputFormat,
) -> Result<()> {
    let address = pda::credit(owner).0;
    let credit: InferenceCredit = program_account(rpc, &address, NO_CREDIT).await?;
    print(output, &CreditView::new(&address, &credit, signature))
}

#[derive(Debug, Serialize)]
struct Closed(String);

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "credit closed, rent returned (transaction {})", self.0)
    }
}
