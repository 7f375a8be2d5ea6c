//! How every `iogrid` command sends a transaction, as `solana` and
//! `spl-token` users expect: `--fee-payer` pays the fee instead of the
//! signer, `--with-compute-unit-price` adds a priority fee, a progress line
//! shows while it waits for confirmation, and irreversible actions ask
//! first (`--yes` answers for scripts).

use {
    anyhow::{bail, Result},
    iogrid_sdk::{
        rpc::NonblockingRpcClient as RpcClient,
        send::{self, SendError, SendOptions, Sent},
    },
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        io::{BufRead, IsTerminal, Write},
        sync::OnceLock,
        time::Duration,
    },
};

/// What the command line set for every transaction of this process.
#[derive(Debug, Default)]
pub struct TxSettings {
    /// Pays the fees (and rent of new accounts the program creates for the
    /// signer) instead of the signer.
    pub fee_payer: Option<Keypair>,
    /// Priority fee, micro-lamports per compute unit.
    pub compute_unit_price: u64,
    /// Answer yes to every confirmation.
    pub yes: bool,
}

static SETTINGS: OnceLock<TxSettings> = OnceLock::new();

/// Sets this process's settings once, at start (later calls are ignored).
pub fn configure(settings: TxSettings) {
    let _ = SETTINGS.set(settings);
}

fn settings() -> &'static TxSettings {
    SETTINGS.get_or_init(TxSettings::default)
}

/// The signers of a transaction: the fee payer first (it pays), then the
/// command's signers, each key once.
fn with_fee_payer<'a>(fee_payer: Option<&'a Keypair>, signers: &[&'a Keypair]) -> Vec<&'a Keypair> {
    let mut all: Vec<&Keypair> = fee_payer.into_iter().collect();
    for signer in signers {
        if !all.iter().any(|s| s.pubkey() == signer.pubkey()) {
            all.push(signer);
        }
    }
    all
}

/// Sends and confirms `instructions` signed by `signers` (and the fee
/// payer), with this process's priority fee, showing progress on a terminal.
pub async fn send_and_confirm(
    rpc: &RpcClient,
    instructions: &[Instruction],
    signers: &[&Keypair],
) -> Result<Sent, SendError> {
    let settings = settings();
    let signers = with_fee_payer(settings.fee_payer.as_ref(), signers);
    let options = SendOptions {
        priority_micro_lamports: settings.compute_unit_price,
        ..SendOptions::default()
    };
    let progress = Progress::start("waiting for confirmation");
    let result = send::send_and_confirm(rpc, instructions, &signers, &options).await;
    progress.stop();
    result
}

/// Asks before an irreversible action; `--yes` answers for scripts. Without
/// a terminal and without `--yes` it refuses rather than guess.
pub fn confirm(question: &str) -> Result<()> {
    if settings().yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("{question} This cannot be undone: pass --yes to confirm");
    }
    eprint!("{question} This cannot be undone. Continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => bail!("cancelled: nothing was sent"),
    }
}

/// A spinner on stderr while a transaction confirms, only on a terminal.
struct Progress(Option<tokio::task::JoinHandle<()>>);

impl Progress {
    fn start(what: &'static str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        Self(Some(tokio::spawn(async move {
            let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let started = std::time::Instant::now();
            for frame in frames.iter().cycle() {
                eprint!(
                    "\r{frame} {what} ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })))
    }

    fn stop(self) {
        if let Some(task) = self.0 {
            task.abort();
            eprint!("\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_payer_signs_first_and_no_key_signs_twice() {
        let (payer, owner) = (Keypair::new(), Keypair::new());
        let signers = with_fee_payer(Some(&payer), &[&owner, &payer]);
        let keys: Vec<_> = signers.iter().map(|s| s.pubkey()).collect();
        assert_eq!(keys, vec![payer.pubkey(), owner.pubkey()]);
        let alone = with_fee_payer(None, &[&owner]);
        assert_eq!(alone[0].pubkey(), owner.pubkey());
    }

    #[test]
    fn without_a_terminal_an_irreversible_action_needs_yes() {
        // Test processes have no terminal on stdin.
        if std::io::stdin().is_terminal() {
            return;
        }
        let err = confirm("Hand the network to governance?")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pass --yes"), "{err}");
    }
}
