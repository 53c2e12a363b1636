//! Secret-shaped text is redacted before it is recorded: a token pasted into a command
//! (a `logs --grep` pattern, an incident note, a silence reason) would otherwise be kept
//! verbatim for the whole retention and shown by `audit`. The hash chain covers the
//! redacted form. The redactor is the one `logs` uses ([`opsbot_commands::redact`]).

use opsbot_commands::redact::redact;

use super::AuditRecord;

/// Redacts the free-text fields of `record` (what was typed, the reason, the summary);
/// the other fields are names and ids chosen by opsbot or the chat platform.
pub(crate) fn redact_record(record: &mut AuditRecord) {
    for field in [&mut record.text, &mut record.reason, &mut record.summary] {
        let clean = match redact(field) {
            (std::borrow::Cow::Owned(clean), _) => Some(clean),
            (std::borrow::Cow::Borrowed(_), _) => None,
        };
        if let Some(clean) = clean {
            *field = clean;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{
            AuditWriter,
            testing::{all_entries, sample},
            verify,
        },
        store::scratch::backend_tests,
    };

    #[test]
    fn typed_secrets_are_redacted_and_plain_text_is_kept() {
        let mut r = sample(1);
        r.text = "incident note 1 my key is sk-test-1234567890abcdef".into();
        r.reason = "password=hunter2".into();
        r.summary = "Logs of x: 3 lines matching `sk-test-1234567890abcdef`".into();
        redact_record(&mut r);
        assert_eq!(r.text, "incident note 1 my key is sk-[redacted]");
        assert_eq!(r.reason, "password=[redacted]");
        assert_eq!(r.summary, "Logs of x: 3 lines matching `sk-[redacted]`");
        let mut plain = sample(2);
        redact_record(&mut plain);
        assert_eq!(plain, sample(2));
    }

    backend_tests! {
        async fn the_log_stores_and_chains_the_redacted_text(db) {
            let writer = AuditWriter::spawn(db.store.clone());
            let mut r = sample(1);
            r.text = "logs x --grep sk-test-1234567890abcdef".into();
            writer.append(r).await.unwrap();
            writer.close().await;
            let entries = all_entries(&db.store).await;
            assert_eq!(entries[0].record.text, "logs x --grep sk-[redacted]");
            assert!(verify(&db.store).await.unwrap().is_ok());
        }
    }
}
