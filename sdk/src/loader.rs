//! The BPF upgradeable loader's instructions that governance upgrades need:
//! a buffer holding the new program (create, write, hand to the governance
//! PDA), ProgramData growth, and `Upgrade` itself (to show which keys the
//! loader accepts). Each is the loader's bincode enum: a little-endian `u32`
//! tag, then its fields.

use {
    crate::{pda, Address, BPF_LOADER_UPGRADEABLE_ID, PROGRAM_ID, SYSTEM_PROGRAM_ID},
    solana_instruction::{AccountMeta, Instruction},
};

/// A buffer account's header: state tag (u32) and `Option<authority>`.
pub const BUFFER_HEADER: usize = 4 + 1 + 32;
/// Program bytes per `Write` transaction (a 1,232-byte packet with one
/// signature, three accounts and the instruction's own header).
pub const WRITE_CHUNK: usize = 950;

const IX_INITIALIZE_BUFFER: u32 = 0;
const IX_WRITE: u32 = 1;
const IX_UPGRADE: u32 = 3;
const IX_SET_AUTHORITY: u32 = 4;
const IX_EXTEND_PROGRAM: u32 = 6;

fn loader_ix(tag: u32, fields: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(fields);
    Instruction {
        program_id: BPF_LOADER_UPGRADEABLE_ID,
        accounts,
        data,
    }
}

/// A system-program account of `len` program bytes for the loader, and
/// `InitializeBuffer` with `payer` as the buffer's (writing) authority.
pub fn create_buffer(
    payer: &Address,
    buffer: &Address,
    lamports: u64,
    len: usize,
) -> [Instruction; 2] {
    let space = (BUFFER_HEADER + len) as u64;
    // SystemInstruction::CreateAccount { lamports, space, owner }.
    let mut create = 0u32.to_le_bytes().to_vec();
    create.extend_from_slice(&lamports.to_le_bytes());
    create.extend_from_slice(&space.to_le_bytes());
    create.extend_from_slice(BPF_LOADER_UPGRADEABLE_ID.as_ref());
    [
        Instruction {
            program_id: SYSTEM_PROGRAM_ID,
            accounts: vec![
                AccountMeta::new(*payer, true),
                AccountMeta::new(*buffer, true),
            ],
            data: create,
        },
        loader_ix(
            IX_INITIALIZE_BUFFER,
            &[],
            vec![
                AccountMeta::new(*buffer, false),
                AccountMeta::new_readonly(*payer, false),
            ],
        ),
    ]
}

/// `Write { offset, bytes }` into `buffer`, signed by its authority.
pub fn write(buffer: &Address, authority: &Address, offset: u32, bytes: &[u8]) -> Instruction {
    let mut fields = offset.to_le_bytes().to_vec();
    fields.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    fields.extend_from_slice(bytes);
    loader_ix(
        IX_WRITE,
        &fields,
        vec![
            AccountMeta::new(*buffer, false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

/// `SetAuthority` on a buffer: `current` (signing) hands it to `new` — the
/// governance PDA, so only an executed proposal can deploy it.
pub fn set_buffer_authority(buffer: &Address, current: &Address, new: &Address) -> Instruction {
    loader_ix(
        IX_SET_AUTHORITY,
        &[],
        vec![
            AccountMeta::new(*buffer, false),
            AccountMeta::new_readonly(*current, true),
            AccountMeta::new_readonly(*new, false),
        ],
    )
}

/// `ExtendProgram`: grows the program's ProgramData by `additional_bytes`,
/// rent paid by `payer` (what `solana program extend` sends; clusters that
/// activated `ExtendProgramChecked` also want the upgrade authority's
/// signature, which is then governance's).
pub fn extend_program(payer: &Address, additional_bytes: u32) -> Instruction {
    loader_ix(
        IX_EXTEND_PROGRAM,
        &additional_bytes.to_le_bytes(),
        vec![
            AccountMeta::new(pda::program_data(), false),
            AccountMeta::new(PROGRAM_ID, false),
            AccountMeta::new_readonly(SYSTEM_PROGRAM_ID, false),
            AccountMeta::new(*payer, true),
        ],
    )
}

/// `Upgrade` signed by `authority`, the buffer's lamports to `spill`: what
/// a holder of the upgrade key would send (governance sends it by CPI).
pub fn upgrade(buffer: &Address, spill: &Address, authority: &Address) -> Instruction {
    loader_ix(
        IX_UPGRADE,
        &[],
        vec![
            AccountMeta::new(pda::program_data(), false),
            AccountMeta::new(PROGRAM_ID, false),
            AccountMeta::new(*buffer, false),
            AccountMeta::new(*spill, false),
            AccountMeta::new_readonly(crate::RENT_SYSVAR_ID, false),
            AccountMeta::new_readonly(crate::CLOCK_SYSVAR_ID, false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

/// Writes `bytes` into `buffer` in [`WRITE_CHUNK`]-byte transactions: each
/// wave sends every missing chunk without waiting, then confirms them
/// together; chunks that did not land go again with a fresh blockhash.
/// Returns the number of write transactions that landed.
#[cfg(feature = "rpc")]
pub async fn write_buffer(
    rpc: &crate::rpc::NonblockingRpcClient,
    authority: &solana_keypair::Keypair,
    buffer: &Address,
    bytes: &[u8],
) -> Result<usize, crate::send::SendError> {
    use {
        crate::rpc::RpcReadError, solana_rpc_client_api::config::RpcSendTransactionConfig,
        solana_signer::Signer, solana_transaction::Transaction, std::time::Duration,
    };
    let read_err = |e| RpcReadError::from_client(rpc, e);
    let mut pending: Vec<usize> = (0..bytes.len().div_ceil(WRITE_CHUNK)).collect();
    let total = pending.len();
    for _wave in 0..5 {
        let blockhash = rpc.get_latest_blockhash().await.map_err(read_err)?;
        let mut sent = Vec::with_capacity(pending.len());
        for &chunk in &pending {
            let start = chunk * WRITE_CHUNK;
            let end = (start + WRITE_CHUNK).min(bytes.len());
            let ix = write(
                buffer,
                &authority.pubkey(),
                start as u32,
                &bytes[start..end],
            );
            let tx = Transaction::new_signed_with_payer(
                &[ix],
                Some(&authority.pubkey()),
                &[authority],
                blockhash,
            );
            let config = RpcSendTransactionConfig {
                skip_preflight: true,
                ..RpcSendTransactionConfig::default()
            };
            let signature = rpc
                .send_transaction_with_config(&tx, config)
                .await
                .map_err(read_err)?;
            sent.push((chunk, signature));
        }
        // Up to ~40 s for the wave to land, well within the blockhash's life.
        let mut landed = vec![false; sent.len()];
        for _ in 0..80 {
            for (batch, flags) in sent.chunks(200).zip(landed.chunks_mut(200)) {
                let signatures: Vec<_> = batch.iter().map(|(_, s)| *s).collect();
                let statuses = rpc
                    .get_signature_statuses(&signatures)
                    .await
                    .map_err(read_err)?
                    .value;
                for (flag, status) in flags.iter_mut().zip(statuses) {
                    *flag |= status.is_some_and(|s| {
                        s.err.is_none() && s.satisfies_commitment(rpc.commitment())
                    });
                }
            }
            if landed.iter().all(|l| *l) {
                return Ok(total);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        pending = sent
            .iter()
            .zip(&landed)
            .filter(|(_, l)| !**l)
            .map(|((chunk, _), _)| *chunk)
            .collect();
    }
    Err(crate::send::SendError::NotConfirmed {
        signature: solana_signature::Signature::default(),
        attempts: 5,
    })
}
