//! The escalation clock of an incident, kept durable in its row
//! (`escalation_level`, `next_escalation_us`): who is paged on opening, when the next
//! level is, what acknowledging and resolving do to it. See
//! [`crate::config::EscalationPolicy`] for the rules.

use std::time::Duration;

use crate::config::EscalationPolicy;

use super::{
    model::{Incident, IncidentStatus},
    settings::IncidentSettings,
};

fn plus(at: jiff::Timestamp, by: Duration) -> Option<jiff::Timestamp> {
    at.checked_add(jiff::SignedDuration::try_from(by).ok()?)
        .ok()
}

/// `Paging L2: @a @b`.
fn page_text(policy: &EscalationPolicy, index: usize, repeat: bool) -> String {
    let level = &policy.levels[index];
    let mentions = if level.mention.is_empty() {
        "no one to mention".to_string()
    } else {
        level.mention.join(" ")
    };
    if repeat {
        format!(
            "Still unacknowledged, paging {} again: {mentions}",
            level.name
        )
    } else {
        format!("Paging {}: {mentions}", level.name)
    }
}

/// Pages `index` now and sets the time the one after it is due. Returns the page text.
fn page(
    incident: &mut Incident,
    policy: &EscalationPolicy,
    index: usize,
    now: jiff::Timestamp,
) -> String {
    let repeat = incident.escalation_level as usize > index;
    incident.escalation_level = (index + 1) as i64;
    incident.next_escalation_at = match policy.delay_before(index + 1, &incident.severity) {
        Some(delay) => plus(now, delay),
        None => policy.repeat.and_then(|r| plus(now, r.as_duration())),
    };
    page_text(policy, index, repeat)
}

/// Starts the clock of a newly opened (or reopened, or no longer silenced) incident.
/// Returns the page to post when level 1 is paged at once.
pub fn start(
    incident: &mut Incident,
    settings: &IncidentSettings,
    now: jiff::Timestamp,
) -> Option<String> {
    incident.escalation_level = 0;
    incident.next_escalation_at = None;
    if incident.silenced || incident.status != IncidentStatus::Open {
        return None;
    }
    let policy = settings.policy(incident.escalation_policy.as_deref())?;
    let delay = policy.delay_before(0, &incident.severity)?;
    if delay.is_zero() {
        Some(page(incident, policy, 0, now))
    } else {
        incident.next_escalation_at = plus(now, delay);
        None
    }
}

/// The clock has run out: page the next level (or repeat the last). Returns the page
/// text, `None` when there is nothing to do (the clock is then stopped).
pub fn step(
    incident: &mut Incident,
    settings: &IncidentSettings,
    now: jiff::Timestamp,
) -> Option<String> {
    let Some(policy) = settings.policy(incident.escalation_policy.as_deref()) else {
        incident.next_escalation_at = None;
        return None;
    };
    let next = incident.escalation_level as usize;
    match incident.status {
        IncidentStatus::Resolved => {
            incident.next_escalation_at = None;
            None
        }
        // The resolution deadline of an acknowledged incident: one level up, once.
        IncidentStatus::Acknowledged => {
            let index = next.min(policy.levels.len().saturating_sub(1));
            let text = page(incident, policy, index, now);
            incident.next_escalation_at = None;
            Some(format!("Not resolved in time. {text}"))
        }
        IncidentStatus::Open if incident.silenced => {
            incident.next_escalation_at = None;
            None
        }
        IncidentStatus::Open => {
            if policy.levels.is_empty() {
                incident.next_escalation_at = None;
                return None;
            }
            let index = next.min(policy.levels.len() - 1);
            Some(page(incident, policy, index, now))
        }
    }
}

/// Acknowledging stops the paging clock; what remains is the policy's resolution
/// deadline (`escalate_after`), when it is still ahead.
pub fn acknowledged(incident: &mut Incident, settings: &IncidentSettings, now: jiff::Timestamp) {
    incident.next_escalation_at = settings
        .policy(incident.escalation_policy.as_deref())
        .and_then(|p| p.escalate_after.get(&incident.severity))
        .and_then(|d| plus(incident.opened_at, d.as_duration()))
        .filter(|at| *at > now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IncidentSettings {
        let config = crate::config::parse(
            r#"
            [[escalation]]
            name = "p"
            levels = [
              { name = "L1", mention = ["@oncall"], after = "0m" },
              { name = "L2", mention = ["@senior"] },
              { name = "L3", mention = ["@team"], after = "30m" },
            ]
            respond_within = { critical = "15m" }
            escalate_after = { critical = "30m" }
            repeat = "30m"
            "#,
            "t.toml",
            &|_| None,
        )
        .unwrap();
        IncidentSettings::from_config(&config)
    }

    fn incident(at: jiff::Timestamp) -> Incident {
        Incident {
            id: 1,
            key: "k".into(),
            group_key: "k".into(),
            source: "alertmanager".into(),
            service: None,
            environment: None,
            title: "t".into(),
            severity: "critical".into(),
            status: IncidentStatus::Open,
            silenced: false,
            silenced_reason: None,
            opened_at: at,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            escalation_policy: Some("p".into()),
            escalation_level: 0,
            next_escalation_at: None,
            changed_at: at,
        }
    }

    fn mins(at: jiff::Timestamp, m: i64) -> jiff::Timestamp {
        at.checked_add(jiff::SignedDuration::from_mins(m)).unwrap()
    }

    #[test]
    fn pages_levels_in_order_then_repeats() {
        let s = settings();
        let t0: jiff::Timestamp = "2026-11-21T07:00:00Z".parse().unwrap();
        let mut i = incident(t0);
        assert_eq!(start(&mut i, &s, t0).unwrap(), "Paging L1: @oncall");
        assert_eq!(
            i.next_escalation_at,
            Some(mins(t0, 15)),
            "respond within 15m"
        );
        let t1 = mins(t0, 15);
        assert_eq!(step(&mut i, &s, t1).unwrap(), "Paging L2: @senior");
        assert_eq!(i.next_escalation_at, Some(mins(t1, 30)));
        let t2 = mins(t1, 30);
        assert_eq!(step(&mut i, &s, t2).unwrap(), "Paging L3: @team");
        assert_eq!(i.next_escalation_at, Some(mins(t2, 30)), "repeat");
        assert!(step(&mut i, &s, mins(t2, 30)).unwrap().contains("again"));
    }

    #[test]
    fn acknowledging_leaves_only_the_resolution_deadline() {
        let s = settings();
        let t0: jiff::Timestamp = "2026-11-21T07:00:00Z".parse().unwrap();
        let mut i = incident(t0);
        start(&mut i, &s, t0);
        i.status = IncidentStatus::Acknowledged;
        acknowledged(&mut i, &s, mins(t0, 5));
        assert_eq!(i.next_escalation_at, Some(mins(t0, 30)));
        let text = step(&mut i, &s, mins(t0, 30)).unwrap();
        assert!(text.contains("Paging L2"), "{text}");
        assert_eq!(i.next_escalation_at, None, "once");
        let mut late = incident(t0);
        late.status = IncidentStatus::Acknowledged;
        acknowledged(&mut late, &s, mins(t0, 45));
        assert_eq!(late.next_escalation_at, None);
    }

    #[test]
    fn silenced_incidents_are_not_paged() {
        let s = settings();
        let t0: jiff::Timestamp = "2026-11-21T07:00:00Z".parse().unwrap();
        let mut i = incident(t0);
        i.silenced = true;
        assert_eq!(start(&mut i, &s, t0), None);
        assert_eq!(i.next_escalation_at, None);
    }
}
