//! `iogrid network show`: the network's parameters, supply and vaults.

use {
    crate::{
        keys::load_keypair,
        migrate::{self, MigrationFile},
        output::{print, OutputFormat},
    },
    anyhow::Result,
    clap::{Args, Subcommand},
    iogrid_sdk::{
        accounts::{Config, NetworkParams},
        constants::format_io,
        pda,
        rpc::{network_state, NetworkState},
        Address, PROGRAM_ID,
    },
    serde::Serialize,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
    std::{
        fmt,
        path::{Path, PathBuf},
    },
};

#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Print the network's parameters, IO supply and vault balances.
    Show,
    /// Create the network from a migration file (idempotent). The signer must
    /// be the program's upgrade authority.
    Init {
        /// The migration file: parameters, arbiter, keepers.
        #[arg(long, default_value = "migrations/localnet.toml")]
        config: PathBuf,
        /// Token owner of the genesis distribution (overrides the file's).
        #[arg(long)]
        distribution_owner: Option<Address>,
    },
}

pub async fn execute(
    args: &NetworkArgs,
    rpc: &RpcClient,
    output: OutputFormat,
    keypair: Option<&Path>,
) -> Result<()> {
    match &args.command {
        NetworkCommand::Show => {
            let state = network_state(rpc).await?;
            print(output, &NetworkSummary::new(&state))
        }
        NetworkCommand::Init {
            config,
            distribution_owner,
        } => {
            let signer = load_keypair(keypair)?;
            let migration = MigrationFile::load(config)?.resolve(&signer, *distribution_owner)?;
            print(output, &migrate::run(rpc, &signer, &migration).await?)
        }
    }
}

/// What `network show` prints.
#[derive(Debug, Serialize)]
pub struct NetworkSummary {
    pub program_id: String,
    pub config: String,
    pub authority: String,
    /// The bootstrap authority has handed Config to the governance PDA.
    pub governed: bool,
    pub proposals: u64,
    pub io_mint: String,
    pub supply: u64,
    pub supply_cap: u64,
    pub genesis_supply: u64,
    pub emitted: u64,
    pub treasury: String,
    pub treasury_balance: u64,
    pub rewards_vault: String,
    pub rewards_balance: u64,
    pub stake_vault: String,
    pub staked_balance: u64,
    pub arbiter: String,
    pub keepers: Vec<String>,
    pub paused: bool,
    pub params: NetworkParams,
}

fn text(address: &Address) -> String {
    address.to_string()
}

impl NetworkSummary {
    pub fn new(state: &NetworkState) -> Self {
        let config: &Config = &state.config;
        Self {
            program_id: text(&PROGRAM_ID),
            config: text(&pda::config().0),
            authority: text(&config.authority),
            governed: config.authority == pda::governance().0,
            proposals: config.proposal_count,
            io_mint: text(&config.io_mint),
            supply: state.supply,
            supply_cap: config.supply_cap,
            genesis_supply: config.genesis_supply,
            emitted: config.emitted,
            treasury: text(&config.treasury),
            treasury_balance: state.treasury_balance,
            rewards_vault: text(&config.rewards_vault),
            rewards_balance: state.rewards_balance,
            stake_vault: text(&config.stake_vault),
            staked_balance: state.staked_balance,
            arbiter: text(&config.arbiter),
            keepers: config.active_keepers().iter().map(text).collect(),
            paused: config.is_paused(),
            params: config.params,
        }
    }
}

impl fmt::Display for NetworkSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        writeln!(f, "iogrid network")?;
        writeln!(f, "  program            {}", self.program_id)?;
        writeln!(f, "  config             {}", self.config)?;
        let holder = if self.governed {
            "governance PDA: no key can change the network"
        } else {
            "bootstrap key, until it hands over to governance"
        };
        writeln!(f, "  authority          {} ({holder})", self.authority)?;
        writeln!(f, "  proposals          {}", self.proposals)?;
        writeln!(f, "  paused             {}", self.paused)?;
        writeln!(f, "IO token")?;
        writeln!(f, "  mint               {}", self.io_mint)?;
        writeln!(f, "  supply             {}", format_io(self.supply))?;
        writeln!(f, "  cap                {}", format_io(self.supply_cap))?;
        writeln!(f, "  genesis            {}", format_io(self.genesis_supply))?;
        writeln!(f, "  emitted            {}", format_io(self.emitted))?;
        writeln!(f, "Vaults")?;
        writeln!(
            f,
            "  treasury           {} ({})",
            format_io(self.treasury_balance),
            self.treasury
        )?;
        writeln!(
            f,
            "  rewards            {} ({})",
            format_io(self.rewards_balance),
            self.rewards_vault
        )?;
        writeln!(
            f,
            "  staked             {} ({})",
            format_io(self.staked_balance),
            self.stake_vault
        )?;
        writeln!(f, "Roles")?;
        writeln!(f, "  arbiter            {}", self.arbiter)?;
        if self.keepers.is_empty() {
            writeln!(f, "  keepers            (none registered)")?;
        }
        for keeper in &self.keepers {
            writeln!(f, "  keeper             {keeper}")?;
        }
        writeln!(f, "Parameters")?;
        writeln!(f, "  stake per GPU      {}", format_io(p.min_stake_per_gpu))?;
        writeln!(
            f,
            "  proposal stake     {}",
            format_io(p.proposal_min_stake)
        )?;
        writeln!(
            f,
            "  free inference     {} tokens a day per IO staked",
            p.free_tokens_per_io_day
        )?;
        writeln!(f, "  unbonding          {} s", p.unbonding_secs)?;
        writeln!(
            f,
            "  heartbeat          every {} s, fault after {} s",
            p.heartbeat_interval_secs, p.heartbeat_timeout_secs
        )?;
        writeln!(
            f,
            "  challenge window   {} s (job grace {} s)",
            p.challenge_window_secs, p.job_grace_secs
        )?;
        writeln!(f, "  fee / burn         {} / {} bps", p.fee_bps, p.burn_bps)?;
        writeln!(
            f,
            "  slash              {} bps, capped at {} bps",
            p.slash_bps, p.slash_cap_bps
        )?;
        write!(
            f,
            "  governance         quorum {} bps, threshold {} bps, voting {} s, timelock {} s",
            p.quorum_bps, p.threshold_bps, p.voting_secs, p.timelock_secs
        )
    }
}
