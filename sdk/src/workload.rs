//! Workload specs: what a job runs. The job's `workload_uri` names a spec
//! document (JSON or TOML) and its `workload_hash` is the SHA-256 of that
//! document's bytes, so the worker runs exactly what the owner paid for.
//! Everything is checked here, before anything is fetched, installed or
//! started; a refusal names the field and what to write instead.
//!
//! ```toml
//! kind = "ray"                      # or "container"
//! entrypoint = "python train.py"
//! requirements = ["torch==2.5.1"]   # pip, into the Ray runtime env
//! gpus_per_node = 1
//! [env]
//! EPOCHS = "3"
//! ```
//!
//! A `container` spec names its image by digest
//! (`registry/name@sha256:<64 hex>`): a tag can be moved after the hash was
//! committed on-chain, a digest cannot.
//!
//! A spec carries its code in `files` (name → text), so the hash covers
//! every byte that runs; [`WorkloadSpec::from_template`] builds one from a
//! template directory (its `workload.toml` plus every other file). The
//! worker unpacks them into the workload's working directory.
//!
//! Also here: the job's result ([`merkle_root`] over its outputs) and the
//! signed announcement of a job's Ray cluster head ([`ClusterAnnouncement`]).

use {
    serde::{Deserialize, Serialize},
    sha2::{Digest, Sha256},
    std::{collections::BTreeMap, path::Path},
};

/// Largest spec accepted: a spec describes a workload, it does not carry one.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;
/// GPUs one node of a workload may ask for (a listing's maximum).
pub const MAX_GPUS_PER_NODE: u16 = 1_024;
/// Files a spec may carry.
pub const MAX_SPEC_FILES: usize = 64;
/// The on-chain workload URI of a spec kept in the keeper's content-addressed
/// store: `spec:<label>`, fetched by the job's `workload_hash`
/// (`GET /v1/specs/<hex>`); the label is for people.
pub const SPEC_URI_PREFIX: &str = "spec:";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Ray job: the entrypoint is submitted to the job's Ray cluster.
    Ray,
    /// One container per node, from an image pinned by digest.
    Container,
}

/// A checked workload spec.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub kind: Kind,
    /// The command the workload starts with.
    pub entrypoint: String,
    /// Python requirements (pip specifiers) installed before it starts.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// `container` only: the image, pinned by digest.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default = "one")]
    pub gpus_per_node: u16,
    /// Environment variables for the workload.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The workload's files (relative path → text), unpacked into its
    /// working directory.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

fn one() -> u16 {
    1
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("the spec's SHA-256 is {actual}, the job committed to {expected}: not running it")]
    HashMismatch { expected: String, actual: String },
    #[error("the spec is {0} bytes; at most {MAX_SPEC_BYTES} are accepted")]
    TooLarge(usize),
    #[error("the spec is neither JSON nor TOML: {0}")]
    Unreadable(String),
    #[error("`{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("reading the template {path}: {reason}")]
    Template { path: String, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` against the job's `workload_hash`, then parses and
/// validates them.
pub fn load(bytes: &[u8], workload_hash: &[u8; 32]) -> Result<WorkloadSpec, SpecError> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge(bytes.len()));
    }
    let actual: [u8; 32] = Sha256::digest(bytes).into();
    if actual != *workload_hash {
        return Err(SpecError::HashMismatch {
            expected: hex(workload_hash),
            actual: hex(&actual),
        });
    }
    let spec = parse(bytes)?;
    spec.validate()?;
    Ok(spec)
}

/// JSON if it starts with `{`, else TOML.
fn parse(bytes: &[u8]) -> Result<WorkloadSpec, SpecError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| SpecError::Unreadable(format!("not UTF-8: {e}")))?;
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| SpecError::Unreadable(format!("JSON: {e}")))
    } else {
        toml::from_str(text).map_err(|e| SpecError::Unreadable(format!("TOML: {e}")))
    }
}

impl WorkloadSpec {
    /// The spec of a template directory: its `workload.toml`, with every
    /// other regular file of the directory (not hidden, not in a
    /// subdirectory) as `files`. Checked as a worker would check it.
    pub fn from_template(dir: &Path) -> Result<Self, SpecError> {
        let template_error = |path: &Path, reason: String| SpecError::Template {
            path: path.display().to_string(),
            reason,
        };
        let manifest = dir.join("workload.toml");
        let text = std::fs::read_to_string(&manifest)
            .map_err(|e| template_error(&manifest, e.to_string()))?;
        let mut spec: WorkloadSpec =
            toml::from_str(&text).map_err(|e| SpecError::Unreadable(format!("TOML: {e}")))?;
        if !spec.files.is_empty() {
            return Err(invalid(
                "files",
                "a template's files are the other files of its directory, not a table",
            ));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| template_error(dir, e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| template_error(dir, e.to_string()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file || name == "workload.toml" || name.starts_with('.') {
                continue;
            }
            let content = std::fs::read_to_string(entry.path())
                .map_err(|e| template_error(&entry.path(), e.to_string()))?;
            spec.files.insert(name, content);
        }
        spec.validate()?;
        Ok(spec)
    }

    /// The document a job commits to: JSON with sorted keys, so the same
    /// template always gives the same bytes and hash.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Structs serialize in field order and maps are BTreeMaps: stable.
        serde_json::to_vec(self).expect("a spec always serializes")
    }

    fn validate(&self) -> Result<(), SpecError> {
        if self.entrypoint.trim().is_empty() {
            return Err(invalid("entrypoint", "empty: name the command to run"));
        }
        if self.entrypoint.contains('\0') {
            return Err(invalid("entrypoint", "contains a NUL byte"));
        }
        if !(1..=MAX_GPUS_PER_NODE).contains(&self.gpus_per_node) {
            return Err(invalid(
                "gpus_per_node",
                format!("{}: between 1 and {MAX_GPUS_PER_NODE}", self.gpus_per_node),
            ));
        }
        self.requirements
            .iter()
            .try_for_each(|r| check_requirement(r))?;
        self.env.iter().try_for_each(|(k, v)| check_env(k, v))?;
        if self.files.len() > MAX_SPEC_FILES {
            return Err(invalid(
                "files",
                format!("{} files; at most {MAX_SPEC_FILES}", self.files.len()),
            ));
        }
        self.files
            .keys()
            .try_for_each(|name| check_file_name(name))?;
        match (self.kind, &self.image) {
            (Kind::Container, None) => Err(invalid(
                "image",
                "a container spec needs an image pinned by digest (name@sha256:<64 hex>)",
            )),
            (Kind::Container, Some(image)) => check_image(image),
            (Kind::Ray, Some(_)) => Err(invalid(
                "image",
                "a ray spec runs in the node's Ray image; use kind = \"container\" for your own",
            )),
            (Kind::Ray, None) => Ok(()),
        }
    }
}

/// `name@sha256:<64 lowercase hex>`.
fn check_image(image: &str) -> Result<(), SpecError> {
    match image.rsplit_once("@sha256:") {
        Some((name, digest))
            if !name.is_empty()
                && !name.contains(char::is_whitespace)
                && digest.len() == 64
                && digest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(invalid(
            "image",
            format!("{image:?} is not pinned by digest: write name@sha256:<64 hex>"),
        )),
    }
}

/// A pip requirement specifier, not a pip option: `--index-url`,
/// `--extra-index-url`, `-e` and friends would let a spec redirect where
/// packages come from beyond what its hash says.
fn check_requirement(requirement: &str) -> Result<(), SpecError> {
    let r = requirement.trim();
    if r.is_empty() || r.starts_with('-') || r.contains(char::is_control) {
        return Err(invalid(
            "requirements",
            format!("{requirement:?}: each entry is a package specifier such as \"numpy==2.1.3\""),
        ));
    }
    Ok(())
}

/// POSIX-style names (letters, digits, `_`, not starting with a digit);
/// no NUL in values.
fn check_env(key: &str, value: &str) -> Result<(), SpecError> {
    let valid_key = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_key {
        return Err(invalid("env", format!("{key:?} is not a variable name")));
    }
    if value.contains('\0') {
        return Err(invalid("env", format!("{key}'s value contains a NUL byte")));
    }
    Ok(())
}

/// A plain relative name: no directory part, no `..`, nothing hidden, so
/// unpacking can only write inside the working directory.
fn check_file_name(name: &str) -> Result<(), SpecError> {
    let plain = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain {
        Ok(())
    } else {
        Err(invalid(
            "files",
            format!("{name:?}: file names are plain (letters, digits, . _ -), no directories"),
        ))
    }
}

// ---------------------------------------------------------------------------
// Results

/// The result a worker proves: a Merkle root over named outputs (files and
/// logs). Leaves are `sha256(0x00 ‖ name ‖ 0x00 ‖ sha256(content))` in
/// name order; a node is `sha256(0x01 ‖ left ‖ right)`, an odd last node is
/// carried up unchanged; no outputs give `sha256("")`. Anyone holding the
/// outputs recomputes it; one output proves membership with its path.
pub fn merkle_root<'a>(outputs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> [u8; 32] {
    let mut named: Vec<(&str, &[u8])> = outputs.into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    let mut level: Vec<[u8; 32]> = named
        .iter()
        .map(|(name, content)| {
            let mut leaf = Sha256::new();
            leaf.update([0u8]);
            leaf.update(name.as_bytes());
            leaf.update([0u8]);
            leaf.update(Sha256::digest(content));
            leaf.finalize().into()
        })
        .collect();
    if level.is_empty() {
        return Sha256::digest([]).into();
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut node = Sha256::new();
                    node.update([1u8]);
                    node.update(left);
                    node.update(right);
                    node.finalize().into()
                }
                [single] => *single,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level[0]
}

// ---------------------------------------------------------------------------
// Cluster announcements

/// Domain of the statement a cluster head signs.
pub const CLUSTER_DOMAIN: &[u8] = b"iogrid/cluster/v1";

/// "The Ray cluster of `job` has its head at `gcs_address` (dashboard at
/// `dashboard_url`), run by `listing`'s worker for assignment `nonce`",
/// signed by that worker key, as the keeper publishes it to the job's other
/// workers (`GET /v1/jobs/<job>/cluster`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterAnnouncement {
    pub job: String,
    pub listing: String,
    pub worker: String,
    pub nonce: u64,
    /// `ip:port` of the Ray head (GCS), what `ray start --address` takes.
    pub gcs_address: String,
    /// `http://ip:port` of the head's Ray dashboard (Jobs API).
    pub dashboard_url: String,
    /// The Ray job's submission id on that cluster.
    pub submission_id: String,
    /// Base58 Ed25519 signature over [`ClusterAnnouncement::message`].
    pub signature: String,
}

impl ClusterAnnouncement {
    /// `domain ‖ job ‖ listing ‖ worker ‖ nonce (LE) ‖` then each text field
    /// length-prefixed (u16 LE), so no two announcements share a message.
    pub fn message(&self) -> Vec<u8> {
        let mut message = CLUSTER_DOMAIN.to_vec();
        for text in [&self.job, &self.listing, &self.worker] {
            message.extend_from_slice(&(text.len() as u16).to_le_bytes());
            message.extend_from_slice(text.as_bytes());
        }
        message.extend_from_slice(&self.nonce.to_le_bytes());
        for text in [&self.gcs_address, &self.dashboard_url, &self.submission_id] {
            message.extend_from_slice(&(text.len() as u16).to_le_bytes());
            message.extend_from_slice(text.as_bytes());
        }
        message
    }

    /// Fills in `worker` and `signature` with the listing's worker key.
    #[cfg(feature = "rpc")]
    pub fn sign(mut self, worker: &solana_keypair::Keypair) -> Self {
        use solana_signer::Signer;
        self.worker = worker.pubkey().to_string();
        self.signature = worker.sign_message(&self.message()).to_string();
        self
    }

    /// Whether `signature` is `worker`'s over [`ClusterAnnouncement::message`].
    #[cfg(feature = "rpc")]
    pub fn verify(&self) -> bool {
        let (Ok(worker), Ok(signature)) = (
            self.worker.parse::<crate::Address>(),
            self.signature.parse::<solana_signature::Signature>(),
        ) else {
            return false;
        };
        signature.verify(worker.as_ref(), &self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    fn load_text(text: &str) -> Result<WorkloadSpec, SpecError> {
        load(text.as_bytes(), &hash(text.as_bytes()))
    }

    fn field(result: Result<WorkloadSpec, SpecError>) -> &'static str {
        match result {
            Err(SpecError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_ray_spec_in_toml_and_a_container_spec_in_json() {
        let ray = load_text(
            "kind = \"ray\"\nentrypoint = \"python train.py\"\n\
             requirements = [\"torch==2.5.1\"]\ngpus_per_node = 2\n[env]\nEPOCHS = \"3\"\n",
        )
        .unwrap();
        assert_eq!(ray.kind, Kind::Ray);
        assert_eq!(ray.gpus_per_node, 2);
        assert_eq!(ray.env["EPOCHS"], "3");
        let container = load_text(&format!(
            r#"{{"kind": "container", "entrypoint": "serve", "image": "ghcr.io/x/y@sha256:{DIGEST}"}}"#
        ))
        .unwrap();
        assert_eq!(
            (container.kind, container.gpus_per_node),
            (Kind::Container, 1)
        );
    }

    #[test]
    fn a_spec_that_is_not_the_one_committed_is_refused() {
        let text = b"kind = \"ray\"\nentrypoint = \"python a.py\"\n";
        let err = load(
            text,
            &hash(b"kind = \"ray\"\nentrypoint = \"python b.py\"\n"),
        )
        .unwrap_err();
        assert!(matches!(err, SpecError::HashMismatch { .. }), "{err}");
        let big = vec![b' '; MAX_SPEC_BYTES + 1];
        assert_eq!(
            load(&big, &hash(&big)),
            Err(SpecError::TooLarge(MAX_SPEC_BYTES + 1))
        );
    }

    #[test]
    fn templates_carry_their_files_and_hash_the_same_every_time() {
        let dir = std::env::temp_dir().join(format!("iogrid-template-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join("workload.toml"),
            "# a comment\nkind = \"ray\"\nentrypoint = \"python main.py\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("main.py"), "print('hi')\n").unwrap();
        std::fs::write(dir.join(".hidden"), "x").unwrap();
        std::fs::write(dir.join("sub/ignored.py"), "x").unwrap();
        let spec = WorkloadSpec::from_template(&dir).unwrap();
        assert_eq!(spec.files.keys().collect::<Vec<_>>(), ["main.py"]);
        let bytes = spec.to_canonical_json();
        assert_eq!(
            bytes,
            WorkloadSpec::from_template(&dir)
                .unwrap()
                .to_canonical_json()
        );
        assert_eq!(load(&bytes, &hash(&bytes)).unwrap(), spec);
        std::fs::remove_dir_all(&dir).unwrap();
        let missing = WorkloadSpec::from_template(&dir).unwrap_err();
        assert!(matches!(missing, SpecError::Template { .. }), "{missing}");
    }

    #[test]
    fn file_names_cannot_leave_the_working_directory() {
        for name in ["../x.py", "/etc/passwd", "a/b.py", ".bashrc", ""] {
            let spec = format!(
                r#"{{"kind":"ray","entrypoint":"x","files":{{{}: "y"}}}}"#,
                serde_json::to_string(name).unwrap()
            );
            assert_eq!(field(load_text(&spec)), "files", "{name}");
        }
        assert!(load_text(r#"{"kind":"ray","entrypoint":"x","files":{"main.py":"y"}}"#).is_ok());
    }

    #[test]
    fn merkle_root_is_order_free_and_binds_names_and_contents() {
        let a = merkle_root([("a", &b"1"[..]), ("b", &b"2"[..]), ("c", &b"3"[..])]);
        assert_eq!(
            a,
            merkle_root([("c", &b"3"[..]), ("a", &b"1"[..]), ("b", &b"2"[..])])
        );
        assert_ne!(
            a,
            merkle_root([("a", &b"1"[..]), ("b", &b"2"[..]), ("c", &b"4"[..])])
        );
        assert_ne!(
            a,
            merkle_root([("a", &b"1"[..]), ("b", &b"2"[..]), ("d", &b"3"[..])])
        );
        assert_ne!(a, merkle_root([("a", &b"1"[..]), ("b", &b"2"[..])]));
        let empty: [(&str, &[u8]); 0] = [];
        assert_eq!(merkle_root(empty), <[u8; 32]>::from(Sha256::digest([])));
        // One leaf is its own root; two leaves hash as a node.
        let leaf = merkle_root([("a", &b"1"[..])]);
        let mut node = Sha256::new();
        node.update([1u8]);
        node.update(leaf);
        node.update(merkle_root([("b", &b"2"[..])]));
        assert_eq!(
            merkle_root([("a", &b"1"[..]), ("b", &b"2"[..])]),
            <[u8; 32]>::from(node.finalize())
        );
    }

    #[cfg(feature = "rpc")]
    #[test]
    fn cluster_announcements_bind_every_field_to_the_worker_key() {
        use solana_signer::Signer;
        let worker = solana_keypair::Keypair::new();
        let signed = ClusterAnnouncement {
            job: "job".into(),
            listing: "listing".into(),
            worker: String::new(),
            nonce: 7,
            gcs_address: "10.77.0.11:6379".into(),
            dashboard_url: "http://10.77.0.11:8265".into(),
            submission_id: "iogrid-job-7".into(),
            signature: String::new(),
        }
        .sign(&worker);
        assert!(signed.verify());
        let tampered: [fn(&mut ClusterAnnouncement); 6] = [
            |a| a.gcs_address = "10.0.0.66:6379".into(),
            |a| a.dashboard_url = "http://evil:8265".into(),
            |a| a.nonce += 1,
            |a| a.job = "other".into(),
            |a| a.submission_id = "x".into(),
            |a| a.worker = solana_keypair::Keypair::new().pubkey().to_string(),
        ];
        for tamper in tampered {
            let mut forged = signed.clone();
            tamper(&mut forged);
            assert!(!forged.verify(), "{forged:?}");
        }
        // Length prefixes: moving bytes between fields changes the message.
        let mut shifted = signed.clone();
        shifted.job = "jo".into();
        shifted.listing = "blisting".into();
        assert_ne!(shifted.message(), signed.message());
    }

    #[test]
    fn bad_specs_name_the_field() {
        assert!(matches!(
            load_text("kind = \"batch\"\nentrypoint = \"x\"\n"),
            Err(SpecError::Unreadable(_))
        ));
        assert!(matches!(
            load_text("kind = \"ray\"\nentrypoint = \"x\"\nimage_tag = \"y\"\n"),
            Err(SpecError::Unreadable(_)),
        ));
        assert_eq!(
            field(load_text("kind = \"ray\"\nentrypoint = \"  \"\n")),
            "entrypoint"
        );
        assert_eq!(
            field(load_text(
                "kind = \"ray\"\nentrypoint = \"x\"\ngpus_per_node = 0\n"
            )),
            "gpus_per_node"
        );
        assert_eq!(
            field(load_text(
                "kind = \"container\"\nentrypoint = \"x\"\nimage = \"nginx:latest\"\n"
            )),
            "image"
        );
        assert_eq!(
            field(load_text("kind = \"container\"\nentrypoint = \"x\"\n")),
            "image"
        );
        assert_eq!(
            field(load_text(&format!(
                "kind = \"container\"\nentrypoint = \"x\"\nimage = \"y@sha256:{}\"\n",
                &DIGEST[..63]
            ))),
            "image"
        );
        assert_eq!(
            field(load_text(
                "kind = \"ray\"\nentrypoint = \"x\"\nrequirements = [\"--index-url=http://evil\"]\n"
            )),
            "requirements"
        );
        assert_eq!(
            field(load_text(
                "kind = \"ray\"\nentrypoint = \"x\"\n[env]\n\"1X\" = \"y\"\n"
            )),
            "env"
        );
        assert_eq!(
            field(load_text(&format!(
                "kind = \"ray\"\nentrypoint = \"x\"\nimage = \"y@sha256:{DIGEST}\"\n"
            ))),
            "image"
        );
    }
}
