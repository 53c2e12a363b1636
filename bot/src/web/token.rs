//! The secrets of the web console: sign-in link and session tokens (32 random bytes from
//! the OS, hex), what the store keeps of them (their SHA-256), and the CSRF token of a
//! session (derived from the session token, so it needs no storage of its own and is
//! worthless without the cookie it belongs to).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh secret token; `Err` when the OS has no randomness to give.
pub fn fresh() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(hex::encode(bytes))
}

/// What the store keeps of a token: its SHA-256, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of the session whose token is `session`: every form carries it, and a
/// POST without it (or with another session's) is refused.
pub fn csrf(session: &str) -> String {
    hex::encode(Sha256::digest(
        format!("opsbot-web-csrf:{session}").as_bytes(),
    ))
}

/// Whether `offered` is the CSRF token of `session` (compared in constant time).
pub fn csrf_matches(session: &str, offered: &str) -> bool {
    csrf(session).as_bytes().ct_eq(offered.as_bytes()).into()
}

/// Whether `text` looks like a token (64 lowercase hex digits): anything else is refused
/// before the store is asked.
pub fn well_formed(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_only_their_hashes_match() {
        let a = fresh().unwrap();
        let b = fresh().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        assert_ne!(hash(&a), a);
        assert_eq!(hash(&a), hash(&a));
        assert!(!well_formed("../etc") && !well_formed(&a.to_uppercase()));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let session = fresh().unwrap();
        let other = fresh().unwrap();
        assert!(csrf_matches(&session, &csrf(&session)));
        assert!(!csrf_matches(&session, &csrf(&other)));
        assert!(!csrf_matches(&session, ""));
    }
}
