//! Login tokens: HS256 JWTs signed with `SECRET_KEY`, carrying the user id and a token id (`jti`)
//! that logout revokes.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of a login token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// The user's `token_generation` when issued: a password change raises it, and tokens of an
    /// older generation stop working. Absent in tokens issued before generations existed (0).
    #[serde(default)]
    pub generation: i32,
}

/// Signs and checks tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl_hours: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ttl: Duration::hours(i64::try_from(ttl_hours).unwrap_or(i64::MAX / 3600)),
        }
    }

    /// A new token for `user` at the user's current token `generation`, and when it expires.
    pub fn issue(
        &self,
        user: Uuid,
        generation: i32,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let exp = now + self.ttl;
        let claims = Claims {
            sub: user,
            jti: Uuid::new_v4(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            generation,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, exp))
    }

    /// The claims of a valid, unexpired token signed with our key; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_foreign_ones_do_not() {
        let keys = TokenKeys::new("a-secret-of-some-length", 1);
        let user = Uuid::new_v4();
        let (t, exp) = keys.issue(user, 3).unwrap();
        assert_eq!(keys.verify(&t).unwrap().generation, 3);
        let c = keys.verify(&t).unwrap();
        assert_eq!(c.sub, user);
        assert_eq!(c.exp, exp.timestamp());
        let other = TokenKeys::new("another-secret-entirely", 1);
        assert!(other.verify(&t).is_none());
        assert!(keys.verify("not.a.token").is_none());
        let mut tampered = t.clone();
        tampered.push('x');
        assert!(keys.verify(&tampered).is_none());
    }
}
