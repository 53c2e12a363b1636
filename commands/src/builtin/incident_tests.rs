//! `incident timeline`, `postmortem`, `followup`'s refusals and `stats` against a
//! scripted [`IncidentRecords`]: which incident is asked for (given, or the thread's),
//! the Markdown attached to the reply, and the stats request built from the flags.

use std::sync::Mutex;

use super::testing::run_with_records;
use crate::{
    IncidentRef,
    context::{DeskError, IncidentRecords, RecordDocument, StatsReport, StatsRequest},
    reply::MARKDOWN,
};

#[derive(Default)]
struct ScriptedRecords {
    asked: Mutex<Vec<String>>,
    stats: Mutex<Vec<StatsRequest>>,
}

impl ScriptedRecords {
    fn document(&self, what: &str, id: i64) -> Result<RecordDocument, DeskError> {
        self.asked.lock().unwrap().push(format!("{what} {id}"));
        if id == 404 {
            return Err(DeskError::Refused("there is no incident 404".into()));
        }
        Ok(RecordDocument {
            title: format!("Incident #{id} — {what}"),
            lines: vec![format!("{what} of #{id}")],
            file_stem: format!("incident-{id}-{what}"),
            markdown: format!("# Incident #{id} {what}\n"),
        })
    }
}

#[async_trait::async_trait]
impl IncidentRecords for ScriptedRecords {
    async fn timeline(&self, id: i64) -> Result<RecordDocument, DeskError> {
        self.document("timeline", id)
    }
    async fn postmortem(&self, id: i64) -> Result<RecordDocument, DeskError> {
        self.document("postmortem", id)
    }
    async fn stats(&self, request: &StatsRequest) -> Result<StatsReport, DeskError> {
        self.stats.lock().unwrap().push(request.clone());
        Ok(StatsReport {
            title: "Incident stats".into(),
            lines: vec!["3 incidents".into()],
            chart: Some(b"\x89PNG".to_vec()),
        })
    }
}

fn thread(id: i64) -> Option<IncidentRef> {
    Some(IncidentRef { id, service: None })
}

#[tokio::test]
async fn the_timeline_and_postmortem_come_with_their_markdown() {
    let records = ScriptedRecords::default();
    let reply = run_with_records("incident timeline 42", &records, None)
        .await
        .unwrap();
    assert_eq!(reply.title, "Incident #42 — timeline");
    assert_eq!(reply.lines, ["timeline of #42"]);
    let file = reply.attachment.expect("the record is attached");
    assert_eq!(file.name, "incident-42-timeline.md");
    assert_eq!(file.media_type, MARKDOWN);
    assert_eq!(file.bytes, b"# Incident #42 timeline\n");
    // In an incident's thread the number may be left out.
    let reply = run_with_records("incident postmortem", &records, thread(7))
        .await
        .unwrap();
    assert_eq!(reply.attachment.unwrap().name, "incident-7-postmortem.md");
    assert_eq!(
        *records.asked.lock().unwrap(),
        ["timeline 42", "postmortem 7"]
    );
    // Outside a thread it must be given; a missing incident is refused.
    let error = run_with_records("incident timeline", &records, None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("which incident?"), "{error}");
    let error = run_with_records("incident timeline 404", &records, None)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "there is no incident 404");
    let error = run_with_records("incident timeline 4 extra words", &records, None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unexpected"), "{error}");
}

#[tokio::test]
async fn a_follow_up_needs_its_text() {
    let error = run_with_records("incident followup 42", &ScriptedRecords::default(), None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("incident followup ID TEXT"),
        "{error}"
    );
}

#[tokio::test]
async fn stats_read_since_and_service_and_attach_the_chart() {
    let records = ScriptedRecords::default();
    let before = jiff::Timestamp::now();
    let reply = run_with_records(
        "incident stats --since 7d --service wrkhrs-gateway",
        &records,
        None,
    )
    .await
    .unwrap();
    assert_eq!(reply.lines, ["3 incidents"]);
    let chart = reply.attachment.expect("the chart");
    assert!(chart.is_image());
    let asked = records.stats.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].service.as_deref(), Some("wrkhrs-gateway"));
    let week = jiff::SignedDuration::from_hours(7 * 24);
    let since = asked[0].since;
    assert!(
        since
            <= before
                .checked_sub(week)
                .unwrap()
                .checked_add(jiff::SignedDuration::from_secs(5))
                .unwrap()
    );
    assert!(
        since
            >= before
                .checked_sub(week)
                .unwrap()
                .checked_sub(jiff::SignedDuration::from_secs(5))
                .unwrap()
    );
    // Thirty days unless told otherwise.
    run_with_records("incident stats", &records, None)
        .await
        .unwrap();
    let default = records.stats.lock().unwrap()[1].since;
    assert!(
        default
            < before
                .checked_sub(jiff::SignedDuration::from_hours(29 * 24))
                .unwrap()
    );
    let error = run_with_records("incident stats 42", &records, None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("takes no incident number"),
        "{error}"
    );
    let error = run_with_records("incident show 42 --since 1d", &records, None)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`--since` goes with `incident stats` only"),
        "{error}"
    );
}
