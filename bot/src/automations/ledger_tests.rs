//! The automations' store on both backends: the kill switch (one name, every automation,
//! idempotent pause and resume) and the ledger (one run per trigger, what the rate limit
//! and the cooldown count).

use super::*;
use crate::store::scratch::backend_tests;

fn entry<'a>(trigger_key: &'a str, service: &'a str, at_us: i64) -> Entry<'a> {
    Entry {
        automation: "restarter",
        service,
        trigger_key,
        incident: Some(1),
        outcome: "pending",
        detail: "",
        at_us,
    }
}

backend_tests! {
    async fn a_pause_holds_until_resumed_and_a_pause_of_all_covers_every_automation(db) {
        let store = &db.store;
        assert_eq!(paused(store, "restarter").await.unwrap(), None);
        assert!(pause(store, "restarter", "Alice (slack:U0ALICE)").await.unwrap());
        assert!(!pause(store, "restarter", "Bob").await.unwrap(), "already paused");
        assert_eq!(
            paused(store, "restarter").await.unwrap().as_deref(),
            Some("paused by Alice (slack:U0ALICE)")
        );
        assert_eq!(paused(store, "other").await.unwrap(), None);
        assert!(pause(store, ALL, "Bob").await.unwrap());
        assert_eq!(
            paused(store, "other").await.unwrap().as_deref(),
            Some("every automation is paused by Bob")
        );
        assert_eq!(pauses(store).await.unwrap().len(), 2);
        assert!(resume(store, "restarter").await.unwrap());
        assert!(!resume(store, "restarter").await.unwrap(), "not paused any more");
        assert!(paused(store, "restarter").await.unwrap().is_some(), "`*` still holds it");
        assert!(resume(store, ALL).await.unwrap());
        assert!(pauses(store).await.unwrap().is_empty());
        assert_eq!(paused(store, "restarter").await.unwrap(), None);
    }

    async fn a_trigger_is_claimed_once_and_only_started_runs_count(db) {
        let store = &db.store;
        assert!(claim(store, &entry("incident:1:100", "ai", 100)).await.unwrap());
        assert!(
            !claim(store, &entry("incident:1:100", "ai", 100)).await.unwrap(),
            "a second delivery of the same trigger is not claimed"
        );
        assert!(started_since(store, "restarter", "ai", 0).await.unwrap().is_empty());
        settle(store, "restarter", "incident:1:100", "started", "", Some(7)).await.unwrap();
        assert!(claim(store, &entry("incident:1:200", "ai", 200)).await.unwrap());
        settle(store, "restarter", "incident:1:200", "refused", "cooldown", None).await.unwrap();
        assert!(claim(store, &entry("incident:1:300", "ai", 300)).await.unwrap());
        settle(store, "restarter", "incident:1:300", "started", "", Some(8)).await.unwrap();
        assert!(claim(store, &entry("incident:2:400", "other", 400)).await.unwrap());
        settle(store, "restarter", "incident:2:400", "started", "", Some(9)).await.unwrap();
        assert_eq!(
            started_since(store, "restarter", "ai", 0).await.unwrap(),
            vec![300, 100],
            "newest first, refused runs and other services left out"
        );
        assert_eq!(started_since(store, "restarter", "ai", 150).await.unwrap(), vec![300]);
        assert!(started_since(store, "someone-else", "ai", 0).await.unwrap().is_empty());
    }
}
