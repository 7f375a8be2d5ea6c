//! `iogrid gov`: stakers propose, vote, finalize and execute; the bootstrap
//! authority hands the network over. docs/governance.md has the rules.

use {
    crate::{
        keys::load_keypair,
        output::{print, OutputFormat},
        tx,
    },
    anyhow::{bail, Context, Result},
    clap::{Args, Subcommand, ValueEnum},
    iogrid_sdk::{
        accounts::{
            ascii_field, ascii_text, NetworkParams, Proposal, ProposalAction, ProposalStatus,
            VoteChoice,
        },
        constants::{format_io, parse_io},
        errors::ProgramFailure,
        instructions::{
            CastVoteAccounts, CreateProposalAccounts, ExecuteProposalAccounts,
            FinalizeProposalAccounts, ProposalArgs, TransferAuthorityAccounts,
            WithdrawVoteAccounts,
        },
        pda,
        rpc::{network_state, program_account, NonblockingRpcClient as RpcClient},
        send::SendError,
        token, Address,
    },
    serde::Serialize,
    sha2::{Digest, Sha256},
    solana_instruction::error::InstructionError,
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

#[derive(Debug, Args)]
pub struct GovArgs {
    #[command(subcommand)]
    pub command: GovCommand,
}

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose an action (needs proposal_min_stake of active stake).
    Propose {
        /// Short title, up to 64 ASCII characters.
        #[arg(long)]
        title: String,
        /// The full description; its sha256 is stored on-chain.
        #[arg(long, default_value = "")]
        description: String,
        #[command(subcommand)]
        action: ActionArg,
    },
    /// Vote with all your active stake (locked until voting ends).
    Vote {
        /// The proposal's number.
        id: u64,
        /// How you vote; your weight is your active stake.
        choice: ChoiceArg,
    },
    /// Take your vote back while voting is open.
    WithdrawVote {
        /// The proposal's number.
        id: u64,
    },
    /// Close voting: passed (timelock starts) or rejected. Anyone may call it.
    Finalize {
        /// The proposal's number.
        id: u64,
    },
    /// Execute a passed proposal after its timelock. Anyone may call it.
    Execute {
        /// The proposal's number.
        id: u64,
    },
    /// Show one proposal.
    Show {
        /// The proposal's number.
        id: u64,
    },
    /// Hand the network to governance, irreversibly (bootstrap authority only).
    Handover,
}

#[derive(Debug, Subcommand)]
pub enum ActionArg {
    /// Change one parameter (IO amounts for the *_stake ones, else integers:
    /// seconds, bps, free_tokens_per_io_day in tokens).
    SetParam {
        /// The parameter, as `network show` names it (e.g. fee_bps).
        name: String,
        /// Its new value (IO amounts in base units).
        value: String,
    },
    AddKeeper {
        /// The keeper's key.
        keeper: Address,
    },
    RemoveKeeper {
        /// The keeper's key.
        keeper: Address,
    },
    SetArbiter {
        /// The new arbiter's key.
        arbiter: Address,
    },
    /// Pay IO from the treasury to a wallet's IO account.
    TreasuryTransfer {
        /// IO to pay from the treasury.
        amount: String,
        /// The wallet whose IO account receives it.
        recipient: Address,
    },
    Pause,
    Unpause,
    /// Replace the program with a loader buffer whose authority is the
    /// governance PDA (`iogrid gov show` prints it); its lamports come back to you.
    UpgradeProgram {
        /// The loader buffer holding the new program.
        buffer: Address,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChoiceArg {
    Yes,
    No,
    Abstain,
}

impl From<ChoiceArg> for VoteChoice {
    fn from(choice: ChoiceArg) -> Self {
        match choice {
            ChoiceArg::Yes => VoteChoice::Yes,
            ChoiceArg::No => VoteChoice::No,
            ChoiceArg::Abstain => VoteChoice::Abstain,
        }
    }
}

/// Says what went wrong in a voter's terms where the program's error alone
/// would not: a second vote fails in the system program (the record exists),
/// a wallet that never staked has no stake account to read.
fn explain(err: SendError, what: &str) -> anyhow::Error {
    let already_voted = matches!(
        err.failure(),
        Some(ProgramFailure::Instruction(InstructionError::Custom(0)))
    ) && what.starts_with("vote ");
    let never_staked = matches!(
        err.failure(),
        Some(ProgramFailure::Instruction(
            InstructionError::AccountDataTooSmall | InstructionError::UninitializedAccount
        ))
    ) && (what.starts_with("vote ") || what.starts_with("create proposal"));
    if never_staked {
        return anyhow::anyhow!(
            "could not {what}: this wallet has no stake account (iogrid stake add <IO>)"
        );
    }
    if already_voted {
        return anyhow::anyhow!(
            "could not {what}: this wallet already voted on it (withdraw-vote first to change the vote)"
        );
    }
    anyhow::Error::new(err).context(format!("could not {what}"))
}

/// A confirmed governance transaction and the proposal after it.
#[derive(Debug, Serialize)]
pub struct GovResult {
    pub what: String,
    pub signature: String,
    pub proposal: Option<ProposalView>,
}

impl fmt::Display for GovResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: confirmed (transaction {})",
            self.what, self.signature
        )?;
        if let Some(proposal) = &self.proposal {
            write!(f, "{proposal}")?;
        }
        Ok(())
    }
}

/// A proposal as people read it.
#[derive(Debug, Serialize)]
pub struct ProposalView {
    pub id: u64,
    pub address: String,
    pub title: String,
    pub proposer: String,
    pub action: String,
    pub status: ProposalStatus,
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    pub turnout_base: u64,
    pub voting_ends_at: i64,
    pub executable_at: i64,
}

impl ProposalView {
    pub fn new(address: &Address, proposal: &Proposal) -> Self {
        Self {
            id: proposal.id,
            address: address.to_string(),
            title: ascii_text(&proposal.title),
            proposer: proposal.proposer.to_string(),
            action: describe_action(&proposal.action),
            status: proposal.status(),
            yes: proposal.yes,
            no: proposal.no,
            abstain: proposal.abstain,
            turnout_base: proposal.turnout_base,
            voting_ends_at: proposal.voting_ends_at,
            executable_at: proposal.executable_at,
        }
    }
}

impl fmt::Display for ProposalView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "proposal {} ({}): {}", self.id, self.address, self.title)?;
        writeln!(f, "  action       {}", self.action)?;
        writeln!(f, "  status       {:?}", self.status)?;
        writeln!(
            f,
            "  votes        yes {} / no {} / abstain {} (of {} staked at creation)",
            format_io(self.yes),
            format_io(self.no),
            format_io(self.abstain),
            format_io(self.turnout_base)
        )?;
        writeln!(f, "  voting ends  {} (unix)", self.voting_ends_at)?;
        if self.executable_at > 0 {
            writeln!(f, "  executable   {} (unix)", self.executable_at)?;
        }
        Ok(())
    }
}

fn describe_action(action: &ProposalAction) -> String {
    use iogrid_sdk::accounts::ActionKind::*;
    match action.kind() {
        SetParams => format!("set parameters {:?}", action.params),
        AddKeeper => format!("add keeper {}", action.address),
        RemoveKeeper => format!("remove keeper {}", action.address),
        SetArbiter => format!("set arbiter {}", action.address),
        TreasuryTransfer => format!(
            "pay {} from the treasury to {}",
            format_io(action.amount),
            action.address
        ),
        Pause => "pause".into(),
        Unpause => "unpause".into(),
        UpgradeProgram => format!("upgrade the program from buffer {}", action.address),
        Unknown(kind) => format!("unknown action {kind}"),
    }
}

/// `params` with one field changed, by its name in the IDL.
pub fn with_param(params: &NetworkParams, name: &str, value: &str) -> Result<NetworkParams> {
    let serde_json::Value::Object(mut map) = serde_json::to_value(params)? else {
        unreachable!("NetworkParams serializes to an object")
    };
    if !map.contains_key(name) {
        let names: Vec<&String> = map.keys().collect();
        bail!("no parameter {name:?}; the parameters are {names:?}");
    }
    let number = if name.ends_with("_stake") || name.ends_with("_per_gpu") {
        parse_io(value).map_err(anyhow::Error::msg)?
    } else {
        value
            .parse::<u64>()
            .with_context(|| format!("{name} takes a whole number, not {value:?}"))?
    };
    map.insert(name.to_string(), number.into());
    serde_json::from_value(serde_json::Value::Object(map))
        .with_context(|| format!("{value} does not fit {name}"))
}

pub async fn execute(
    args: &GovArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    if let GovCommand::Show { id } = args.command {
        let address = pda::proposal(id).0;
        let proposal: Proposal = program_account(rpc, &address, "no such proposal").await?;
        return print(output, &ProposalView::new(&address, &proposal));
    }
    let signer = load_keypair(keypair)?;
    let result = match &args.command {
        GovCommand::Propose {
            title,
            description,
            action,
        } => propose(rpc, &signer, title, description, action).await?,
        GovCommand::Vote { id, choice } => {
            let ix = CastVoteAccounts::new(signer.pubkey(), pda::proposal(*id).0)
                .instruction((*choice).into());
            send(
                rpc,
                &signer,
                ix,
                format!("vote {choice:?} on proposal {id}"),
                Some(*id),
            )
            .await?
        }
        GovCommand::WithdrawVote { id } => {
            let ix = WithdrawVoteAccounts::new(signer.pubkey(), pda::proposal(*id).0).instruction();
            send(
                rpc,
                &signer,
                ix,
                format!("withdraw the vote on proposal {id}"),
                Some(*id),
            )
            .await?
        }
        GovCommand::Finalize { id } => {
            let ix = FinalizeProposalAccounts::new(pda::proposal(*id).0).instruction();
            send(
                rpc,
                &signer,
                ix,
                format!("finalize proposal {id}"),
                Some(*id),
            )
            .await?
        }
        GovCommand::Execute { id } => {
            let address = pda::proposal(*id).0;
            let proposal: Proposal = program_account(rpc, &address, "no such proposal").await?;
            let accounts = ExecuteProposalAccounts::new(address, &proposal.action);
            let ix = match proposal.action.kind() {
                iogrid_sdk::accounts::ActionKind::UpgradeProgram => {
                    accounts.upgrade_instruction(&proposal.action.address, &proposal.proposer)
                }
                _ => accounts.instruction(),
            };
            send(
                rpc,
                &signer,
                ix,
                format!("execute proposal {id}"),
                Some(*id),
            )
            .await?
        }
        GovCommand::Handover => {
            tx::confirm(&format!(
                "Hand the network's authority to the governance PDA {}? From then on only \
                 passed proposals change parameters, and this key has no power left.",
                pda::governance().0
            ))?;
            let ix = TransferAuthorityAccounts::new(signer.pubkey()).instruction();
            let what = format!(
                "hand the network to the governance PDA {}",
                pda::governance().0
            );
            send(rpc, &signer, ix, what, None).await?
        }
        GovCommand::Show { .. } => unreachable!("answered above without a signer"),
    };
    print(output, &result)
}

async fn propose(
    rpc: &RpcClient,
    signer: &Keypair,
    title: &str,
    description: &str,
    action: &ActionArg,
) -> Result<GovResult> {
    let state = network_state(rpc).await?;
    let action = match action {
        ActionArg::SetParam { name, value } => {
            ProposalAction::set_params(with_param(&state.config.params, name, value)?)
        }
        ActionArg::AddKeeper { keeper } => ProposalAction::add_keeper(*keeper),
        ActionArg::RemoveKeeper { keeper } => ProposalAction::remove_keeper(*keeper),
        ActionArg::SetArbiter { arbiter } => ProposalAction::set_arbiter(*arbiter),
        ActionArg::TreasuryTransfer { amount, recipient } => ProposalAction::treasury_transfer(
            parse_io(amount).map_err(anyhow::Error::msg)?,
            token::io_account_of(recipient),
        ),
        ActionArg::Pause => ProposalAction::pause(),
        ActionArg::Unpause => ProposalAction::unpause(),
        ActionArg::UpgradeProgram { buffer } => ProposalAction::upgrade_program(*buffer),
    };
    let args = ProposalArgs {
        action,
        title: ascii_field(title).map_err(anyhow::Error::msg)?,
        description_hash: Sha256::digest(description.as_bytes()).into(),
    };
    let id = state.config.proposal_count;
    let ix = CreateProposalAccounts::new(signer.pubkey(), id).instruction(&args);
    send(rpc, signer, ix, format!("create proposal {id}"), Some(id)).await
}

async fn send(
    rpc: &RpcClient,
    signer: &Keypair,
    ix: solana_instruction::Instruction,
    what: String,
    proposal: Option<u64>,
) -> Result<GovResult> {
    let sent = tx::send_and_confirm(rpc, &[ix], &[signer])
        .await
        .map_err(|err| explain(err, &what))?;
    let proposal = match proposal {
        Some(id) => {
            let address = pda::proposal(id).0;
            let state: Proposal = program_account(rpc, &address, "no such proposal").await?;
            Some(ProposalView::new(&address, &state))
        }
        None => None,
    };
    Ok(GovResult {
        what,
        signature: sent.signature.to_string(),
        proposal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_param_changes_one_field_by_name() {
        let params = NetworkParams::default();
        let fee = with_param(&params, "fee_bps", "300").unwrap();
        assert_eq!(
            fee,
            NetworkParams {
                fee_bps: 300,
                ..params
            }
        );
        let stake = with_param(&params, "min_stake_per_gpu", "250.5").unwrap();
        assert_eq!(stake.min_stake_per_gpu, 250_500_000);
        // Tokens, not IO: a whole number.
        let quota = with_param(&params, "free_tokens_per_io_day", "2500").unwrap();
        assert_eq!(
            quota,
            NetworkParams {
                free_tokens_per_io_day: 2_500,
                ..params
            }
        );
        let err = with_param(&params, "free_tokens_per_io_day", "1.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole number"), "{err}");
        let err = with_param(&params, "fee", "1").unwrap_err().to_string();
        assert!(
            err.contains("no parameter \"fee\"") && err.contains("fee_bps"),
            "{err}"
        );
        let err = with_param(&params, "fee_bps", "70000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit fee_bps"), "{err}");
        let err = with_param(&params, "fee_bps", "2.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole number"), "{err}");
    }
}
