//! Signing in through an identity provider: OpenID Connect (`OIDC_*`) and GitHub's OAuth
//! (`GITHUB_*`), one flow for both.
//!
//! 1. `start`: a random `state`, `nonce` and PKCE verifier go into a short-lived cookie (signed
//!    with `SECRET_KEY`, httpOnly, `SameSite=Lax`, only sent to `/api/v1/auth/`); the browser is
//!    sent to the provider with the state, the nonce and the verifier's S256 challenge.
//! 2. `callback`: the state must equal the cookie's; the code is exchanged (with the verifier and
//!    the client secret) for tokens. OIDC: the ID token's signature is checked against the
//!    issuer's published keys (asymmetric algorithms only), and its issuer, audience, expiry and
//!    nonce; the e-mail must be verified and in `OIDC_ALLOWED_DOMAINS`. GitHub: the primary,
//!    verified e-mail from the API.
//! 3. The identity (provider, subject) is found, or linked to the account with that e-mail, or a
//!    new account is made (as `REGISTRATION` allows, with an invite carried from `start`); a
//!    disabled account is refused. The login cookie is set and the browser goes to the UI.
//!
//! Failures send the browser to `PUBLIC_URL/login?error=…` with a sentence a person can read;
//! the details go to the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use protocol::ErrorCode;
use protocol::accounts::Registration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use super::accounts::{self, Admission, UserRow};
use crate::config::Settings;
use crate::error::{ApiError, ApiResult};

/// The cookie that carries a sign-in in progress.
pub const FLOW_COOKIE: &str = "workcell_sign_in";
/// How long a sign-in may take at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Clock skew allowed on an ID token's times.
const LEEWAY_SECONDS: u64 = 60;
/// How long one call to a provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest wait between two key-set fetches for an unknown key id.
const JWKS_REFETCH: Duration = Duration::from_secs(60);

/// An identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Oidc,
    Github,
}

impl Provider {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "oidc" => Some(Provider::Oidc),
            "github" => Some(Provider::Github),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Oidc => "oidc",
            Provider::Github => "github",
        }
    }

    /// Whether the settings configure it.
    pub fn enabled(self, s: &Settings) -> bool {
        match self {
            Provider::Oidc => s.oidc_issuer.is_some(),
            Provider::Github => s.github_client_id.is_some(),
        }
    }
}

/// Why a sign-in was refused: the message is for the person; `detail` for the log.
#[derive(Debug)]
pub struct Refusal {
    pub message: &'static str,
    pub detail: String,
}

fn refuse(message: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        message,
        detail: detail.into(),
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError::Forbidden {
            code: ErrorCode::SignInRefused,
            message: r.message.to_owned(),
        }
    }
}

/// What the flow cookie holds (a JWT signed with `SECRET_KEY`, audience `sign-in`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub provider: Provider,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
    pub exp: i64,
    aud: String,
}

const FLOW_AUDIENCE: &str = "workcell:sign-in";

impl Flow {
    pub fn new(provider: Provider, invite: Option<String>) -> Self {
        Flow {
            provider,
            state: random(),
            nonce: random(),
            verifier: random(),
            invite,
            exp: chrono::Utc::now().timestamp() + FLOW_TTL.as_secs() as i64,
            aud: FLOW_AUDIENCE.to_owned(),
        }
    }

    pub fn seal(&self, secret: &str) -> ApiResult<String> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            self,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| ApiError::Internal(format!("sign-in cookie: {e}")))
    }

    pub fn open(cookie: &str, secret: &str) -> Result<Self, Refusal> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_audience(&[FLOW_AUDIENCE]);
        v.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<Flow>(cookie, &DecodingKey::from_secret(secret.as_bytes()), &v)
            .map(|d| d.claims)
            .map_err(|e| {
                refuse(
                    "the sign-in took too long or was started elsewhere; try again",
                    format!("flow cookie: {e}"),
                )
            })
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// Whether `state` is this flow's (constant time).
    pub fn state_matches(&self, state: &str) -> bool {
        bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("form:///").expect("a constant URL parses");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// 32 random bytes, base64url.
fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The redirect address registered with the provider.
pub fn redirect_uri(settings: &Settings, provider: Provider) -> String {
    format!(
        "{}/api/v1/auth/{}/callback",
        settings.public_url,
        provider.as_str()
    )
}

/// What a provider says about the person.
#[derive(Debug, Clone)]
pub struct Identity {
    pub provider: Provider,
    pub subject: String,
    pub email: String,
}

/// The providers' endpoints and keys, fetched once and cached.
pub struct Providers {
    http: reqwest::Client,
    oidc: Mutex<Option<Arc<OidcMetadata>>>,
    jwks: Mutex<Option<(JwkSet, Instant)>>,
}

#[derive(Debug, Deserialize)]
struct OidcMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
}

impl Providers {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("workcell")
            .build()
            .unwrap_or_default();
        Providers {
            http,
            oidc: Mutex::new(None),
            jwks: Mutex::new(None),
        }
    }

    async fn oidc_metadata(&self, s: &Settings) -> Result<Arc<OidcMetadata>, Refusal> {
        let mut cached = self.oidc.lock().await;
        if let Some(m) = cached.as_ref() {
            return Ok(m.clone());
        }
        let issuer = s.oidc_issuer.as_deref().unwrap_or_default();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let meta: OidcMetadata = self.get_json(&url, None).await?;
        if meta.issuer != issuer {
            return Err(refuse(
                "the sign-in provider is misconfigured",
                format!(
                    "discovery names issuer `{}`, not OIDC_ISSUER `{issuer}`",
                    meta.issuer
                ),
            ));
        }
        let meta = Arc::new(meta);
        *cached = Some(meta.clone());
        Ok(meta)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<T, Refusal> {
        let mut req = self.http.get(url).header("accept", "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.map_err(|e| {
            refuse(
                "the sign-in provider cannot be reached",
                format!("{url}: {e}"),
            )
        })?;
        if !res.status().is_success() {
            return Err(refuse(
                "the sign-in provider refused the request",
                format!("{url}: status {}", res.status()),
            ));
        }
        res.json().await.map_err(|e| {
            refuse(
                "the sign-in provider answered nonsense",
                format!("{url}: {e}"),
            )
        })
    }

    /// Where to send the browser to start signing in.
    pub async fn authorize_url(&self, s: &Settings, flow: &Flow) -> Result<String, Refusal> {
        let redirect = redirect_uri(s, flow.provider);
        let (endpoint, mut params) = match flow.provider {
            Provider::Oidc => {
                let meta = self.oidc_metadata(s).await?;
                (
                    meta.authorization_endpoint.clone(),
                    vec![
                        ("scope", "openid email profile".to_owned()),
                        ("nonce", flow.nonce.clone()),
                        ("client_id", s.oidc_client_id.clone().unwrap_or_default()),
                    ],
                )
            }
            Provider::Github => (
                format!("{}/login/oauth/authorize", s.github_url),
                vec![
                    ("scope", "read:user user:email".to_owned()),
                    ("client_id", s.github_client_id.clone().unwrap_or_default()),
                    ("allow_signup", "false".to_owned()),
                ],
            ),
        };
        params.extend([
            ("response_type", "code".to_owned()),
            ("redirect_uri", redirect),
            ("state", flow.state.clone()),
            ("code_challenge", flow.challenge()),
            ("code_challenge_method", "S256".to_owned()),
        ]);
        let mut url = reqwest::Url::parse(&endpoint).map_err(|e| {
            refuse(
                "the sign-in provider is misconfigured",
                format!("authorization endpoint `{endpoint}`: {e}"),
            )
        })?;
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        Ok(url.into())
    }

    /// Exchanges the code and checks what comes back: who signed in.
    pub async fn identify(
        &self,
        s: &Settings,
        flow: &Flow,
        code: &str,
    ) -> Result<Identity, Refusal> {
        match flow.provider {
            Provider::Oidc => self.identify_oidc(s, flow, code).await,
            Provider::Github => self.identify_github(s, flow, code).await,
        }
    }

    async fn exchange(
        &self,
        url: &str,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> Result<TokenAnswer, Refusal> {
        let res = self
            .http
            .post(url)
            .header("accept", "application/json")
            .basic_auth(client_id, Some(client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .map_err(|e| {
                refuse(
                    "the sign-in provider cannot be reached",
                    format!("{url}: {e}"),
                )
            })?;
        let status = res.status();
        let answer: TokenAnswer = res.json().await.map_err(|e| {
            refuse(
                "the sign-in provider answered nonsense",
                format!("token endpoint (status {status}): {e}"),
            )
        })?;
        if let Some(err) = &answer.error {
            return Err(refuse(
                "the sign-in provider refused the sign-in",
                format!("token endpoint: {err}"),
            ));
        }
        if !status.is_success() {
            return Err(refuse(
                "the sign-in provider refused the sign-in",
                format!("token endpoint: status {status}"),
            ));
        }
        Ok(answer)
    }

    async fn identify_oidc(
        &self,
        s: &Settings,
        flow: &Flow,
        code: &str,
    ) -> Result<Identity, Refusal> {
        let meta = self.oidc_metadata(s).await?;
        let client_id = s.oidc_client_id.as_deref().unwrap_or_default();
        let secret = s
            .oidc_client_secret
            .as_ref()
            .map(|x| x.expose().as_str())
            .unwrap_or_default();
        let redirect = redirect_uri(s, Provider::Oidc);
        let answer = self
            .exchange(
                &meta.token_endpoint,
                client_id,
                secret,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &flow.verifier),
                    ("client_id", client_id),
                ],
            )
            .await?;
        let id_token = answer
            .id_token
            .ok_or_else(|| refuse("the sign-in provider sent no ID token", "no id_token"))?;
        let claims = self.verify_id_token(&meta, client_id, &id_token).await?;
        if !bool::from(
            claims
                .nonce
                .as_deref()
                .unwrap_or_default()
                .as_bytes()
                .ct_eq(flow.nonce.as_bytes()),
        ) {
            return Err(refuse(
                "the sign-in could not be verified; try again",
                "ID token nonce does not match",
            ));
        }
        let email = claims.email.ok_or_else(|| {
            refuse(
                "the sign-in provider did not share an e-mail address",
                "no email claim",
            )
        })?;
        if claims.email_verified != Some(true) {
            return Err(refuse(
                "your e-mail address is not verified at the sign-in provider",
                format!("email_verified is {:?}", claims.email_verified),
            ));
        }
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        if !s.oidc_allowed_domains.is_empty() && !s.oidc_allowed_domains.contains(&domain) {
            return Err(refuse(
                "your e-mail domain may not sign in here",
                format!("domain `{domain}` not in OIDC_ALLOWED_DOMAINS"),
            ));
        }
        Ok(Identity {
            provider: Provider::Oidc,
            subject: claims.sub,
            email,
        })
    }

    /// Checks an ID token's signature (the issuer's keys; asymmetric algorithms only), issuer,
    /// audience and expiry.
    async fn verify_id_token(
        &self,
        meta: &OidcMetadata,
        client_id: &str,
        token: &str,
    ) -> Result<IdClaims, Refusal> {
        let bad = |detail: String| refuse("the sign-in could not be verified; try again", detail);
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| bad(format!("ID token header: {e}")))?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(bad(format!(
                "ID token signed with {:?}: only asymmetric keys are accepted",
                header.alg
            )));
        }
        let jwk = self.key(meta, header.kid.as_deref()).await?;
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err(bad("the issuer's key set holds a symmetric key".into()));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| bad(format!("issuer key: {e}")))?;
        let mut v = Validation::new(header.alg);
        v.leeway = LEEWAY_SECONDS;
        v.set_issuer(&[&meta.issuer]);
        v.set_audience(&[client_id]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<IdClaims>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| bad(format!("ID token: {e}")))
    }

    /// The issuer's key `kid` (or its only key), fetching the key set again (at most once a
    /// minute) when the cached one does not have it: keys rotate.
    async fn key(
        &self,
        meta: &OidcMetadata,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, Refusal> {
        let pick = |set: &JwkSet| match kid {
            Some(k) => set.find(k).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let mut cached = self.jwks.lock().await;
        if let Some((set, fetched)) = cached.as_ref() {
            if let Some(k) = pick(set) {
                return Ok(k);
            }
            if fetched.elapsed() < JWKS_REFETCH {
                return Err(refuse(
                    "the sign-in could not be verified; try again",
                    format!("no issuer key {kid:?}"),
                ));
            }
        }
        let set: JwkSet = self.get_json(&meta.jwks_uri, None).await?;
        let found = pick(&set);
        *cached = Some((set, Instant::now()));
        found.ok_or_else(|| {
            refuse(
                "the sign-in could not be verified; try again",
                format!("no issuer key {kid:?}"),
            )
        })
    }

    async fn identify_github(
        &self,
        s: &Settings,
        flow: &Flow,
        code: &str,
    ) -> Result<Identity, Refusal> {
        let client_id = s.github_client_id.as_deref().unwrap_or_default();
        let secret = s
            .github_client_secret
            .as_ref()
            .map(|x| x.expose().as_str())
            .unwrap_or_default();
        let redirect = redirect_uri(s, Provider::Github);
        let answer = self
            .exchange(
                &format!("{}/login/oauth/access_token", s.github_url),
                client_id,
                secret,
                &[
                    ("code", code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &flow.verifier),
                    ("client_id", client_id),
                    ("client_secret", secret),
                ],
            )
            .await?;
        let token = answer
            .access_token
            .ok_or_else(|| refuse("GitHub sent no access token", "no access_token"))?;
        let user: GithubUser = self
            .get_json(&format!("{}/user", s.github_api_url), Some(&token))
            .await?;
        let emails: Vec<GithubEmail> = self
            .get_json(&format!("{}/user/emails", s.github_api_url), Some(&token))
            .await?;
        let email = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .ok_or_else(|| {
                refuse(
                    "your GitHub account has no verified primary e-mail address",
                    format!("github user {}: no primary verified email", user.id),
                )
            })?;
        Ok(Identity {
            provider: Provider::Github,
            subject: user.id.to_string(),
            email: email.email,
        })
    }
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: Option<bool>,
}

/// `email_verified` as a boolean, or the string some providers send.
fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => Some(b),
        Some(B::Text(t)) => Some(t.eq_ignore_ascii_case("true")),
        None => None,
    })
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// The account of `identity`: already linked; else the account with its (verified) e-mail, now
/// linked; else a new one, if registration allows. A disabled account is refused.
pub async fn account_for(
    pool: &PgPool,
    policy: Registration,
    identity: &Identity,
    invite: Option<&str>,
) -> ApiResult<UserRow> {
    let linked: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM external_identities WHERE provider = $1 AND subject = $2",
    )
    .bind(identity.provider.as_str())
    .bind(&identity.subject)
    .fetch_optional(pool)
    .await?;
    let user = match linked {
        Some(id) => accounts::get(pool, id).await?,
        None => None,
    };
    let user = match user {
        Some(u) => u,
        None => {
            let user = match accounts::find_by_email(pool, &identity.email).await? {
                Some(u) => u,
                None => {
                    accounts::create(
                        pool,
                        &identity.email,
                        None,
                        Admission::Registration { policy, invite },
                    )
                    .await?
                }
            };
            sqlx::query(
                "INSERT INTO external_identities (provider, subject, user_id, email)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (provider, subject) DO UPDATE SET user_id = EXCLUDED.user_id, email = EXCLUDED.email",
            )
            .bind(identity.provider.as_str())
            .bind(&identity.subject)
            .bind(user.id)
            .bind(&identity.email)
            .execute(pool)
            .await?;
            tracing::info!(user_id = %user.id, provider = identity.provider.as_str(), "identity linked");
            user
        }
    };
    let disabled: bool =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_one(pool)
            .await?;
    if disabled {
        return Err(super::api_token::disabled_error());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_cookie_is_sealed_and_checked() {
        let f = Flow::new(Provider::Oidc, Some("inv".into()));
        let sealed = f.seal("a-secret-of-some-length").unwrap();
        let back = Flow::open(&sealed, "a-secret-of-some-length").unwrap();
        assert_eq!(back.state, f.state);
        assert!(back.state_matches(&f.state) && !back.state_matches("other"));
        assert_eq!(back.invite.as_deref(), Some("inv"));
        assert!(Flow::open(&sealed, "another-secret-entirely").is_err());
        // A login token signed with the same key is not a flow cookie (audience).
        let keys = crate::auth::token::TokenKeys::new("a-secret-of-some-length", 1);
        let (login, _) = keys.issue(uuid::Uuid::new_v4(), 0).unwrap();
        assert!(Flow::open(&login, "a-secret-of-some-length").is_err());
        // RFC 7636's example: the challenge is BASE64URL(SHA256(verifier)).
        let mut g = f.clone();
        g.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(g.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
