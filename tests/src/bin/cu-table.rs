//! Rewrites the "Compute units" table of the README given as the argument
//! (between `<!-- cu-table:start -->` and `<!-- cu-table:end -->`) from the
//! records the LiteSVM tests left in `target/cu/records.jsonl`.

use {
    anyhow::{bail, Context, Result},
    iogrid_tests::cu,
};

const START: &str = "<!-- cu-table:start -->";
const END: &str = "<!-- cu-table:end -->";

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
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        bail!("{readme} has no {START} … {END} section");
    };
    let updated = format!("{}{START}\n{table}{}", &text[..start], &text[end..]);
    std::fs::write(&readme, updated)?;
    print!("{table}");
    Ok(())
}

fn render(table: &std::collections::BTreeMap<String, u64>) -> String {
    let mut out = String::from("| name | CU |\n| --- | ---: |\n");
    for (name, cu) in table {
        out.push_str(&format!("| {name} | {cu} |\n"));
    }
    out
}
