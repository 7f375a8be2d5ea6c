//! Turning actions into confirmed transactions: build them with the sdk,
//! send with a priority fee and blockhash refresh (`iogrid_sdk::send`), and
//! classify the result. A refusal that means "someone already did it" (the
//! job is fully assigned, settled, closed) counts as done; "not yet" (the
//! challenge window is still open) is retried by a later pass.

use {
    crate::decide::plan::{Action, CloseKind},
    iogrid_sdk::{
        errors::IogridError,
        instructions::{
            AssignJobAccounts, CloseJobAccounts, ExpireJobAccounts, ReportFaultAccounts,
        },
        proof::Proof,
        send::{send_and_confirm, SendError, SendOptions, Sent},
        token, Address,
    },
    solana_instruction::{error::InstructionError, Instruction},
    solana_keypair::Keypair,
    solana_signer::Signer,
    solana_transaction_error::TransactionError,
};

/// What became of one action.
#[derive(Debug)]
pub enum Outcome {
    Sent(Sent),
    /// The chain already reflects it (another keeper, an earlier copy, a
    /// closed job): nothing left to do.
    AlreadyDone(String),
    /// Refused for now (a window still open); a later pass retries.
    NotYet(IogridError),
    Failed(SendError),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent(_) => "sent",
            Outcome::AlreadyDone(_) => "already_done",
            Outcome::NotYet(_) => "not_yet",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// IO accounts created (idempotently) in the settlement's own transaction;
/// more go in transactions of their own first, so a settlement of the
/// largest cluster (16 payees, one account each) stays under the size limit.
const INLINE_IO_ACCOUNTS: usize = 4;

/// The transactions for `action`, in order, each signed and paid by `keeper`:
/// one for most actions; a large settlement first creates its payees' IO
/// accounts in batches.
pub fn transactions(action: &Action, keeper: &Address) -> Vec<Vec<Instruction>> {
    match action {
        Action::Assign(matched) => {
            let accounts = AssignJobAccounts::new(*keeper, matched.job);
            vec![vec![match matched.kind {
                crate::decide::matcher::AssignKind::Assign => {
                    accounts.assign_job(&matched.listings)
                }
                crate::decide::matcher::AssignKind::Reassign => {
                    accounts.reassign(&matched.listings)
                }
            }]]
        }
        Action::ReportFault {
            job,
            listing,
            supplier,
        } => vec![vec![
            // The supplier's share of its own slash goes to its IO account,
            // which must exist.
            token::create_io_account_idempotent(keeper, supplier),
            ReportFaultAccounts::new(*job, *listing, supplier, token::io_account_of(supplier))
                .instruction(),
        ]],
        Action::Close {
            kind: CloseKind::Expire,
            job,
            payees,
            ..
        } => {
            let listings: Vec<Address> = payees.iter().map(|(listing, _)| *listing).collect();
            vec![vec![ExpireJobAccounts::new(*job).instruction(&listings)]]
        }
        Action::Close {
            kind: CloseKind::Settle,
            job,
            owner,
            payees,
        } => settle_transactions(keeper, *job, owner, payees),
    }
}

/// Creates the owner's and every supplier's IO account (idempotently), then
/// settles paying each payable assignment's supplier.
fn settle_transactions(
    keeper: &Address,
    job: Address,
    owner: &Address,
    payees: &[(Address, Address)],
) -> Vec<Vec<Instruction>> {
    let mut holders: Vec<&Address> = payees.iter().map(|(_, supplier)| supplier).collect();
    holders.push(owner);
    holders.sort();
    holders.dedup();
    let mut creates: Vec<Instruction> = holders
        .into_iter()
        .map(|holder| token::create_io_account_idempotent(keeper, holder))
        .collect();
    let accounts = CloseJobAccounts::new(job, *owner, token::io_account_of(owner));
    let payee_accounts: Vec<Address> = payees
        .iter()
        .map(|(_, supplier)| token::io_account_of(supplier))
        .collect();
    let settle = accounts.settle_job(&payee_accounts);
    if creates.len() <= INLINE_IO_ACCOUNTS {
        creates.push(settle);
        return vec![creates];
    }
    let mut txs: Vec<Vec<Instruction>> = creates
        .chunks(INLINE_IO_ACCOUNTS)
        .map(<[Instruction]>::to_vec)
        .collect();
    txs.push(vec![settle]);
    txs
}

/// Sends `action`'s transactions in order and classifies the result: a
/// preparatory transaction that fails is the action's failure.
pub async fn execute(
    rpc: &iogrid_sdk::rpc::NonblockingRpcClient,
    keeper: &Keypair,
    options: &SendOptions,
    action: &Action,
) -> Outcome {
    let mut txs = transactions(action, &keeper.pubkey());
    let last = txs.pop().unwrap_or_default();
    for ixs in &txs {
        if let Err(err) = send_and_confirm(rpc, ixs, &[keeper], options).await {
            return Outcome::Failed(err);
        }
    }
    classify(send_and_confirm(rpc, &last, &[keeper], options).await)
}

/// Relays a worker's proof: the Ed25519 verification and `complete_job`.
pub async fn relay_proof(
    rpc: &iogrid_sdk::rpc::NonblockingRpcClient,
    keeper: &Keypair,
    options: &SendOptions,
    proof: &Proof,
) -> Outcome {
    classify(send_and_confirm(rpc, &proof.instructions(), &[keeper], options).await)
}

pub fn classify(result: Result<Sent, SendError>) -> Outcome {
    let err = match result {
        Ok(sent) => return Outcome::Sent(sent),
        Err(err) => err,
    };
    use IogridError::*;
    match err.failure().and_then(|f| f.iogrid()) {
        Some(
            e @ (JobFullyAssigned | WrongJobStatus | NoActiveAssignment | JobAlreadyAssigned
            | NothingToSweep),
        ) => Outcome::AlreadyDone(e.to_string()),
        Some(e @ (ChallengeWindowOpen | JobNotExpired | ListingNotStale)) => Outcome::NotYet(e),
        Some(_) => Outcome::Failed(err),
        None if closed_account(&err) => {
            Outcome::AlreadyDone("the job account is closed".to_string())
        }
        None => Outcome::Failed(err),
    }
}

/// The job was settled or cancelled meanwhile: its account no longer belongs
/// to the program, which Anchor reports as a not-initialized / wrong-owner account.
fn closed_account(err: &SendError) -> bool {
    use iogrid_sdk::errors::ProgramFailure;
    match err.failure() {
        Some(ProgramFailure::Instruction(InstructionError::Custom(code))) => {
            matches!(code, 3007 | 3012) // AccountOwnedByWrongProgram, AccountNotInitialized
        }
        Some(ProgramFailure::Instruction(
            InstructionError::UninitializedAccount | InstructionError::InvalidAccountOwner,
        )) => true,
        Some(ProgramFailure::Transaction(TransactionError::AccountNotFound)) => false,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::decide::matcher::{AssignKind, Match},
        iogrid_sdk::{errors::ProgramFailure, pda},
    };

    fn failed(error: IogridError) -> Result<Sent, SendError> {
        Err(SendError::Failed {
            failure: ProgramFailure::Iogrid(error),
            logs: vec![],
        })
    }

    #[test]
    fn repeats_count_as_done_and_windows_as_not_yet() {
        assert!(matches!(
            classify(failed(IogridError::JobFullyAssigned)),
            Outcome::AlreadyDone(_)
        ));
        assert!(matches!(
            classify(failed(IogridError::WrongJobStatus)),
            Outcome::AlreadyDone(_)
        ));
        assert!(matches!(
            classify(failed(IogridError::ChallengeWindowOpen)),
            Outcome::NotYet(IogridError::ChallengeWindowOpen)
        ));
        assert!(matches!(
            classify(failed(IogridError::ListingStale)),
            Outcome::Failed(_)
        ));
        let closed = Err(SendError::Failed {
            failure: ProgramFailure::Instruction(InstructionError::Custom(3012)),
            logs: vec![],
        });
        assert!(matches!(classify(closed), Outcome::AlreadyDone(_)));
    }

    #[test]
    fn settlement_creates_missing_io_accounts_first() {
        let keeper = Address::new_unique();
        let (owner, supplier) = (Address::new_unique(), Address::new_unique());
        let (l1, l2) = (Address::new_unique(), Address::new_unique());
        let job = pda::job(&owner, 1).0;
        let action = Action::Close {
            kind: CloseKind::Settle,
            job,
            owner,
            payees: vec![(l1, supplier), (l2, supplier)],
        };
        let txs = transactions(&action, &keeper);
        assert_eq!(txs.len(), 1, "a small settlement is one transaction");
        let ixs = &txs[0];
        assert_eq!(
            ixs.len(),
            3,
            "owner's and the one supplier's accounts, then settle"
        );
        let settle = ixs.last().unwrap();
        assert_eq!(settle.program_id, iogrid_sdk::PROGRAM_ID);
        let tail: Vec<Address> = settle.accounts[settle.accounts.len() - 2..]
            .iter()
            .map(|m| m.pubkey)
            .collect();
        let payee = token::io_account_of(&supplier);
        assert_eq!(tail, [payee, payee], "one payee account per assignment");
    }

    #[test]
    fn a_large_settlement_creates_io_accounts_in_batches_first() {
        let keeper = Address::new_unique();
        let owner = Address::new_unique();
        let payees: Vec<(Address, Address)> = (0..16)
            .map(|_| (Address::new_unique(), Address::new_unique()))
            .collect();
        let action = Action::Close {
            kind: CloseKind::Settle,
            job: pda::job(&owner, 1).0,
            owner,
            payees: payees.clone(),
        };
        let txs = transactions(&action, &keeper);
        // 17 holders in batches of 4, then the settlement alone.
        assert_eq!(txs.len(), 6);
        assert!(txs[..5].iter().all(|tx| tx.len() <= INLINE_IO_ACCOUNTS));
        let settle = &txs[5];
        assert_eq!(settle.len(), 1);
        assert_eq!(settle[0].accounts.len(), 8 + 16);
    }

    #[test]
    fn expiry_names_the_running_listings_only() {
        let keeper = Address::new_unique();
        let (l1, l2) = (Address::new_unique(), Address::new_unique());
        let action = Action::Close {
            kind: CloseKind::Expire,
            job: Address::new_unique(),
            owner: Address::new_unique(),
            payees: vec![(l1, Address::new_unique()), (l2, Address::new_unique())],
        };
        let txs = transactions(&action, &keeper);
        assert_eq!(txs.len(), 1);
        let expire = &txs[0][0];
        let tail: Vec<Address> = expire.accounts[1..].iter().map(|m| m.pubkey).collect();
        assert_eq!(tail, [l1, l2]);
    }

    #[test]
    fn reassign_uses_its_own_instruction() {
        let keeper = Address::new_unique();
        let matched = |kind| {
            Action::Assign(Match {
                job: Address::new_unique(),
                kind,
                listings: vec![(Address::new_unique(), 2)],
                cost_per_hour: 0,
            })
        };
        let assign = &transactions(&matched(AssignKind::Assign), &keeper)[0];
        let reassign = &transactions(&matched(AssignKind::Reassign), &keeper)[0];
        assert_ne!(assign[0].data[..8], reassign[0].data[..8]);
        assert_eq!(assign[0].accounts[0].pubkey, keeper);
    }
}
