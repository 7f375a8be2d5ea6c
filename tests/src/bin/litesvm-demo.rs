//! The main job until the local-validator network lands: boots the compiled
//! program in LiteSVM, initializes the network and prints it the way
//! `iogrid network show` prints a live cluster.

use {
    iogrid_cli::commands::network::NetworkSummary,
    iogrid_sdk::{rpc::NetworkState, token},
    iogrid_tests::fixtures::Network,
};

fn main() {
    let network = Network::new();
    let config = network.config();
    let env = &network.env;
    let balance = |address| {
        env.account(&address)
            .and_then(|a| token::balance(&a.data))
            .expect("vault exists")
    };
    let state = NetworkState {
        supply: env.mint_supply(&config.io_mint),
        treasury_balance: balance(config.treasury),
        rewards_balance: balance(config.rewards_vault),
        staked_balance: balance(config.stake_vault),
        config,
    };
    println!("initialize ran in the SBF program (LiteSVM); the network it created:\n");
    println!("{}", NetworkSummary::new(&state));
    network.check_invariants();
    println!(
        "\ninvariants hold: supply == genesis + emitted <= cap, every unit held by a token account"
    );
}
