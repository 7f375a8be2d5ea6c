//! Isolation of the code a job brings: each node's Ray processes run in a
//! bubblewrap sandbox inside their own cgroup.
//!
//! The sandbox sees the host's filesystem read-only, minus what is none of
//! its business: `/root`, `/home`, `/tmp`, `/var/tmp` and `/run` are empty
//! tmpfs, and the worker's keypair is masked wherever it lives. Writable are
//! only the node's scratch directory and the job's checkpoint directory;
//! the Ray runtime is mounted read-only. It has its own PID, IPC and UTS
//! namespaces (it sees and signals only its own processes) and a fresh
//! `/dev` holding only the GPUs assigned to it. It shares the node's
//! network, which is what Ray needs to reach the job's other nodes. A
//! shell workload's sandbox dies with the worker (`--die-with-parent`); a
//! Ray node's outlives it (`SandboxPlan::outlives_worker`), so a restarted
//! worker reattaches to it (`crate::ray`), bounded by the job's end.
//!
//! The cgroup caps CPU (a CFS quota), memory and process count, on cgroup
//! v2 or v1. When the node stops, whatever is left in it is killed and
//! counted, and the [`Teardown`] record (limits, peak memory, processes
//! left, scratch removed) goes into the node's result hash.
//!
//! Why bubblewrap and not podman: no image registry is reachable from these
//! machines, and podman 4.3 + runc fails here twice over: runc cannot set
//! the RLIMIT_NPROC podman asks for (the VM withholds CAP_SYS_RESOURCE), and
//! on this kernel's cgroup v1 hierarchy a new container's memory cgroup
//! starts charged with gigabytes, so no memory limit can be set. A fresh
//! cgroup made by the worker starts empty, and bubblewrap needs no image.

use {
    serde::Serialize,
    std::{
        ffi::CString,
        path::{Path, PathBuf},
        process::Command,
        time::{Duration, Instant},
    },
};

/// How workloads are isolated on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationMode {
    /// bubblewrap sandbox in a cgroup with CPU, memory and process limits.
    Bwrap,
    /// No sandbox: the workload runs as the worker's user with the worker's
    /// view of the machine (its keypair included). Recorded in every result.
    None,
}

/// What a node's sandboxes are made from.
#[derive(Clone, Debug)]
pub struct Isolation {
    pub mode: IsolationMode,
    bwrap: PathBuf,
    /// Files masked inside the sandbox (the worker's keypair).
    masked: Vec<PathBuf>,
    /// The whole machine, divided among the node's devices.
    host_cpus: u32,
    host_memory_bytes: u64,
    /// The operator's cap on one node's memory (leaving the rest of the
    /// machine to the host), below its share.
    memory_cap_bytes: Option<u64>,
}

/// Files the workload needs to resolve names (pip installs requirements).
const RESOLVER_FILES: [&str; 2] = ["/etc/resolv.conf", "/etc/hosts"];

/// Directories hidden behind an empty tmpfs: homes (wallets, SSH keys),
/// temp dirs (other jobs' scratch, ledgers), runtime state (sockets).
const HIDDEN: [&str; 5] = ["/root", "/home", "/tmp", "/var/tmp", "/run"];

/// How long a stopped sandbox's processes get to exit on their own before
/// the ones still in its cgroup count as left (and are killed).
pub const TEARDOWN_SETTLE: Duration = Duration::from_secs(5);

/// Processes one sandbox may run: Ray starts a few dozen per node.
const PIDS_MAX: u64 = 4096;

/// The limits of one node's sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Limits {
    pub cpus: f64,
    pub memory_bytes: u64,
    pub pids: u64,
}

impl Isolation {
    /// Checks that the chosen isolation works here: bubblewrap is installed
    /// and can make a sandbox, and cgroups can be written.
    pub fn resolve(mode: IsolationMode, masked: Vec<PathBuf>) -> Result<Self, String> {
        let isolation = Self {
            mode,
            bwrap: PathBuf::from("bwrap"),
            masked,
            host_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            host_memory_bytes: host_memory_bytes(),
            memory_cap_bytes: None,
        };
        if mode == IsolationMode::Bwrap {
            isolation.probe()?;
        }
        Ok(isolation)
    }

    fn probe(&self) -> Result<(), String> {
        let ran = Command::new(&self.bwrap)
            .args(["--ro-bind", "/", "/", "--unshare-pid", "--dev", "/dev", "--proc", "/proc"])
            .arg("true")
            .output()
            .map_err(|e| {
                format!("bubblewrap (bwrap) is not installed ({e}): install it (apt-get install bubblewrap), or pass --isolation none to run workloads unsandboxed")
            })?;
        if !ran.status.success() {
            return Err(format!(
                "bubblewrap cannot make a sandbox here ({}): {}; run the worker as root, or pass --isolation none",
                ran.status,
                String::from_utf8_lossy(&ran.stderr).trim()
            ));
        }
        let layout = CgroupLayout::detect().ok_or(
            "no cgroup memory/cpu controllers under /sys/fs/cgroup: workloads could not be limited; pass --isolation none to run them unlimited",
        )?;
        let probe = Cgroup::create(
            layout,
            &format!("probe-{}", std::process::id()),
            &self.share(1, 1),
        )?;
        drop(probe);
        Ok(())
    }

    /// Caps every node's memory at `bytes` (`--node-memory-gib`).
    pub fn with_memory_cap(self, bytes: Option<u64>) -> Self {
        Self {
            memory_cap_bytes: bytes,
            ..self
        }
    }

    /// This node's share of the machine for `gpus` of its `devices` GPUs,
    /// its memory within the operator's cap.
    pub fn share(&self, gpus: u16, devices: usize) -> Limits {
        let fraction = f64::from(gpus.max(1)) / devices.max(1) as f64;
        let fraction = fraction.min(1.0);
        let memory = (self.host_memory_bytes as f64 * fraction) as u64;
        Limits {
            cpus: (f64::from(self.host_cpus) * fraction).max(0.5),
            memory_bytes: self.memory_cap_bytes.map_or(memory, |cap| memory.min(cap)),
            pids: PIDS_MAX,
        }
    }

    /// `program args` in a sandbox (bwrap) that `plan` describes, and the
    /// cgroup it joins before it starts; the bare command with `None`.
    pub fn command(
        &self,
        plan: &SandboxPlan,
        program: &Path,
        args: &[String],
    ) -> Result<(Command, Option<Cgroup>), String> {
        if self.mode == IsolationMode::None {
            let mut command = Command::new(program);
            command.args(args);
            return Ok((command, None));
        }
        let layout = CgroupLayout::detect().ok_or("cgroups disappeared")?;
        let cgroup = Cgroup::create(layout, &plan.name, &plan.limits)?;
        let mut command = Command::new(&self.bwrap);
        command
            .args(self.bwrap_args(plan))
            .arg("--")
            .arg(program)
            .args(args);
        let procs = cgroup.procs_files();
        // SAFETY: between fork and exec only open/write/close (async-signal
        // safe) on paths prepared before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || join_cgroup(&procs));
        }
        Ok((command, Some(cgroup)))
    }

    fn bwrap_args(&self, plan: &SandboxPlan) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        if !plan.outlives_worker {
            args.push("--die-with-parent".into());
        }
        args.extend(
            [
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--hostname",
                "iogrid-sandbox",
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
            ]
            .map(String::from),
        );
        for dir in HIDDEN.iter().filter(|d| Path::new(d).is_dir()) {
            args.extend(["--tmpfs".into(), dir.to_string()]);
        }
        args.extend(["--tmpfs".into(), "/dev/shm".into()]);
        args.extend(rebind_hidden_targets(&RESOLVER_FILES.map(Path::new)));
        for file in &self.masked {
            let hidden = HIDDEN.iter().any(|d| file.starts_with(d));
            if !hidden && file.exists() {
                args.extend(["--ro-bind".into(), "/dev/null".into(), path(file)]);
            }
        }
        for (flag, paths) in [
            ("--ro-bind", &plan.read_only),
            ("--bind", &plan.writable),
            ("--dev-bind", &plan.devices),
        ] {
            for p in paths {
                args.extend([flag.to_string(), path(p), path(p)]);
            }
        }
        if let Some(dir) = plan.writable.first() {
            args.extend(["--chdir".into(), path(dir)]);
        }
        args
    }
}

/// Name resolution stays: where a file links into a hidden directory
/// (systemd-resolved's /etc/resolv.conf → /run/systemd/resolve/…), its
/// target comes back, read-only.
fn rebind_hidden_targets(files: &[&Path]) -> Vec<String> {
    let mut args = Vec::new();
    for file in files {
        if let Ok(target) = std::fs::canonicalize(file) {
            if HIDDEN.iter().any(|d| target.starts_with(d)) {
                args.extend(["--ro-bind".into(), path(&target), path(&target)]);
            }
        }
    }
    args
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn host_memory_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// What one sandbox holds.
#[derive(Clone, Debug)]
pub struct SandboxPlan {
    /// Names its cgroup; unique per node run.
    pub name: String,
    /// Writable, at the same path inside; the first is the working directory.
    pub writable: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    /// Device nodes made visible (the assigned GPUs and the driver's).
    pub devices: Vec<PathBuf>,
    pub limits: Limits,
    /// Keeps running when the worker exits (a Ray node, which a restarted
    /// worker reattaches to); otherwise it dies with the worker.
    pub outlives_worker: bool,
}

/// The NVIDIA device nodes a sandbox needs for these GPUs (by minor
/// number), plus the driver's control nodes that exist on this host.
pub fn gpu_device_nodes(minors: &[u32]) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = minors
        .iter()
        .map(|m| PathBuf::from(format!("/dev/nvidia{m}")))
        .collect();
    nodes.extend(
        [
            "/dev/nvidiactl",
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidia-modeset",
        ]
        .iter()
        .map(PathBuf::from),
    );
    nodes.retain(|n| n.exists());
    nodes
}

// ---------------------------------------------------------------------------
// cgroups

/// Where the controllers live: one unified tree (v2) or one tree per
/// controller (v1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupLayout {
    V2,
    V1,
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The worker's cgroups, under each tree's root.
const CGROUP_PARENT: &str = "iogrid";

impl CgroupLayout {
    pub fn detect() -> Option<Self> {
        let root = Path::new(CGROUP_ROOT);
        if root.join("cgroup.controllers").exists() {
            Some(Self::V2)
        } else if root.join("memory/cgroup.procs").exists()
            && root.join("cpu/cgroup.procs").exists()
        {
            Some(Self::V1)
        } else {
            None
        }
    }
}

/// A cgroup with limits, killed and removed when dropped.
#[derive(Debug)]
pub struct Cgroup {
    layout: CgroupLayout,
    /// One directory on v2; memory, cpu and pids on v1.
    dirs: Vec<PathBuf>,
    removed: bool,
}

impl Cgroup {
    pub fn create(layout: CgroupLayout, name: &str, limits: &Limits) -> Result<Self, String> {
        let root = Path::new(CGROUP_ROOT);
        let period: u64 = 100_000;
        let quota = ((limits.cpus * period as f64) as u64).max(1_000);
        let settings: Vec<(PathBuf, Vec<(&str, String)>)> = match layout {
            CgroupLayout::V2 => {
                let parent = root.join(CGROUP_PARENT);
                make_dir(&parent)?;
                // Both levels must hand the controllers down; the root
                // usually does already (systemd), a failure there shows below.
                let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu +memory +pids");
                write(&parent.join("cgroup.subtree_control"), "+cpu +memory +pids")?;
                vec![(
                    parent.join(name),
                    vec![
                        ("cpu.max", format!("{quota} {period}")),
                        ("memory.max", limits.memory_bytes.to_string()),
                        ("memory.swap.max", "0".into()),
                        ("pids.max", limits.pids.to_string()),
                    ],
                )]
            }
            CgroupLayout::V1 => {
                let mut dirs = vec![
                    (
                        root.join("memory").join(CGROUP_PARENT).join(name),
                        vec![("memory.limit_in_bytes", limits.memory_bytes.to_string())],
                    ),
                    (
                        root.join("cpu").join(CGROUP_PARENT).join(name),
                        vec![
                            ("cpu.cfs_period_us", period.to_string()),
                            ("cpu.cfs_quota_us", quota.to_string()),
                        ],
                    ),
                ];
                if root.join("pids/cgroup.procs").exists() {
                    dirs.push((
                        root.join("pids").join(CGROUP_PARENT).join(name),
                        vec![("pids.max", limits.pids.to_string())],
                    ));
                }
                dirs
            }
        };
        let mut cgroup = Self {
            layout,
            dirs: Vec::new(),
            removed: false,
        };
        for (dir, values) in settings {
            make_dir(&dir)?;
            cgroup.dirs.push(dir.clone());
            for (file, value) in values {
                let optional = file == "memory.swap.max";
                match write(&dir.join(file), &value) {
                    Err(_) if optional => {}
                    other => other?,
                }
            }
        }
        Ok(cgroup)
    }

    /// The cgroup `name` a sandbox made earlier (by a worker that exited
    /// and left its node running), if it still exists.
    pub fn adopt(name: &str) -> Option<Self> {
        let layout = CgroupLayout::detect()?;
        let root = Path::new(CGROUP_ROOT);
        let dirs: Vec<PathBuf> = match layout {
            CgroupLayout::V2 => vec![root.join(CGROUP_PARENT).join(name)],
            CgroupLayout::V1 => ["memory", "cpu", "pids"]
                .iter()
                .map(|c| root.join(c).join(CGROUP_PARENT).join(name))
                .filter(|d| d.is_dir())
                .collect(),
        };
        dirs.first().filter(|d| d.is_dir())?;
        Some(Self {
            layout,
            dirs,
            removed: false,
        })
    }

    /// Leaves the cgroup and its processes as they are (the worker exits;
    /// the next one adopts them).
    pub fn detach(mut self) {
        self.removed = true;
    }

    fn procs_files(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .filter_map(|d| {
                CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).ok()
            })
            .collect()
    }

    /// Pids still in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The most memory the cgroup held, where the kernel reports it.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let file = match self.layout {
            CgroupLayout::V2 => self.dirs.first()?.join("memory.peak"),
            CgroupLayout::V1 => self.dirs.first()?.join("memory.max_usage_in_bytes"),
        };
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    /// SIGKILLs everything left in the cgroup until it is empty (at most
    /// 5 s more); returns how many processes were left. Processes already
    /// dying get `settle` to go first: a PID namespace is torn down
    /// asynchronously after its init exits, and on a loaded machine that
    /// takes a while.
    pub fn kill_all(&self, settle: Duration) -> usize {
        let settled = Instant::now() + settle;
        while !self.pids().is_empty() && Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.pids().len();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                return left;
            }
            for pid in pids {
                // SAFETY: kill(2) touches no memory.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills what is left and removes the cgroup; whether it is gone.
    pub fn remove(&mut self) -> bool {
        self.kill_all(Duration::ZERO);
        let gone = self.dirs.iter().all(|dir| {
            // The kernel frees a cgroup asynchronously after its last exit.
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => return true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(_) => return false,
                }
            }
        });
        self.removed = gone;
        gone
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.remove();
        }
    }
}

fn make_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("creating cgroup {}: {e}", dir.display())),
    }
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value).map_err(|e| format!("setting {} to {value}: {e}", file.display()))
}

/// Moves the calling process into each cgroup (writing "0" to cgroup.procs
/// means "me"). Runs between fork and exec: no allocation.
fn join_cgroup(procs: &[CString]) -> std::io::Result<()> {
    for file in procs {
        // SAFETY: a valid NUL-terminated path; open/write/close only.
        unsafe {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Stale cgroups of workers that died (their sandboxes died with them, so
/// the cgroups are empty): removed at start. Returns how many.
pub fn remove_stale_cgroups(live: impl Fn(&str) -> bool) -> usize {
    let Some(layout) = CgroupLayout::detect() else {
        return 0;
    };
    let parents: Vec<PathBuf> = match layout {
        CgroupLayout::V2 => vec![Path::new(CGROUP_ROOT).join(CGROUP_PARENT)],
        CgroupLayout::V1 => ["memory", "cpu", "pids"]
            .iter()
            .map(|c| Path::new(CGROUP_ROOT).join(c).join(CGROUP_PARENT))
            .collect(),
    };
    let mut removed = 0;
    for parent in parents {
        for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !live(&name) && std::fs::remove_dir(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// How a node's sandbox ended, hashed into its result.
#[derive(Clone, Debug, Serialize)]
pub struct Teardown {
    pub isolation: IsolationMode,
    pub limits: Option<Limits>,
    /// The GPUs the sandbox could see (their indices on this node).
    pub visible_gpus: Vec<u32>,
    pub peak_memory_bytes: Option<u64>,
    /// Processes still in the cgroup 5 s after Ray was stopped (killed
    /// then).
    pub processes_left: usize,
    pub cgroup_removed: bool,
    pub scratch_removed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox_run(
        isolation: &Isolation,
        plan: &SandboxPlan,
        script: &str,
    ) -> (std::process::Output, Option<Cgroup>) {
        let (mut command, cgroup) = isolation
            .command(plan, Path::new("/bin/sh"), &["-c".into(), script.into()])
            .unwrap();
        (command.output().unwrap(), cgroup)
    }

    fn plan(name: &str, writable: PathBuf, limits: Limits) -> SandboxPlan {
        SandboxPlan {
            name: format!("test-{name}-{}", std::process::id()),
            writable: vec![writable],
            read_only: Vec::new(),
            devices: Vec::new(),
            limits,
            outlives_worker: false,
        }
    }

    /// A directory outside the hidden ones (under the crate's target dir).
    fn visible_dir(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/sandbox-tests")
            .join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    #[ignore = "needs root and bubblewrap; run by scripts/e2e-ray"]
    fn the_sandbox_hides_the_key_homes_and_other_scratch_and_sees_only_its_processes() {
        let outside = visible_dir("outside");
        let key = outside.join("worker-key.json");
        std::fs::write(&key, "[1,2,3]").unwrap();
        let sibling =
            std::env::temp_dir().join(format!("iogrid-ray-sibling-{}", std::process::id()));
        std::fs::create_dir_all(&sibling).unwrap();
        let scratch = visible_dir("scratch");
        let isolation = Isolation::resolve(IsolationMode::Bwrap, vec![key.clone()]).unwrap();
        let limits = isolation.share(1, 1);
        let script = format!(
            "echo key=$(cat {key}); echo root=$(ls -A /root | wc -l); \
             echo sibling=$(test -e {sibling} && echo yes || echo no); \
             echo procs=$(ls /proc | grep -c '^[0-9]'); \
             echo written > {scratch}/out && echo write=ok; \
             touch /usr/iogrid-probe 2>/dev/null && echo usr=writable || echo usr=read-only; \
             echo pwd=$(pwd)",
            key = key.display(),
            sibling = sibling.display(),
            scratch = scratch.display(),
        );
        let (out, cgroup) =
            sandbox_run(&isolation, &plan("hide", scratch.clone(), limits), &script);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for expected in [
            "key=\n",
            "root=0\n",
            "sibling=no\n",
            "write=ok\n",
            "usr=read-only\n",
            &format!("pwd={}\n", scratch.display()),
        ] {
            assert!(stdout.contains(expected), "{expected:?} not in {stdout}");
        }
        // bwrap's init, sh, and the few commands of one pipeline at most.
        let procs: usize = stdout
            .lines()
            .find_map(|l| l.strip_prefix("procs="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(procs <= 6, "the sandbox sees {procs} processes");
        assert_eq!(
            std::fs::read_to_string(scratch.join("out")).unwrap(),
            "written\n"
        );
        let mut cgroup = cgroup.expect("bwrap mode makes a cgroup");
        assert_eq!(
            cgroup.kill_all(TEARDOWN_SETTLE),
            0,
            "nothing outlives the sandbox"
        );
        assert!(cgroup.remove());
        let _ = std::fs::remove_dir_all(&sibling);
        let _ = std::fs::remove_dir_all(outside);
        let _ = std::fs::remove_dir_all(scratch);
    }

    #[test]
    #[ignore = "needs root and bubblewrap; run by scripts/e2e-ray"]
    fn the_cgroup_enforces_memory_and_cpu_limits_and_kills_what_is_left() {
        let scratch = visible_dir("limits");
        let isolation = Isolation::resolve(IsolationMode::None, Vec::new()).unwrap();
        let isolation = Isolation {
            mode: IsolationMode::Bwrap,
            ..isolation
        };
        let limits = Limits {
            cpus: 0.5,
            memory_bytes: 64 << 20,
            pids: 64,
        };
        // 256 MiB of touched memory under a 64 MiB limit: the OOM killer.
        let (out, cgroup) = sandbox_run(
            &isolation,
            &plan("memory", scratch.clone(), limits),
            "python3 -c 'b = bytearray(256 << 20); print(len(b))'",
        );
        assert!(!out.status.success(), "256 MiB fit under a 64 MiB limit");
        let peak = cgroup.as_ref().and_then(Cgroup::peak_memory_bytes).unwrap();
        assert!(peak <= 64 << 20, "peak {peak} above the limit");
        drop(cgroup);
        // Half a CPU: a second of spinning takes at least ~2 s of wall time.
        let started = Instant::now();
        let (out, cgroup) = sandbox_run(
            &isolation,
            &plan("cpu", scratch.clone(), limits),
            "timeout -s INT 10 python3 -c '
import time
t = time.process_time()
while time.process_time() - t < 1.0: pass'",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let wall = started.elapsed();
        assert!(
            wall >= Duration::from_millis(1700),
            "1 s of CPU in {wall:?} under a 0.5 CPU quota"
        );
        drop(cgroup);
        // A process that escapes its session is still in the cgroup: killed.
        let (mut command, cgroup) = isolation
            .command(
                &plan("leftover", scratch.clone(), limits),
                Path::new("/bin/sh"),
                &["-c".into(), "setsid sleep 60 & echo started".into()],
            )
            .unwrap();
        let mut cgroup = cgroup.unwrap();
        // Without --die-with-parent's effect: bwrap exits with sh, and the
        // PID namespace takes `sleep` with it; what the cgroup still holds
        // is what teardown must kill.
        let out = command.output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("started"));
        cgroup.kill_all(Duration::ZERO);
        assert!(cgroup.pids().is_empty());
        assert!(cgroup.remove());
        let _ = std::fs::remove_dir_all(scratch);
    }

    #[test]
    fn shares_divide_the_machine_by_assigned_gpus() {
        let isolation = Isolation {
            mode: IsolationMode::None,
            bwrap: PathBuf::from("bwrap"),
            masked: Vec::new(),
            host_cpus: 16,
            host_memory_bytes: 64 << 30,
            memory_cap_bytes: None,
        };
        let quarter = isolation.share(2, 8);
        assert_eq!(quarter.cpus, 4.0);
        assert_eq!(quarter.memory_bytes, 16 << 30);
        // More GPUs than devices (never assigned) caps at the machine.
        assert_eq!(isolation.share(9, 8).memory_bytes, 64 << 30);
        // A tiny share still gets half a CPU.
        let tiny = Isolation {
            host_cpus: 1,
            ..isolation.clone()
        };
        assert_eq!(tiny.share(1, 8).cpus, 0.5);
        // The operator's cap wins over a larger share, not a smaller one.
        let capped = isolation.with_memory_cap(Some(4 << 30));
        assert_eq!(capped.share(4, 8).memory_bytes, 4 << 30);
        assert_eq!(capped.share(1, 32).memory_bytes, 2 << 30);
    }

    #[test]
    fn a_resolver_file_linked_into_a_hidden_dir_is_bound_back() {
        let hidden = Path::new("/tmp").join(format!("iogrid-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&hidden).unwrap();
        let target = hidden.join("stub-resolv.conf");
        std::fs::write(&target, "nameserver 127.0.0.53\n").unwrap();
        let link = hidden.join("resolv.conf");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let target = std::fs::canonicalize(&target).unwrap();
        // /etc/passwd: a file outside the hidden directories, left alone.
        assert_eq!(
            rebind_hidden_targets(&[&link, Path::new("/etc/passwd"), Path::new("/nonexistent")]),
            ["--ro-bind".to_string(), path(&target), path(&target)]
        );
        let _ = std::fs::remove_dir_all(hidden);
    }

    #[test]
    fn gpu_device_nodes_keep_only_existing_ones() {
        // No NVIDIA driver on CI machines: none of these exist.
        let nodes = gpu_device_nodes(&[0, 3]);
        assert!(nodes.iter().all(|n| n.exists()));
    }
}
