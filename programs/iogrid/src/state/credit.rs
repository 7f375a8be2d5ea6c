use {
    crate::{constants::*, errors::IogridError},
    anchor_lang::prelude::*,
};

/// A wallet's prepaid inference credit: `["credit", owner]`. Its IO sits in
/// its own escrow token account `["credit_escrow", credit]`, whose authority
/// is this PDA. The gateway the owner chose settles worker-signed usage
/// receipts against it; the owner deposits, and withdraws after a delay.
#[account]
pub struct InferenceCredit {
    pub owner: Address,
    /// The only key that may settle receipts against this credit.
    pub gateway: Address,
    /// The escrow token account `open_credit` created.
    pub escrow: Address,
    /// IO the escrow holds for this credit.
    pub balance: u64,
    /// The highest price per million tokens the owner accepts.
    pub max_price_per_mtok: u64,
    /// The highest receipt sequence number settled; the next must be above.
    pub last_seq: u64,
    /// Total IO settled from this credit.
    pub spent: u64,
    /// Requested withdrawal; pays at most the balance left when it runs.
    pub withdrawal_pending: u64,
    /// When `withdraw_credit` may pay `withdrawal_pending` (0: none pending).
    pub withdrawal_available_at: i64,
    pub bump: u8,
    pub escrow_bump: u8,
    pub version: u8,
    pub _padding: [u8; 5],
    pub _reserved: [u8; 64],
}

/// What a credit account is opened with.
pub struct CreditTerms {
    pub owner: Address,
    pub gateway: Address,
    pub escrow: Address,
    pub max_price_per_mtok: u64,
    pub bump: u8,
    pub escrow_bump: u8,
}

impl CreditTerms {
    /// A real gateway key and a price ceiling within
    /// `1..=MAX_CREDIT_PRICE_PER_MTOK`.
    pub fn validate(&self) -> Result<()> {
        if self.gateway == Address::default()
            || self.max_price_per_mtok == 0
            || self.max_price_per_mtok > MAX_CREDIT_PRICE_PER_MTOK
        {
            return Err(IogridError::InvalidCreditTerms.into());
        }
        Ok(())
    }
}

impl InferenceCredit {
    /// Fills a freshly created account.
    /// Opens the credit at unix time `now`. Receipts must be numbered above
    /// `now` in microseconds (`iogrid_rules::usage`): a credit closed and
    /// opened again at the same address refuses every receipt numbered
    /// before it opened, so none signed for its earlier life is paid twice.
    pub fn open(&mut self, terms: &CreditTerms, now: i64) -> Result<()> {
        terms.validate()?;
        self.last_seq = crate::math::checked_mul(u64::try_from(now).unwrap_or(0), MICROS_PER_SEC)?;
        self.owner = terms.owner;
        self.gateway = terms.gateway;
        self.escrow = terms.escrow;
        self.max_price_per_mtok = terms.max_price_per_mtok;
        self.bump = terms.bump;
        self.escrow_bump = terms.escrow_bump;
        self.version = ACCOUNT_VERSION;
        Ok(())
    }

    pub fn deposit(&mut self, amount: u64) -> Result<()> {
        if amount == 0 {
            return Err(IogridError::ZeroAmount.into());
        }
        self.balance = self
            .balance
            .checked_add(amount)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    /// Asks for `amount` back after the delay; replaces any earlier request
    /// and restarts the delay.
    pub fn request_withdrawal(&mut self, amount: u64, now: i64) -> Result<()> {
        if amount == 0 {
            return Err(IogridError::ZeroAmount.into());
        }
        if amount > self.balance {
            return Err(IogridError::InsufficientCredit.into());
        }
        self.withdrawal_pending = amount;
        self.withdrawal_available_at = now
            .checked_add(CREDIT_WITHDRAWAL_DELAY_SECS)
            .ok_or(IogridError::MathOverflow)?;
        Ok(())
    }

    /// Ends the pending withdrawal once its delay has passed and returns
    /// what it pays: the request, or the balance settlements left if less.
    pub fn withdraw(&mut self, now: i64) -> Result<u64> {
        if self.withdrawal_pending == 0 {
            return Err(IogridError::NoCreditWithdrawal.into());
        }
        if now < self.withdrawal_available_at {
            return Err(IogridError::CreditWithdrawalNotReady.into());
        }
        let amount = self.withdrawal_pending.min(self.balance);
        self.balance = self
            .balance
            .checked_sub(amount)
            .ok_or(IogridError::InvariantViolated)?;
        self.withdrawal_pending = 0;
        self.withdrawal_available_at = 0;
        Ok(amount)
    }

    /// Checks a receipt's terms against this credit: a sequence number above
    /// the last settled, a price within the owner's ceiling, tokens served.
    pub fn check_receipt(&self, seq: u64, tokens: u64, price_per_mtok: u64) -> Result<()> {
        if seq <= self.last_seq {
            return Err(IogridError::ReceiptReplayed.into());
        }
        if price_per_mtok > self.max_price_per_mtok {
            return Err(IogridError::ReceiptPriceTooHigh.into());
        }
        if tokens == 0 {
            return Err(IogridError::ReceiptEmpty.into());
        }
        Ok(())
    }

    /// Books a settled receipt's `charge` (already checked by
    /// [`Self::check_receipt`]): out of the balance, into `spent`.
    pub fn settle(&mut self, seq: u64, charge: u64) -> Result<()> {
        if charge == 0 {
            return Err(IogridError::ReceiptEmpty.into());
        }
        if charge > self.balance {
            return Err(IogridError::InsufficientCredit.into());
        }
        self.balance = self
            .balance
            .checked_sub(charge)
            .ok_or(IogridError::InsufficientCredit)?;
        self.spent = self
            .spent
            .checked_add(charge)
            .ok_or(IogridError::MathOverflow)?;
        self.last_seq = seq;
        Ok(())
    }

    /// Closing needs nothing owed to the owner: no balance, no request.
    pub fn require_empty(&self) -> Result<()> {
        if self.balance != 0 || self.withdrawal_pending != 0 {
            return Err(IogridError::CreditNotEmpty.into());
        }
        Ok(())
    }

    pub fn invariant(&self) -> Result<()> {
        if (self.withdrawal_pending == 0) != (self.withdrawal_available_at == 0)
            || self.gateway == Address::default()
            || self.max_price_per_mtok == 0
            || self.max_price_per_mtok > MAX_CREDIT_PRICE_PER_MTOK
            || self.version != ACCOUNT_VERSION
        {
            return Err(IogridError::InvariantViolated.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use {super::*, bytemuck::Zeroable};

    fn credit(balance: u64) -> InferenceCredit {
        let mut c = InferenceCredit::zeroed();
        c.open(
            &CreditTerms {
                owner: Address::new_from_array([1; 32]),
                gateway: Address::new_from_array([2; 32]),
                escrow: Address::new_from_array([3; 32]),
                max_price_per_mtok: 500,
                bump: 255,
                escrow_bump: 254,
            },
            0,
        )
        .unwrap();
        c.deposit(balance).unwrap();
        c
    }

    #[test]
    fn terms_need_a_gateway_and_a_bounded_ceiling() {
        let mut c = InferenceCredit::zeroed();
        let terms = |gateway: [u8; 32], max_price_per_mtok| CreditTerms {
            owner: Address::new_from_array([1; 32]),
            gateway: Address::new_from_array(gateway),
            escrow: Address::new_from_array([3; 32]),
            max_price_per_mtok,
            bump: 0,
            escrow_bump: 0,
        };
        let invalid = Err(IogridError::InvalidCreditTerms.into());
        assert_eq!(c.open(&terms([0; 32], 1), 0), invalid);
        assert_eq!(c.open(&terms([2; 32], 0), 0), invalid);
        assert_eq!(
            c.open(&terms([2; 32], MAX_CREDIT_PRICE_PER_MTOK + 1), 0),
            invalid
        );
        c.open(&terms([2; 32], MAX_CREDIT_PRICE_PER_MTOK), 7)
            .unwrap();
        c.invariant().unwrap();
        // Receipts are numbered after the opening time, in microseconds.
        assert_eq!(c.last_seq, 7_000_000);
    }

    #[test]
    fn receipts_settle_in_order_within_ceiling_and_balance() {
        let mut c = credit(1_000);
        assert_eq!(
            c.check_receipt(0, 1, 1),
            Err(IogridError::ReceiptReplayed.into())
        );
        assert_eq!(
            c.check_receipt(1, 1, 501),
            Err(IogridError::ReceiptPriceTooHigh.into())
        );
        assert_eq!(
            c.check_receipt(1, 0, 1),
            Err(IogridError::ReceiptEmpty.into())
        );
        c.check_receipt(1, 1, 500).unwrap();
        assert_eq!(c.settle(1, 0), Err(IogridError::ReceiptEmpty.into()));
        assert_eq!(
            c.settle(1, 1_001),
            Err(IogridError::InsufficientCredit.into())
        );
        c.settle(5, 400).unwrap();
        assert_eq!((c.balance, c.spent, c.last_seq), (600, 400, 5));
        assert_eq!(
            c.check_receipt(5, 1, 1),
            Err(IogridError::ReceiptReplayed.into())
        );
        assert_eq!(
            c.check_receipt(4, 1, 1),
            Err(IogridError::ReceiptReplayed.into())
        );
        c.check_receipt(6, 1, 1).unwrap();
        c.invariant().unwrap();
    }

    #[test]
    fn withdrawal_waits_and_pays_at_most_the_balance_left() {
        let mut c = credit(1_000);
        assert_eq!(c.withdraw(0), Err(IogridError::NoCreditWithdrawal.into()));
        assert_eq!(
            c.request_withdrawal(1_001, 100),
            Err(IogridError::InsufficientCredit.into())
        );
        assert_eq!(
            c.request_withdrawal(0, 100),
            Err(IogridError::ZeroAmount.into())
        );
        c.request_withdrawal(300, 100).unwrap();
        // A new request replaces the old one and restarts the delay.
        c.request_withdrawal(900, 200).unwrap();
        c.invariant().unwrap();
        let ready = 200 + CREDIT_WITHDRAWAL_DELAY_SECS;
        assert_eq!(
            c.withdraw(ready - 1),
            Err(IogridError::CreditWithdrawalNotReady.into())
        );
        assert_eq!(c.require_empty(), Err(IogridError::CreditNotEmpty.into()));
        // The gateway settles usage served before the request meanwhile.
        c.settle(1, 700).unwrap();
        assert_eq!(c.withdraw(ready), Ok(300));
        assert_eq!(
            (c.balance, c.withdrawal_pending, c.withdrawal_available_at),
            (0, 0, 0)
        );
        c.require_empty().unwrap();
        c.invariant().unwrap();
    }
}
