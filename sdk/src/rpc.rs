//! JSON-RPC reads shared by the keeper and the CLI (feature `rpc`). They speak
//! to any cluster the same way: a local validator, devnet or mainnet.

use {
    crate::{
        accounts::{Config, GpuListing, GpuSpec, JobAccount, ProgramAccount},
        pda, token, Address, CLOCK_SYSVAR_ID, PROGRAM_ID,
    },
    serde::Serialize,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
};

pub use solana_rpc_client::nonblocking::rpc_client::RpcClient as NonblockingRpcClient;

use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum RpcReadError {
    #[error("cannot reach the cluster at {url}; is a validator running there?")]
    Unreachable { url: String },
    #[error("RPC request to {url} failed: {kind}")]
    Rpc { url: String, kind: Box<ErrorKind> },
    #[error("no {what} at {address}: {hint}")]
    Missing {
        what: &'static str,
        address: Address,
        hint: &'static str,
    },
    #[error("{address} is owned by {owner}, not by the iogrid program")]
    WrongOwner { address: Address, owner: Address },
    #[error("{address}: {source}")]
    Decode {
        address: Address,
        source: crate::accounts::DecodeError,
    },
    /// [`chain_now`]: no Config owned by the program.
    #[error("the iogrid network is not initialized on this cluster (iogrid network init)")]
    NotInitialized,
    /// [`chain_now`]: the program's Config does not decode.
    #[error("reading the network's Config")]
    ConfigDecode(#[source] crate::accounts::DecodeError),
    /// [`chain_now`]: no Clock sysvar, or a short one.
    #[error("the cluster returned no Clock sysvar")]
    NoClock,
    /// No account where a `what` was read; `why` says how that comes about.
    #[error("no {what} at {address} ({why})")]
    Absent {
        what: &'static str,
        address: Address,
        why: &'static str,
    },
    /// An account of another program where a `what` was read.
    #[error("{address} is not a {what}: it belongs to {owner}, not to the iogrid program")]
    NotA {
        what: &'static str,
        address: Address,
        owner: Address,
    },
    /// An account of the program, but not a `what`.
    #[error("{address} is an iogrid account but not a {what}")]
    OtherKind {
        what: &'static str,
        address: Address,
    },
}

impl RpcReadError {
    /// Names the cluster, and says plainly when it is not answering at all.
    pub fn from_client(rpc: &RpcClient, err: ClientError) -> Self {
        let url = rpc.url();
        match err.kind() {
            ErrorKind::Reqwest(e) if e.is_connect() || e.is_timeout() => {
                RpcReadError::Unreachable { url }
            }
            _ => RpcReadError::Rpc {
                url,
                kind: err.kind,
            },
        }
    }
}

/// Fetches the account at `address`; `what` and `hint` explain its absence.
pub async fn fetch_account(
    rpc: &RpcClient,
    address: &Address,
    what: &'static str,
    hint: &'static str,
) -> Result<solana_account::Account, RpcReadError> {
    // getMultipleAccounts, not getAccountInfo: the client's getAccountInfo
    // folds transport errors into "AccountNotFound", hiding an unreachable node.
    rpc.get_multiple_accounts_with_commitment(&[*address], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value
        .pop()
        .flatten()
        .ok_or(RpcReadError::Missing {
            what,
            address: *address,
            hint,
        })
}

/// Fetches and decodes the program account `T` at `address`.
pub async fn program_account<T: ProgramAccount>(
    rpc: &RpcClient,
    address: &Address,
    hint: &'static str,
) -> Result<T, RpcReadError> {
    let account = fetch_account(rpc, address, T::NAME, hint).await?;
    if account.owner != PROGRAM_ID {
        return Err(RpcReadError::WrongOwner {
            address: *address,
            owner: account.owner,
        });
    }
    T::decode(&account.data).map_err(|source| RpcReadError::Decode {
        address: *address,
        source,
    })
}

/// The network as one read: Config plus the IO supply and vault balances.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkState {
    #[serde(skip)]
    pub config: Config,
    pub supply: u64,
    pub treasury_balance: u64,
    pub rewards_balance: u64,
    pub staked_balance: u64,
}

const NOT_INITIALIZED: &str =
    "the network is not initialized on this cluster (iogrid network init)";

/// Config, or None on a cluster where the network is not initialized yet.
pub async fn config_if_initialized(rpc: &RpcClient) -> Result<Option<Config>, RpcReadError> {
    match program_account(rpc, &pda::config().0, NOT_INITIALIZED).await {
        Ok(config) => Ok(Some(config)),
        Err(RpcReadError::Missing { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

pub async fn network_state(rpc: &RpcClient) -> Result<NetworkState, RpcReadError> {
    let config: Config = program_account(rpc, &pda::config().0, NOT_INITIALIZED).await?;
    let keys = [
        config.io_mint,
        config.treasury,
        config.rewards_vault,
        config.stake_vault,
    ];
    let accounts = rpc
        .get_multiple_accounts_with_commitment(&keys, rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value;
    let data = |i: usize, what: &'static str| {
        accounts[i]
            .as_ref()
            .map(|a| a.data.clone())
            .ok_or(RpcReadError::Missing {
                what,
                address: keys[i],
                hint: NOT_INITIALIZED,
            })
    };
    let read = |i: usize, what: &'static str, f: fn(&[u8]) -> Option<u64>| {
        let bytes = data(i, what)?;
        f(&bytes).ok_or(RpcReadError::Missing {
            what,
            address: keys[i],
            hint: "not an SPL token account",
        })
    };
    Ok(NetworkState {
        supply: read(0, "IO mint", token::mint_supply)?,
        treasury_balance: read(1, "treasury", token::balance)?,
        rewards_balance: read(2, "rewards vault", token::balance)?,
        staked_balance: read(3, "stake vault", token::balance)?,
        config,
    })
}

/// Accounts of the program read at one slot.
#[derive(Clone, Debug, Default)]
pub struct ProgramAccounts {
    /// The slot the node read them at.
    pub slot: u64,
    /// `(address, data)`, in no particular order.
    pub accounts: Vec<(Address, Vec<u8>)>,
}

/// Every account of the program whose data starts with `discriminator`
/// (`getProgramAccounts` with a memcmp filter), with the slot of the read so
/// a watcher can order it against websocket updates.
pub async fn program_accounts(
    rpc: &RpcClient,
    discriminator: [u8; 8],
) -> Result<ProgramAccounts, RpcReadError> {
    program_accounts_where(rpc, discriminator, &[]).await
}

/// The listings whose worker key is `worker` (one RPC read, filtered by the
/// node), e.g. for a rack's batched heartbeats.
pub async fn listings_of_worker(
    rpc: &RpcClient,
    worker: &Address,
) -> Result<Vec<(Address, GpuListing)>, RpcReadError> {
    // The data starts with the 8-byte discriminator.
    let offset = 8 + std::mem::offset_of!(GpuListing, spec) + std::mem::offset_of!(GpuSpec, worker);
    let read = program_accounts_where(
        rpc,
        GpuListing::DISCRIMINATOR,
        &[(offset, worker.as_ref().to_vec())],
    )
    .await?;
    Ok(read
        .accounts
        .into_iter()
        .filter_map(|(address, data)| Some((address, GpuListing::decode(&data).ok()?)))
        .collect())
}

/// [`program_accounts`] with further `(offset, bytes)` memcmp filters.
pub async fn program_accounts_where(
    rpc: &RpcClient,
    discriminator: [u8; 8],
    filters: &[(usize, Vec<u8>)],
) -> Result<ProgramAccounts, RpcReadError> {
    use {
        solana_account_decoder_client_types::UiAccountEncoding,
        solana_rpc_client_api::{
            config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
            filter::{Memcmp, RpcFilterType},
            request::RpcRequest,
            response::{OptionalContext, RpcKeyedAccount},
        },
    };
    let config = RpcProgramAccountsConfig {
        filters: Some(
            std::iter::once((0, discriminator.to_vec()))
                .chain(filters.iter().cloned())
                .map(|(offset, bytes)| RpcFilterType::Memcmp(Memcmp::new_raw_bytes(offset, bytes)))
                .collect(),
        ),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(rpc.commitment()),
            ..RpcAccountInfoConfig::default()
        },
        with_context: Some(true),
        sort_results: None,
    };
    let response: OptionalContext<Vec<RpcKeyedAccount>> = rpc
        .send(
            RpcRequest::GetProgramAccounts,
            serde_json::json!([PROGRAM_ID.to_string(), config]),
        )
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?;
    let (slot, keyed) = match response {
        OptionalContext::Context(response) => (response.context.slot, response.value),
        OptionalContext::NoContext(value) => (0, value),
    };
    let accounts = keyed
        .into_iter()
        .filter_map(|keyed| {
            let address = keyed.pubkey.parse().ok()?;
            Some((address, keyed.account.data.decode()?))
        })
        .collect();
    Ok(ProgramAccounts { slot, accounts })
}

/// The network's Config and the chain's clock, read together.
#[derive(Clone, Debug)]
pub struct ChainNow {
    pub config: Config,
    /// `Clock::unix_timestamp`.
    pub now: i64,
}

/// Config and the Clock sysvar in one read; refuses a cluster where the
/// network is not initialized.
pub async fn chain_now(rpc: &RpcClient) -> Result<ChainNow, RpcReadError> {
    let config_address = pda::config().0;
    let accounts = rpc
        .get_multiple_accounts_with_commitment(&[config_address, CLOCK_SYSVAR_ID], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value;
    let config = accounts[0]
        .as_ref()
        .filter(|a| a.owner == PROGRAM_ID)
        .ok_or(RpcReadError::NotInitialized)?;
    let config = Config::decode(&config.data).map_err(RpcReadError::ConfigDecode)?;
    // Clock: slot, epoch_start_timestamp, epoch, leader_schedule_epoch,
    // unix_timestamp; eight bytes each.
    let now = accounts[1]
        .as_ref()
        .and_then(|clock| clock.data.get(32..40))
        .and_then(|bytes| bytes.try_into().ok())
        .map(i64::from_le_bytes)
        .ok_or(RpcReadError::NoClock)?;
    Ok(ChainNow { config, now })
}

/// The listing at `address`, or a one-line reason there is none.
pub async fn read_listing(rpc: &RpcClient, address: &Address) -> Result<GpuListing, RpcReadError> {
    const WHAT: &str = "listing";
    program_account(rpc, address, "")
        .await
        .map_err(|e| match e {
            RpcReadError::Missing { .. } => RpcReadError::Absent {
                what: WHAT,
                address: *address,
                why: "never created, or delisted and closed",
            },
            RpcReadError::WrongOwner { owner, .. } => RpcReadError::NotA {
                what: WHAT,
                address: *address,
                owner,
            },
            RpcReadError::Decode { .. } => RpcReadError::OtherKind {
                what: WHAT,
                address: *address,
            },
            other => other,
        })
}

/// The job at `address`, or a one-line reason there is none.
pub async fn read_job(rpc: &RpcClient, address: &Address) -> Result<JobAccount, RpcReadError> {
    const WHAT: &str = "job";
    // getMultipleAccounts: getAccountInfo's "AccountNotFound" would hide an
    // unreachable node and repeat itself in the message.
    let account = rpc
        .get_multiple_accounts_with_commitment(&[*address], rpc.commitment())
        .await
        .map_err(|e| RpcReadError::from_client(rpc, e))?
        .value
        .pop()
        .flatten()
        .ok_or(RpcReadError::Absent {
            what: WHAT,
            address: *address,
            why: "never created, or settled/cancelled and closed",
        })?;
    if account.owner != PROGRAM_ID {
        return Err(RpcReadError::NotA {
            what: WHAT,
            address: *address,
            owner: account.owner,
        });
    }
    JobAccount::decode(&account.data).map_err(|_| RpcReadError::OtherKind {
        what: WHAT,
        address: *address,
    })
}

/// Whether an account exists at `address`.
pub async fn account_exists(rpc: &RpcClient, address: &Address) -> Result<bool, RpcReadError> {
    match fetch_account(rpc, address, "account", "").await {
        Ok(_) => Ok(true),
        Err(RpcReadError::Missing { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI prints these as they are: they must not drift.
    #[test]
    fn read_errors_say_what_is_missing() {
        let address = Address::new_unique();
        let owner = Address::new_unique();
        assert_eq!(
            RpcReadError::Absent {
                what: "listing",
                address,
                why: "never created, or delisted and closed",
            }
            .to_string(),
            format!("no listing at {address} (never created, or delisted and closed)")
        );
        assert_eq!(
            RpcReadError::NotA {
                what: "job",
                address,
                owner,
            }
            .to_string(),
            format!("{address} is not a job: it belongs to {owner}, not to the iogrid program")
        );
        assert_eq!(
            RpcReadError::OtherKind {
                what: "listing",
                address,
            }
            .to_string(),
            format!("{address} is an iogrid account but not a listing")
        );
        assert_eq!(
            RpcReadError::NotInitialized.to_string(),
            "the iogrid network is not initialized on this cluster (iogrid network init)"
        );
        assert_eq!(
            CLOCK_SYSVAR_ID.to_string(),
            "SysvarC1ock11111111111111111111111111111111"
        );
    }
}
