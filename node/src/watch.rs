//! Following the program's accounts over the RPC node's websocket
//! (`programSubscribe`), as the keeper and the worker both do: one session
//! at a time, reconnecting with backoff when it drops. A session that comes
//! back says so (`Connected { again: true }`), so the caller can re-read
//! what it missed while the socket was down.

use {
    crate::{backoff, Shutdown},
    anyhow::{Context, Result},
    futures_util::StreamExt,
    iogrid_sdk::{Address, PROGRAM_ID},
    solana_account_decoder_client_types::UiAccountEncoding,
    solana_pubsub_client::nonblocking::pubsub_client::PubsubClient,
    solana_rpc_client_api::{
        config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
        filter::{Memcmp, RpcFilterType},
    },
    std::time::Duration,
    tracing::warn,
};

/// Longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a subscription reports.
#[derive(Debug)]
pub enum ProgramEvent {
    /// Subscribed; `again` after a drop (updates may have been missed).
    Connected { again: bool },
    /// The session ended (closed or failed); a reconnect follows.
    Disconnected { error: Option<String> },
    /// An account changed at `slot`; `closed` when it is no longer the
    /// program's or has no data.
    Update {
        address: Address,
        data: Vec<u8>,
        slot: u64,
        closed: bool,
    },
}

/// Follows the program's accounts (only those whose data starts with
/// `discriminator`, when given) until `shutdown`, reconnecting with
/// jittered backoff from `base`.
pub async fn follow_program(
    ws_url: &str,
    discriminator: Option<&[u8]>,
    base: Duration,
    shutdown: &Shutdown,
    mut on_event: impl FnMut(ProgramEvent),
) {
    let mut failures = 0u32;
    let mut connected_before = false;
    loop {
        let ended = tokio::select! {
            ended = session(ws_url, discriminator, &mut connected_before, &mut on_event) => ended,
            _ = shutdown.wait() => return,
        };
        match ended {
            Ok(()) => {
                failures = 0;
                on_event(ProgramEvent::Disconnected { error: None });
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                on_event(ProgramEvent::Disconnected {
                    error: Some(format!("{err:#}")),
                });
            }
        }
        let wait = backoff::jittered(backoff::backoff(base, failures, MAX_BACKOFF));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// One websocket session: subscribe, then report updates until the stream
/// ends.
async fn session(
    ws_url: &str,
    discriminator: Option<&[u8]>,
    connected_before: &mut bool,
    on_event: &mut impl FnMut(ProgramEvent),
) -> Result<()> {
    let client = PubsubClient::new(ws_url)
        .await
        .with_context(|| format!("connecting to {ws_url}"))?;
    let config = RpcProgramAccountsConfig {
        filters: discriminator
            .map(|d| vec![RpcFilterType::Memcmp(Memcmp::new_raw_bytes(0, d.to_vec()))]),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(solana_commitment_config::CommitmentConfig::confirmed()),
            ..RpcAccountInfoConfig::default()
        },
        ..RpcProgramAccountsConfig::default()
    };
    let (mut updates, unsubscribe) = client
        .program_subscribe(&PROGRAM_ID, Some(config))
        .await
        .context("programSubscribe")?;
    on_event(ProgramEvent::Connected {
        again: *connected_before,
    });
    *connected_before = true;
    let program = PROGRAM_ID.to_string();
    while let Some(update) = updates.next().await {
        let Ok(address) = update.value.pubkey.parse() else {
            warn!("an update for a malformed address: {}", update.value.pubkey);
            continue;
        };
        let data = update.value.account.data.decode().unwrap_or_default();
        let closed = update.value.account.owner != program || data.is_empty();
        on_event(ProgramEvent::Update {
            address,
            data,
            slot: update.context.slot,
            closed,
        });
    }
    // The socket is gone: nothing to unsubscribe from.
    drop((updates, unsubscribe));
    client.shutdown().await?;
    Ok(())
}

/// The Solana convention: the websocket listens on the RPC port + 1
/// (http → ws, https → wss); hosted endpoints without a port keep none.
pub fn websocket_url(rpc_url: &str) -> Result<String> {
    let (scheme, rest) = rpc_url
        .split_once("://")
        .with_context(|| format!("{rpc_url} is not an http(s) URL"))?;
    let ws_scheme = match scheme {
        "http" => "ws",
        "https" => "wss",
        other => anyhow::bail!("{rpc_url}: unsupported scheme {other}"),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = authority
        .rsplit_once(':')
        .filter(|_| !authority.ends_with(']'));
    let authority = match port {
        Some((host, port)) => {
            let port: u16 = port
                .parse()
                .with_context(|| format!("{rpc_url}: bad port {port}"))?;
            format!(
                "{host}:{}",
                port.checked_add(1).context("port 65535 has no next")?
            )
        }
        _ => authority.to_string(),
    };
    Ok(format!("{ws_scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_url_follows_the_solana_convention() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8899").unwrap(),
            "ws://127.0.0.1:8900"
        );
        assert_eq!(
            websocket_url("https://api.devnet.solana.com").unwrap(),
            "wss://api.devnet.solana.com"
        );
        assert_eq!(
            websocket_url("https://rpc.example.com:443/key").unwrap(),
            "wss://rpc.example.com:444/key"
        );
        assert_eq!(
            websocket_url("http://[::1]:8899").unwrap(),
            "ws://[::1]:8900"
        );
        assert!(websocket_url("ftp://x").is_err());
    }
}
