//! `iogrid network init`: creates the network a migration file describes
//! (`migrations/*.toml`). Idempotent: against an initialized network it
//! changes nothing but registering the file's missing keepers (while the
//! bootstrap authority still holds Config), and reports every other
//! difference, since after genesis only governance changes parameters.

use {
    crate::keys::parse_address,
    anyhow::{bail, Context, Result},
    iogrid_sdk::{
        accounts::{Config, NetworkParams},
        constants::MAX_KEEPERS,
        instructions::{InitializeAccounts, SetKeepersAccounts},
        rpc::{config_if_initialized, NonblockingRpcClient as RpcClient},
        send::{send_and_confirm, SendOptions},
        Address,
    },
    serde::{Deserialize, Serialize},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{fmt, path::Path},
};

/// A migration file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationFile {
    /// Token owner of the genesis allocation; may also come from
    /// `--distribution-owner`. It cannot be the signer: the program refuses
    /// the same account twice where one is writable.
    #[serde(default)]
    pub distribution_owner: Option<String>,
    pub arbiter: String,
    #[serde(default)]
    pub keepers: Vec<String>,
    pub params: NetworkParams,
}

/// A migration with every key resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub distribution_owner: Address,
    pub arbiter: Address,
    pub keepers: Vec<Address>,
    pub params: NetworkParams,
}

impl MigrationFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the migration file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Resolves `self` entries to the signer's address; `distribution_owner`
    /// overrides the file's.
    pub fn resolve(
        &self,
        signer: &Keypair,
        distribution_owner: Option<Address>,
    ) -> Result<Migration> {
        let distribution_owner = match (distribution_owner, &self.distribution_owner) {
            (Some(owner), _) => owner,
            (None, Some(text)) => parse_address(text, signer)?,
            (None, None) => bail!(
                "name the owner of the genesis distribution: distribution_owner in the file, or --distribution-owner"
            ),
        };
        if distribution_owner == signer.pubkey() {
            bail!(
                "the distribution owner must be another key than the signer (the upgrade authority)"
            );
        }
        let keepers = self
            .keepers
            .iter()
            .map(|k| parse_address(k, signer))
            .collect::<Result<Vec<_>>>()?;
        if keepers.len() > MAX_KEEPERS {
            bail!(
                "at most {MAX_KEEPERS} keepers, the file names {}",
                keepers.len()
            );
        }
        Ok(Migration {
            distribution_owner,
            arbiter: parse_address(&self.arbiter, signer)?,
            keepers,
            params: self.params,
        })
    }
}

/// What `network init` did.
#[derive(Debug, Default, Serialize)]
pub struct InitReport {
    /// The network was created by this run (false: it already existed).
    pub created: bool,
    pub keepers_added: Vec<String>,
    /// How the chain differs from the file; only governance can change these.
    pub differences: Vec<String>,
    pub signatures: Vec<String>,
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            writeln!(f, "initialized the network")?;
        } else {
            writeln!(f, "the network was already initialized; nothing re-created")?;
        }
        for keeper in &self.keepers_added {
            writeln!(f, "registered keeper {keeper}")?;
        }
        for difference in &self.differences {
            writeln!(f, "differs from the file: {difference}")?;
        }
        for signature in &self.signatures {
            writeln!(f, "transaction {signature}")?;
        }
        Ok(())
    }
}

/// Each parameter whose on-chain value differs from the file's.
pub fn param_differences(chain: &NetworkParams, file: &NetworkParams) -> Vec<String> {
    let as_map = |p: &NetworkParams| match serde_json::to_value(p) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("NetworkParams serializes to an object"),
    };
    let (chain, file) = (as_map(chain), as_map(file));
    let mut differences: Vec<String> = chain
        .iter()
        .filter(|(name, value)| file.get(*name) != Some(value))
        .map(|(name, value)| format!("{name}: chain {value}, file {}", file[name]))
        .collect();
    // By name, whatever map order serde_json was built with.
    differences.sort();
    differences
}

/// The file's keepers that Config does not list yet.
pub fn missing_keepers(config: &Config, migration: &Migration) -> Vec<Address> {
    let registered = config.active_keepers();
    let mut missing: Vec<Address> = Vec::new();
    for keeper in &migration.keepers {
        if !registered.contains(keeper) && !missing.contains(keeper) {
            missing.push(*keeper);
        }
    }
    missing
}

/// Applies `migration` to the cluster `rpc` talks to.
pub async fn run(rpc: &RpcClient, signer: &Keypair, migration: &Migration) -> Result<InitReport> {
    let options = SendOptions::default();
    let mut report = InitReport::default();
    let config = match config_if_initialized(rpc).await? {
        Some(config) => config,
        None => {
            let ix = InitializeAccounts::new(signer.pubkey(), migration.distribution_owner)
                .instruction(&migration.params, &migration.arbiter);
            let sent = send_and_confirm(rpc, &[ix], &[signer], &options)
                .await
                .context("initialize (the signer must be the program's upgrade authority)")?;
            report.created = true;
            report.signatures.push(sent.signature.to_string());
            config_if_initialized(rpc)
                .await?
                .context("Config is missing right after initialize")?
        }
    };
    report.differences = param_differences(&config.params, &migration.params);
    if config.arbiter != migration.arbiter {
        report.differences.push(format!(
            "arbiter: chain {}, file {}",
            config.arbiter, migration.arbiter
        ));
    }
    let missing = missing_keepers(&config, migration);
    if missing.is_empty() {
        return Ok(report);
    }
    if config.authority != signer.pubkey() {
        for keeper in missing {
            report.differences.push(format!(
                "keeper {keeper} is not registered, and only governance can add it now (propose AddKeeper)"
            ));
        }
        return Ok(report);
    }
    let mut keepers = config.active_keepers().to_vec();
    keepers.extend(&missing);
    if keepers.len() > MAX_KEEPERS {
        bail!(
            "registering {} keepers would exceed the limit of {MAX_KEEPERS}",
            keepers.len()
        );
    }
    let ix = SetKeepersAccounts::new(signer.pubkey()).instruction(&keepers);
    let sent = send_and_confirm(rpc, &[ix], &[signer], &options)
        .await
        .context("set_keepers")?;
    report.signatures.push(sent.signature.to_string());
    report.keepers_added = missing.iter().map(Address::to_string).collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    const FILE: &str = include_str!("../../migrations/localnet.toml");

    #[test]
    fn the_shipped_migrations_parse_and_resolve() {
        let signer = Keypair::new();
        let owner = Address::new_unique();
        for text in [FILE, include_str!("../../migrations/devnet.toml")] {
            let file: MigrationFile = toml::from_str(text).unwrap();
            let migration = file.resolve(&signer, Some(owner)).unwrap();
            assert_eq!(migration.distribution_owner, owner);
            assert_eq!(migration.arbiter, signer.pubkey());
            assert_eq!(migration.params.fee_bps, 250);
            // 1,000 IO staked: 1,000,000 free inference tokens a day.
            assert_eq!(migration.params.free_tokens_per_io_day, 1_000);
        }
    }

    #[test]
    fn the_distribution_owner_must_be_named_and_not_the_signer() {
        let signer = Keypair::new();
        let file: MigrationFile = toml::from_str(FILE).unwrap();
        let err = file.resolve(&signer, None).unwrap_err().to_string();
        assert!(err.contains("--distribution-owner"), "{err}");
        let err = file
            .resolve(&signer, Some(signer.pubkey()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another key than the signer"), "{err}");
    }

    #[test]
    fn unknown_or_missing_parameters_are_refused() {
        let typo = FILE.replace("fee_bps = 250", "fee_bsp = 250");
        let err = toml::from_str::<MigrationFile>(&typo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("fee_bsp"), "{err}");
        let missing = FILE.replace("burn_bps = 50\n", "");
        let err = toml::from_str::<MigrationFile>(&missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("burn_bps"), "{err}");
    }

    #[test]
    fn differences_name_each_parameter() {
        let file = NetworkParams::default();
        assert!(param_differences(&file, &file).is_empty());
        let chain = NetworkParams {
            fee_bps: 300,
            voting_secs: 60,
            ..file
        };
        let differences = param_differences(&chain, &file);
        assert_eq!(
            differences,
            [
                "fee_bps: chain 300, file 250",
                "voting_secs: chain 60, file 259200"
            ]
        );
    }

    #[test]
    fn only_unregistered_keepers_are_added_once() {
        let (a, b) = (Address::new_unique(), Address::new_unique());
        let mut config = Config::zeroed();
        config.keepers[0] = a;
        config.keeper_count = 1;
        let migration = Migration {
            distribution_owner: a,
            arbiter: a,
            keepers: vec![a, b, b],
            params: NetworkParams::default(),
        };
        assert_eq!(missing_keepers(&config, &migration), [b]);
    }
}
