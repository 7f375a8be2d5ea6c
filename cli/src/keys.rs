//! Which keypair signs, following the Solana CLI: `--keypair <file>`, else
//! the Solana CLI config's `keypair_path`, else `~/.config/solana/id.json`.

use {
    anyhow::{anyhow, Result},
    iogrid_sdk::Address,
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::path::{Path, PathBuf},
};

/// The keypair file `--keypair` names, else the Solana CLI's default.
pub fn keypair_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    solana_cli_config::CONFIG_FILE
        .as_ref()
        .and_then(|file| solana_cli_config::Config::load(file).ok())
        .map(|config| PathBuf::from(config.keypair_path))
        .unwrap_or_else(|| PathBuf::from(solana_cli_config::Config::default().keypair_path))
}

pub fn load_keypair(flag: Option<&Path>) -> Result<Keypair> {
    let path = keypair_path(flag);
    read_keypair_file(&path).map_err(|e| {
        anyhow!(
            "cannot read the keypair {}: {e} (create one with `solana-keygen new`, or pass --keypair)",
            path.display()
        )
    })
}

/// A base58 address, or `self` for the signer's own.
pub fn parse_address(text: &str, signer: &Keypair) -> Result<Address> {
    if text == "self" {
        return Ok(signer.pubkey());
    }
    text.parse()
        .map_err(|e| anyhow!("{text:?} is not a base58 address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_and_base58_addresses_parse() {
        let signer = Keypair::new();
        assert_eq!(parse_address("self", &signer).unwrap(), signer.pubkey());
        let other = Address::new_unique();
        assert_eq!(parse_address(&other.to_string(), &signer).unwrap(), other);
        let err = parse_address("not-a-key", &signer).unwrap_err().to_string();
        assert!(err.contains("not a base58 address"), "{err}");
    }

    #[test]
    fn a_missing_keypair_file_says_how_to_make_one() {
        let err = load_keypair(Some(Path::new("/nonexistent/id.json")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/id.json"), "{err}");
        assert!(err.contains("solana-keygen new"), "{err}");
    }
}
