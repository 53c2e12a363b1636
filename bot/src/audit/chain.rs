//! The hash chain: how an entry's hash is computed from its predecessor's hash, its
//! sequence number and every field of its record.
//!
//! Canonical encoding (version 1), fed to SHA-256 in this order:
//! the domain tag `opsbot-audit-v1\0`; `prev_hash` and then each text field as a u64
//! big-endian byte length followed by the UTF-8 bytes; optional text fields as one byte
//! `0` (absent) or `1` followed by the length-prefixed text; `seq`, `at` (unix
//! microseconds, the stored precision) and `duration_ms` as i64 big-endian; `decision` and
//! `outcome` as their stored names. Every field is length-delimited or fixed-size, so no
//! two different entries share an encoding.

use sha2::{Digest, Sha256};

use super::AuditRecord;

/// `prev_hash` of the first entry ever: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN: &[u8] = b"opsbot-audit-v1\0";

/// The hex SHA-256 of an entry at `seq` holding `record`, chained to `prev_hash`.
pub fn entry_hash(prev_hash: &str, seq: i64, record: &AuditRecord) -> String {
    // Destructured so that a new field in AuditRecord fails to compile until it is hashed.
    let AuditRecord {
        at,
        request_id,
        platform,
        actor_id,
        actor_name,
        channel,
        thread,
        text,
        command,
        service,
        environment,
        decision,
        reason,
        approver,
        outcome,
        summary,
        duration_ms,
    } = record;
    let mut h = Sha256::new();
    h.update(DOMAIN);
    put_str(&mut h, prev_hash);
    h.update(seq.to_be_bytes());
    h.update(at.as_microsecond().to_be_bytes());
    put_str(&mut h, request_id);
    put_str(&mut h, platform);
    put_str(&mut h, actor_id);
    put_str(&mut h, actor_name);
    put_str(&mut h, channel);
    put_opt(&mut h, thread.as_deref());
    put_str(&mut h, text);
    put_opt(&mut h, command.as_deref());
    put_opt(&mut h, service.as_deref());
    put_opt(&mut h, environment.as_deref());
    put_str(&mut h, decision.as_str());
    put_str(&mut h, reason);
    put_opt(&mut h, approver.as_deref());
    put_str(&mut h, outcome.as_str());
    put_str(&mut h, summary);
    h.update(duration_ms.to_be_bytes());
    hex::encode(h.finalize())
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn put_opt(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_str(h, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Decision, Outcome, testing::sample};

    #[test]
    fn hash_is_hex_sha256_and_deterministic() {
        let r = sample(1);
        let a = entry_hash(GENESIS_HASH, 1, &r);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, entry_hash(GENESIS_HASH, 1, &r));
        assert_ne!(a, entry_hash(GENESIS_HASH, 2, &r));
        assert_ne!(a, entry_hash(&a, 1, &r));
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample(1);
        let h = |r: &AuditRecord| entry_hash(GENESIS_HASH, 1, r);
        type Edit = Box<dyn Fn(&mut AuditRecord)>;
        let edits: Vec<Edit> = vec![
            Box::new(|r| {
                r.at =
                    r.at.checked_add(jiff::SignedDuration::from_micros(1))
                        .unwrap()
            }),
            Box::new(|r| r.request_id.push('x')),
            Box::new(|r| r.platform.push('x')),
            Box::new(|r| r.actor_id.push('x')),
            Box::new(|r| r.actor_name.push('x')),
            Box::new(|r| r.channel.push('x')),
            Box::new(|r| r.thread = Some(String::new())),
            Box::new(|r| r.text.push('x')),
            Box::new(|r| r.command = None),
            Box::new(|r| r.service = None),
            Box::new(|r| r.environment = None),
            Box::new(|r| r.decision = Decision::Denied),
            Box::new(|r| r.reason.push('x')),
            Box::new(|r| r.approver = Some("slack:U2".into())),
            Box::new(|r| r.outcome = Outcome::Failed),
            Box::new(|r| r.summary.push('x')),
            Box::new(|r| r.duration_ms += 1),
        ];
        let original = h(&base);
        for (i, edit) in edits.iter().enumerate() {
            let mut r = base.clone();
            edit(&mut r);
            assert_ne!(h(&r), original, "edit #{i} did not change the hash");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = sample(1);
        let mut b = sample(1);
        a.actor_id = "ab".into();
        a.actor_name = "c".into();
        b.actor_id = "a".into();
        b.actor_name = "bc".into();
        assert_ne!(
            entry_hash(GENESIS_HASH, 1, &a),
            entry_hash(GENESIS_HASH, 1, &b)
        );
        // Absent and empty optional fields differ.
        let mut c = sample(1);
        c.thread = Some(String::new());
        assert_ne!(
            entry_hash(GENESIS_HASH, 1, &sample(1)),
            entry_hash(GENESIS_HASH, 1, &c)
        );
    }
}
