//! `--output display|json`: every command result implements both.

use {
    clap::ValueEnum,
    serde::Serialize,
    std::{fmt::Display, io::Write},
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Display,
    Json,
    JsonCompact,
}

pub fn print<T: Display + Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Display => value.to_string(),
        OutputFormat::Json => serde_json::to_string_pretty(value)?,
        OutputFormat::JsonCompact => serde_json::to_string(value)?,
    };
    match writeln!(std::io::stdout().lock(), "{text}") {
        // `iogrid … | head` closing the pipe early is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
