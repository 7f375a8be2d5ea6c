//! The `iogrid` command: one binary for every role. `main.rs` parses and
//! dispatches; each subcommand lives in `commands/` with its clap `Args` and
//! `execute`; every result is a struct that prints as text or `--output json`.

pub mod app;
pub mod cluster;
pub mod commands;
pub mod keys;
pub mod migrate;
pub mod output;
pub mod tx;
