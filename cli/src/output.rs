//! `--output display|json`: every command result implements both.

use {clap::ValueEnum, serde::Serialize, std::fmt::Display};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Display,
    Json,
    JsonCompact,
}

pub fn print<T: Display + Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<()> {
    match format {
        OutputFormat::Display => println!("{value}"),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::JsonCompact => println!("{}", serde_json::to_string(value)?),
    }
    Ok(())
}
