//! Each wallet's free daily tokens, from the chain: its active stake times
//! the governed `free_tokens_per_io_day` (`iogrid_sdk::inference`). Stakes
//! and the rate are cached for `refresh`, so staking more raises the quota
//! within that time without an RPC read on every request.

use {
    crate::store::{utc_day, Store},
    iogrid_sdk::{
        accounts::StakeAccount,
        gateway::Allowance,
        inference::daily_free_tokens,
        pda,
        rpc::{config_if_initialized, program_account, RpcReadError},
        Address,
    },
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
    std::{
        collections::HashMap,
        sync::Mutex,
        time::{Duration, Instant},
    },
};

pub struct Quotas {
    refresh: Duration,
    stakes: Mutex<HashMap<Address, (u64, Instant)>>,
    rate: Mutex<Option<(u64, Instant)>>,
}

impl Quotas {
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            stakes: Mutex::new(HashMap::new()),
            rate: Mutex::new(None),
        }
    }

    fn fresh<T: Copy>(&self, cached: Option<&(T, Instant)>) -> Option<T> {
        cached
            .filter(|(_, read)| read.elapsed() < self.refresh)
            .map(|(value, _)| *value)
    }

    /// The wallet's active stake (0 without a stake account).
    pub async fn stake_of(&self, rpc: &RpcClient, wallet: &Address) -> Result<u64, RpcReadError> {
        let cached = self.fresh(lock(&self.stakes).get(wallet));
        if let Some(stake) = cached {
            return Ok(stake);
        }
        let stake = match program_account::<StakeAccount>(rpc, &pda::stake(wallet).0, "").await {
            Ok(account) => account.staked,
            Err(RpcReadError::Missing { .. }) => 0,
            Err(err) => return Err(err),
        };
        lock(&self.stakes).insert(*wallet, (stake, Instant::now()));
        Ok(stake)
    }

    /// The governed rate; 0 while the network is not initialized.
    pub async fn rate(&self, rpc: &RpcClient) -> Result<u64, RpcReadError> {
        let cached = self.fresh(lock(&self.rate).as_ref());
        if let Some(rate) = cached {
            return Ok(rate);
        }
        let rate = config_if_initialized(rpc)
            .await?
            .map_or(0, |config| config.params.free_tokens_per_io_day);
        *lock(&self.rate) = Some((rate, Instant::now()));
        Ok(rate)
    }

    pub async fn allowance(
        &self,
        rpc: &RpcClient,
        store: &Store,
        wallet: &Address,
        now: i64,
    ) -> Result<Allowance, RpcReadError> {
        let (stake, rate) = (self.stake_of(rpc, wallet).await?, self.rate(rpc).await?);
        let limit = daily_free_tokens(stake, rate);
        let used = store.used_today(&wallet.to_string(), now);
        Ok(Allowance {
            wallet: wallet.to_string(),
            stake,
            free_tokens_per_io_day: rate,
            limit,
            used,
            remaining: limit.saturating_sub(used),
            resets_at: utc_day(now).1,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
