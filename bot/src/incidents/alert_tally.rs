//! What an incident's alerts add up to, without loading them: how many fire, how many of
//! those are silenced, and the worst severity. The incident's state (resolved, silenced,
//! severity) and its root message follow from this tally, so a storm that piles
//! thousands of alerts on one incident costs one aggregate query per change, not a
//! load of every alert.

use opsbot_alerts::Severity;

/// The alerts of one incident, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTally {
    /// Every alert ever seen on the incident.
    pub total: usize,
    /// Alerts firing now.
    pub firing: usize,
    /// Firing alerts that no silence or maintenance window covers.
    pub firing_paged: usize,
    /// The worst severity among firing alerts.
    pub worst_firing: Option<Severity>,
    /// The worst severity among all alerts.
    pub worst_any: Option<Severity>,
}

impl AlertTally {
    /// Adds `count` alerts of one `(status, severity, silenced)` kind.
    pub fn add(&mut self, firing: bool, severity: &str, silenced: bool, count: usize) {
        let severity = Severity::from_label(Some(severity));
        self.total += count;
        self.worst_any = self.worst_any.max(Some(severity));
        if firing {
            self.firing += count;
            if !silenced {
                self.firing_paged += count;
            }
            self.worst_firing = self.worst_firing.max(Some(severity));
        }
    }

    /// Severity of the incident: the worst firing alert, else the worst alert.
    pub fn severity(&self) -> Severity {
        self.worst_firing
            .or(self.worst_any)
            .unwrap_or(Severity::Warning)
    }

    /// Something fires and every firing alert is silenced.
    pub fn all_firing_silenced(&self) -> bool {
        self.firing > 0 && self.firing_paged == 0
    }

    /// Alerts were seen and none fires any more.
    pub fn all_resolved(&self) -> bool {
        self.total > 0 && self.firing == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_is_the_worst_firing_then_the_worst_seen() {
        let mut tally = AlertTally::default();
        tally.add(false, "critical", false, 1);
        tally.add(true, "warning", false, 3);
        assert_eq!(tally.severity(), Severity::Warning);
        assert_eq!((tally.total, tally.firing), (4, 3));
        let mut resolved = AlertTally::default();
        resolved.add(false, "critical", false, 2);
        resolved.add(false, "info", false, 1);
        assert_eq!(resolved.severity(), Severity::Critical);
        assert!(resolved.all_resolved());
        assert_eq!(AlertTally::default().severity(), Severity::Warning);
        assert!(!AlertTally::default().all_resolved());
    }

    #[test]
    fn silenced_only_when_every_firing_alert_is() {
        let mut tally = AlertTally::default();
        tally.add(true, "warning", true, 2);
        tally.add(false, "warning", false, 5);
        assert!(tally.all_firing_silenced());
        tally.add(true, "critical", false, 1);
        assert!(!tally.all_firing_silenced());
        assert!(!AlertTally::default().all_firing_silenced());
    }
}
