//! Alert fingerprints computed the way Prometheus and Alertmanager do, so alerts from
//! older Alertmanager versions (which send no `fingerprint`) dedupe with newer ones.

use std::collections::BTreeMap;

const FNV_OFFSET: u64 = 14695981039346656037;
const FNV_PRIME: u64 = 1099511628211;
const SEPARATOR: u8 = 0xff;

/// `model.LabelSet.Fingerprint()` of Prometheus' common library: FNV-1a 64 over the
/// label names and values sorted by name, each followed by a 0xff separator, printed as
/// 16 lowercase hex digits.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return format!("{FNV_OFFSET:016x}");
    }
    let mut hash = FNV_OFFSET;
    let mut add = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[SEPARATOR]);
        add(value.as_bytes());
        add(&[SEPARATOR]);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_independent_and_value_sensitive() {
        let a = label_fingerprint(&labels(&[("alertname", "Down"), ("job", "api")]));
        let b = label_fingerprint(&labels(&[("job", "api"), ("alertname", "Down")]));
        let c = label_fingerprint(&labels(&[("alertname", "Down"), ("job", "web")]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn separators_keep_names_and_values_apart() {
        let a = label_fingerprint(&labels(&[("ab", "c")]));
        let b = label_fingerprint(&labels(&[("a", "bc")]));
        assert_ne!(a, b);
    }
}
