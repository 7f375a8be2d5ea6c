//! What the simulated load costs the chain, block by block: compute units,
//! transactions, signatures (fees) and the compute units each write-locked
//! account takes, against Solana's per-block limits.

use {
    iogrid_sdk::Address,
    serde::Serialize,
    std::collections::{BTreeMap, HashMap},
};

/// Solana's limits per 400 ms block.
pub const BLOCK_CU_LIMIT: u64 = 48_000_000;
pub const ACCOUNT_CU_LIMIT_PER_BLOCK: u64 = 12_000_000;
/// Lamports per signature (the base fee).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// One transaction as the chain would charge it.
pub struct TxCost<'a> {
    pub kind: &'static str,
    pub cu: u64,
    /// Transaction signatures plus precompile-verified ones (both are fees).
    pub signatures: u64,
    pub writable: &'a [Address],
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct KindTotals {
    pub transactions: u64,
    pub cu: u64,
    pub signatures: u64,
}

#[derive(Default)]
struct Block {
    cu: u64,
    transactions: u64,
    per_account: HashMap<Address, (u64, &'static str)>,
}

/// The busiest account of any block.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HotAccount {
    pub address: String,
    pub cu_in_one_block: u64,
    /// The kind of transaction that wrote it most in that block.
    pub kind: String,
}

#[derive(Default)]
pub struct Costs {
    /// Only blocks at or after this slot are counted (the warm-up is not).
    pub from_slot: u64,
    pub by_kind: BTreeMap<&'static str, KindTotals>,
    pub blocks: u64,
    pub max_block_cu: u64,
    pub max_block_transactions: u64,
    pub hottest: HotAccount,
    block: Block,
}

impl Costs {
    pub fn new(from_slot: u64) -> Self {
        Self {
            from_slot,
            ..Self::default()
        }
    }

    /// Adds `tx` to the block of `slot`.
    pub fn charge(&mut self, slot: u64, tx: TxCost) {
        if slot < self.from_slot {
            return;
        }
        let totals = self.by_kind.entry(tx.kind).or_default();
        totals.transactions += 1;
        totals.cu += tx.cu;
        totals.signatures += tx.signatures;
        self.block.cu += tx.cu;
        self.block.transactions += 1;
        for account in tx.writable {
            let entry = self
                .block
                .per_account
                .entry(*account)
                .or_insert((0, tx.kind));
            entry.0 += tx.cu;
            entry.1 = tx.kind;
        }
    }

    /// Closes the block of `slot`.
    pub fn end_block(&mut self, slot: u64) {
        let block = std::mem::take(&mut self.block);
        if slot < self.from_slot {
            return;
        }
        self.blocks += 1;
        self.max_block_cu = self.max_block_cu.max(block.cu);
        self.max_block_transactions = self.max_block_transactions.max(block.transactions);
        if let Some((address, (cu, kind))) = block.per_account.iter().max_by_key(|(_, (cu, _))| *cu)
        {
            if *cu > self.hottest.cu_in_one_block {
                self.hottest = HotAccount {
                    address: address.to_string(),
                    cu_in_one_block: *cu,
                    kind: kind.to_string(),
                };
            }
        }
    }

    pub fn seconds(&self) -> f64 {
        self.blocks as f64 * super::SLOT_SECS
    }

    pub fn total(&self) -> KindTotals {
        let mut total = KindTotals::default();
        for kind in self.by_kind.values() {
            total.transactions += kind.transactions;
            total.cu += kind.cu;
            total.signatures += kind.signatures;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(cu: u64, writable: &[Address]) -> TxCost<'_> {
        TxCost {
            kind: "settle_job",
            cu,
            signatures: 1,
            writable,
        }
    }

    #[test]
    fn blocks_keep_their_maximum_and_the_busiest_account() {
        let (a, b) = (Address::new_unique(), Address::new_unique());
        let mut costs = Costs::new(10);
        costs.charge(9, tx(1_000_000, &[a]));
        costs.end_block(9);
        assert_eq!(costs.blocks, 0, "the warm-up is not counted");
        costs.charge(10, tx(5_000, &[a, b]));
        costs.charge(10, tx(7_000, &[a]));
        costs.end_block(10);
        costs.charge(11, tx(3_000, &[b]));
        costs.end_block(11);
        assert_eq!(costs.blocks, 2);
        assert_eq!(costs.max_block_cu, 12_000);
        assert_eq!(costs.max_block_transactions, 2);
        assert_eq!(costs.hottest.cu_in_one_block, 12_000);
        assert_eq!(costs.hottest.address, a.to_string());
        assert_eq!(costs.total().cu, 15_000);
        assert_eq!(costs.by_kind["settle_job"].transactions, 3);
    }
}
