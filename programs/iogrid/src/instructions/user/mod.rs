pub mod approve_job;
pub mod cancel_job;
pub mod close_credit;
pub mod create_job;
pub mod deposit_credit;
pub mod dispute_job;
pub mod open_credit;
pub mod request_credit_withdrawal;
pub mod top_up_job;
pub mod withdraw_credit;

pub use {
    approve_job::*, cancel_job::*, close_credit::*, create_job::*, deposit_credit::*,
    dispute_job::*, open_credit::*, request_credit_withdrawal::*, top_up_job::*,
    withdraw_credit::*,
};
