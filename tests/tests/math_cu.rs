//! Compute units of the `math.rs` helpers, measured inside the VM with the
//! `cu-bench` build: each helper runs N times in one instruction and the
//! loop's own cost (op 0) is subtracted.

use {
    iogrid_sdk::PROGRAM_ID,
    iogrid_tests::{cu, TestEnv, BENCH_SO},
    solana_instruction::{AccountMeta, Instruction},
    solana_keypair::Keypair,
    solana_signer::Signer,
};

const ITERATIONS: u16 = 100;

fn bench_ix(caller: &Keypair, op: u8, operands: [u64; 3], iterations: u16) -> Instruction {
    let mut data = iogrid_tests::anchor_discriminator("global:bench_math").to_vec();
    data.push(op);
    for operand in operands {
        data.extend_from_slice(&operand.to_le_bytes());
    }
    data.extend_from_slice(&iterations.to_le_bytes());
    Instruction {
        program_id: PROGRAM_ID,
        accounts: vec![AccountMeta::new_readonly(caller.pubkey(), true)],
        data,
    }
}

fn cu_of(env: &mut TestEnv, caller: &Keypair, op: u8, operands: [u64; 3], iterations: u16) -> u64 {
    match env.send(&[bench_ix(caller, op, operands, iterations)], &[caller]) {
        Ok(meta) => meta.compute_units_consumed,
        Err(failure) => panic!("bench op {op} failed: {failure}"),
    }
}

#[test]
fn math_helpers_cost_in_the_vm() {
    let mut env = TestEnv::with_program(BENCH_SO);
    let caller = env.funded_keypair();
    // Worst cases: full 64-bit operands, so both quotient digits need correction.
    let operands = [u64::MAX - 12_345, 0xffff_fffe_0000_0001, u64::MAX - 7];
    let baseline = cu_of(&mut env, &caller, 0, operands, ITERATIONS);
    let ops = [
        (1, "math::checked_mul"),
        (2, "math::mul_div_floor"),
        (3, "math::mul_div_ceil"),
        (4, "math::bps_share"),
    ];
    for (op, name) in ops {
        // checked_mul of these operands overflows; measure it on the largest
        // product that fits instead.
        let operands = if op == 1 {
            [u64::MAX / 3, 3, 1]
        } else {
            operands
        };
        let total = cu_of(&mut env, &caller, op, operands, ITERATIONS);
        let per_call = total.saturating_sub(baseline) / u64::from(ITERATIONS);
        println!("{name}: {per_call} CU per call");
        assert!(
            per_call > 0,
            "{name} cost nothing: the loop was optimized away"
        );
        assert!(per_call < 400, "{name} costs {per_call} CU per call");
        cu::record(&format!("{name} (per call)"), per_call);
    }
}

#[test]
fn math_overflow_is_an_error_in_the_vm() {
    let mut env = TestEnv::with_program(BENCH_SO);
    let caller = env.funded_keypair();
    let failure = env.send_err(bench_ix(&caller, 1, [u64::MAX, 2, 1], 1), &[&caller]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::MathOverflow),
        "{failure}"
    );
    let failure = env.send_err(bench_ix(&caller, 2, [u64::MAX, u64::MAX, 1], 1), &[&caller]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::MathOverflow),
        "{failure}"
    );
    let failure = env.send_err(bench_ix(&caller, 2, [1, 1, 0], 1), &[&caller]);
    assert_eq!(
        failure.iogrid(),
        Some(iogrid_sdk::errors::IogridError::MathOverflow),
        "{failure}"
    );
}

#[test]
fn bench_math_is_absent_from_the_production_program() {
    let mut env = TestEnv::new();
    let caller = env.funded_keypair();
    let failure = env.send_err(bench_ix(&caller, 0, [0; 3], 1), &[&caller]);
    assert_eq!(
        failure,
        iogrid_sdk::errors::ProgramFailure::Instruction(
            solana_instruction::error::InstructionError::InvalidInstructionData
        ),
        "{failure}"
    );
}
