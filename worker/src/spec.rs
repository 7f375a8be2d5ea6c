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

use {
    serde::Deserialize,
    sha2::{Digest, Sha256},
    std::collections::BTreeMap,
};

/// Largest spec accepted: a spec describes a workload, it does not carry one.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;
/// GPUs one node of a workload may ask for (a listing's maximum).
pub const MAX_GPUS_PER_NODE: u16 = 1_024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Ray job: the entrypoint is submitted to the job's Ray cluster.
    Ray,
    /// One container per node, from an image pinned by digest.
    Container,
}

/// A checked workload spec.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
