//! Ad hoc silences: `silence SERVICE 2h --reason …` or `silence alertname=Foo,job=bar 1h`.
//! Alerts they match (while active) are recorded and shown as silenced, not paged.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::store::{
    StoreError,
    time::{from_micros, to_micros},
};

/// One label matcher: `name=value` or `name!=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub negated: bool,
}

impl Matcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map(String::as_str).unwrap_or("");
        (value == self.value) != self.negated
    }
}

/// Whether `text` looks like matchers rather than a service name.
pub fn looks_like_matchers(text: &str) -> bool {
    text.contains('=')
}

/// `a=b,c!=d` → matchers. Empty names, or no `=`, are refused.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let mut matchers = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value, negated) = if let Some((n, v)) = part.split_once("!=") {
            (n, v, true)
        } else if let Some((n, v)) = part.split_once('=') {
            (n, v, false)
        } else {
            return Err(format!("`{part}` is not a matcher like `alertname=Foo`"));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{part}`: `{name}` is not a label name"));
        }
        matchers.push(Matcher {
            name: name.to_string(),
            value: value.trim().trim_matches('"').to_string(),
            negated,
        });
    }
    if matchers.is_empty() {
        return Err("no matchers given".into());
    }
    Ok(matchers)
}

/// Matchers as stored and shown: `a=b,c!=d`.
pub fn format_matchers(matchers: &[Matcher]) -> String {
    matchers
        .iter()
        .map(|m| {
            format!(
                "{}{}{}",
                m.name,
                if m.negated { "!=" } else { "=" },
                m.value
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A stored silence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub id: i64,
    pub matchers: Vec<Matcher>,
    /// Matches only alerts of this service (besides the matchers).
    pub service: Option<String>,
    pub created_at: jiff::Timestamp,
    pub until: jiff::Timestamp,
    pub expired_at: Option<jiff::Timestamp>,
    pub reason: String,
    pub created_by: String,
}

impl Silence {
    pub fn is_active(&self, now: jiff::Timestamp) -> bool {
        self.expired_at.is_none() && self.until > now
    }

    /// Whether it silences an alert with these labels, mapped to `service`.
    pub fn matches(&self, service: Option<&str>, labels: &BTreeMap<String, String>) -> bool {
        if let Some(wanted) = &self.service
            && service != Some(wanted.as_str())
        {
            return false;
        }
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// `wrkhrs-rag` or `alertname=Foo,job=bar`, for replies.
    pub fn describe(&self) -> String {
        match (&self.service, self.matchers.is_empty()) {
            (Some(service), true) => service.clone(),
            (Some(service), false) => format!("{service} {}", format_matchers(&self.matchers)),
            (None, _) => format_matchers(&self.matchers),
        }
    }
}

const COLUMNS: &str =
    "id, matchers, service, created_at_us, until_us, expired_at_us, reason, created_by";

fn decode(row: &AnyRow) -> Result<Silence, StoreError> {
    const TABLE: &str = "silences";
    let matchers: String = row.try_get("matchers")?;
    let expired: Option<i64> = row.try_get("expired_at_us")?;
    Ok(Silence {
        id: row.try_get("id")?,
        matchers: if matchers.is_empty() {
            Vec::new()
        } else {
            parse_matchers(&matchers).map_err(|e| StoreError::corrupt(TABLE, e))?
        },
        service: row.try_get("service")?,
        created_at: from_micros(row.try_get("created_at_us")?, TABLE)?,
        until: from_micros(row.try_get("until_us")?, TABLE)?,
        expired_at: expired.map(|m| from_micros(m, TABLE)).transpose()?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
    })
}

/// Silences active at `now`.
pub(crate) async fn active(
    conn: &mut AnyConnection,
    now: jiff::Timestamp,
) -> Result<Vec<Silence>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM silences WHERE until_us > $1 AND expired_at_us IS NULL ORDER BY id"
    )))
    .bind(to_micros(now))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn get(conn: &mut AnyConnection, id: i64) -> Result<Option<Silence>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM silences WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Stores a new silence (its `id` is ignored) and returns its id.
pub(crate) async fn insert(conn: &mut AnyConnection, silence: &Silence) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO silences (matchers, service, created_at_us, until_us, reason, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(format_matchers(&silence.matchers))
    .bind(silence.service.as_deref())
    .bind(to_micros(silence.created_at))
    .bind(to_micros(silence.until))
    .bind(silence.reason.as_str())
    .bind(silence.created_by.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// Ends an active silence now; whether it was active.
pub(crate) async fn expire(
    conn: &mut AnyConnection,
    id: i64,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE silences SET expired_at_us = $1 WHERE id = $2 AND expired_at_us IS NULL AND until_us > $3",
    )
    .bind(to_micros(now))
    .bind(id)
    .bind(to_micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_match_and_print() {
        let m = parse_matchers("alertname=Down, job!=batch").unwrap();
        assert_eq!(format_matchers(&m), "alertname=Down,job!=batch");
        let labels: BTreeMap<String, String> =
            [("alertname".to_string(), "Down".to_string())].into();
        assert!(m.iter().all(|m| m.matches(&labels)));
        let batch: BTreeMap<String, String> = [
            ("alertname".to_string(), "Down".to_string()),
            ("job".to_string(), "batch".to_string()),
        ]
        .into();
        assert!(!m.iter().all(|m| m.matches(&batch)));
        assert!(parse_matchers("nothing").is_err());
        assert!(parse_matchers("=x").is_err());
        assert!(parse_matchers("").is_err());
    }
}
