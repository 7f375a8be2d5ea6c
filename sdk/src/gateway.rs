//! What the inference gateway, the CLI and the worker agree on: requests a
//! wallet or a worker key signs off-chain ([`Signed`]), and the API key format.
//!
//! A signed request is readable text (wallets show what they sign):
//!
//! ```text
//! iogrid-gateway/v1
//! audience: http://127.0.0.1:8790
//! action: create-key
//! signer: <base58 address>
//! issued: <unix seconds>
//! nonce: <32 hex digits>
//! body: <the body as compact JSON>
//! ```
//!
//! `audience` is the gateway's origin as the signer reached it, so a gateway
//! cannot replay what it was sent to another; `issued` and `nonce` make each
//! request usable once, within [`MAX_REQUEST_AGE_SECS`].

use {
    serde::{de::DeserializeOwned, Deserialize, Serialize},
    sha2::{Digest, Sha256},
};

/// First line of every signed gateway request.
pub const DOMAIN: &str = "iogrid-gateway/v1";
/// A signed request older (or further in the future) than this is refused.
pub const MAX_REQUEST_AGE_SECS: i64 = 60;
/// API keys start with this; the rest is 32 random bytes in base58.
pub const API_KEY_PREFIX: &str = "iog-";
/// Longest key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 64;

/// What a signed request asks for; each has its own body type.
pub trait Action: Serialize + DeserializeOwned {
    const NAME: &'static str;
}

/// Create an API key bound to the signing wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// Unix seconds after which the key no longer authenticates.
    pub expires_at: i64,
}

impl Action for CreateKey {
    const NAME: &'static str = "create-key";
}

/// List the signing wallet's API keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListKeys {}

impl Action for ListKeys {
    const NAME: &'static str = "list-keys";
}

/// Revoke one of the signing wallet's API keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeKey {
    pub id: String,
}

impl Action for RevokeKey {
    const NAME: &'static str = "revoke-key";
}

/// A listing's worker offers models to the gateway; signed by the listing's
/// worker key and repeated while it serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterWorker {
    pub listing: String,
    /// Where the worker's model server answers OpenAI requests (`http://host:port`).
    pub url: String,
    pub models: Vec<String>,
    /// Requests it serves at once.
    pub parallel: u32,
    /// The bearer token its model server requires: given to the gateway
    /// only, so the server cannot be used around the gateway's quotas.
    pub token: String,
    /// The supplier's price for paid usage, IO base units per million tokens.
    pub price_per_mtok: u64,
}

/// A worker's signed usage receipt as it travels to the gateway
/// (`POST /v1/receipts`): addresses and the signature in base58.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSubmission {
    pub credit: String,
    pub listing: String,
    pub worker: String,
    pub seq: u64,
    pub tokens: u64,
    pub price_per_mtok: u64,
    pub signature: String,
}

impl From<&crate::proof::SignedUsageReceipt> for ReceiptSubmission {
    fn from(receipt: &crate::proof::SignedUsageReceipt) -> Self {
        Self {
            credit: receipt.credit.to_string(),
            listing: receipt.listing.to_string(),
            worker: receipt.worker.to_string(),
            seq: receipt.seq,
            tokens: receipt.tokens,
            price_per_mtok: receipt.price_per_mtok,
            signature: bs58::encode(receipt.signature).into_string(),
        }
    }
}

impl ReceiptSubmission {
    /// The receipt, if every field parses (the signature is not checked here).
    pub fn parse(&self) -> Result<crate::proof::SignedUsageReceipt, String> {
        let address = |field: &str, text: &str| {
            text.parse::<crate::Address>()
                .map_err(|_| format!("`{field}` is not an address"))
        };
        let mut signature = [0u8; 64];
        let decoded = bs58::decode(&self.signature)
            .into_vec()
            .map_err(|_| "`signature` is not base58".to_string())?;
        if decoded.len() != 64 {
            return Err("`signature` is not 64 bytes".into());
        }
        signature.copy_from_slice(&decoded);
        Ok(crate::proof::SignedUsageReceipt {
            credit: address("credit", &self.credit)?,
            listing: address("listing", &self.listing)?,
            worker: address("worker", &self.worker)?,
            seq: self.seq,
            tokens: self.tokens,
            price_per_mtok: self.price_per_mtok,
            signature,
        })
    }
}

/// `POST /v1/receipts`: receipts a worker hands to the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBatch {
    pub receipts: Vec<ReceiptSubmission>,
}

/// The header a gateway puts on a paid request to a worker: the credit the
/// worker's receipts for it are to name.
pub const CREDIT_HEADER: &str = "x-iogrid-credit";

impl Action for RegisterWorker {
    const NAME: &'static str = "register-worker";
}

/// A request signed by `signer` (a wallet, or a listing's worker key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed<T> {
    pub signer: String,
    pub issued_at: i64,
    pub nonce: String,
    /// Base58 Ed25519 signature over [`Signed::message`].
    pub signature: String,
    pub body: T,
}

/// An API key as the gateway stores and shows it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub wallet: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

impl KeyRecord {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A wallet's free quota today (`GET /v1/usage`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    pub wallet: String,
    /// Active stake, IO base units.
    pub stake: u64,
    /// The governed rate: free tokens per day per whole IO staked.
    pub free_tokens_per_io_day: u64,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    /// Unix seconds when `used` returns to 0 (the next UTC midnight).
    pub resets_at: i64,
}

/// Why a signed request is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("signer {0:?} is not a base58 address")]
    Signer(String),
    #[error("nonce must be 32 hex digits")]
    Nonce,
    #[error("the signature does not verify for {signer} over this request (wrong key, or signed for another gateway than {audience})")]
    BadSignature { signer: String, audience: String },
    #[error("the request was signed at {issued_at}, more than {MAX_REQUEST_AGE_SECS} s from the gateway's clock ({now}); sign it again")]
    Stale { issued_at: i64, now: i64 },
}

impl<T: Action> Signed<T> {
    /// The exact bytes signed.
    pub fn message(&self, audience: &str) -> Vec<u8> {
        let body = serde_json::to_string(&self.body).expect("request bodies serialize");
        format!(
            "{DOMAIN}\naudience: {audience}\naction: {}\nsigner: {}\nissued: {}\nnonce: {}\nbody: {body}",
            T::NAME,
            self.signer,
            self.issued_at,
            self.nonce
        )
        .into_bytes()
    }

    /// Signs `body` for the gateway at `audience` with `key`, issued `now`.
    #[cfg(feature = "rpc")]
    pub fn sign(body: T, key: &solana_keypair::Keypair, audience: &str, now: i64) -> Self {
        use solana_signer::Signer;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the OS has randomness");
        let mut request = Self {
            signer: key.pubkey().to_string(),
            issued_at: now,
            nonce: hex::encode(nonce),
            signature: String::new(),
            body,
        };
        request.signature = key
            .sign_message(&request.message(&audience_of(audience)))
            .to_string();
        request
    }

    /// Checks the signature for `audience` and the age against `now`;
    /// returns the signer. Replays within the age window are the caller's
    /// to refuse (it remembers nonces).
    #[cfg(feature = "rpc")]
    pub fn verify(&self, audience: &str, now: i64) -> Result<crate::Address, SignedError> {
        let signer: crate::Address = self
            .signer
            .parse()
            .map_err(|_| SignedError::Signer(self.signer.clone()))?;
        if self.nonce.len() != 32 || hex::decode(&self.nonce).is_err() {
            return Err(SignedError::Nonce);
        }
        let verified = self
            .signature
            .parse::<solana_signature::Signature>()
            .is_ok_and(|signature| signature.verify(signer.as_ref(), &self.message(audience)));
        if !verified {
            return Err(SignedError::BadSignature {
                signer: self.signer.clone(),
                audience: audience.to_string(),
            });
        }
        if now.abs_diff(self.issued_at) > MAX_REQUEST_AGE_SECS as u64 {
            return Err(SignedError::Stale {
                issued_at: self.issued_at,
                now,
            });
        }
        Ok(signer)
    }
}

/// A gateway's audience: its URL's origin (`scheme://host[:port]`), lowercase,
/// without path or trailing slash, so `http://GW:8790/` and
/// `http://gw:8790/v1` sign the same way.
pub fn audience_of(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// 32 random bytes in base58: API keys and model-server tokens.
pub fn new_secret() -> String {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the OS has randomness");
    bs58::encode(secret).into_string()
}

/// A fresh API key: [`API_KEY_PREFIX`] and a [`new_secret`].
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", new_secret())
}

/// What the gateway stores of a key: its SHA-256, hex. The key itself is
/// shown once, to its creator.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The public id of a key (listed and used to revoke it): the first 12 hex
/// digits of its hash.
pub fn api_key_id(hash: &str) -> String {
    format!("key_{}", &hash[..12.min(hash.len())])
}

#[cfg(all(test, feature = "rpc"))]
mod tests {
    use {super::*, solana_keypair::Keypair, solana_signer::Signer};

    const GATEWAY: &str = "http://127.0.0.1:8790";

    fn create(name: &str) -> CreateKey {
        CreateKey {
            name: name.into(),
            expires_at: 2_000_000_000,
        }
    }

    #[test]
    fn a_signed_request_verifies_for_its_gateway_only() {
        let wallet = Keypair::new();
        let request = Signed::sign(
            create("laptop"),
            &wallet,
            "http://127.0.0.1:8790/v1/",
            1_000,
        );
        assert_eq!(request.verify(GATEWAY, 1_030), Ok(wallet.pubkey()));
        assert!(matches!(
            request.verify("http://other:8790", 1_000),
            Err(SignedError::BadSignature { .. })
        ));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let wallet = Keypair::new();
        let request = Signed::sign(create("laptop"), &wallet, GATEWAY, 1_000);
        let mut renamed = request.clone();
        renamed.body.name = "phone".into();
        let mut later = request.clone();
        later.issued_at += 1;
        let mut other_signer = request.clone();
        other_signer.signer = Keypair::new().pubkey().to_string();
        for tampered in [renamed, later, other_signer] {
            assert!(matches!(
                tampered.verify(GATEWAY, 1_000),
                Err(SignedError::BadSignature { .. })
            ));
        }
    }

    #[test]
    fn stale_and_malformed_requests_are_refused() {
        let wallet = Keypair::new();
        let request = Signed::sign(ListKeys {}, &wallet, GATEWAY, 1_000);
        assert_eq!(
            request.verify(GATEWAY, 1_061),
            Err(SignedError::Stale {
                issued_at: 1_000,
                now: 1_061
            })
        );
        assert!(request.verify(GATEWAY, 940).is_ok());
        let mut bad_nonce = request.clone();
        bad_nonce.nonce = "zz".into();
        assert_eq!(bad_nonce.verify(GATEWAY, 1_000), Err(SignedError::Nonce));
        let mut bad_signer = request;
        bad_signer.signer = "not-an-address".into();
        assert!(matches!(
            bad_signer.verify(GATEWAY, 1_000),
            Err(SignedError::Signer(_))
        ));
    }

    #[test]
    fn the_action_is_part_of_the_message() {
        let wallet = Keypair::new();
        let list = Signed::sign(ListKeys {}, &wallet, GATEWAY, 1_000);
        let text = String::from_utf8(list.message(GATEWAY)).unwrap();
        assert!(text.starts_with(
            "iogrid-gateway/v1\naudience: http://127.0.0.1:8790\naction: list-keys\n"
        ));
        assert!(text.ends_with("body: {}"));
    }

    #[test]
    fn audiences_are_origins() {
        assert_eq!(audience_of("HTTP://Gw:8790/v1/"), "http://gw:8790");
        assert_eq!(
            audience_of("https://ai.iogrid.net"),
            "https://ai.iogrid.net"
        );
        assert_eq!(audience_of("127.0.0.1:8790"), "http://127.0.0.1:8790");
    }

    #[test]
    fn receipts_travel_as_text_and_parse_back() {
        let worker = Keypair::new();
        let receipt = crate::proof::SignedUsageReceipt::sign(
            &worker,
            crate::Address::new_unique(),
            crate::Address::new_unique(),
            1_767_225_600_000_001,
            1_234,
            500_000,
        );
        let wire = ReceiptSubmission::from(&receipt);
        let back = wire.parse().unwrap();
        assert_eq!(back, receipt);
        assert!(back.verify());
        let mut bad = wire.clone();
        bad.signature = "abc".into();
        assert!(bad.parse().unwrap_err().contains("64 bytes"));
        let mut bad = wire;
        bad.credit = "nope".into();
        assert!(bad.parse().unwrap_err().contains("credit"));
    }

    #[test]
    fn keys_are_random_and_stored_as_hashes() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX) && a.len() > 40);
        let hash = api_key_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, api_key_hash(&b));
        assert_eq!(api_key_id(&hash).len(), 16);
    }
}
