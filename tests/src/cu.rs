//! Compute-unit records. Every successful `TestEnv::send_ok` appends
//! `{"name":…,"cu":…}` to `target/cu/records.jsonl`; `scripts/cu-table` runs
//! the tests and turns the records into the README's table.

use {
    serde::{Deserialize, Serialize},
    std::{collections::BTreeMap, io::Write, path::PathBuf},
};

#[derive(Debug, Serialize, Deserialize)]
pub struct CuRecord {
    pub name: String,
    pub cu: u64,
}

pub fn records_path() -> PathBuf {
    crate::repo_root().join("target/cu/records.jsonl")
}

/// Appends one record. A single `write` of one short line to a file opened
/// with O_APPEND, so parallel tests do not interleave.
pub fn record(name: &str, cu: u64) {
    let path = records_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut line = serde_json::to_string(&CuRecord {
        name: name.to_string(),
        cu,
    })
    .expect("json");
    line.push('\n');
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("warning: could not record CU in {}: {e}", path.display());
    }
}

/// The highest CU seen per instruction name: the table promises an upper bound.
pub fn max_per_name(records: impl IntoIterator<Item = CuRecord>) -> BTreeMap<String, u64> {
    let mut table = BTreeMap::new();
    for r in records {
        let entry = table.entry(r.name).or_insert(0);
        *entry = (*entry).max(r.cu);
    }
    table
}

pub fn read_records() -> std::io::Result<Vec<CuRecord>> {
    let text = std::fs::read_to_string(records_path())?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_the_maximum() {
        let table = max_per_name([
            CuRecord {
                name: "a".into(),
                cu: 5,
            },
            CuRecord {
                name: "a".into(),
                cu: 9,
            },
            CuRecord {
                name: "b".into(),
                cu: 1,
            },
        ]);
        assert_eq!(
            table.into_iter().collect::<Vec<_>>(),
            vec![("a".into(), 9), ("b".into(), 1)]
        );
    }
}
