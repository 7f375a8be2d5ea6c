//! Paid usage beyond the free quota, drawn on the wallet's prepaid
//! `InferenceCredit` when it names this gateway's settlement key.
//!
//! - Before a paid request: what the credit can still pay is its balance,
//!   less a requested withdrawal, less what this gateway has charged and not
//!   yet settled ([`Credits::plan`]).
//! - After it: the tokens served are owed to the serving listing, at its
//!   price ([`Credits::charge`]).
//! - Workers hand in receipts they signed for what they served
//!   (`POST /v1/receipts`). A receipt is accepted only for tokens this
//!   gateway itself counted as owed to that listing by that credit, at no
//!   more than that price ([`Credits::accept`]): a worker cannot bill a
//!   credit for what it did not serve through this gateway.
//! - Every `--settle-every` the gateway settles the accepted receipts a
//!   couple of seconds old, in sequence order per credit, packed into as few
//!   transactions as fit ([`Credits::settle_due`]). A receipt the program
//!   refuses is dropped.
//! - Owed tokens no receipt claims within [`OWED_TTL`] are forgotten (the
//!   worker did not bill them), so they stop holding the credit back.

use {
    iogrid_sdk::{
        accounts::{GpuListing, InferenceCredit},
        pda,
        proof::SignedUsageReceipt,
        rpc::{program_account, RpcReadError},
        send::{send_and_confirm, transaction_size, SendOptions, PACKET_DATA_SIZE},
        token, Address,
    },
    solana_keypair::Keypair,
    solana_rpc_client::nonblocking::rpc_client::RpcClient,
    solana_signer::Signer,
    std::{
        collections::{BTreeMap, HashMap},
        sync::{Mutex, MutexGuard},
        time::{Duration, Instant},
    },
    tracing::{info, warn},
};

/// A receipt waits this long before it is settled, so receipts other
/// workers signed at about the same time join it in sequence order.
const SETTLE_AFTER: Duration = Duration::from_secs(2);
/// Receipts kept waiting at most (a worker flooding the gateway is refused).
const MAX_QUEUED: usize = 100_000;
/// Owed tokens no receipt claimed for this long are forgotten.
pub const OWED_TTL: Duration = Duration::from_secs(600);

/// Tokens a credit owes a listing, counted by this gateway.
#[derive(Clone, Copy, Debug)]
struct Owed {
    tokens: u64,
    price_per_mtok: u64,
    updated: Instant,
}

impl Owed {
    fn charge(&self) -> u64 {
        iogrid_sdk::rules::usage::usage_charge(self.tokens, self.price_per_mtok).unwrap_or(u64::MAX)
    }
}

/// What a wallet's credit can pay for a request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaidPlan {
    pub credit: Address,
    /// IO base units the credit can still pay.
    pub spendable: u64,
    /// The owner's price ceiling, IO base units per million tokens.
    pub max_price_per_mtok: u64,
}

/// What one settlement pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub receipts: usize,
    pub transactions: usize,
    pub charged: u64,
    pub dropped: usize,
}

pub struct Credits {
    settler: Keypair,
    refresh: Duration,
    cache: Mutex<HashMap<Address, (Option<InferenceCredit>, Instant)>>,
    /// Served through this gateway and not yet claimed by a receipt, per
    /// (credit, listing).
    owed: Mutex<HashMap<(Address, Address), Owed>>,
    /// Accepted receipts waiting for settlement.
    queue: Mutex<Vec<(SignedUsageReceipt, Instant)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Credits {
    pub fn new(settler: Keypair, refresh: Duration) -> Self {
        Self {
            settler,
            refresh,
            cache: Mutex::new(HashMap::new()),
            owed: Mutex::new(HashMap::new()),
            queue: Mutex::new(Vec::new()),
        }
    }

    /// The key credits must name for this gateway to charge them.
    pub fn key(&self) -> Address {
        self.settler.pubkey()
    }

    async fn credit_of(
        &self,
        rpc: &RpcClient,
        wallet: &Address,
    ) -> Result<Option<InferenceCredit>, RpcReadError> {
        let cached = lock(&self.cache)
            .get(wallet)
            .filter(|(_, read)| read.elapsed() < self.refresh)
            .map(|(credit, _)| *credit);
        if let Some(credit) = cached {
            return Ok(credit);
        }
        let credit = match program_account::<InferenceCredit>(rpc, &pda::credit(wallet).0, "").await
        {
            Ok(credit) => Some(credit),
            Err(RpcReadError::Missing { .. }) => None,
            Err(err) => return Err(err),
        };
        lock(&self.cache).insert(*wallet, (credit, Instant::now()));
        Ok(credit)
    }

    /// The wallet's credit as this gateway may charge it, if it has one
    /// naming this gateway.
    pub async fn plan(
        &self,
        rpc: &RpcClient,
        wallet: &Address,
    ) -> Result<Option<PaidPlan>, RpcReadError> {
        let Some(credit) = self.credit_of(rpc, wallet).await? else {
            return Ok(None);
        };
        if credit.gateway != self.key() {
            return Ok(None);
        }
        let address = pda::credit(wallet).0;
        let pending = self.pending(&address);
        Ok(Some(PaidPlan {
            credit: address,
            spendable: spendable(&credit, pending),
            max_price_per_mtok: credit.max_price_per_mtok,
        }))
    }

    /// What the credit will be charged and is not yet settled: tokens owed
    /// to listings, and receipts accepted.
    fn pending(&self, credit: &Address) -> u64 {
        let mut owed = lock(&self.owed);
        owed.retain(|_, entry| entry.updated.elapsed() < OWED_TTL);
        let unclaimed: u64 = owed
            .iter()
            .filter(|((owing, _), _)| owing == credit)
            .map(|(_, entry)| entry.charge())
            .fold(0, u64::saturating_add);
        let accepted: u64 = lock(&self.queue)
            .iter()
            .filter(|(receipt, _)| receipt.credit == *credit)
            .map(|(receipt, _)| receipt.charge().unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add);
        unclaimed.saturating_add(accepted)
    }

    /// `tokens` served through this gateway by `listing` at its price, to
    /// be paid by `credit`.
    pub fn charge(&self, credit: &Address, listing: &Address, tokens: u64, price_per_mtok: u64) {
        let mut owed = lock(&self.owed);
        let entry = owed.entry((*credit, *listing)).or_insert(Owed {
            tokens: 0,
            price_per_mtok,
            updated: Instant::now(),
        });
        entry.tokens = entry.tokens.saturating_add(tokens);
        entry.price_per_mtok = price_per_mtok;
        entry.updated = Instant::now();
    }

    /// Accepts a verified receipt for tokens this gateway counted as owed
    /// to its listing by its credit, at no more than that price; the tokens
    /// are then no longer owed. Refused with the reason otherwise.
    pub fn accept(&self, receipt: SignedUsageReceipt) -> Result<(), String> {
        let mut queue = lock(&self.queue);
        if queue.len() >= MAX_QUEUED {
            return Err("the settlement queue is full; hand it in later".into());
        }
        let mut owed = lock(&self.owed);
        let key = (receipt.credit, receipt.listing);
        let Some(entry) = owed.get_mut(&key) else {
            return Err(format!(
                "this gateway served nothing through listing {} for credit {} that is not billed yet",
                receipt.listing, receipt.credit
            ));
        };
        if receipt.price_per_mtok > entry.price_per_mtok {
            return Err(format!(
                "price {} is above the {} the usage was served at",
                receipt.price_per_mtok, entry.price_per_mtok
            ));
        }
        if receipt.tokens > entry.tokens {
            return Err(format!(
                "{} tokens claimed; this gateway counted {} served and not yet billed",
                receipt.tokens, entry.tokens
            ));
        }
        entry.tokens -= receipt.tokens;
        if entry.tokens == 0 {
            owed.remove(&key);
        }
        queue.push((receipt, Instant::now()));
        Ok(())
    }

    pub fn queued(&self) -> usize {
        lock(&self.queue).len()
    }

    /// Takes the receipts old enough to settle, grouped per credit in
    /// sequence order.
    fn take_due(&self) -> BTreeMap<Address, Vec<SignedUsageReceipt>> {
        let mut queue = lock(&self.queue);
        let (due, waiting): (Vec<_>, Vec<_>) = queue
            .drain(..)
            .partition(|(_, at)| at.elapsed() >= SETTLE_AFTER);
        *queue = waiting;
        let mut groups: BTreeMap<Address, Vec<SignedUsageReceipt>> = BTreeMap::new();
        for (receipt, _) in due {
            groups.entry(receipt.credit).or_default().push(receipt);
        }
        for receipts in groups.values_mut() {
            receipts.sort_by_key(|receipt| receipt.seq);
            receipts.dedup_by_key(|receipt| receipt.seq);
        }
        groups
    }

    fn requeue(&self, receipts: Vec<SignedUsageReceipt>) {
        let mut queue = lock(&self.queue);
        // Already due: settled again on the next pass.
        let due = Instant::now()
            .checked_sub(SETTLE_AFTER)
            .unwrap_or_else(Instant::now);
        queue.extend(receipts.into_iter().map(|receipt| (receipt, due)));
    }

    /// Settles the due receipts on-chain.
    pub async fn settle_due(&self, rpc: &RpcClient) -> Settled {
        let mut settled = Settled::default();
        for (credit, receipts) in self.take_due() {
            let mut owners = HashMap::new();
            for receipt in &receipts {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    owners.entry(receipt.listing)
                {
                    match program_account::<GpuListing>(rpc, &receipt.listing, "").await {
                        Ok(listing) => {
                            slot.insert(listing.owner);
                        }
                        Err(err) => warn!("cannot read listing {}: {err}", receipt.listing),
                    }
                }
            }
            let (payable, unknown): (Vec<_>, Vec<_>) = receipts
                .into_iter()
                .partition(|receipt| owners.contains_key(&receipt.listing));
            if !unknown.is_empty() {
                self.requeue(unknown);
            }
            for batch in self.pack(&payable, &owners) {
                self.send_batch(rpc, &batch, &owners, &mut settled).await;
            }
            lock(&self.cache).retain(|wallet, _| pda::credit(wallet).0 != credit);
        }
        settled
    }

    fn settle_instructions(
        &self,
        receipt: &SignedUsageReceipt,
        owner: &Address,
    ) -> Vec<solana_instruction::Instruction> {
        let payee = token::io_account_of(owner);
        let accounts = iogrid_sdk::instructions::SettleUsageAccounts::new(
            self.key(),
            receipt.credit,
            receipt.listing,
            payee,
        );
        let mut ixs = vec![token::create_io_account_idempotent(&self.key(), owner)];
        ixs.extend(accounts.with_receipt(receipt));
        ixs
    }

    /// Splits one credit's receipts into transactions that fit a packet.
    fn pack(
        &self,
        receipts: &[SignedUsageReceipt],
        owners: &HashMap<Address, Address>,
    ) -> Vec<Vec<SignedUsageReceipt>> {
        let options = SendOptions::default();
        let mut batches: Vec<Vec<SignedUsageReceipt>> = Vec::new();
        let mut current: Vec<SignedUsageReceipt> = Vec::new();
        for receipt in receipts {
            current.push(receipt.clone());
            let ixs: Vec<_> = current
                .iter()
                .flat_map(|r| self.settle_instructions(r, &owners[&r.listing]))
                .collect();
            if current.len() > 1 && transaction_size(&ixs, &self.key(), &options) > PACKET_DATA_SIZE
            {
                let last = current.pop().expect("just pushed");
                batches.push(std::mem::replace(&mut current, vec![last]));
            }
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }

    async fn send_batch(
        &self,
        rpc: &RpcClient,
        batch: &[SignedUsageReceipt],
        owners: &HashMap<Address, Address>,
        settled: &mut Settled,
    ) {
        let ixs: Vec<_> = batch
            .iter()
            .flat_map(|receipt| self.settle_instructions(receipt, &owners[&receipt.listing]))
            .collect();
        match send_and_confirm(rpc, &ixs, &[&self.settler], &SendOptions::default()).await {
            Ok(sent) => {
                let charged: u64 = batch.iter().filter_map(SignedUsageReceipt::charge).sum();
                settled.receipts += batch.len();
                settled.transactions += 1;
                settled.charged = settled.charged.saturating_add(charged);
                info!(
                    "settled {} receipt(s), {charged} base units, in {}",
                    batch.len(),
                    sent.signature
                );
            }
            // One refused receipt fails its whole transaction: try them
            // one by one to find it.
            Err(err) if err.failure().is_some() && batch.len() > 1 => {
                for receipt in batch {
                    Box::pin(self.send_batch(rpc, std::slice::from_ref(receipt), owners, settled))
                        .await;
                }
            }
            Err(err) if err.failure().is_some() => {
                warn!(
                    "receipt {} of credit {} refused, dropped: {err}",
                    batch[0].seq, batch[0].credit
                );
                settled.dropped += 1;
            }
            Err(err) => {
                warn!("settlement not sent, retried next pass: {err}");
                self.requeue(batch.to_vec());
            }
        }
    }
}

/// What a credit can still pay: balance, less a requested withdrawal, less
/// what is charged and not settled.
pub fn spendable(credit: &InferenceCredit, pending: u64) -> u64 {
    credit
        .balance
        .saturating_sub(credit.withdrawal_pending)
        .saturating_sub(pending)
}

#[cfg(test)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    fn receipt(credit: Address, seq: u64) -> SignedUsageReceipt {
        SignedUsageReceipt::sign(
            &Keypair::new(),
            credit,
            Address::new_unique(),
            seq,
            1_000,
            500_000,
        )
    }

    #[test]
    fn spendable_leaves_out_withdrawals_and_pending_charges() {
        let mut credit = InferenceCredit::zeroed();
        credit.balance = 1_000;
        assert_eq!(spendable(&credit, 0), 1_000);
        credit.withdrawal_pending = 300;
        assert_eq!(spendable(&credit, 200), 500);
        assert_eq!(spendable(&credit, 2_000), 0);
    }

    /// Owes `receipt`'s tokens to its listing, then accepts it.
    fn owe_and_accept(credits: &Credits, receipt: SignedUsageReceipt) {
        credits.charge(
            &receipt.credit,
            &receipt.listing,
            receipt.tokens,
            receipt.price_per_mtok,
        );
        credits.accept(receipt).unwrap();
    }

    #[test]
    fn due_receipts_come_out_per_credit_in_sequence_order_once() {
        let credits = Credits::new(Keypair::new(), Duration::from_secs(1));
        let (a, b) = (Address::new_unique(), Address::new_unique());
        for r in [
            receipt(a, 30),
            receipt(b, 5),
            receipt(a, 10),
            receipt(a, 20),
        ] {
            owe_and_accept(&credits, r);
        }
        assert!(credits.take_due().is_empty(), "too fresh to settle");
        assert_eq!(credits.queued(), 4);
        let due: Vec<_> = credits
            .queue
            .lock()
            .unwrap()
            .drain(..)
            .map(|(r, _)| r)
            .collect();
        credits.requeue(due);
        let groups = credits.take_due();
        let seqs: Vec<u64> = groups[&a].iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [10, 20, 30]);
        assert_eq!(groups[&b].len(), 1);
        assert_eq!(credits.queued(), 0);
    }

    #[test]
    fn receipts_are_accepted_only_for_what_the_gateway_served() {
        let credits = Credits::new(Keypair::new(), Duration::from_secs(1));
        let (credit, listing, other) = (
            Address::new_unique(),
            Address::new_unique(),
            Address::new_unique(),
        );
        let worker = Keypair::new();
        let signed = |listing, tokens, price| {
            SignedUsageReceipt::sign(&worker, credit, listing, 1, tokens, price)
        };
        // 1,500 tokens served at 400,000 per million: 600 base units pending.
        credits.charge(&credit, &listing, 1_000, 400_000);
        credits.charge(&credit, &listing, 500, 400_000);
        assert_eq!(credits.pending(&credit), 600);
        assert!(credits
            .accept(signed(other, 10, 400_000))
            .unwrap_err()
            .contains("served nothing"));
        assert!(credits
            .accept(signed(listing, 10, 400_001))
            .unwrap_err()
            .contains("above"));
        assert!(credits
            .accept(signed(listing, 1_501, 400_000))
            .unwrap_err()
            .contains("counted 1500"));
        credits.accept(signed(listing, 1_200, 400_000)).unwrap();
        // Still pending: 300 tokens owed (120) and the accepted receipt (480).
        assert_eq!(credits.pending(&credit), 600);
        assert!(
            credits.accept(signed(listing, 301, 400_000)).is_err(),
            "claimed once only"
        );
        credits.accept(signed(listing, 300, 400_000)).unwrap();
        assert!(credits.owed.lock().unwrap().is_empty());
        assert_eq!(credits.queued(), 2);
    }

    #[test]
    fn batches_fit_a_packet() {
        let credits = Credits::new(Keypair::new(), Duration::from_secs(1));
        let credit = Address::new_unique();
        let receipts: Vec<_> = (1..=7).map(|seq| receipt(credit, seq)).collect();
        let owners: HashMap<_, _> = receipts
            .iter()
            .map(|r| (r.listing, Address::new_unique()))
            .collect();
        let batches = credits.pack(&receipts, &owners);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 7);
        assert!(batches.len() > 1 && batches.iter().all(|b| !b.is_empty()));
        for batch in &batches {
            let ixs: Vec<_> = batch
                .iter()
                .flat_map(|r| credits.settle_instructions(r, &owners[&r.listing]))
                .collect();
            assert!(
                transaction_size(&ixs, &credits.key(), &SendOptions::default()) <= PACKET_DATA_SIZE
            );
        }
    }
}
