//! What the market's commands share: `iogrid listing` and `iogrid listings`
//! (`listing.rs`), `iogrid job` and `iogrid jobs` (`job.rs`) read IO amounts,
//! print tables and sign transactions the same way; their chain reads are the
//! sdk's (`iogrid_sdk::rpc`).
//!
//! Every write first checks what the chain can tell cheaply (the account
//! exists, the signer owns it, its status allows the action, the wallet holds
//! the IO) and refuses with a plain sentence before anything is signed, so a
//! mistake costs no fee; what only the program can judge comes back as its
//! decoded `#[msg]` with the program logs.

use {
    crate::tx,
    anyhow::{ensure, Context, Result},
    iogrid_sdk::{
        constants::{format_io, parse_io},
        rpc::NonblockingRpcClient as RpcClient,
        Address,
    },
    solana_instruction::Instruction,
    solana_keypair::Keypair,
};

// ---------------------------------------------------------------------------
// Input

/// An IO amount as typed: like `parse_io`, but says which rule it breaks.
pub fn parse_amount(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!("{text:?} is negative; IO amounts are positive"));
    }
    if let Some((_, fraction)) = trimmed.split_once('.') {
        if fraction.len() > 6 && fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} has {} decimals; IO has 6 (the smallest amount is 0.000001)",
                fraction.len()
            ));
        }
    }
    parse_io(text)
}

/// A price per GPU-hour: an IO amount above zero.
pub fn parse_price(text: &str) -> Result<u64, String> {
    match parse_amount(text)? {
        0 => Err(format!("{text:?}: a price must be more than 0 IO")),
        price => Ok(price),
    }
}

// ---------------------------------------------------------------------------
// Output

/// `90s`, `12m`, `5h`, `3d`: coarse, for tables.
pub(crate) fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3_600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// Base units as an IO number without the unit (`2.5`, `36`), for tables.
pub(crate) fn io_number(base_units: u64) -> String {
    let text = format_io(base_units);
    let number = text.trim_end_matches(" IO");
    number
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Left-aligned columns, two spaces apart.
pub(crate) fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

// ---------------------------------------------------------------------------
// Checks and transactions

/// The signer must own what it changes.
pub(crate) fn ensure_owner(
    what: &str,
    address: &Address,
    owner: &Address,
    signer: &Address,
) -> Result<()> {
    ensure!(
        owner == signer,
        "{what} {address} belongs to {owner}; you are {signer} (pass its owner's --keypair)"
    );
    Ok(())
}

/// Signs and sends `ixs`; a refusal comes back as the program's decoded
/// error and logs.
pub(crate) async fn send(
    rpc: &RpcClient,
    signer: &Keypair,
    ixs: &[Instruction],
    what: &str,
) -> Result<String> {
    let sent = tx::send_and_confirm(rpc, ixs, &[signer])
        .await
        .with_context(|| format!("could not {what}"))?;
    Ok(sent.signature.to_string())
}

/// The market's four commands as `main.rs` mounts them, for the parsing
/// tests of this file, `listing.rs` and `job.rs`.
#[cfg(test)]
pub(crate) mod test_cli {
    use {
        crate::commands::{
            job::{JobArgs, JobsArgs},
            listing::{ListingArgs, ListingsArgs},
        },
        clap::Parser,
    };

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, clap::Subcommand)]
    pub(crate) enum Top {
        Listing(ListingArgs),
        Job(JobArgs),
        Listings(ListingsArgs),
        Jobs(JobsArgs),
    }

    pub(crate) fn parse(args: &str) -> Result<Top, String> {
        Cli::try_parse_from(std::iter::once("iogrid").chain(args.split_whitespace()))
            .map(|cli| cli.command)
            .map_err(|e| e.to_string())
    }

    pub(crate) const KEY: &str = "56uC97afJv9SQFUK7jkUFVDJjSEnY6mQbo2VE7tF3yvi";
}

#[cfg(test)]
mod tests {
    use {
        super::{test_cli::*, *},
        crate::commands::job::{JobArgs, JobCommand},
        iogrid_sdk::constants::IO,
    };

    #[test]
    fn amounts_say_what_is_wrong_with_them() {
        assert_eq!(parse_amount("2.5"), Ok(2_500_000));
        assert_eq!(parse_amount(" 36 "), Ok(36 * IO));
        assert_eq!(parse_amount("0.000001"), Ok(1));
        assert_eq!(parse_amount("0"), Ok(0));
        let bad = |text: &str| parse_amount(text).unwrap_err();
        assert_eq!(bad("-1"), "\"-1\" is negative; IO amounts are positive");
        assert_eq!(bad("-0.5"), "\"-0.5\" is negative; IO amounts are positive");
        assert_eq!(
            bad("1.0000001"),
            "\"1.0000001\" has 7 decimals; IO has 6 (the smallest amount is 0.000001)"
        );
        for text in [
            "abc", "1.2.3", "", "1.", ".5", "1e3", "1,5", "0x10", "+1", "1 000",
        ] {
            assert!(
                bad(text).contains("is not an IO amount"),
                "{text:?}: {}",
                bad(text)
            );
        }
        assert!(bad("900000000").contains("more than will ever exist"));
        assert_eq!(parse_price("0.5"), Ok(500_000));
        assert_eq!(
            parse_price("0").unwrap_err(),
            "\"0\": a price must be more than 0 IO"
        );
        assert_eq!(
            parse_price("0.000000").unwrap_err(),
            "\"0.000000\": a price must be more than 0 IO"
        );
    }

    #[test]
    fn malformed_prices_are_refused_while_parsing() {
        let create = |price: &str| {
            parse(&format!(
                "job create --id 1 --max-price {price} --hours 1 --uri u"
            ))
        };
        let Ok(Top::Job(JobArgs {
            command: JobCommand::Create { max_price, .. },
        })) = create("2.5")
        else {
            panic!("{:?}", create("2.5"))
        };
        assert_eq!(max_price, 2_500_000);
        for (price, message) in [
            ("abc", "is not an IO amount"),
            ("1.2.3", "is not an IO amount"),
            ("-1", "is negative"),
            ("1.0000001", "has 7 decimals"),
            ("0", "more than 0 IO"),
        ] {
            let err = create(price).unwrap_err();
            assert!(
                err.contains("--max-price <IO>") && err.contains(message),
                "{price}: {err}"
            );
        }
        let err = parse(&format!(
            "listing create --worker {KEY} --model m --vram-gb 8 --region r --price -2"
        ))
        .unwrap_err();
        assert!(err.contains("is negative"), "{err}");
        assert!(parse("job create --id 1 --max-price 1 --hours -1 --uri u").is_ok());
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a".to_string(), "long cell".to_string()],
            vec!["longer".to_string(), "x".to_string()],
        ];
        assert_eq!(
            table(&["H1", "H2"], rows.into_iter()),
            "H1      H2\na       long cell\nlonger  x"
        );
        assert_eq!(io_number(36 * IO), "36");
        assert_eq!(io_number(2_500_000), "2.5");
        assert_eq!(io_number(1), "0.000001");
        assert_eq!(io_number(0), "0");
        assert_eq!(age(59), "59s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3_600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
