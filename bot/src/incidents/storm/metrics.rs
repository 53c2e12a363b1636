//! The storm roll-up's metrics: boards open and incidents folded into them (read from the
//! store each keeper round, so every replica shows the same figures: take `max` across
//! replicas), and what this replica's keeper did: board renders queued (posts and edits
//! of pages), folded incidents given their own thread, and drains (a board closed with
//! its summary as its channel caught up). Registered by [`StormMetrics::register`] when
//! `app.rs` wires the keeper; a default (unregistered) set serves tests.

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

use super::keeper::Tended;

/// Cheap to clone: every clone updates the same series.
#[derive(Clone, Debug, Default)]
pub struct StormMetrics {
    boards_open: Gauge,
    folded: Gauge,
    board_edits: Counter,
    unfolded: Counter,
    drains: Counter,
}

impl StormMetrics {
    /// Creates the storm series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "storm_boards_open",
            "Storm boards open now (channels whose new incidents are folded), all replicas",
            metrics.boards_open.clone(),
        );
        registry.register(
            "storm_incidents_folded",
            "Incidents folded into an open storm board now (no root of their own yet), all replicas",
            metrics.folded.clone(),
        );
        registry.register(
            "storm_board_edits",
            "Storm board renders this replica queued (new pages posted, changed pages edited)",
            metrics.board_edits.clone(),
        );
        registry.register(
            "storm_incidents_unfolded",
            "Folded incidents this replica's keeper gave their own root and thread",
            metrics.unfolded.clone(),
        );
        registry.register(
            "storm_drains",
            "Storm boards this replica closed with a summary as their channel caught up",
            metrics.drains.clone(),
        );
        metrics
    }

    /// Counts what one keeper round did.
    pub fn round(&self, tended: &[Tended]) {
        for t in tended {
            if t.edited {
                self.board_edits.inc();
            }
            if t.closed {
                self.drains.inc();
            }
            self.unfolded.inc_by(t.unfolded as u64);
        }
    }

    /// Sets the store's figures: boards open, incidents folded into them.
    pub fn open(&self, boards: i64, folded: i64) {
        self.boards_open.set(boards);
        self.folded.set(folded);
    }

    /// The series' values, in registration order (for tests).
    pub fn values(&self) -> [u64; 5] {
        let gauge = |g: &Gauge| u64::try_from(g.get()).unwrap_or(0);
        [
            gauge(&self.boards_open),
            gauge(&self.folded),
            self.board_edits.get(),
            self.unfolded.get(),
            self.drains.get(),
        ]
    }
}
