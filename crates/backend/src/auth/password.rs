//! Password hashing with Argon2id (the argon2 crate's defaults: m=19 MiB, t=2, p=1), and what a
//! new password must be: [`MIN_LEN`] to [`MAX_LEN`] characters, not one of the most common
//! passwords, not the account's own e-mail address.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use protocol::ErrorCode;

use crate::error::ApiError;

/// Shortest and longest passwords accepted at registration.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// The most common passwords of public breach lists that are [`MIN_LEN`] characters or longer
/// (shorter ones are refused by length anyway), compared ignoring case.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "123123123",
    "11111111",
    "00000000",
    "88888888",
    "87654321",
    "11223344",
    "12341234",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "q1w2e3r4",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "admin123",
    "administrator",
    "letmein1",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "abc12345",
    "abcd1234",
    "aa123456",
    "a1234567",
    "qazwsxedc",
    "asdfghjkl",
    "zxcvbnm1",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "1234qwer",
    "changeme",
    "changeme1",
    "default1",
    "secret123",
    "monkey123",
    "dragon123",
    "master123",
    "shadow123",
    "liverpool",
    "chelsea1",
    "charlie1",
    "football1",
    "baseball1",
    "iloveu123",
    "q1w2e3r4t5",
    "qwer1234",
    "asdf1234",
    "zxcv1234",
    "workcell",
    "workcell1",
    "workcell123",
];

/// Whether `password` may be set for the account `email`: `weak_password` (422) if not.
pub fn check_strength(password: &str, email: &str) -> Result<(), ApiError> {
    let weak = |message: String| ApiError::Unprocessable {
        code: ErrorCode::WeakPassword,
        message,
    };
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(weak(format!(
            "the password must be {MIN_LEN} to {MAX_LEN} characters"
        )));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err(weak(
            "this password is one of the most commonly used ones; choose another".into(),
        ));
    }
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || lower == local {
        return Err(weak("the password must not be the e-mail address".into()));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(c))
    {
        return Err(weak("the password must not repeat one character".into()));
    }
    Ok(())
}

/// Hashes a password on a blocking thread (hashing takes tens of milliseconds).
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hash: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
}

/// Checks a password against a stored hash. With no stored hash, a dummy hash is checked anyway so
/// an unknown email takes as long as a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && stored != DUMMY_HASH
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verify task: {e}")))
}

/// The hash of a random password nobody knows, with the same parameters as real hashes.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$p1r0Ti4pzbmQmW4Y2Q3fW1Vt0N7lIxmj7D8jv0q7gXk";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_why() {
        for (pw, email, why) in [
            ("short", "a@example.com", "8 to"),
            ("Password123", "a@example.com", "commonly used"),
            ("alice@example.com", "Alice@example.com", "e-mail"),
            (
                "aliceinwonderland",
                "aliceinwonderland@example.com",
                "e-mail",
            ),
            ("aaaaaaaaaaaa", "a@example.com", "repeat"),
        ] {
            let e = check_strength(pw, email).expect_err(pw).to_string();
            assert!(e.contains(why), "{pw}: {e}");
        }
        assert!(check_strength("correct horse battery", "a@example.com").is_ok());
        assert!(
            COMMON
                .iter()
                .all(|p| p.chars().count() >= MIN_LEN && *p == p.to_lowercase())
        );
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
