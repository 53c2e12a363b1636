//! [`Stats`]: how incidents went over a period — incidents per service, time to
//! acknowledge and to resolve (median and p90), the noisiest alerts, and time spent at
//! each escalation level — with a bar chart of incidents per service. Reads
//! `incidents`, `incident_events` and `incident_alerts` only.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row as _, any::AnyRow};

use super::{RecordError, markdown::duration};
use crate::store::{
    Store,
    time::{from_micros, to_micros},
};

/// What to compute statistics over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsQuery {
    /// Incidents opened at or after this time.
    pub since: jiff::Timestamp,
    /// Only this service's incidents.
    pub service: Option<String>,
    /// Where open escalation levels end.
    pub now: jiff::Timestamp,
}

/// Median and p90 of a set of durations (nearest rank: the p90 is the smallest value
/// that at least 90% of them are at or below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    pub count: usize,
    pub median: jiff::SignedDuration,
    pub p90: jiff::SignedDuration,
}

impl Spread {
    /// `None` for no durations.
    pub fn of(mut values: Vec<jiff::SignedDuration>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort();
        Some(Self {
            count: values.len(),
            median: nearest_rank(&values, 50),
            p90: nearest_rank(&values, 90),
        })
    }
}

/// The value at rank ⌈p/100 · n⌉ of sorted, non-empty `values`.
fn nearest_rank(values: &[jiff::SignedDuration], percent: usize) -> jiff::SignedDuration {
    let rank = (percent * values.len()).div_ceil(100).max(1);
    values[rank.min(values.len()) - 1]
}

/// An alert name and how much it fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoisyAlert {
    pub name: String,
    /// Distinct alerts (fingerprints) of that name.
    pub alerts: i64,
    /// Incidents they were part of.
    pub incidents: i64,
}

/// The statistics of a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    pub query: StatsQuery,
    pub incidents: usize,
    /// Most incidents first; `(no service)` for incidents no service matched.
    pub per_service: Vec<(String, usize)>,
    /// Time to acknowledge, of the incidents acknowledged.
    pub mtta: Option<Spread>,
    /// Time to resolve, of the incidents resolved.
    pub mttr: Option<Spread>,
    /// Most alerts first, at most ten.
    pub noisiest_alerts: Vec<NoisyAlert>,
    /// Time spent paged at each level (`L1`), summed over the incidents, by level name.
    pub escalation_levels: Vec<(String, jiff::SignedDuration)>,
}

/// What `(no service)` incidents are counted under.
pub const NO_SERVICE: &str = "(no service)";

impl Stats {
    pub async fn compute(store: &Store, query: &StatsQuery) -> Result<Self, RecordError> {
        let mut conn = store.read_pool().acquire().await?;
        let incidents = incidents(&mut conn, query).await?;
        let mut per_service: BTreeMap<String, usize> = BTreeMap::new();
        let mut to_resolve = Vec::new();
        for incident in incidents.values() {
            *per_service
                .entry(
                    incident
                        .service
                        .clone()
                        .unwrap_or_else(|| NO_SERVICE.into()),
                )
                .or_default() += 1;
            if let Some(resolved) = incident.resolved_at {
                to_resolve.push(resolved.duration_since(incident.opened_at));
            }
        }
        let mut to_acknowledge = Vec::new();
        let mut levels: BTreeMap<String, jiff::SignedDuration> = BTreeMap::new();
        let mut current: Option<(i64, String, jiff::Timestamp)> = None;
        let mut acknowledged: Option<i64> = None;
        // A level still paged when the incident's events end lasts until it was resolved
        // (or until now).
        let end_of = |id: i64| {
            incidents
                .get(&id)
                .and_then(|i| i.resolved_at)
                .unwrap_or(query.now)
        };
        let mut close = |open: &mut Option<(i64, String, jiff::Timestamp)>, at: jiff::Timestamp| {
            if let Some((_, level, since)) = open.take() {
                *levels.entry(level).or_default() += at.duration_since(since);
            }
        };
        for event in events(&mut conn, query).await? {
            let Some(incident) = incidents.get(&event.incident) else {
                continue;
            };
            if let Some(id) = current
                .as_ref()
                .map(|c| c.0)
                .filter(|id| *id != event.incident)
            {
                close(&mut current, end_of(id));
            }
            match event.kind.as_str() {
                "escalated" => {
                    close(&mut current, event.at);
                    if let Some(level) = level_name(&event.detail) {
                        current = Some((event.incident, level, event.at));
                    }
                }
                "acknowledged" | "resolved" => close(&mut current, event.at),
                _ => {}
            }
            if event.kind == "acknowledged" && acknowledged != Some(event.incident) {
                acknowledged = Some(event.incident);
                to_acknowledge.push(event.at.duration_since(incident.opened_at));
            }
        }
        if let Some(id) = current.as_ref().map(|c| c.0) {
            close(&mut current, end_of(id));
        }
        let mut per_service: Vec<(String, usize)> = per_service.into_iter().collect();
        per_service.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Self {
            query: query.clone(),
            incidents: incidents.len(),
            per_service,
            mtta: Spread::of(to_acknowledge),
            mttr: Spread::of(to_resolve),
            noisiest_alerts: noisiest_alerts(&mut conn, query).await?,
            escalation_levels: levels.into_iter().collect(),
        })
    }

    /// `Incident stats since 2026-11-07 (wrkhrs-gateway)`.
    pub fn title(&self) -> String {
        let service = self
            .query
            .service
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        format!(
            "Incident stats since {}{service}",
            self.query.since.strftime("%Y-%m-%d %H:%M UTC")
        )
    }

    /// The report for chat.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{} incidents", self.incidents)];
        if !self.per_service.is_empty() {
            let services: Vec<String> = self
                .per_service
                .iter()
                .map(|(service, n)| format!("{service} {n}"))
                .collect();
            lines.push(format!("Per service: {}", services.join(", ")));
        }
        for (name, spread) in [("MTTA", self.mtta), ("MTTR", self.mttr)] {
            lines.push(match spread {
                Some(s) => format!(
                    "{name}: median {}, p90 {} ({} incidents)",
                    duration(s.median),
                    duration(s.p90),
                    s.count
                ),
                None => format!("{name}: no incidents to measure"),
            });
        }
        if !self.noisiest_alerts.is_empty() {
            let alerts: Vec<String> = self
                .noisiest_alerts
                .iter()
                .map(|a| format!("{} ×{} in {} incidents", a.name, a.alerts, a.incidents))
                .collect();
            lines.push(format!("Noisiest alerts: {}", alerts.join(", ")));
        }
        if !self.escalation_levels.is_empty() {
            let levels: Vec<String> = self
                .escalation_levels
                .iter()
                .map(|(level, time)| format!("{level} {}", duration(*time)))
                .collect();
            lines.push(format!(
                "Time paged per escalation level: {}",
                levels.join(", ")
            ));
        }
        lines
    }

    /// A PNG bar chart of incidents per service; `None` with no incidents, or when it
    /// cannot be drawn.
    pub fn chart(&self) -> Option<Vec<u8>> {
        if self.per_service.is_empty() {
            return None;
        }
        let bars: Vec<(String, f64)> = self
            .per_service
            .iter()
            .map(|(service, n)| (service.clone(), *n as f64))
            .collect();
        opsbot_cost::chart::render_bars(&opsbot_cost::chart::BarSpec {
            title: &self.title(),
            bars: &bars,
            y_desc: "incidents",
        })
        .map_err(|error| tracing::warn!(%error, "the incident stats chart could not be drawn"))
        .ok()
    }
}

/// The level paged in an `escalated` event's text: `Paging L2: @a`, `Still
/// unacknowledged, paging L2 again: @a`, `Not resolved in time. Paging L3: @b`.
pub fn level_name(detail: &str) -> Option<String> {
    let rest = &detail[detail.find("aging ")? + "aging ".len()..];
    let name = rest.split(':').next()?.trim();
    let name = name.strip_suffix(" again").unwrap_or(name).trim();
    (!name.is_empty()).then(|| name.to_string())
}

struct IncidentTimes {
    service: Option<String>,
    opened_at: jiff::Timestamp,
    resolved_at: Option<jiff::Timestamp>,
}

/// Runs `sql`, whose `{period}` is replaced by the condition that incident `i` is of
/// the queried period (and service).
async fn period_rows(
    conn: &mut AnyConnection,
    query: &StatsQuery,
    sql: &str,
) -> Result<Vec<AnyRow>, RecordError> {
    let period = if query.service.is_some() {
        "i.opened_at_us >= $1 AND i.service = $2"
    } else {
        "i.opened_at_us >= $1"
    };
    let sql = sqlx::query(sqlx::AssertSqlSafe(sql.replace("{period}", period)))
        .bind(to_micros(query.since));
    let sql = match &query.service {
        Some(service) => sql.bind(service.clone()),
        None => sql,
    };
    Ok(sql.fetch_all(&mut *conn).await?)
}

async fn incidents(
    conn: &mut AnyConnection,
    query: &StatsQuery,
) -> Result<BTreeMap<i64, IncidentTimes>, RecordError> {
    const TABLE: &str = "incidents";
    let rows = period_rows(
        conn,
        query,
        "SELECT i.id, i.service, i.opened_at_us, i.resolved_at_us FROM incidents i \
         WHERE {period}",
    )
    .await?;
    let mut incidents = BTreeMap::new();
    for row in &rows {
        let resolved: Option<i64> = row.try_get(3)?;
        incidents.insert(
            row.try_get::<i64, _>(0)?,
            IncidentTimes {
                service: row.try_get(1)?,
                opened_at: from_micros(row.try_get(2)?, TABLE)?,
                resolved_at: resolved.map(|m| from_micros(m, TABLE)).transpose()?,
            },
        );
    }
    Ok(incidents)
}

struct EventRow {
    incident: i64,
    at: jiff::Timestamp,
    kind: String,
    detail: String,
}

/// The acknowledgements, escalations and resolutions of the period's incidents, each
/// incident's in the order they were written.
async fn events(
    conn: &mut AnyConnection,
    query: &StatsQuery,
) -> Result<Vec<EventRow>, RecordError> {
    let rows = period_rows(
        conn,
        query,
        "SELECT e.incident_id, e.at_us, e.kind, e.detail FROM incident_events e \
         JOIN incidents i ON i.id = e.incident_id \
         WHERE {period} \
         AND e.kind IN ('acknowledged', 'escalated', 'resolved') \
         ORDER BY e.incident_id, e.id",
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EventRow {
                incident: row.try_get(0)?,
                at: from_micros(row.try_get(1)?, "incident_events")?,
                kind: row.try_get(2)?,
                detail: row.try_get(3)?,
            })
        })
        .collect()
}

async fn noisiest_alerts(
    conn: &mut AnyConnection,
    query: &StatsQuery,
) -> Result<Vec<NoisyAlert>, RecordError> {
    let rows = period_rows(
        conn,
        query,
        "SELECT a.name, COUNT(*), COUNT(DISTINCT a.incident_id) FROM incident_alerts a \
         JOIN incidents i ON i.id = a.incident_id WHERE {period} \
         GROUP BY a.name ORDER BY COUNT(*) DESC, a.name LIMIT 10",
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(NoisyAlert {
                name: row.try_get(0)?,
                alerts: row.try_get(1)?,
                incidents: row.try_get(2)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mins(m: i64) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(m)
    }

    #[test]
    fn median_and_p90_are_nearest_ranks() {
        let spread = Spread::of((1..=10).map(mins).collect()).unwrap();
        assert_eq!(
            (spread.count, spread.median, spread.p90),
            (10, mins(5), mins(9))
        );
        let one = Spread::of(vec![mins(7)]).unwrap();
        assert_eq!((one.median, one.p90), (mins(7), mins(7)));
        let unsorted = Spread::of(vec![mins(30), mins(1), mins(2)]).unwrap();
        assert_eq!((unsorted.median, unsorted.p90), (mins(2), mins(30)));
        assert_eq!(Spread::of(Vec::new()), None);
    }

    #[test]
    fn level_names_come_from_pages() {
        assert_eq!(level_name("Paging L2: @a @b").as_deref(), Some("L2"));
        assert_eq!(
            level_name("Still unacknowledged, paging L1 again: @a").as_deref(),
            Some("L1")
        );
        assert_eq!(
            level_name("Not resolved in time. Paging L3: no one to mention").as_deref(),
            Some("L3")
        );
        assert_eq!(level_name("something else"), None);
    }
}
