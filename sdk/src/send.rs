//! Sending transactions the way the keeper and the CLI both need it (feature
//! `rpc`): a compute-unit limit and priority fee, preflight simulation whose
//! failures come back as decoded program errors with their logs, and
//! confirmation tracking that re-signs with a fresh blockhash when the old one
//! expires. Works the same against a local validator, devnet or mainnet.

use {
    crate::{
        errors::ProgramFailure,
        rpc::{NonblockingRpcClient as RpcClient, RpcReadError},
    },
    solana_compute_budget_interface::ComputeBudgetInstruction,
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_message::Message,
    solana_rpc_client_api::{
        client_error::ErrorKind,
        config::RpcSendTransactionConfig,
        request::{RpcError, RpcResponseErrorData},
    },
    solana_signature::Signature,
    solana_signer::Signer,
    solana_transaction::Transaction,
    solana_transaction_error::TransactionError,
    std::time::Duration,
};

/// How a transaction is sent.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// Priority fee in micro-lamports per compute unit (0: none).
    pub priority_micro_lamports: u64,
    /// Compute-unit limit requested for the transaction (None: the default).
    pub compute_unit_limit: Option<u32>,
    /// Blockhashes tried before giving up (each expiry re-signs once).
    pub max_attempts: u32,
    /// How often confirmation is polled.
    pub poll_interval: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            priority_micro_lamports: 0,
            compute_unit_limit: None,
            max_attempts: 3,
            poll_interval: Duration::from_millis(400),
        }
    }
}

/// A confirmed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub signature: Signature,
    pub slot: u64,
    /// Blockhashes it took (1 unless one expired).
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The program (or the runtime) refused the transaction.
    #[error("transaction failed: {failure}{}", log_tail(logs))]
    Failed {
        failure: ProgramFailure,
        /// Program logs from the preflight simulation, when there was one.
        logs: Vec<String>,
    },
    #[error(transparent)]
    Rpc(#[from] RpcReadError),
    #[error("transaction {signature} was not confirmed after {attempts} blockhashes")]
    NotConfirmed { signature: Signature, attempts: u32 },
}

/// The last program log lines, indented, for error messages.
fn log_tail(logs: &[String]) -> String {
    let tail = &logs[logs.len().saturating_sub(8)..];
    tail.iter().map(|line| format!("\n    {line}")).collect()
}

impl SendError {
    /// The decoded program failure, if the program refused it.
    pub fn failure(&self) -> Option<&ProgramFailure> {
        match self {
            SendError::Failed { failure, .. } => Some(failure),
            _ => None,
        }
    }
}

/// The compute-budget instructions `options` ask for, ahead of `instructions`.
pub fn with_compute_budget(
    instructions: &[Instruction],
    options: &SendOptions,
) -> Vec<Instruction> {
    let mut all = Vec::with_capacity(instructions.len() + 2);
    if let Some(units) = options.compute_unit_limit {
        all.push(ComputeBudgetInstruction::set_compute_unit_limit(units));
    }
    if options.priority_micro_lamports > 0 {
        all.push(ComputeBudgetInstruction::set_compute_unit_price(
            options.priority_micro_lamports,
        ));
    }
    all.extend_from_slice(instructions);
    all
}

/// Solana's packet limit: a transaction over this many bytes never lands
/// (LiteSVM does not enforce it; a validator does).
pub const PACKET_DATA_SIZE: usize = 1_232;

/// Bytes `instructions` take on the wire as one legacy transaction paid by
/// `payer`, compute-budget instructions from `options` included.
pub fn transaction_size(
    instructions: &[Instruction],
    payer: &crate::Address,
    options: &SendOptions,
) -> usize {
    let all = with_compute_budget(instructions, options);
    let message = Message::new(&all, Some(payer));
    let signatures = usize::from(message.header.num_required_signatures);
    // A compact-u16 signature count (one byte below 128), then the signatures.
    1 + 64 * signatures + message.serialize().len()
}

/// Signs `instructions` (paid by the first signer), sends them and waits for
/// confirmation at the client's commitment. A preflight failure returns at
/// once with the decoded error and logs; an expired blockhash re-signs with a
/// new one, up to `options.max_attempts`. An earlier signature that lands
/// late still counts, so a retry never runs the instructions twice.
pub async fn send_and_confirm(
    rpc: &RpcClient,
    instructions: &[Instruction],
    signers: &[&Keypair],
    options: &SendOptions,
) -> Result<Sent, SendError> {
    let payer = signers
        .first()
        .expect("a transaction needs a fee payer")
        .pubkey();
    let instructions = with_compute_budget(instructions, options);
    let mut sent: Vec<Signature> = Vec::new();
    for attempt in 1..=options.max_attempts.max(1) {
        let (blockhash, last_valid_height) = rpc
            .get_latest_blockhash_with_commitment(rpc.commitment())
            .await
            .map_err(|e| RpcReadError::from_client(rpc, e))?;
        let message = Message::new_with_blockhash(&instructions, Some(&payer), &blockhash);
        let tx = Transaction::new(signers, message, blockhash);
        let signature = send_once(rpc, &tx, !sent.is_empty()).await?;
        sent.push(signature);
        if let Some(landed) = wait_for_any(rpc, &sent, last_valid_height, options).await? {
            return Ok(Sent {
                attempts: attempt,
                ..landed
            });
        }
    }
    Err(SendError::NotConfirmed {
        signature: *sent.last().expect("at least one attempt"),
        attempts: options.max_attempts.max(1),
    })
}

/// Asks the cluster's faucet for `lamports` (local validators and devnet
/// only) and waits until the airdrop is confirmed.
pub async fn airdrop(
    rpc: &RpcClient,
    to: &solana_address::Address,
    lamports: u64,
    options: &SendOptions,
) -> Result<Sent, SendError> {
    let signature = rpc
        .request_airdrop(to, lamports)
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?;
    // The faucet picked the blockhash; it expires about 150 blocks from now.
    let height = rpc
        .get_block_height()
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?;
    wait_for_any(rpc, &[signature], height + 150, options)
        .await?
        .map(|sent| Sent {
            attempts: 1,
            ..sent
        })
        .ok_or(SendError::NotConfirmed {
            signature,
            attempts: 1,
        })
}

/// Submits `tx`. Preflight simulation runs on the first attempt only: a retry
/// may race its own earlier copy, and the program's refusal of a duplicate
/// must not hide that the first one landed.
async fn send_once(rpc: &RpcClient, tx: &Transaction, retry: bool) -> Result<Signature, SendError> {
    let config = RpcSendTransactionConfig {
        skip_preflight: retry,
        preflight_commitment: Some(rpc.commitment().commitment),
        max_retries: Some(0),
        ..RpcSendTransactionConfig::default()
    };
    rpc.send_transaction_with_config(tx, config)
        .await
        .map_err(|e| match preflight_failure(e.kind()) {
            Some((failure, logs)) => SendError::Failed { failure, logs },
            None => RpcReadError::from_client(rpc, e).into(),
        })
}

/// The decoded error and logs of a failed preflight simulation.
pub fn preflight_failure(kind: &ErrorKind) -> Option<(ProgramFailure, Vec<String>)> {
    let ErrorKind::RpcError(RpcError::RpcResponseError {
        data: RpcResponseErrorData::SendTransactionPreflightFailure(result),
        ..
    }) = kind
    else {
        return None;
    };
    let err: TransactionError = result.err.clone()?.into();
    let logs = result.logs.clone().unwrap_or_default();
    Some((ProgramFailure::from_transaction_error(&err), logs))
}

/// Polls until one of `signatures` is confirmed (Ok(Some)), one failed
/// on-chain (Err), or the blockhash expired with none landed (Ok(None)).
async fn wait_for_any(
    rpc: &RpcClient,
    signatures: &[Signature],
    last_valid_height: u64,
    options: &SendOptions,
) -> Result<Option<Sent>, SendError> {
    loop {
        let statuses = rpc
            .get_signature_statuses(signatures)
            .await
            .map_err(|e| RpcReadError::from_client(rpc, e))?
            .value;
        for (signature, status) in signatures.iter().zip(statuses) {
            let Some(status) = status else { continue };
            if let Some(err) = status.err {
                return Err(SendError::Failed {
                    failure: ProgramFailure::from_transaction_error(&err),
                    logs: Vec::new(),
                });
            }
            if status.satisfies_commitment(rpc.commitment()) {
                return Ok(Some(Sent {
                    signature: *signature,
                    slot: status.slot,
                    attempts: 0,
                }));
            }
        }
        let height = rpc
            .get_block_height()
            .await
            .map_err(|e| RpcReadError::from_client(rpc, e))?;
        if height > last_valid_height {
            return Ok(None);
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*, crate::errors::IogridError, solana_instruction::error::InstructionError,
        solana_rpc_client_api::response::RpcSimulateTransactionResult,
    };

    #[test]
    fn compute_budget_goes_first_and_only_when_asked() {
        let ix = Instruction::new_with_bytes(crate::PROGRAM_ID, &[1], vec![]);
        assert_eq!(
            with_compute_budget(std::slice::from_ref(&ix), &SendOptions::default()),
            vec![ix.clone()]
        );
        let options = SendOptions {
            priority_micro_lamports: 5,
            compute_unit_limit: Some(50_000),
            ..SendOptions::default()
        };
        let all = with_compute_budget(std::slice::from_ref(&ix), &options);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[0],
            ComputeBudgetInstruction::set_compute_unit_limit(50_000)
        );
        assert_eq!(all[1], ComputeBudgetInstruction::set_compute_unit_price(5));
        assert_eq!(all[2], ix);
    }

    #[test]
    fn preflight_failures_decode_to_program_errors_with_logs() {
        let err = TransactionError::InstructionError(
            1,
            InstructionError::Custom(IogridError::Paused.code()),
        );
        // Every other field of the simulation result is optional.
        let mut simulation: RpcSimulateTransactionResult =
            serde_json::from_value(serde_json::json!({ "logs": ["Program log: paused"] })).unwrap();
        simulation.err = Some(err.into());
        let kind = ErrorKind::RpcError(RpcError::RpcResponseError {
            code: -32002,
            message: "Transaction simulation failed".into(),
            data: RpcResponseErrorData::SendTransactionPreflightFailure(simulation),
        });
        let (failure, logs) = preflight_failure(&kind).expect("a preflight failure");
        assert_eq!(failure, ProgramFailure::Iogrid(IogridError::Paused));
        assert_eq!(logs, ["Program log: paused"]);
        let other = ErrorKind::Custom("boom".into());
        assert!(preflight_failure(&other).is_none());
    }
}
