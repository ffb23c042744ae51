//! Instructions: the user's `CLAUDE.md` text (one per user) and the system's (the row without a
//! user), staged together as the CLI's `CLAUDE.md`: the system's text first, then the user's.

use chrono::{DateTime, Utc};
use protocol::capabilities::InstructionsView;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::check_markdown;
use crate::error::ApiResult;

/// The user's text and the system's.
pub async fn get(conn: &mut PgConnection, user: Uuid) -> ApiResult<InstructionsView> {
    let rows: Vec<(Option<Uuid>, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT user_id, text, updated_at FROM instructions WHERE user_id = $1 OR user_id IS NULL",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    let mut view = InstructionsView {
        text: String::new(),
        system_text: None,
        updated_at: None,
    };
    for (owner, text, updated_at) in rows {
        match owner {
            Some(_) => {
                view.text = text;
                view.updated_at = Some(updated_at);
            }
            None => view.system_text = Some(text).filter(|t| !t.trim().is_empty()),
        }
    }
    Ok(view)
}

/// `PUT /instructions`: replaces the user's text (`""` stages none).
pub async fn put(pool: &PgPool, user: Uuid, text: &str) -> ApiResult<InstructionsView> {
    check_markdown("text", text)?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO instructions (id, user_id, text) VALUES ($1, $2, $3)
         ON CONFLICT ((coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid)))
         DO UPDATE SET text = EXCLUDED.text, updated_at = now()",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(text)
    .execute(&mut *tx)
    .await?;
    let view = get(&mut tx, user).await?;
    tx.commit().await?;
    Ok(view)
}

/// What a run stages as `CLAUDE.md`: the system's text, a blank line, the user's; `None` when
/// both are empty.
pub fn combined(view: &InstructionsView) -> Option<String> {
    let parts: Vec<&str> = [view.system_text.as_deref(), Some(view.text.as_str())]
        .into_iter()
        .flatten()
        .map(str::trim_end)
        .filter(|t| !t.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| format!("{}\n", parts.join("\n\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_text_comes_first() {
        let v = |system: Option<&str>, text: &str| InstructionsView {
            text: text.into(),
            system_text: system.map(Into::into),
            updated_at: None,
        };
        assert_eq!(combined(&v(None, "")), None);
        assert_eq!(combined(&v(Some("  \n"), " ")), None);
        assert_eq!(combined(&v(None, "mine\n")).as_deref(), Some("mine\n"));
        assert_eq!(
            combined(&v(Some("house rules\n\n"), "mine")).as_deref(),
            Some("house rules\n\nmine\n")
        );
    }
}
