//! Rewrites the README given as the argument: the "Compute units" table
//! (between `<!-- cu-table:start -->` and `<!-- cu-table:end -->`) from the
//! records the LiteSVM tests left in `target/cu/records.jsonl`, and the
//! account sizes (`<!-- account-sizes:… -->`) from the sdk's layouts, which
//! `tests/idl.rs` checks against the program.

use {
    anyhow::{bail, Context, Result},
    iogrid_sdk::accounts::{
        job_space, Config, GpuListing, InferenceCredit, ProgramAccount, Proposal, StakeAccount,
        VoteRecord,
    },
    iogrid_tests::cu,
};

const START: &str = "<!-- cu-table:start -->";
const END: &str = "<!-- cu-table:end -->";
const SIZES_START: &str = "<!-- account-sizes:start -->";
const SIZES_END: &str = "<!-- account-sizes:end -->";

fn main() -> Result<()> {
    let readme = std::env::args()
        .nth(1)
        .context("usage: cu-table <README.md>")?;
    let records = cu::read_records().with_context(|| {
        format!(
            "reading {}: run the tests first",
            cu::records_path().display()
        )
    })?;
    if records.is_empty() {
        bail!("{} holds no records", cu::records_path().display());
    }
    let table = render(&cu::max_per_name(records));
    let text = std::fs::read_to_string(&readme).with_context(|| format!("reading {readme}"))?;
    let text = replace_section(&text, START, END, &table)?;
    let text = replace_section(&text, SIZES_START, SIZES_END, &account_sizes())?;
    std::fs::write(&readme, text)?;
    print!("{table}");
    Ok(())
}

fn replace_section(text: &str, start_marker: &str, end_marker: &str, body: &str) -> Result<String> {
    let (Some(start), Some(end)) = (text.find(start_marker), text.find(end_marker)) else {
        bail!("the README has no {start_marker} … {end_marker} section");
    };
    Ok(format!(
        "{}{start_marker}\n{body}{}",
        &text[..start],
        &text[end..]
    ))
}

fn account_sizes() -> String {
    let mut out =
        String::from("| account | bytes (with the 8-byte discriminator) |\n| --- | ---: |\n");
    for (name, size) in [
        (Config::NAME, Config::SPACE),
        (StakeAccount::NAME, StakeAccount::SPACE),
        (GpuListing::NAME, GpuListing::SPACE),
        (Proposal::NAME, Proposal::SPACE),
        (VoteRecord::NAME, VoteRecord::SPACE),
        (InferenceCredit::NAME, InferenceCredit::SPACE),
    ] {
        out.push_str(&format!("| {name} | {size} |\n"));
    }
    for slots in [1, 8, 16] {
        out.push_str(&format!(
            "| Job, room for {slots} listing{} | {} |\n",
            if slots == 1 { "" } else { "s" },
            job_space(slots)
        ));
    }
    out
}

fn render(table: &std::collections::BTreeMap<String, u64>) -> String {
    let mut out = String::from("| name | CU |\n| --- | ---: |\n");
    for (name, cu) in table {
        out.push_str(&format!("| {name} | {cu} |\n"));
    }
    out
}
