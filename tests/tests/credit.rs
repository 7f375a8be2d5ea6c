//! Prepaid inference credit: open, deposit, settle worker-signed usage
//! receipts, withdraw after the delay, close; and the attacks on each step.
//! Every rejection asserts the exact error; the conservation invariants
//! (each credit escrow == its balance, supply == genesis + emitted − burned
//! with settlement burns, treasury == recorded) are checked after every step.

use {
    iogrid_sdk::{
        accounts::InferenceCredit,
        constants::{CREDIT_WITHDRAWAL_DELAY_SECS, IO, MAX_CREDIT_PRICE_PER_MTOK},
        errors::{IogridError, ProgramFailure},
        events::{find_events, UsageSettled},
        instructions::*,
        pda,
        proof::{self, SignedUsageReceipt},
        Address,
    },
    iogrid_tests::{
        cu,
        fixtures::{Market, Supplier},
        TxFailure,
    },
    litesvm::types::TransactionMetadata,
    solana_instruction::{AccountMeta, Instruction},
    solana_keypair::Keypair,
    solana_signer::Signer,
};

fn iogrid(e: IogridError) -> ProgramFailure {
    ProgramFailure::Iogrid(e)
}

/// 1.5 IO per million tokens: the owner's ceiling in most tests.
const CEILING: u64 = 1_500_000;

/// A market with a user holding a credit (gateway chosen, nothing deposited
/// yet) and two suppliers with one listing each.
struct Credits {
    m: Market,
    gateway: Keypair,
    credit: Address,
    a: Supplier,
    listing_a: Address,
    b: Supplier,
    listing_b: Address,
    /// The credit's `last_seq` when opened (its opening time in µs): the
    /// tests number receipts from it.
    seq_base: u64,
}

impl Credits {
    fn new() -> Self {
        let mut m = Market::new();
        let (a, listing_a) = m.supplier_with_listing(1, IO);
        let (b, listing_b) = m.supplier_with_listing(1, IO);
        let gateway = m.net.env.funded_keypair();
        let user = m.user.insecure_clone();
        let ix = OpenCreditAccounts::new(user.pubkey()).instruction(&gateway.pubkey(), CEILING);
        m.net.env.send_ok("open_credit", ix, &[&user]);
        m.net.check_invariants();
        let credit = pda::credit(&user.pubkey()).0;
        let seq_base = m
            .net
            .env
            .program_account::<InferenceCredit>(&credit)
            .last_seq;
        assert_eq!(seq_base, m.net.env.now() as u64 * 1_000_000);
        Self {
            m,
            gateway,
            credit,
            a,
            listing_a,
            b,
            listing_b,
            seq_base,
        }
    }

    fn user(&self) -> Keypair {
        self.m.user.insecure_clone()
    }

    fn state(&self) -> InferenceCredit {
        self.m.net.env.program_account(&self.credit)
    }

    fn escrow(&self) -> u64 {
        self.m
            .net
            .env
            .token_balance(&pda::credit_escrow(&self.credit).0)
    }

    fn io(&self, account: &Address) -> u64 {
        self.m.net.env.token_balance(account)
    }

    fn supply(&self) -> u64 {
        self.m.net.env.mint_supply(&pda::io_mint().0)
    }

    fn treasury(&self) -> u64 {
        self.io(&pda::treasury().0)
    }

    fn deposit(&mut self, amount: u64) {
        let user = self.user();
        let ix = DepositCreditAccounts::new(user.pubkey(), self.m.user_tokens).instruction(amount);
        self.m.net.env.send_ok("deposit_credit", ix, &[&user]);
        self.m.net.check_invariants();
    }

    /// Sends `ixs` signed by `signers` (the first pays); invariants after.
    fn send(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<TransactionMetadata, TxFailure> {
        let result = self.m.net.env.send(ixs, signers);
        self.m.net.check_invariants();
        result
    }

    fn err(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> ProgramFailure {
        match self.send(ixs, signers) {
            Ok(meta) => panic!("expected a failure:\n{}", meta.pretty_logs()),
            Err(failure) => failure.failure,
        }
    }

    /// `worker` signs receipt `seq` (counted from the credit's opening) for
    /// `listing` against this credit.
    fn receipt(
        &self,
        worker: &Keypair,
        listing: Address,
        seq: u64,
        tokens: u64,
        price: u64,
    ) -> SignedUsageReceipt {
        SignedUsageReceipt::sign(
            worker,
            self.credit,
            listing,
            self.seq_base + seq,
            tokens,
            price,
        )
    }

    fn settle_accounts(&self, receipt: &SignedUsageReceipt, payee: Address) -> SettleUsageAccounts {
        SettleUsageAccounts::new(self.gateway.pubkey(), self.credit, receipt.listing, payee)
    }

    /// The gateway settles `receipts` (each paying `payee`) in one transaction.
    fn settle(
        &mut self,
        receipts: &[(&SignedUsageReceipt, Address)],
    ) -> Result<TransactionMetadata, TxFailure> {
        let ixs: Vec<Instruction> = receipts
            .iter()
            .flat_map(|(r, payee)| self.settle_accounts(r, *payee).with_receipt(r))
            .collect();
        let gateway = self.gateway.insecure_clone();
        let meta = self.send(&ixs, &[&gateway])?;
        if receipts.len() == 1 {
            cu::record(
                "settle_usage (with Ed25519 verify)",
                meta.compute_units_consumed,
            );
        }
        Ok(meta)
    }

    fn settle_one(
        &mut self,
        receipt: &SignedUsageReceipt,
        payee: Address,
    ) -> Result<TransactionMetadata, TxFailure> {
        self.settle(&[(receipt, payee)])
    }

    fn settle_err(&mut self, receipt: &SignedUsageReceipt, payee: Address) -> ProgramFailure {
        self.settle_one(receipt, payee)
            .map(|_| ())
            .expect_err("the settlement must fail")
            .failure
    }

    fn request_withdrawal(&mut self, amount: u64) -> Result<TransactionMetadata, TxFailure> {
        let user = self.user();
        let ix = RequestCreditWithdrawalAccounts::new(user.pubkey()).instruction(amount);
        let meta = self.send(&[ix], &[&user])?;
        cu::record("request_credit_withdrawal", meta.compute_units_consumed);
        Ok(meta)
    }

    fn withdraw(&mut self) -> Result<TransactionMetadata, TxFailure> {
        let user = self.user();
        let ix = WithdrawCreditAccounts::new(user.pubkey(), self.m.user_tokens).instruction();
        let meta = self.send(&[ix], &[&user])?;
        cu::record("withdraw_credit", meta.compute_units_consumed);
        Ok(meta)
    }

    fn close(&mut self) -> Result<TransactionMetadata, TxFailure> {
        let user = self.user();
        let ix = CloseCreditAccounts::new(user.pubkey(), self.m.user_tokens).instruction();
        let meta = self.send(&[ix], &[&user])?;
        cu::record("close_credit", meta.compute_units_consumed);
        Ok(meta)
    }
}

#[test]
fn test_credit_lifecycle() {
    let mut c = Credits::new();
    let user = c.user();
    let opened = c.state();
    assert_eq!(
        (opened.owner, opened.gateway, opened.max_price_per_mtok),
        (user.pubkey(), c.gateway.pubkey(), CEILING)
    );
    assert_eq!(opened.escrow, pda::credit_escrow(&c.credit).0);
    let user_before = c.io(&c.m.user_tokens);
    c.deposit(10 * IO);
    assert_eq!((c.state().balance, c.escrow()), (10 * IO, 10 * IO));
    assert_eq!(c.io(&c.m.user_tokens), user_before - 10 * IO);

    let (supply0, treasury0) = (c.supply(), c.treasury());
    let (pay_a, pay_b) = (c.a.tokens, c.b.tokens);
    assert_eq!((c.io(&pay_a), c.io(&pay_b)), (0, 0));

    // Receipt 1: listing A served 2,000,000 tokens at 1.5 IO per million:
    // 3 IO; fee 2.5 % = 75,000, burn 0.5 % = 15,000, net 2,910,000.
    let worker_a = c.a.worker.insecure_clone();
    let worker_b = c.b.worker.insecure_clone();
    let r1 = c.receipt(&worker_a, c.listing_a, 1, 2_000_000, CEILING);
    let meta = c.settle_one(&r1, pay_a).unwrap();
    let events = find_events::<UsageSettled>(&meta.logs);
    assert_eq!(events.len(), 1);
    let e = events[0];
    assert_eq!(
        (
            e.seq,
            e.tokens,
            e.charge,
            e.net,
            e.fee,
            e.burned,
            e.balance_after
        ),
        (
            c.seq_base + 1,
            2_000_000,
            3_000_000,
            2_910_000,
            75_000,
            15_000,
            7_000_000
        )
    );
    assert_eq!(
        (e.credit, e.listing, e.payee),
        (c.credit, c.listing_a, pay_a)
    );

    // Receipts 2 (listing B: 444,444 tokens at 1.5 IO per million =
    // 666,666; fee 16,666 and burn 3,333, both rounded down, net 646,667)
    // and 3 (listing A: 1,000 tokens at 1 IO per million = 1,000; fee 25,
    // burn 5, net 970) in one transaction, each after its own Ed25519
    // instruction.
    let r2 = c.receipt(&worker_b, c.listing_b, 2, 444_444, CEILING);
    let r3 = c.receipt(&worker_a, c.listing_a, 3, 1_000, 1_000_000);
    let meta = c.settle(&[(&r2, pay_b), (&r3, pay_a)]).unwrap();
    let events = find_events::<UsageSettled>(&meta.logs);
    assert_eq!(events.len(), 2);
    assert_eq!(
        (
            events[0].charge,
            events[0].net,
            events[0].fee,
            events[0].burned
        ),
        (666_666, 646_667, 16_666, 3_333)
    );
    assert_eq!(
        (
            events[1].charge,
            events[1].net,
            events[1].fee,
            events[1].burned
        ),
        (1_000, 970, 25, 5)
    );

    let charged = 3_000_000 + 666_666 + 1_000;
    let credit = c.state();
    assert_eq!(
        (credit.balance, credit.spent, credit.last_seq),
        (10 * IO - charged, charged, c.seq_base + 3)
    );
    assert_eq!(c.escrow(), 10 * IO - charged);
    assert_eq!(c.io(&pay_a), 2_910_000 + 970);
    assert_eq!(c.io(&pay_b), 646_667);
    assert_eq!(c.treasury(), treasury0 + 75_000 + 16_666 + 25);
    assert_eq!(c.supply(), supply0 - (15_000 + 3_333 + 5));

    // Withdraw everything left after the delay, then close.
    let left = credit.balance;
    c.request_withdrawal(left).unwrap();
    assert_eq!(
        c.state().withdrawal_available_at,
        c.m.net.env.now() + CREDIT_WITHDRAWAL_DELAY_SECS
    );
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS);
    let before = c.io(&c.m.user_tokens);
    c.withdraw().unwrap();
    assert_eq!(c.io(&c.m.user_tokens), before + left);
    assert_eq!((c.state().balance, c.escrow()), (0, 0));

    let lamports = |c: &Credits| c.m.net.env.account(&user.pubkey()).unwrap().lamports;
    let wallet = lamports(&c);
    c.close().unwrap();
    assert!(c.m.net.env.account(&c.credit).is_none(), "credit closed");
    assert!(
        c.m.net
            .env
            .account(&pda::credit_escrow(&c.credit).0)
            .is_none(),
        "escrow closed"
    );
    assert!(lamports(&c) > wallet, "both rents returned (less the fee)");

    // Closing is how the owner changes gateway: open again with another.
    let other = c.m.net.env.funded_keypair();
    let ix = OpenCreditAccounts::new(user.pubkey()).instruction(&other.pubkey(), 2 * CEILING);
    c.m.net.env.send_ok("open_credit", ix, &[&user]);
    c.m.net.check_invariants();
    let reopened = c.state();
    let reopened_at = c.m.net.env.now() as u64 * 1_000_000;
    assert_eq!(
        (
            reopened.gateway,
            reopened.last_seq,
            reopened.spent,
            reopened.balance
        ),
        (other.pubkey(), reopened_at, 0, 0)
    );
    // A receipt of the credit's earlier life, at the same address, is not
    // paid again by the new one.
    c.deposit(IO);
    let earlier = c.receipt(&worker_a, c.listing_a, 3, 1_000, 1_000_000);
    let ixs = SettleUsageAccounts::new(other.pubkey(), c.credit, c.listing_a, pay_a)
        .with_receipt(&earlier);
    assert_eq!(c.err(&ixs, &[&other]), iogrid(IogridError::ReceiptReplayed));
}

#[test]
fn test_open_credit_with_invalid_terms_error() {
    let mut m = Market::new();
    let user = m.user.insecure_clone();
    let gateway = Keypair::new().pubkey();
    for (gateway, price) in [
        (Address::default(), CEILING),
        (gateway, 0),
        (gateway, MAX_CREDIT_PRICE_PER_MTOK + 1),
    ] {
        let ix = OpenCreditAccounts::new(user.pubkey()).instruction(&gateway, price);
        assert_eq!(
            m.net.env.send_err(ix, &[&user]),
            iogrid(IogridError::InvalidCreditTerms)
        );
        m.net.check_invariants();
    }
    let ix =
        OpenCreditAccounts::new(user.pubkey()).instruction(&gateway, MAX_CREDIT_PRICE_PER_MTOK);
    m.net.env.send_ok("open_credit", ix, &[&user]);
    m.net.check_invariants();
}

#[test]
fn test_deposit_credit_with_zero_and_by_stranger_error() {
    let mut c = Credits::new();
    let user = c.user();
    let zero = DepositCreditAccounts::new(user.pubkey(), c.m.user_tokens).instruction(0);
    assert_eq!(c.err(&[zero], &[&user]), iogrid(IogridError::ZeroAmount));
    // A stranger paying into someone's credit through its own IO account:
    // the credit names its owner.
    let (stranger, tokens) = c.m.net.user_with_io(5 * IO);
    let mut accounts = DepositCreditAccounts::new(stranger.pubkey(), tokens);
    accounts.credit = c.credit;
    accounts.escrow = pda::credit_escrow(&c.credit).0;
    assert_eq!(
        c.err(&[accounts.instruction(IO)], &[&stranger]),
        iogrid(IogridError::NotCreditOwner)
    );
}

#[test]
fn test_settle_usage_with_forged_receipt_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    // Signed by a key that is not listing A's worker.
    let forger = Keypair::new();
    let forged = c.receipt(&forger, c.listing_a, 1, 1_000_000, CEILING);
    assert_eq!(
        c.settle_err(&forged, pay_a),
        iogrid(IogridError::ProofWrongSigner)
    );
    // The worker's genuine signature, but the gateway claims more tokens: the
    // verified message is not the receipt settle_usage is asked to pay.
    let worker = c.a.worker.insecure_clone();
    let genuine = c.receipt(&worker, c.listing_a, 1, 1_000_000, CEILING);
    let accounts = c.settle_accounts(&genuine, pay_a);
    let tampered = [
        genuine.ed25519_instruction(),
        accounts.instruction(c.seq_base + 1, 2_000_000, CEILING),
    ];
    let gateway = c.gateway.insecure_clone();
    assert_eq!(
        c.err(&tampered, &[&gateway]),
        iogrid(IogridError::ProofWrongMessage)
    );
    // Listing B's worker's receipt presented as listing A's.
    let worker_b = c.b.worker.insecure_clone();
    let elsewhere = c.receipt(&worker_b, c.listing_b, 1, 1_000_000, CEILING);
    let misnamed = [
        elsewhere.ed25519_instruction(),
        SettleUsageAccounts::new(gateway.pubkey(), c.credit, c.listing_a, pay_a).instruction(
            c.seq_base + 1,
            1_000_000,
            CEILING,
        ),
    ];
    assert_eq!(
        c.err(&misnamed, &[&gateway]),
        iogrid(IogridError::ProofWrongSigner)
    );
    assert_eq!(
        (c.state().balance, c.state().last_seq),
        (10 * IO, c.seq_base)
    );
}

#[test]
fn test_settle_usage_replayed_receipt_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    let worker = c.a.worker.insecure_clone();
    let r5 = c.receipt(&worker, c.listing_a, 5, 1_000_000, CEILING);
    c.settle_one(&r5, pay_a).unwrap();
    // The same receipt again (a new transaction: fresh blockhash).
    assert_eq!(
        c.settle_err(&r5, pay_a),
        iogrid(IogridError::ReceiptReplayed)
    );
    // An older receipt, validly signed, arriving late.
    let r4 = c.receipt(&worker, c.listing_a, 4, 1_000_000, CEILING);
    assert_eq!(
        c.settle_err(&r4, pay_a),
        iogrid(IogridError::ReceiptReplayed)
    );
    // The same receipt twice in one transaction.
    let r6 = c.receipt(&worker, c.listing_a, 6, 1_000_000, CEILING);
    assert_eq!(
        c.settle(&[(&r6, pay_a), (&r6, pay_a)]).unwrap_err().failure,
        iogrid(IogridError::ReceiptReplayed)
    );
    assert_eq!(c.state().spent, 1_500_000, "only receipt 5 was paid");
    c.settle_one(&r6, pay_a).unwrap();
    assert_eq!(c.state().last_seq, c.seq_base + 6);
}

#[test]
fn test_settle_usage_over_balance_error() {
    let mut c = Credits::new();
    c.deposit(IO);
    let pay_a = c.a.tokens;
    let worker = c.a.worker.insecure_clone();
    // 1,000,001 tokens at 1 IO per million: one base unit over the balance.
    let over = c.receipt(&worker, c.listing_a, 1, 1_000_001, 1_000_000);
    assert_eq!(
        c.settle_err(&over, pay_a),
        iogrid(IogridError::InsufficientCredit)
    );
    // A receipt whose charge rounds to zero pays nobody and is refused.
    let dust = c.receipt(&worker, c.listing_a, 1, 1, 999_999);
    assert_eq!(
        c.settle_err(&dust, pay_a),
        iogrid(IogridError::ReceiptEmpty)
    );
    let empty = c.receipt(&worker, c.listing_a, 1, 0, CEILING);
    assert_eq!(
        c.settle_err(&empty, pay_a),
        iogrid(IogridError::ReceiptEmpty)
    );
    // Exactly the balance is fine.
    let all = c.receipt(&worker, c.listing_a, 1, 1_000_000, 1_000_000);
    c.settle_one(&all, pay_a).unwrap();
    assert_eq!((c.state().balance, c.escrow()), (0, 0));
}

#[test]
fn test_settle_usage_with_price_over_max_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    let worker = c.a.worker.insecure_clone();
    let dear = c.receipt(&worker, c.listing_a, 1, 1_000, CEILING + 1);
    assert_eq!(
        c.settle_err(&dear, pay_a),
        iogrid(IogridError::ReceiptPriceTooHigh)
    );
}

#[test]
fn test_settle_usage_by_wrong_gateway_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    let worker = c.a.worker.insecure_clone();
    let receipt = c.receipt(&worker, c.listing_a, 1, 1_000_000, CEILING);
    let impostor = c.m.net.env.funded_keypair();
    let ixs = SettleUsageAccounts::new(impostor.pubkey(), c.credit, c.listing_a, pay_a)
        .with_receipt(&receipt);
    assert_eq!(
        c.err(&ixs, &[&impostor]),
        iogrid(IogridError::NotCreditGateway)
    );
    // Even the credit's owner cannot settle (it chose a gateway).
    let user = c.user();
    let ixs = SettleUsageAccounts::new(user.pubkey(), c.credit, c.listing_a, pay_a)
        .with_receipt(&receipt);
    assert_eq!(c.err(&ixs, &[&user]), iogrid(IogridError::NotCreditGateway));
}

#[test]
fn test_settle_usage_with_substituted_credit_or_escrow_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    let gateway = c.gateway.insecure_clone();
    // A second user who chose the same gateway.
    let (other, other_tokens) = c.m.net.user_with_io(20 * IO);
    let ix = OpenCreditAccounts::new(other.pubkey()).instruction(&gateway.pubkey(), CEILING);
    c.m.net.env.send_ok("open_credit", ix, &[&other]);
    let ix = DepositCreditAccounts::new(other.pubkey(), other_tokens).instruction(20 * IO);
    c.m.net.env.send_ok("deposit_credit", ix, &[&other]);
    c.m.net.check_invariants();
    let other_credit = pda::credit(&other.pubkey()).0;

    let worker = c.a.worker.insecure_clone();
    let receipt = c.receipt(&worker, c.listing_a, 1, 1_000_000, CEILING);
    // The user's receipt charged to the other user's credit: the signed
    // message names the user's credit.
    let ixs = SettleUsageAccounts::new(gateway.pubkey(), other_credit, c.listing_a, pay_a)
        .with_receipt(&receipt);
    assert_eq!(
        c.err(&ixs, &[&gateway]),
        iogrid(IogridError::ProofWrongMessage)
    );
    // The user's credit with the other credit's escrow.
    let mut accounts = c.settle_accounts(&receipt, pay_a);
    accounts.escrow = pda::credit_escrow(&other_credit).0;
    assert_eq!(
        c.err(&accounts.with_receipt(&receipt), &[&gateway]),
        iogrid(IogridError::WrongVault)
    );
    // A decoy IO account whose authority is the credit PDA.
    let decoy = c.m.net.io_account(&c.credit);
    let mut accounts = c.settle_accounts(&receipt, pay_a);
    accounts.escrow = decoy;
    assert_eq!(
        c.err(&accounts.with_receipt(&receipt), &[&gateway]),
        iogrid(IogridError::WrongVault)
    );
    // Something that is not a credit account where the credit goes.
    let mut accounts = c.settle_accounts(&receipt, pay_a);
    accounts.credit = pda::stake(&c.a.owner.pubkey()).0;
    assert!(matches!(
        c.err(&accounts.with_receipt(&receipt), &[&gateway]),
        ProgramFailure::Instruction(_)
    ));
    // A treasury that is not the network's.
    let mut accounts = c.settle_accounts(&receipt, pay_a);
    accounts.treasury = c.m.net.io_account(&gateway.pubkey());
    assert_eq!(
        c.err(&accounts.with_receipt(&receipt), &[&gateway]),
        iogrid(IogridError::WrongVault)
    );
    // Owner instructions on someone else's credit.
    let user = c.user();
    let mut withdraw = WithdrawCreditAccounts::new(user.pubkey(), c.m.user_tokens);
    withdraw.escrow = pda::credit_escrow(&other_credit).0;
    assert_eq!(
        c.err(&[withdraw.instruction()], &[&user]),
        iogrid(IogridError::WrongVault)
    );
    assert_eq!(c.state().balance, 10 * IO);
}

#[test]
fn test_settle_usage_with_payee_not_the_listing_owner_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let worker = c.a.worker.insecure_clone();
    let receipt = c.receipt(&worker, c.listing_a, 1, 1_000_000, CEILING);
    // Listing B's owner's account for listing A's receipt.
    let pay_b = c.b.tokens;
    assert_eq!(
        c.settle_err(&receipt, pay_b),
        iogrid(IogridError::WrongPayee)
    );
    // The gateway's own IO account.
    let gateway_tokens = c.m.net.io_account(&c.gateway.pubkey());
    assert_eq!(
        c.settle_err(&receipt, gateway_tokens),
        iogrid(IogridError::WrongPayee)
    );
    // The worker's account (the worker key is not the listing's owner).
    let worker_tokens = c.m.net.io_account(&worker.pubkey());
    assert_eq!(
        c.settle_err(&receipt, worker_tokens),
        iogrid(IogridError::WrongPayee)
    );
    // The listing owner's account of another mint.
    let foreign = c.m.net.foreign_token_account(&c.a.owner.pubkey());
    assert_eq!(
        c.settle_err(&receipt, foreign),
        iogrid(IogridError::WrongPayee)
    );
    // Any IO account of the listing's owner is fine.
    let second = c.m.net.io_account(&c.a.owner.pubkey());
    c.settle_one(&receipt, second).unwrap();
    assert_eq!(c.io(&second), 1_455_000);
}

#[test]
fn test_settle_usage_without_ed25519_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let pay_a = c.a.tokens;
    let gateway = c.gateway.insecure_clone();
    let worker = c.a.worker.insecure_clone();
    let receipt = c.receipt(&worker, c.listing_a, 1, 1_000_000, CEILING);
    let [verify, settle] = c.settle_accounts(&receipt, pay_a).with_receipt(&receipt);
    // No signature at all.
    assert_eq!(
        c.err(std::slice::from_ref(&settle), &[&gateway]),
        iogrid(IogridError::ProofMissing)
    );
    // A valid signature, but not the instruction right before settle_usage.
    let filler =
        solana_system_interface::instruction::transfer(&gateway.pubkey(), &gateway.pubkey(), 1);
    assert_eq!(
        c.err(&[verify.clone(), filler, settle.clone()], &[&gateway]),
        iogrid(IogridError::ProofMissing)
    );
    // One Ed25519 instruction for two settlements: the second's predecessor
    // is the first settlement.
    let worker_b = c.b.worker.insecure_clone();
    let second = c.receipt(&worker_b, c.listing_b, 2, 1_000, CEILING);
    let [_, settle_second] = c.settle_accounts(&second, c.b.tokens).with_receipt(&second);
    assert_eq!(
        c.err(
            &[verify.clone(), settle.clone(), settle_second],
            &[&gateway]
        ),
        iogrid(IogridError::ProofMissing)
    );
    // The forged-offsets attack: the key the verifier checks lives in
    // another instruction.
    let attacker = Keypair::new();
    let message = proof::usage_message(&c.credit, &c.listing_a, 1, 1_000_000, CEILING);
    let signature: [u8; 64] = attacker.sign_message(&message).into();
    let genuine = proof::ed25519_verify_instruction(&attacker.pubkey(), &signature, &message);
    let mut forged = genuine.clone();
    for field in [4usize, 8, 14] {
        forged.data[field..field + 2].copy_from_slice(&0u16.to_le_bytes());
    }
    forged.data[16..48].copy_from_slice(worker.pubkey().as_ref());
    assert_eq!(
        c.err(&[genuine, forged, settle.clone()], &[&gateway]),
        iogrid(IogridError::ProofMalformed)
    );
    // Trailing accounts are refused, not ignored.
    let mut extra = settle.clone();
    extra
        .accounts
        .push(AccountMeta::new_readonly(c.listing_b, false));
    assert_eq!(
        c.err(&[verify, extra], &[&gateway]),
        iogrid(IogridError::UnexpectedRemainingAccounts)
    );
    assert_eq!(c.state().balance, 10 * IO);
}

#[test]
fn test_withdraw_credit_before_the_delay_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    assert_eq!(
        c.withdraw().unwrap_err().failure,
        iogrid(IogridError::NoCreditWithdrawal)
    );
    assert_eq!(
        c.request_withdrawal(0).unwrap_err().failure,
        iogrid(IogridError::ZeroAmount)
    );
    assert_eq!(
        c.request_withdrawal(10 * IO + 1).unwrap_err().failure,
        iogrid(IogridError::InsufficientCredit)
    );
    c.request_withdrawal(4 * IO).unwrap();
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS - 1);
    assert_eq!(
        c.withdraw().unwrap_err().failure,
        iogrid(IogridError::CreditWithdrawalNotReady)
    );
    // A new request replaces the old one and restarts the delay.
    c.request_withdrawal(6 * IO).unwrap();
    c.m.net.env.advance_clock(1);
    assert_eq!(
        c.withdraw().unwrap_err().failure,
        iogrid(IogridError::CreditWithdrawalNotReady)
    );
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS - 1);
    let before = c.io(&c.m.user_tokens);
    c.withdraw().unwrap();
    assert_eq!(c.io(&c.m.user_tokens), before + 6 * IO);
    let left = c.state();
    assert_eq!(
        (
            left.balance,
            left.withdrawal_pending,
            left.withdrawal_available_at
        ),
        (4 * IO, 0, 0)
    );
    assert_eq!(
        c.withdraw().unwrap_err().failure,
        iogrid(IogridError::NoCreditWithdrawal)
    );
}

#[test]
fn test_withdraw_credit_by_non_owner_error() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    let (stranger, stranger_tokens) = c.m.net.user_with_io(0);
    let mut request = RequestCreditWithdrawalAccounts::new(stranger.pubkey());
    request.credit = c.credit;
    assert_eq!(
        c.err(&[request.instruction(IO)], &[&stranger]),
        iogrid(IogridError::NotCreditOwner)
    );
    c.request_withdrawal(10 * IO).unwrap();
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS);
    let mut withdraw = WithdrawCreditAccounts::new(stranger.pubkey(), stranger_tokens);
    withdraw.credit = c.credit;
    withdraw.escrow = pda::credit_escrow(&c.credit).0;
    assert_eq!(
        c.err(&[withdraw.instruction()], &[&stranger]),
        iogrid(IogridError::NotCreditOwner)
    );
    // Nor may the gateway take the balance this way.
    let gateway = c.gateway.insecure_clone();
    let mut withdraw = WithdrawCreditAccounts::new(gateway.pubkey(), stranger_tokens);
    withdraw.credit = c.credit;
    withdraw.escrow = pda::credit_escrow(&c.credit).0;
    assert_eq!(
        c.err(&[withdraw.instruction()], &[&gateway]),
        iogrid(IogridError::NotCreditOwner)
    );
    let mut close = CloseCreditAccounts::new(stranger.pubkey(), stranger_tokens);
    close.credit = c.credit;
    close.escrow = pda::credit_escrow(&c.credit).0;
    assert_eq!(
        c.err(&[close.instruction()], &[&stranger]),
        iogrid(IogridError::NotCreditOwner)
    );
    assert_eq!(c.io(&stranger_tokens), 0);
    // The owner may send its withdrawal to any IO account it chooses.
    let user = c.user();
    let ix = WithdrawCreditAccounts::new(user.pubkey(), stranger_tokens).instruction();
    c.send(&[ix], &[&user]).unwrap();
    assert_eq!(c.io(&stranger_tokens), 10 * IO);
}

/// The user asks for everything back, then the gateway settles usage
/// served before the request: the withdrawal pays what is left, so a
/// request cannot front-run the settlement of inference already served.
#[test]
fn test_withdrawal_racing_a_settlement_pays_the_balance_left() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    c.request_withdrawal(10 * IO).unwrap();
    let worker = c.a.worker.insecure_clone();
    let pay_a = c.a.tokens;
    let served = c.receipt(&worker, c.listing_a, 1, 2_000_000, CEILING);
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS / 2);
    c.settle_one(&served, pay_a).unwrap();
    assert_eq!(c.state().withdrawal_pending, 10 * IO, "request kept");
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS / 2);
    let before = c.io(&c.m.user_tokens);
    let meta = c.withdraw().unwrap();
    let paid = find_events::<iogrid_sdk::events::CreditWithdrawn>(&meta.logs)[0];
    assert_eq!(
        (paid.amount, paid.requested, paid.balance_after),
        (7 * IO, 10 * IO, 0)
    );
    assert_eq!(c.io(&c.m.user_tokens), before + 7 * IO);
    assert_eq!((c.state().balance, c.state().spent), (0, 3 * IO));
    c.close().unwrap();
}

#[test]
fn test_close_credit_with_balance_or_pending_withdrawal_error() {
    let mut c = Credits::new();
    c.deposit(IO);
    assert_eq!(
        c.close().unwrap_err().failure,
        iogrid(IogridError::CreditNotEmpty)
    );
    c.request_withdrawal(IO).unwrap();
    // Settled down to zero while the request is pending: still not empty.
    let worker = c.a.worker.insecure_clone();
    let pay_a = c.a.tokens;
    let all = c.receipt(&worker, c.listing_a, 1, 1_000_000, 1_000_000);
    c.settle_one(&all, pay_a).unwrap();
    assert_eq!(
        c.close().unwrap_err().failure,
        iogrid(IogridError::CreditNotEmpty)
    );
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS);
    c.withdraw().unwrap();
    c.close().unwrap();
}

/// IO sent straight to a credit's escrow (not through `deposit_credit`) is
/// not balance; it cannot keep the escrow from closing: `close_credit`
/// returns it to the owner.
#[test]
fn test_close_credit_returns_io_sent_to_the_escrow() {
    let mut c = Credits::new();
    let escrow = pda::credit_escrow(&c.credit).0;
    c.m.net.pay_from_distribution(&escrow, 5);
    // (The per-step invariant, escrow == balance, does not hold for a gift;
    // it is checked again once the escrow is closed.)
    assert_eq!((c.escrow(), c.state().balance), (5, 0));
    let user = c.user();
    let before = c.io(&c.m.user_tokens);
    let ix = CloseCreditAccounts::new(user.pubkey(), c.m.user_tokens).instruction();
    let meta = c.send(&[ix], &[&user]).unwrap();
    let closed = find_events::<iogrid_sdk::events::CreditClosed>(&meta.logs)[0];
    assert_eq!(closed.swept, 5);
    assert_eq!(c.io(&c.m.user_tokens), before + 5);
}

/// Settlement pays for inference already served, so it keeps working while
/// governance has paused the network (like `settle_job`), and so do the
/// owner's exits; opening and depositing are new business and stop.
#[test]
fn test_pause_stops_new_credit_but_not_settlement_or_exits() {
    let mut c = Credits::new();
    c.deposit(10 * IO);
    c.m.net.set_paused(true);
    let user = c.user();
    let deposit = DepositCreditAccounts::new(user.pubkey(), c.m.user_tokens).instruction(IO);
    assert_eq!(c.err(&[deposit], &[&user]), iogrid(IogridError::Paused));
    let (late, _) = c.m.net.user_with_io(IO);
    let open = OpenCreditAccounts::new(late.pubkey()).instruction(&c.gateway.pubkey(), CEILING);
    assert_eq!(c.err(&[open], &[&late]), iogrid(IogridError::Paused));

    let worker = c.a.worker.insecure_clone();
    let pay_a = c.a.tokens;
    let served = c.receipt(&worker, c.listing_a, 1, 2_000_000, CEILING);
    c.settle_one(&served, pay_a).unwrap();
    assert_eq!(c.io(&pay_a), 2_910_000);
    c.request_withdrawal(7 * IO).unwrap();
    c.m.net.env.advance_clock(CREDIT_WITHDRAWAL_DELAY_SECS);
    c.withdraw().unwrap();
    c.close().unwrap();
}

/// Random deposits, settlements (some over the balance or replayed),
/// requests, withdrawals and clock moves: the credit's books always match a
/// model, and deposited == balance + spent + withdrawn.
#[test]
fn test_random_credit_operations_conserve_io() {
    let mut c = Credits::new();
    let worker = c.a.worker.insecure_clone();
    let pay_a = c.a.tokens;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let (mut deposited, mut withdrawn, mut seq) = (0u64, 0u64, 0u64);
    let (mut pending, mut ready_at) = (0u64, 0i64);
    let (mut settled, mut paid_out) = (0, 0);
    for _ in 0..80 {
        let balance = c.state().balance;
        match next(6) {
            0 => {
                let amount = 1 + next(3 * IO);
                c.deposit(amount);
                deposited += amount;
            }
            1 | 2 => {
                // Sometimes a replay, sometimes more than the balance.
                let replay = seq > 0 && next(4) == 0;
                let this = if replay { seq } else { seq + 1 };
                let tokens = 1 + next(2_000_000);
                let receipt = c.receipt(&worker, c.listing_a, this, tokens, CEILING);
                let charge = receipt.charge().unwrap();
                let result = c.settle_one(&receipt, pay_a);
                if replay {
                    assert_eq!(
                        result.unwrap_err().failure,
                        iogrid(IogridError::ReceiptReplayed)
                    );
                } else if charge == 0 {
                    assert_eq!(
                        result.unwrap_err().failure,
                        iogrid(IogridError::ReceiptEmpty)
                    );
                } else if charge > balance {
                    assert_eq!(
                        result.unwrap_err().failure,
                        iogrid(IogridError::InsufficientCredit)
                    );
                } else {
                    result.unwrap();
                    seq = this;
                    settled += 1;
                }
            }
            3 if balance > 0 => {
                let amount = 1 + next(balance);
                c.request_withdrawal(amount).unwrap();
                (pending, ready_at) = (amount, c.m.net.env.now() + CREDIT_WITHDRAWAL_DELAY_SECS);
            }
            4 => {
                let before = c.io(&c.m.user_tokens);
                let result = c.withdraw();
                if pending == 0 {
                    assert_eq!(
                        result.unwrap_err().failure,
                        iogrid(IogridError::NoCreditWithdrawal)
                    );
                } else if c.m.net.env.now() < ready_at {
                    assert_eq!(
                        result.unwrap_err().failure,
                        iogrid(IogridError::CreditWithdrawalNotReady)
                    );
                } else {
                    result.unwrap();
                    let paid = c.io(&c.m.user_tokens) - before;
                    assert_eq!(paid, pending.min(balance));
                    withdrawn += paid;
                    pending = 0;
                    paid_out += 1;
                }
            }
            _ => {
                let secs = next(2 * CREDIT_WITHDRAWAL_DELAY_SECS as u64);
                c.m.net.env.advance_clock(secs as i64);
            }
        }
        let credit = c.state();
        assert_eq!(credit.withdrawal_pending, pending);
        assert_eq!(credit.last_seq, c.seq_base + seq);
        assert_eq!(
            deposited,
            credit.balance + credit.spent + withdrawn,
            "deposited == balance + spent + withdrawn"
        );
        c.m.net.check_invariants();
    }
    assert!(
        settled > 3 && paid_out > 1,
        "{settled} settlements, {paid_out} withdrawals"
    );
}
