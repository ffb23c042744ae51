//! Session titles. Every new session starts with a title taken from its prompt
//! ([`crate::sessions::title_from_prompt`]); with `OPENAI_API_KEY` set, a short title is then
//! generated through the OpenAI-compatible chat completions API (`OPENAI_BASE_URL`,
//! `OPENAI_DEFAULT_MODEL`) off the request path, and replaces the first one unless the user has
//! renamed the session meanwhile. Either way the change reaches the owner's WebSockets through
//! the `sessions` trigger. A failure keeps the prompt's title and is logged without the key.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// Where chat completions are sent when `OPENAI_BASE_URL` is unset.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The longest a title request may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The most of the prompt sent to the model.
const PROMPT_CHARS: usize = 2000;

const INSTRUCTION: &str = "Write a short title (at most 8 words) for the following task given to a \
coding agent. Answer with the title only: no quotes, no punctuation at the end.";

/// Generates titles; `None` when no key is configured.
#[derive(Clone)]
pub struct TitleGenerator {
    client: reqwest::Client,
    url: String,
    key: String,
    model: String,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// Why a title could not be generated (logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum TitleError {
    #[error("title request failed: {0}")]
    Http(String),
    #[error("title API answered {0}")]
    Status(u16),
    #[error("title API answered without a usable title")]
    Empty,
}

impl TitleGenerator {
    pub fn from_settings(settings: &crate::config::Settings) -> Option<Self> {
        let key = settings.openai_api_key.as_ref()?.expose().clone();
        let base = settings
            .openai_base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
        Some(Self {
            client,
            url: format!("{base}/chat/completions"),
            key,
            model: settings.openai_default_model.clone(),
        })
    }

    /// Asks the model for a title.
    pub async fn generate(&self, prompt: &str) -> Result<String, TitleError> {
        let prompt: String = prompt.chars().take(PROMPT_CHARS).collect();
        let res = self
            .client
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(&json!({
                "model": self.model,
                "messages": [
                    {"role": "system", "content": INSTRUCTION},
                    {"role": "user", "content": prompt},
                ],
                "max_tokens": 30,
                "temperature": 0.2,
            }))
            .send()
            .await
            // Without the URL: reqwest's error text may carry it, and it names the gateway only.
            .map_err(|e| TitleError::Http(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(TitleError::Status(res.status().as_u16()));
        }
        let body: Completion = res
            .json()
            .await
            .map_err(|e| TitleError::Http(e.without_url().to_string()))?;
        body.choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .and_then(|t| clean(&t))
            .ok_or(TitleError::Empty)
    }

    /// Generates a title for a new session in the background and stores it unless the session
    /// was renamed (or deleted) meanwhile.
    pub fn spawn_for(&self, pool: PgPool, session: Uuid, prompt: String, fallback: String) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.generate(&prompt).await {
                Ok(title) => {
                    let res = sqlx::query(
                        "UPDATE sessions SET title = $2, updated_at = now() WHERE id = $1 AND title = $3",
                    )
                    .bind(session)
                    .bind(&title)
                    .bind(&fallback)
                    .execute(&pool)
                    .await;
                    if let Err(e) = res {
                        tracing::warn!(%session, error = %e, "storing a generated title failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(%session, error = %e, "title generation failed; keeping the prompt's title")
                }
            }
        });
    }
}

/// The first line of a model's answer, without quotes or a final period, at most 80 characters.
pub fn clean(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c == '*')
        .trim_start_matches("Title:")
        .trim()
        .trim_end_matches('.')
        .trim();
    if line.is_empty() {
        return None;
    }
    Some(line.chars().take(80).collect())
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn answers_are_cleaned() {
        assert_eq!(
            clean("\"Fix the login bug.\"\n").as_deref(),
            Some("Fix the login bug")
        );
        assert_eq!(clean("Title: Add tests").as_deref(), Some("Add tests"));
        assert_eq!(clean("  \n  "), None);
        assert_eq!(clean(&"x".repeat(200)).map(|t| t.len()), Some(80));
    }
}
