//! The main job until the local-validator network lands: boots the compiled
//! program in LiteSVM, initializes the network, then walks a supplier through
//! staking, listing GPUs, an hour of heartbeats, the emission crank and a
//! reward claim, printing the network the way `iogrid network show` prints a
//! live cluster.

use {
    iogrid_cli::commands::network::NetworkSummary,
    iogrid_sdk::{
        constants::{format_io, IO},
        instructions::ClaimRewardsAccounts,
        rpc::NetworkState,
        token,
    },
    iogrid_tests::fixtures::Network,
    solana_signer::Signer,
};

fn state(network: &Network) -> NetworkState {
    let config = network.config();
    let env = &network.env;
    let balance = |address| {
        env.account(&address)
            .and_then(|a| token::balance(&a.data))
            .expect("vault exists")
    };
    NetworkState {
        supply: env.mint_supply(&config.io_mint),
        treasury_balance: balance(config.treasury),
        rewards_balance: balance(config.rewards_vault),
        staked_balance: balance(config.stake_vault),
        config,
    }
}

fn main() -> anyhow::Result<()> {
    let mut network = Network::new();
    println!("initialize ran in the SBF program (LiteSVM); the network it created:\n");
    println!("{}\n", NetworkSummary::new(&state(&network)));

    let supplier = network.supplier(1_000 * IO);
    println!(
        "supplier {} staked {}",
        supplier.owner.pubkey(),
        format_io(1_000 * IO)
    );
    let listing = network
        .list(&supplier, 4, 2 * IO)
        .map_err(|e| anyhow::anyhow!("list_gpu: {e}"))?;
    let locked = network
        .stake_account(&supplier.owner.pubkey())
        .locked_for_listings;
    println!(
        "listed 4 × H100-80GB at 2 IO/GPU-hour as {listing} (locks {})",
        format_io(locked)
    );
    for _ in 0..60 {
        network.env.advance_clock(60);
        network
            .heartbeat(&supplier, &listing)
            .map_err(|e| anyhow::anyhow!("heartbeat: {e}"))?;
    }
    println!(
        "worker {} heartbeated every minute for an hour",
        supplier.worker.pubkey()
    );
    network
        .crank()
        .map_err(|e| anyhow::anyhow!("crank_emission: {e}"))?;
    let claim =
        ClaimRewardsAccounts::new(supplier.owner.pubkey(), listing, supplier.tokens).instruction();
    network
        .env
        .send_ok("claim_rewards", claim, &[&supplier.owner]);
    let earned = network.env.token_balance(&supplier.tokens);
    println!(
        "claimed {} of emission rewards for the hour\n",
        format_io(earned)
    );
    network.check_invariants();

    println!("{}", NetworkSummary::new(&state(&network)));
    println!("\ninvariants hold: supply == genesis + emitted <= cap; stake vault == Σ stake;");
    println!("rewards vault == emitted - claimed; every unit held by a token account");
    Ok(())
}
