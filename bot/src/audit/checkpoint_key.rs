//! The Ed25519 keys of audit checkpoints: the signing key (a 32-byte seed, kept outside
//! the store: `[audit] checkpoint_key`, from an environment variable or a secret file),
//! the public key `audit verify` trusts, and the short key id a checkpoint names.
//!
//! Seeds and public keys are written as standard base64 (44 characters) or hex (64).
//! Signatures use `ed25519-dalek` 2, the crate serenity verifies Discord requests with.

use std::fmt;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// A seed or public key that cannot be used. Never contains the text it was given.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("expected 32 bytes written as base64 (44 characters) or hex (64 characters)")]
    Encoding,
    #[error("not a valid Ed25519 public key")]
    PublicKey,
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// Decodes 32 bytes from base64 or hex (surrounding whitespace ignored).
fn decode_32(text: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| KeyError::Encoding)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| KeyError::Encoding)?
    };
    bytes.try_into().map_err(|_| KeyError::Encoding)
}

/// The id a checkpoint names its key by: the first 8 bytes of the SHA-256 of the public
/// key, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A public key `audit verify` trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckpointKey {
    key: VerifyingKey,
    id: String,
}

impl CheckpointKey {
    /// Parses a public key written as base64 or hex.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(&decode_32(text)?).map_err(|_| KeyError::PublicKey)?;
        Ok(Self::from(key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key.verify(message, &signature).is_ok()
    }
}

impl From<VerifyingKey> for CheckpointKey {
    fn from(key: VerifyingKey) -> Self {
        Self {
            id: key_id(&key),
            key,
        }
    }
}

impl fmt::Display for CheckpointKey {
    /// The key as base64, the form `--public-key` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointKey({})", self.id)
    }
}

/// The signing key. `Debug` shows only the key id.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
    public: CheckpointKey,
}

impl CheckpointSigner {
    /// From a seed written as base64 or hex.
    pub fn from_seed(text: &str) -> Result<Self, KeyError> {
        Ok(Self::from_bytes(&decode_32(text)?))
    }

    fn from_bytes(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let public = CheckpointKey::from(key.verifying_key());
        Self { key, public }
    }

    /// A new random key (`opsbot audit keygen`) and its seed as base64.
    pub fn generate() -> Result<(Self, String), KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(seed);
        Ok((Self::from_bytes(&seed), encoded))
    }

    pub fn public(&self) -> &CheckpointKey {
        &self.public
    }

    /// The base64 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointSigner({})", self.public.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    #[test]
    fn seeds_and_keys_parse_as_hex_or_base64_and_sign() {
        // RFC 8032 test 1: this seed's public key.
        let signer = CheckpointSigner::from_seed(SEED_HEX).unwrap();
        assert_eq!(
            hex::encode(signer.public().key.as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(SEED_HEX).unwrap());
        let same = CheckpointSigner::from_seed(&format!("{b64}\n")).unwrap();
        assert_eq!(same.public(), signer.public());
        let public = CheckpointKey::parse(&signer.public().to_string()).unwrap();
        assert_eq!(&public, signer.public());
        assert_eq!(public.id().len(), 16);
        let signature = signer.sign(b"message");
        assert!(public.verifies(b"message", &signature));
        assert!(!public.verifies(b"messagf", &signature));
        assert!(!public.verifies(b"message", "not base64!"));
        assert!(!format!("{signer:?}").contains(SEED_HEX));
    }

    #[test]
    fn bad_keys_are_errors_that_do_not_repeat_them() {
        let short_hex = "0".repeat(62);
        for bad in ["", "abc", "sk-secret-but-not-a-key", short_hex.as_str()] {
            let error = CheckpointSigner::from_seed(bad).unwrap_err().to_string();
            assert!(error.contains("32 bytes"), "{error}");
            assert!(bad.is_empty() || !error.contains(bad), "{error}");
        }
        let (a, seed) = CheckpointSigner::generate().unwrap();
        let (b, _) = CheckpointSigner::generate().unwrap();
        assert_ne!(a.public(), b.public());
        assert_eq!(
            CheckpointSigner::from_seed(&seed).unwrap().public(),
            a.public()
        );
    }
}
