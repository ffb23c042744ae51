//! Secrets at rest: XChaCha20-Poly1305 under keys derived from `ENCRYPTION_KEY`.
//!
//! Each configured key becomes a 256-bit cipher key through HKDF-SHA256 (fixed salt and info, so
//! the same setting always gives the same key) and gets a key id: the first 8 bytes, in hex, of
//! SHA-256 over the derived key with a label — enough to tell the keys of a setting apart, useless
//! for guessing one. A value is sealed with the first key and a fresh random 24-byte nonce; the
//! associated data binds it to its owner and name, so a ciphertext copied to another row does not
//! open. Any configured key opens what it sealed (rotation reads old rows with old keys).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use service_config::Secret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const SALT: &[u8] = b"workcell secrets v1";
const INFO: &[u8] = b"xchacha20poly1305 value key";
const ID_LABEL: &[u8] = b"workcell secrets key id v1";

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The row was sealed with a key that is not configured.
    #[error(
        "the secret was encrypted with a key (id {0}) that ENCRYPTION_KEY does not hold; add that key after the current one"
    )]
    UnknownKey(String),
    /// The key id matched but the ciphertext, nonce or associated data did not.
    #[error("the secret does not decrypt with key {0}: the stored value or its row was altered")]
    Corrupt(String),
    /// The plaintext is not UTF-8 (never written by this code).
    #[error("the secret's value is not text")]
    NotText,
}

/// What is stored for one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured keys, the writing one first.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

/// The associated data of a value: its owner (`system` for the system's) and name.
pub fn associated_data(owner: Option<Uuid>, name: &str) -> Vec<u8> {
    match owner {
        Some(user) => format!("user:{user}:{name}"),
        None => format!("system:{name}"),
    }
    .into_bytes()
}

impl Keyring {
    /// One key per setting value, in order. `keys` is never empty
    /// ([`crate::config::Settings::encryption_keys`]).
    pub fn new(keys: &[Secret<String>]) -> Self {
        let keys = keys
            .iter()
            .map(|key| {
                let mut derived = [0u8; 32];
                Hkdf::<Sha256>::new(Some(SALT), key.expose().as_bytes())
                    .expand(INFO, &mut derived)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                let id = hex::encode(
                    &Sha256::new()
                        .chain_update(ID_LABEL)
                        .chain_update(derived)
                        .finalize()[..8],
                );
                Key {
                    id,
                    cipher: XChaCha20Poly1305::new(&derived.into()),
                }
            })
            .collect();
        Self { keys }
    }

    /// The ids of the configured keys, the writing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The writing key's id.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `value` with the first key.
    pub fn seal(&self, aad: &[u8], value: &str) -> Sealed {
        let key = &self.keys[0];
        let nonce: [u8; 24] = rand::random();
        let ciphertext = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a bounded message cannot fail");
        Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens what [`Keyring::seal`] sealed with any configured key.
    pub fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Secret<String>, CryptoError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.nonce.len() != 24 {
            return Err(CryptoError::Corrupt(key.id.clone()));
        }
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Corrupt(key.id.clone()))?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CryptoError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(keys: &[&str]) -> Keyring {
        Keyring::new(
            &keys
                .iter()
                .map(|k| Secret::new((*k).to_owned()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_value_opens_with_its_key_and_aad_only() {
        let old = ring(&["old-key-0123456789abcdef0123456789"]);
        let aad = associated_data(Some(Uuid::nil()), "GITHUB_TOKEN");
        let sealed = old.seal(&aad, "ghp_value");
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"ghp_value"));
        assert_eq!(old.open(&aad, &sealed).unwrap().expose(), "ghp_value");

        // Another row's associated data, or a flipped bit, does not open.
        let other = associated_data(None, "GITHUB_TOKEN");
        assert!(matches!(
            old.open(&other, &sealed),
            Err(CryptoError::Corrupt(_))
        ));
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(
            old.open(&aad, &flipped),
            Err(CryptoError::Corrupt(_))
        ));

        // A keyring with the new key first still reads it; one without the old key says so.
        let rotated = ring(&[
            "new-key-0123456789abcdef0123456789",
            "old-key-0123456789abcdef0123456789",
        ]);
        assert_eq!(rotated.open(&aad, &sealed).unwrap().expose(), "ghp_value");
        assert_ne!(rotated.seal(&aad, "x").key_id, sealed.key_id);
        let new_only = ring(&["new-key-0123456789abcdef0123456789"]);
        assert!(matches!(
            new_only.open(&aad, &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_are_stable_and_nonces_fresh() {
        let a = ring(&["k-0123456789abcdef0123456789abcdef"]);
        let b = ring(&["k-0123456789abcdef0123456789abcdef"]);
        assert_eq!(a.current_key_id(), b.current_key_id());
        assert_eq!(a.current_key_id().len(), 16);
        let one = a.seal(b"x", "v");
        let two = a.seal(b"x", "v");
        assert_ne!(one.nonce, two.nonce);
        assert_eq!(b.open(b"x", &one).unwrap().expose(), "v");
        assert!(!format!("{a:?}").contains("0123456789abcdef"));
    }
}
