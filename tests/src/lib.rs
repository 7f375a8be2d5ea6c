//! `TestEnv`: the LiteSVM harness every iogrid test uses. It loads the real
//! SBF binary `target/deploy/iogrid.so` (never a native build of the program),
//! funds keypairs, moves the clock, sends transactions built with the sdk,
//! decodes program errors into their names, reads accounts back, checks the
//! conservation invariants and records compute units per instruction.

pub mod chaos;
pub mod cu;
pub mod fixtures;
pub mod load;
pub mod localchain;
pub mod prop;
pub mod scale;

use {
    anyhow::{bail, Context, Result},
    iogrid_sdk::{
        accounts::ProgramAccount, errors::ProgramFailure, pda, Address, PROGRAM_ID,
        TOKEN_PROGRAM_ID,
    },
    litesvm::{types::TransactionMetadata, LiteSVM},
    solana_account::Account,
    solana_clock::Clock,
    solana_instruction::Instruction,
    solana_keypair::Keypair,
    solana_message::Message,
    solana_program_pack::Pack,
    solana_signer::Signer,
    solana_transaction::Transaction,
    std::{
        path::{Path, PathBuf},
        time::SystemTime,
    },
};

pub use {solana_keypair, solana_signer};

/// The Unix time every test chain starts at (2026-01-01T00:00:00Z).
pub const GENESIS_UNIX_TIME: i64 = 1_767_225_600;

/// SOL given to every funded keypair, in lamports.
pub const DEFAULT_LAMPORTS: u64 = 100_000_000_000;

/// Repository root (the workspace that holds `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The production program, `target/deploy/iogrid.so`.
pub const PROGRAM_SO: &str = "iogrid";
/// The measurement build with `bench_math` (`scripts/build-program --bench`).
pub const BENCH_SO: &str = "iogrid_bench";

/// `target/deploy/<name>.so`, after checking it exists and is newer than every
/// source it is built from, so a test can never run a stale binary.
pub fn program_so_path(name: &str) -> Result<PathBuf> {
    let root = repo_root();
    let so = root.join(format!("target/deploy/{name}.so"));
    let flag = if name == BENCH_SO { " --bench" } else { "" };
    let built = std::fs::metadata(&so)
        .and_then(|m| m.modified())
        .with_context(|| {
            format!(
                "{} is missing: run scripts/build-program{flag} first",
                so.display()
            )
        })?;
    let sources = [
        root.join("programs/iogrid/src"),
        root.join("programs/iogrid/Cargo.toml"),
        root.join("programs/iogrid/Cargo.lock"),
        root.join("rules/src"),
        root.join("rules/Cargo.toml"),
        root.join("patches"),
    ];
    for source in &sources {
        if let Some((path, modified)) = newest_file(source)? {
            if modified > built {
                bail!(
                    "{} is older than {}: run scripts/build-program{flag} to rebuild it",
                    so.display(),
                    path.display()
                );
            }
        }
    }
    Ok(so)
}

fn newest_file(path: &Path) -> Result<Option<(PathBuf, SystemTime)>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        return Ok(Some((path.to_path_buf(), meta.modified()?)));
    }
    let mut newest = None;
    for entry in std::fs::read_dir(path)? {
        if let Some(found) = newest_file(&entry?.path())? {
            if newest.as_ref().is_none_or(|(_, t)| found.1 > *t) {
                newest = Some(found);
            }
        }
    }
    Ok(newest)
}

/// A transaction that failed, with its error decoded.
#[derive(Debug)]
pub struct TxFailure {
    pub failure: ProgramFailure,
    pub logs: Vec<String>,
}

impl std::fmt::Display for TxFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.failure)?;
        for line in &self.logs {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

pub struct TestEnv {
    pub svm: LiteSVM,
    /// The program's upgrade authority (may run `initialize`).
    pub upgrade_authority: Keypair,
    /// Whether `send_ok` records compute units for the README's table (which
    /// is measured on p-token; the classic Token program costs far more).
    pub records_cu: bool,
}

impl TestEnv {
    /// A fresh SVM with the SPL Token program and the compiled iogrid program,
    /// whose ProgramData names `upgrade_authority`.
    pub fn new() -> Self {
        Self::with_program(PROGRAM_SO)
    }

    /// Like [`TestEnv::new`] with another build of the program at the same id.
    pub fn with_program(name: &str) -> Self {
        Self::on_svm(LiteSVM::new(), name)
    }

    /// Like [`TestEnv::new`], but with the SPL Token program p-token
    /// replaced (3.5.0, under the non-upgradeable BPF loader, no `Batch`):
    /// a cluster where SIMD-0266 is not active.
    pub fn with_classic_token() -> Self {
        let mut features = LiteSVM::mainnet_feature_set();
        features.deactivate(&agave_feature_set::replace_spl_token_with_p_token::id());
        let svm = LiteSVM::default()
            .with_feature_set(features)
            .with_builtins()
            .with_lamports(1_000_000 * 1_000_000_000)
            .with_sysvars()
            .with_feature_accounts()
            .with_default_programs()
            .with_sigverify(true)
            .with_blockhash_check(true)
            .with_precompiles();
        let mut env = Self::on_svm(svm, PROGRAM_SO);
        env.records_cu = false;
        let token = env.account(&TOKEN_PROGRAM_ID).expect("the Token program");
        assert_eq!(
            token.owner,
            Self::BPF_LOADER_V2,
            "the classic Token program"
        );
        env
    }

    /// The BPF loader v2, which holds the SPL Token program where p-token
    /// has not replaced it.
    const BPF_LOADER_V2: Address =
        Address::from_str_const("BPFLoader2111111111111111111111111111111111");

    fn on_svm(mut svm: LiteSVM, name: &str) -> Self {
        let so = program_so_path(name).unwrap_or_else(|e| panic!("{e:#}"));
        svm.add_program_from_file(PROGRAM_ID, &so)
            .unwrap_or_else(|e| panic!("loading {}: {e}", so.display()));
        let upgrade_authority = Keypair::new();
        let mut env = Self {
            svm,
            upgrade_authority,
            records_cu: true,
        };
        env.set_upgrade_authority(Some(env.upgrade_authority.pubkey()));
        env.set_realistic_clock();
        env.airdrop(&env.upgrade_authority.pubkey(), DEFAULT_LAMPORTS);
        env
    }

    /// Rewrites the ProgramData header's upgrade authority (LiteSVM deploys
    /// with none).
    pub fn set_upgrade_authority(&mut self, authority: Option<Address>) {
        let address = pda::program_data();
        let mut account = self.svm.get_account(&address).expect("ProgramData exists");
        // bincode UpgradeableLoaderState::ProgramData: tag u32, slot u64, Option<Address>.
        match authority {
            Some(key) => {
                account.data[12] = 1;
                account.data[13..45].copy_from_slice(key.as_ref());
            }
            None => account.data[12..45].fill(0),
        }
        self.svm
            .set_account(address, account)
            .expect("ProgramData is writable");
    }

    /// LiteSVM starts at Unix time 0; real clusters never do. Start at
    /// 2026-01-01 so no code can pass by treating 0 as "unset".
    fn set_realistic_clock(&mut self) {
        let mut clock = self.clock();
        clock.unix_timestamp = GENESIS_UNIX_TIME;
        clock.epoch_start_timestamp = GENESIS_UNIX_TIME;
        self.svm.set_sysvar(&clock);
    }

    pub fn airdrop(&mut self, to: &Address, lamports: u64) {
        self.svm
            .airdrop(to, lamports)
            .unwrap_or_else(|e| panic!("airdrop to {to}: {:?}", e.err));
    }

    /// A new keypair holding [`DEFAULT_LAMPORTS`].
    pub fn funded_keypair(&mut self) -> Keypair {
        let keypair = Keypair::new();
        self.airdrop(&keypair.pubkey(), DEFAULT_LAMPORTS);
        keypair
    }

    pub fn clock(&self) -> Clock {
        self.svm.get_sysvar::<Clock>()
    }

    pub fn now(&self) -> i64 {
        self.clock().unix_timestamp
    }

    /// Moves the clock forward by `secs` (and the slot by `secs × 2.5`).
    pub fn advance_clock(&mut self, secs: i64) {
        let mut clock = self.clock();
        clock.unix_timestamp = clock
            .unix_timestamp
            .checked_add(secs)
            .expect("clock overflow");
        clock.slot = clock
            .slot
            .saturating_add(u64::try_from(secs).unwrap_or(0).saturating_mul(5) / 2);
        self.svm.set_sysvar(&clock);
    }

    /// Sends `instructions` paid by the first signer. Every transaction gets a
    /// fresh blockhash, so an intentional replay is a new transaction that the
    /// program itself must reject.
    pub fn send(
        &mut self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<TransactionMetadata, TxFailure> {
        self.svm.expire_blockhash();
        let payer = signers.first().expect("at least one signer pays").pubkey();
        let message =
            Message::new_with_blockhash(instructions, Some(&payer), &self.svm.latest_blockhash());
        let tx = Transaction::new(signers, message, self.svm.latest_blockhash());
        self.svm.send_transaction(tx).map_err(|failed| TxFailure {
            failure: ProgramFailure::from_transaction_error(&failed.err),
            logs: failed.meta.logs,
        })
    }

    /// Sends a transaction holding exactly one instruction, records its
    /// compute units under `name`, and panics with decoded logs on failure.
    pub fn send_ok(
        &mut self,
        name: &str,
        instruction: Instruction,
        signers: &[&Keypair],
    ) -> TransactionMetadata {
        match self.send(&[instruction], signers) {
            Ok(meta) => {
                if self.records_cu {
                    cu::record(name, meta.compute_units_consumed);
                }
                // IOGRID_CU_LOGS=<name prefix>: where the units go, per CPI.
                if std::env::var("IOGRID_CU_LOGS").is_ok_and(|n| name.starts_with(&n)) {
                    eprintln!("{name}:\n{}", meta.logs.join("\n"));
                }
                meta
            }
            Err(failure) => panic!("{name} failed: {failure}"),
        }
    }

    /// Sends `instruction` expecting it to fail; returns the decoded failure.
    pub fn send_err(&mut self, instruction: Instruction, signers: &[&Keypair]) -> ProgramFailure {
        match self.send(&[instruction], signers) {
            Ok(meta) => panic!(
                "expected a failure, but it succeeded:\n{}",
                meta.pretty_logs()
            ),
            Err(failure) => failure.failure,
        }
    }

    pub fn account(&self, address: &Address) -> Option<Account> {
        self.svm.get_account(address).filter(|a| a.lamports > 0)
    }

    /// Decodes the program account at `address`.
    pub fn program_account<T: ProgramAccount>(&self, address: &Address) -> T {
        let account = self
            .account(address)
            .unwrap_or_else(|| panic!("no {} at {address}", T::NAME));
        assert_eq!(
            account.owner,
            PROGRAM_ID,
            "{} at {address} is not owned by iogrid",
            T::NAME
        );
        T::decode(&account.data).unwrap_or_else(|e| panic!("{address}: {e}"))
    }

    /// The token balance of an SPL token account, in base units.
    pub fn token_balance(&self, address: &Address) -> u64 {
        let account = self
            .account(address)
            .unwrap_or_else(|| panic!("no token account at {address}"));
        spl_token_interface::state::Account::unpack(&account.data)
            .unwrap_or_else(|e| panic!("{address} is not a token account: {e}"))
            .amount
    }

    pub fn mint_supply(&self, mint: &Address) -> u64 {
        let account = self
            .account(mint)
            .unwrap_or_else(|| panic!("no mint at {mint}"));
        spl_token_interface::state::Mint::unpack(&account.data)
            .unwrap_or_else(|e| panic!("{mint} is not a mint: {e}"))
            .supply
    }

    pub fn token_account_state(&self, address: &Address) -> spl_token_interface::state::Account {
        let account = self
            .account(address)
            .unwrap_or_else(|| panic!("no token account at {address}"));
        spl_token_interface::state::Account::unpack(&account.data).expect("token account")
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Anchor's 8-byte discriminator, `sha256(preimage)[..8]`, for instructions
/// the sdk deliberately does not build (the `cu-bench` measurement one).
pub fn anchor_discriminator(preimage: &str) -> [u8; 8] {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(preimage.as_bytes());
    hash[..8].try_into().expect("8 bytes")
}
