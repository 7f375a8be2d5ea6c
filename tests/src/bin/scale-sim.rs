//! `scale-sim`: the million-GPU simulation (`tests/src/scale`). Prints the
//! Markdown summary and writes the figures to `target/scale-sim/report.json`.
//!
//! `scripts/simulate-scale` runs it at the size; `--short` runs the
//! CI size; `IOGRID_SIM_<FIELD>=<value>` changes any parameter.

use iogrid_tests::{repo_root, scale};

fn main() -> anyhow::Result<()> {
    let short = std::env::args().any(|a| a == "--short");
    let base = if short {
        scale::SimParams::short()
    } else {
        scale::SimParams::million()
    };
    let params = base.with_env()?;
    eprintln!("simulating: {}", serde_json::to_string(&params)?);
    let (sim, setup) = scale::Sim::new(params);
    eprintln!(
        "fleet of {} GPUs in {} pools built in {:.1} s; the keeper's cold start {:.1} s",
        setup.gpus, setup.pools, setup.fleet_build_secs, setup.keeper_cold_start_secs
    );
    let report = sim.run(setup);
    println!("{}", report.markdown());
    let dir = repo_root().join("target/scale-sim");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(if short {
        "report-short.json"
    } else {
        "report.json"
    });
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("figures: {}", path.display());
    Ok(())
}
