//! The incidents page's query: incidents filtered by service, status and opening time,
//! open ones first, then acknowledged, then resolved, newest first within each.

use sqlx::{Arguments, Row, any::AnyArguments};

use crate::store::{Store, StoreError, time::from_micros};

/// How many incidents one page shows at most.
pub const PAGE: i64 = 100;

/// The statuses an incident can have, in the order the page lists them.
pub const STATUSES: [&str; 3] = ["open", "acknowledged", "resolved"];

/// What the incidents page asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub service: Option<String>,
    /// One of [`STATUSES`].
    pub status: Option<String>,
    /// Opened at or after.
    pub since: Option<jiff::Timestamp>,
}

/// One incident as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: i64,
    pub title: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub severity: String,
    pub status: String,
    pub opened_at: jiff::Timestamp,
    pub acknowledged_by: Option<String>,
}

/// Up to [`PAGE`] incidents matching `filter`, open first.
pub async fn incidents(
    store: &Store,
    filter: &IncidentFilter,
) -> Result<Vec<IncidentRow>, StoreError> {
    // One query per status (each an index range scan on (status, opened_at_us) that
    // stops at the page size), in the page's order, until the page is full.
    let statuses: Vec<&str> = match &filter.status {
        Some(status) => STATUSES.iter().copied().filter(|s| s == status).collect(),
        None => STATUSES.to_vec(),
    };
    let mut rows = Vec::new();
    for status in statuses {
        let left = PAGE - rows.len() as i64;
        if left <= 0 {
            break;
        }
        rows.extend(of_status(store, filter, status, left).await?);
    }
    Ok(rows)
}

async fn of_status(
    store: &Store,
    filter: &IncidentFilter,
    status: &str,
    limit: i64,
) -> Result<Vec<IncidentRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id, title, service, environment, severity, status, opened_at_us, \
         acknowledged_by FROM incidents WHERE status = $1",
    );
    let mut args = AnyArguments::default();
    let encode = |e| StoreError::from(sqlx::Error::Encode(e));
    args.add(status.to_string()).map_err(encode)?;
    if let Some(service) = &filter.service {
        args.add(service.clone()).map_err(encode)?;
        sql.push_str(&format!(" AND service = ${}", args.len()));
    }
    if let Some(since) = filter.since {
        args.add(since.as_microsecond()).map_err(encode)?;
        sql.push_str(&format!(" AND opened_at_us >= ${}", args.len()));
    }
    args.add(limit).map_err(encode)?;
    sql.push_str(&format!(
        " ORDER BY opened_at_us DESC, id DESC LIMIT ${}",
        args.len()
    ));
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_all(store.read_pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(IncidentRow {
                id: row.try_get("id")?,
                title: row.try_get("title")?,
                service: row.try_get("service")?,
                environment: row.try_get("environment")?,
                severity: row.try_get("severity")?,
                status: row.try_get("status")?,
                opened_at: from_micros(row.try_get("opened_at_us")?, "incidents")?,
                acknowledged_by: row.try_get("acknowledged_by")?,
            })
        })
        .collect()
}
