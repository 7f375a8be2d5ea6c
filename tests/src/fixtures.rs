//! Shared scenario fixtures: an initialized network and the invariant checks
//! every scenario runs after every step.

use {
    crate::TestEnv,
    iogrid_sdk::{
        accounts::{Config, NetworkParams},
        constants::SUPPLY_CAP,
        instructions::InitializeAccounts,
        pda, Address, TOKEN_PROGRAM_ID,
    },
    solana_keypair::Keypair,
    solana_program_pack::Pack,
    solana_signer::Signer,
};

/// An initialized network in a fresh SVM.
pub struct Network {
    pub env: TestEnv,
    /// Token authority of the genesis distribution account.
    pub distribution_owner: Keypair,
    pub arbiter: Keypair,
    pub params: NetworkParams,
}

impl Network {
    /// Initializes with the default launch parameters.
    pub fn new() -> Self {
        Self::with_params(NetworkParams::default())
    }

    pub fn with_params(params: NetworkParams) -> Self {
        let mut env = TestEnv::new();
        let distribution_owner = env.funded_keypair();
        let arbiter = Keypair::new();
        let accounts =
            InitializeAccounts::new(env.upgrade_authority.pubkey(), distribution_owner.pubkey());
        let ix = accounts.instruction(&params, &arbiter.pubkey());
        let authority = env.upgrade_authority.insecure_clone();
        env.send_ok("initialize", ix, &[&authority]);
        let network = Self {
            env,
            distribution_owner,
            arbiter,
            params,
        };
        network.check_invariants();
        network
    }

    pub fn config(&self) -> Config {
        self.env.program_account(&pda::config().0)
    }

    /// Every IO token account in existence, with its balance.
    pub fn io_balances(&self) -> Vec<(Address, u64)> {
        let mint = pda::io_mint().0;
        self.env
            .svm
            .get_program_accounts(&TOKEN_PROGRAM_ID)
            .into_iter()
            .filter(|(_, a)| a.data.len() == spl_token_interface::state::Account::LEN)
            .filter_map(|(address, a)| {
                let state = spl_token_interface::state::Account::unpack(&a.data).ok()?;
                (state.mint == mint).then_some((address, state.amount))
            })
            .collect()
    }

    /// The conservation invariants, checked after every step of every test:
    /// supply ≤ cap; supply is exactly genesis + emission (no IO is created
    /// outside the schedule); every unit of supply sits in some token account.
    pub fn check_invariants(&self) {
        let config = self.config();
        let supply = self.env.mint_supply(&config.io_mint);
        assert!(
            supply <= SUPPLY_CAP,
            "supply {supply} exceeds the cap {SUPPLY_CAP}"
        );
        assert_eq!(
            supply,
            config.genesis_supply + config.emitted,
            "supply differs from genesis + emitted"
        );
        let held: u64 = self.io_balances().iter().map(|(_, amount)| amount).sum();
        assert_eq!(
            held, supply,
            "token accounts hold {held}, supply is {supply}"
        );
    }
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}
