//! `iogrid-worker doctor`: everything a supplier needs before serving a
//! listing, checked one by one, each failure named with how to fix it. It
//! sends nothing and changes nothing (the isolation check makes a probe
//! sandbox and cgroup and removes them). Exit status 1 when a check fails;
//! warnings (what only later features need) do not fail it.

use {
    crate::{
        agent::NodeArgs,
        gpu::{self, Device},
        sandbox::{CgroupLayout, Isolation, IsolationMode},
    },
    anyhow::{bail, Result},
    iogrid_cli::output::{print, OutputFormat},
    iogrid_sdk::{
        accounts::ProgramAccount,
        accounts::{GpuListing, StakeAccount},
        pda,
        rpc::{
            config_if_initialized, program_account, NonblockingRpcClient as RpcClient, RpcReadError,
        },
        rules::assign::required_stake,
        Address,
    },
    serde::Serialize,
    solana_signer::Signer,
    std::{fmt, path::Path, time::Duration},
};

/// Free disk below this in the scratch directory fails the check: Ray's
/// object spilling, runtime envs and outputs live there.
const MIN_FREE_DISK_GIB: u64 = 10;
/// Heartbeat fees for a while (5,000 lamports each).
const MIN_WORKER_LAMPORTS: u64 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Warn,
            ..Self::fail(name, detail, fix)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            let mark = match check.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
            };
            writeln!(f, "{mark} {:<18} {}", check.name, check.detail)?;
            if let Some(fix) = &check.fix {
                writeln!(f, "     {:<18} → {fix}", "")?;
            }
        }
        match self.failed() {
            0 => write!(f, "ready to serve"),
            n => write!(f, "{n} check(s) failed"),
        }
    }
}

pub async fn execute(args: &NodeArgs, rpc: &RpcClient, output: OutputFormat) -> Result<()> {
    let report = run(args, rpc).await;
    print(output, &report)?;
    match report.failed() {
        0 => Ok(()),
        n => bail!("{n} check(s) failed"),
    }
}

/// Every check, in the order a supplier would fix them.
pub async fn run(args: &NodeArgs, rpc: &RpcClient) -> Report {
    let mut checks = Vec::new();
    let devices = gpu::inventory(args.simulate.as_ref());
    checks.push(match &devices {
        Ok(devices) => Check::ok("devices", describe(devices)),
        Err(why) => Check::fail(
            "devices",
            why.clone(),
            "install the NVIDIA driver, or run with --simulate <count>x<model>",
        ),
    });
    checks.push(check_ray(&args.ray_executable()));
    checks.push(check_isolation(args));
    checks.push(check_disk(&std::env::temp_dir()));
    checks.push(check_keeper(&args.keeper_url).await);
    let rpc_up = rpc.get_version().await;
    checks.push(match &rpc_up {
        Ok(version) => Check::ok(
            "rpc",
            format!(
                "{} answers (solana-core {})",
                rpc.url(),
                version.solana_core
            ),
        ),
        Err(err) => Check::fail(
            "rpc",
            format!("{} does not answer: {err}", rpc.url()),
            "start the validator or pass -u <RPC URL>",
        ),
    });
    if rpc_up.is_ok() {
        checks.extend(chain_checks(args, rpc, devices.as_deref().unwrap_or(&[])).await);
    }
    Report { checks }
}

fn describe(devices: &[Device]) -> String {
    devices
        .iter()
        .map(Device::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The worker key, the listing, its fit to the devices, the stake behind it.
async fn chain_checks(args: &NodeArgs, rpc: &RpcClient, devices: &[Device]) -> Vec<Check> {
    let mut checks = Vec::new();
    let worker = match args.read_worker_key() {
        Ok(key) => key.pubkey(),
        Err(err) => {
            checks.push(Check::fail(
                "worker key",
                err.to_string(),
                "pass --worker-keypair <file> (solana-keygen new -o worker.json)",
            ));
            return checks;
        }
    };
    match rpc.get_balance(&worker).await {
        Ok(lamports) if lamports >= MIN_WORKER_LAMPORTS => checks.push(Check::ok(
            "worker SOL",
            format!("{worker} holds {} SOL", sol(lamports)),
        )),
        Ok(lamports) => checks.push(Check::fail(
            "worker SOL",
            format!("{worker} holds {} SOL; heartbeats cost fees", sol(lamports)),
            format!("send at least {} SOL to {worker}", sol(MIN_WORKER_LAMPORTS)),
        )),
        Err(err) => checks.push(Check::fail(
            "worker SOL",
            err.to_string(),
            "check the RPC URL",
        )),
    }
    let listing: GpuListing = match read(rpc, &args.listing).await {
        Ok(Some(listing)) => listing,
        Ok(None) => {
            checks.push(Check::fail(
                "listing",
                format!("no listing at {}", args.listing),
                "create one: iogrid listing create --worker <worker key> …",
            ));
            return checks;
        }
        Err(err) => {
            checks.push(Check::fail("listing", err.to_string(), "check the RPC URL"));
            return checks;
        }
    };
    checks.push(if listing.spec.worker == worker {
        Check::ok("worker registered", format!("{worker} serves listing {}", args.listing))
    } else {
        Check::fail(
            "worker registered",
            format!(
                "listing {} names worker {}, not {worker} (--worker-keypair)",
                args.listing, listing.spec.worker
            ),
            format!("iogrid listing update {} --worker {worker} (as the listing's owner), or use that key", args.listing),
        )
    });
    checks.push(
        match gpu::check_listing_claim(devices, listing.spec.gpu_count, listing.spec.vram_gb) {
            Ok(()) => Check::ok(
                "listing fits",
                format!(
                    "{} × {} GB listed, {} device(s) here",
                    listing.spec.gpu_count,
                    listing.spec.vram_gb,
                    devices.len()
                ),
            ),
            Err(why) => Check::fail(
                "listing fits",
                why,
                "list what this node has (iogrid listing create with fewer GPUs or less VRAM)",
            ),
        },
    );
    checks.push(check_stake(rpc, &listing).await);
    checks
}

async fn check_stake(rpc: &RpcClient, listing: &GpuListing) -> Check {
    let stake_address = pda::stake(&listing.owner).0;
    let (stake, config) = match (
        read::<StakeAccount>(rpc, &stake_address).await,
        config_if_initialized(rpc).await,
    ) {
        (Ok(Some(stake)), Ok(Some(config))) => (stake, config),
        (Ok(None), _) => {
            return Check::fail(
                "stake",
                format!("the listing's owner {} has no stake", listing.owner),
                "iogrid stake add <IO> (as the owner)",
            )
        }
        (_, Ok(None)) => {
            return Check::fail(
                "stake",
                "the network is not initialized",
                "check the RPC URL",
            )
        }
        (Err(err), _) | (_, Err(err)) => {
            return Check::fail("stake", err.to_string(), "check the RPC URL")
        }
    };
    let needed =
        required_stake(config.params.min_stake_per_gpu, listing.spec.gpu_count).unwrap_or(u64::MAX);
    if stake.staked >= needed {
        Check::ok(
            "stake",
            format!(
                "{} IO staked by {}, {} IO needed for {} GPU(s)",
                io(stake.staked),
                listing.owner,
                io(needed),
                listing.spec.gpu_count
            ),
        )
    } else {
        Check::fail(
            "stake",
            format!("{} IO staked, {} IO needed", io(stake.staked), io(needed)),
            format!(
                "iogrid stake add {} (as {})",
                io(needed - stake.staked),
                listing.owner
            ),
        )
    }
}

/// The account, or `None` where there is none.
async fn read<T: ProgramAccount>(
    rpc: &RpcClient,
    address: &Address,
) -> Result<Option<T>, RpcReadError> {
    match program_account::<T>(rpc, address, "").await {
        Ok(account) => Ok(Some(account)),
        Err(RpcReadError::Missing { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

fn io(base_units: u64) -> String {
    iogrid_sdk::constants::format_io(base_units)
}

fn sol(lamports: u64) -> String {
    format!("{:.4}", lamports as f64 / 1e9)
}

fn check_ray(ray: &Path) -> Check {
    let fix = "scripts/ray-env (Ray 2.60.0 in a venv), or pass --ray <path to ray>";
    match std::process::Command::new(ray).arg("--version").output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if version.contains("2.60.0") {
                Check::ok("ray", format!("{} ({version})", ray.display()))
            } else {
                Check::fail(
                    "ray",
                    format!("{} is {version}, not 2.60.0", ray.display()),
                    fix,
                )
            }
        }
        Ok(out) => Check::fail(
            "ray",
            format!(
                "{} --version failed: {}",
                ray.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            fix,
        ),
        Err(err) => Check::fail("ray", format!("cannot run {}: {err}", ray.display()), fix),
    }
}

/// The sandbox workloads run in: bubblewrap works here and the cgroup
/// limits can be set (a probe sandbox and cgroup are made and removed).
fn check_isolation(args: &NodeArgs) -> Check {
    match Isolation::resolve(args.isolation, vec![args.worker_keypair.clone()]) {
        Ok(isolation) if isolation.mode == IsolationMode::None => Check::warn(
            "isolation",
            "none: workloads would run as the worker, seeing its keypair",
            "apt-get install bubblewrap and drop --isolation none",
        ),
        Ok(_) => {
            let layout = match CgroupLayout::detect() {
                Some(CgroupLayout::V2) => "v2",
                _ => "v1",
            };
            Check::ok(
                "isolation",
                format!("bubblewrap sandbox, cgroup {layout} limits (cpu, memory, pids)"),
            )
        }
        Err(why) => Check::fail(
            "isolation",
            why,
            "apt-get install bubblewrap; run the worker as root (it writes cgroups)",
        ),
    }
}

fn check_disk(dir: &Path) -> Check {
    match free_bytes(dir) {
        Some(free) if free >= MIN_FREE_DISK_GIB << 30 => Check::ok(
            "disk",
            format!("{} GiB free in {}", free >> 30, dir.display()),
        ),
        Some(free) => Check::fail(
            "disk",
            format!(
                "{} GiB free in {}; at least {MIN_FREE_DISK_GIB} GiB needed",
                free >> 30,
                dir.display()
            ),
            "free space there, or point TMPDIR at a larger disk",
        ),
        None => Check::fail(
            "disk",
            format!("cannot read free space of {}", dir.display()),
            "set TMPDIR to a writable directory",
        ),
    }
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs writes the struct it is given; `path` is NUL-terminated.
    let result = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

async fn check_keeper(url: &str) -> Check {
    let health = format!("{}/healthz", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build();
    let answer = match client {
        Ok(client) => client.get(&health).send().await,
        Err(err) => return Check::fail("keeper", err.to_string(), "report this bug"),
    };
    match answer {
        Ok(response) if response.status().is_success() => {
            Check::ok("keeper", format!("{url} is synced"))
        }
        Ok(response) => Check::fail(
            "keeper",
            format!("{health} answered {}", response.status()),
            "the keeper is not synced with the chain yet: check its log",
        ),
        Err(err) => Check::fail(
            "keeper",
            format!("cannot reach {health}: {err}"),
            "start the keeper (iogrid-keeper) or pass --keeper-url <its HTTP API>",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_check_says_what_it_found() {
        assert_ne!(
            check_disk(Path::new("/nonexistent/dir")).verdict,
            Verdict::Ok
        );
        assert!(free_bytes(&std::env::temp_dir()).is_some());
    }

    #[test]
    fn a_missing_ray_fails_with_the_fix() {
        let check = check_ray(Path::new("/nonexistent/ray"));
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.fix.unwrap().contains("scripts/ray-env"));
    }

    #[tokio::test]
    async fn an_unreachable_keeper_fails_with_the_fix() {
        let check = check_keeper("http://127.0.0.1:9").await;
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.detail.contains("cannot reach"), "{}", check.detail);
    }

    #[test]
    fn the_report_counts_failures_and_prints_fixes() {
        let report = Report {
            checks: vec![
                Check::ok("devices", "GPU 0"),
                Check::warn("cgroups", "none", "enable"),
                Check::fail("keeper", "down", "start it"),
            ],
        };
        assert_eq!(report.failed(), 1);
        let text = report.to_string();
        assert!(
            text.contains("FAIL keeper") && text.contains("→ start it"),
            "{text}"
        );
        assert!(text.ends_with("1 check(s) failed"), "{text}");
    }
}
