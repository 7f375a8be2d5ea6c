//! Which keypair signs, following the Solana CLI: `--keypair <source>`, else
//! the Solana CLI config's `keypair_path`, else `~/.config/solana/id.json`.
//! A source is, as for `solana`: a keypair file; `prompt:` (or `prompt://`,
//! `ASK`) for a seed phrase and passphrase typed at the terminal; `stdin:`
//! (or `-`) for a keypair's JSON on standard input. Hardware wallets
//! (`usb://ledger`) are refused with a clear message: iogrid does not link
//! the HID stack they need yet.

use {
    anyhow::{anyhow, Result},
    iogrid_sdk::Address,
    solana_keypair::{read_keypair_file, Keypair},
    solana_signer::Signer,
    std::path::{Path, PathBuf},
};

/// The keypair file `--keypair` names, else the Solana CLI's default.
pub fn keypair_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    solana_cli_config::CONFIG_FILE
        .as_ref()
        .and_then(|file| solana_cli_config::Config::load(file).ok())
        .map(|config| PathBuf::from(config.keypair_path))
        .unwrap_or_else(|| PathBuf::from(solana_cli_config::Config::default().keypair_path))
}

/// Where a keypair comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum KeypairSource {
    File(PathBuf),
    Prompt,
    Stdin,
    Usb(String),
}

impl KeypairSource {
    pub fn parse(path: &Path) -> Self {
        let text = path.to_string_lossy();
        match text.as_ref() {
            "prompt:" | "prompt://" | "ASK" => Self::Prompt,
            "stdin:" | "stdin://" | "-" => Self::Stdin,
            usb if usb.starts_with("usb://") => Self::Usb(usb.to_string()),
            _ => Self::File(path.to_path_buf()),
        }
    }
}

pub fn load_keypair(flag: Option<&Path>) -> Result<Keypair> {
    let path = keypair_path(flag);
    match KeypairSource::parse(&path) {
        KeypairSource::File(path) => read_file(&path),
        KeypairSource::Prompt => from_prompted_seed_phrase(),
        KeypairSource::Stdin => solana_keypair::read_keypair(&mut std::io::stdin())
            .map_err(|e| anyhow!("reading a keypair's JSON from standard input: {e}")),
        KeypairSource::Usb(url) => Err(anyhow!(
            "{url}: hardware wallets are not supported by iogrid yet; sign with a keypair \
             file or prompt: (your seed phrase)"
        )),
    }
}

/// The keypair of a seed phrase and passphrase typed at the terminal
/// without echo (the Solana CLI's `prompt:` without a derivation path).
fn from_prompted_seed_phrase() -> Result<Keypair> {
    let phrase = rpassword::prompt_password("seed phrase: ")
        .map_err(|e| anyhow!("prompt: needs a terminal to type the seed phrase on ({e})"))?;
    let passphrase = rpassword::prompt_password("passphrase (empty for none): ")
        .map_err(|e| anyhow!("reading the passphrase: {e}"))?;
    keypair_from_phrase(&phrase, &passphrase)
}

fn keypair_from_phrase(phrase: &str, passphrase: &str) -> Result<Keypair> {
    let words = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
    anyhow::ensure!(
        [12, 15, 18, 21, 24].contains(&words.split(' ').count()),
        "a seed phrase has 12 to 24 words"
    );
    solana_keypair::keypair_from_seed_phrase_and_passphrase(&words, passphrase)
        .map_err(|e| anyhow!("deriving the keypair from the seed phrase: {e}"))
}

fn read_file(path: &Path) -> Result<Keypair> {
    read_keypair_file(path).map_err(|e| {
        anyhow!(
            "cannot read the keypair {}: {e} (create one with `solana-keygen new`, or pass --keypair)",
            path.display()
        )
    })
}

/// A base58 address, or `self` for the signer's own.
pub fn parse_address(text: &str, signer: &Keypair) -> Result<Address> {
    if text == "self" {
        return Ok(signer.pubkey());
    }
    text.parse()
        .map_err(|e| anyhow!("{text:?} is not a base58 address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_and_base58_addresses_parse() {
        let signer = Keypair::new();
        assert_eq!(parse_address("self", &signer).unwrap(), signer.pubkey());
        let other = Address::new_unique();
        assert_eq!(parse_address(&other.to_string(), &signer).unwrap(), other);
        let err = parse_address("not-a-key", &signer).unwrap_err().to_string();
        assert!(err.contains("not a base58 address"), "{err}");
    }

    #[test]
    fn keypair_sources_read_as_the_solana_cli_reads_them() {
        let source = |text: &str| KeypairSource::parse(Path::new(text));
        assert_eq!(source("prompt:"), KeypairSource::Prompt);
        assert_eq!(source("ASK"), KeypairSource::Prompt);
        assert_eq!(source("-"), KeypairSource::Stdin);
        assert_eq!(
            source("usb://ledger"),
            KeypairSource::Usb("usb://ledger".into())
        );
        assert_eq!(source("id.json"), KeypairSource::File("id.json".into()));
        let err = load_keypair(Some(Path::new("usb://ledger?key=0")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hardware wallets are not supported"), "{err}");
    }

    #[test]
    fn a_seed_phrase_gives_one_keypair_per_passphrase() {
        let phrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let a = keypair_from_phrase(phrase, "").unwrap();
        let spaced = format!("  {}  ", phrase.replace(' ', "   "));
        assert_eq!(
            keypair_from_phrase(&spaced, "").unwrap().pubkey(),
            a.pubkey()
        );
        assert_ne!(
            keypair_from_phrase(phrase, "secret").unwrap().pubkey(),
            a.pubkey()
        );
        let err = keypair_from_phrase("too short", "")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "a seed phrase has 12 to 24 words");
    }

    #[test]
    fn a_missing_keypair_file_says_how_to_make_one() {
        let err = load_keypair(Some(Path::new("/nonexistent/id.json")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/id.json"), "{err}");
        assert!(err.contains("solana-keygen new"), "{err}");
    }
}
