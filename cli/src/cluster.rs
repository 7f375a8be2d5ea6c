//! Which cluster to talk to, following the Solana CLI's conventions: `-u`
//! takes a moniker (`l`, `d`, `m`, `t` or the full names) or a URL; without
//! it, the Solana CLI config file's `json_rpc_url`, else localhost.

use {
    anyhow::{bail, Result},
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
};

/// Expands a `-u` value into a JSON-RPC URL.
pub fn resolve_url(value: &str) -> Result<String> {
    Ok(match value {
        "l" | "localhost" | "localnet" => "http://127.0.0.1:8899".to_string(),
        "d" | "devnet" => "https://api.devnet.solana.com".to_string(),
        "t" | "testnet" => "https://api.testnet.solana.com".to_string(),
        "m" | "mainnet-beta" => "https://api.mainnet-beta.solana.com".to_string(),
        url if url.starts_with("http://") || url.starts_with("https://") => url.to_string(),
        other => bail!(
            "unknown cluster {other:?}: use l(ocalhost), d(evnet), t(estnet), m(ainnet-beta) or an http(s) URL"
        ),
    })
}

/// The URL from `-u`, else the Solana CLI config, else localhost.
pub fn url_or_default(flag: Option<&str>) -> Result<String> {
    if let Some(value) = flag {
        return resolve_url(value);
    }
    let config = solana_cli_config::CONFIG_FILE
        .as_ref()
        .and_then(|path| solana_cli_config::Config::load(path).ok());
    match config {
        Some(config) => resolve_url(&config.json_rpc_url),
        None => resolve_url("localhost"),
    }
}

pub fn rpc_client(url: String) -> RpcClient {
    RpcClient::new_with_commitment(url, CommitmentConfig::confirmed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monikers_and_urls_resolve() {
        assert_eq!(resolve_url("l").unwrap(), "http://127.0.0.1:8899");
        assert_eq!(
            resolve_url("devnet").unwrap(),
            "https://api.devnet.solana.com"
        );
        assert_eq!(
            resolve_url("http://10.0.0.1:8899").unwrap(),
            "http://10.0.0.1:8899"
        );
        let err = resolve_url("localnett").unwrap_err().to_string();
        assert!(err.contains("unknown cluster \"localnett\""), "{err}");
    }
}
