//! Stateless sessions: the session is an EdDSA (Ed25519) JWT that any backend can check
//! with its JWT library and `/.well-known/jwks.json`; an in-flight AuthnRequest is
//! tracked in a short-lived HMAC-sealed cookie. Nothing is stored server-side.
//!
//! Keys come from the `SESSION_SIGNING_KEY` secret: one or more base64 (or base64url)
//! 32-byte Ed25519 seeds separated by commas or whitespace. The first signs; all verify
//! and are published, so a key can be rotated in without logging anyone out.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hmac::Mac as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use crate::saml::Instant;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a session token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    Invalid,
    Expired,
}

impl SessionError {
    pub fn code(self) -> &'static str {
        match self {
            SessionError::Invalid => "session.invalid",
            SessionError::Expired => "session.expired",
        }
    }
}

struct KeyPair {
    kid: String,
    signing: SigningKey,
    verifying: VerifyingKey,
    tracking: [u8; 32],
}

/// The session signing keys.
pub struct SessionKeys {
    keys: Vec<KeyPair>,
}

impl SessionKeys {
    /// Parse the `SESSION_SIGNING_KEY` secret.
    pub fn from_secret(secret: &str) -> Result<SessionKeys, String> {
        let mut keys = Vec::new();
        for part in secret.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
            let bytes = URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .or_else(|_| STANDARD.decode(part))
                .map_err(|_| "SESSION_SIGNING_KEY: each key must be base64 of 32 random bytes".to_string())?;
            let seed: [u8; 32] = bytes.try_into().map_err(|_| "SESSION_SIGNING_KEY: each key must be exactly 32 bytes".to_string())?;
            keys.push(KeyPair::from_seed(seed));
        }
        if keys.is_empty() {
            return Err("SESSION_SIGNING_KEY is empty".into());
        }
        Ok(SessionKeys { keys })
    }

    /// A fresh key from 32 random bytes (the dev server's throwaway key).
    pub fn from_seed(seed: [u8; 32]) -> SessionKeys {
        SessionKeys { keys: vec![KeyPair::from_seed(seed)] }
    }

    /// `{"keys": [...]}` with every verification key.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(k.verifying.as_bytes()), "kid": k.kid, "alg": "EdDSA", "use": "sig"}))
            .collect();
        json!({ "keys": keys })
    }

    /// Sign `claims` as a compact JWS with the current key.
    pub fn mint(&self, claims: &Map<String, Value>) -> String {
        let key = &self.keys[0]; // from_secret refuses an empty list
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid});
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()));
        let signature = key.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Check a token's signature (any published key), algorithm and expiry; return its claims.
    pub fn verify(&self, token: &str, now: Instant) -> Result<Map<String, Value>, SessionError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(SessionError::Invalid);
        };
        let header: Value = decode_json(header)?;
        if header["alg"] != "EdDSA" {
            return Err(SessionError::Invalid);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| SessionError::Invalid)?;
        let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| SessionError::Invalid)?;
        let signing_input = &token[..header_len(token)];
        let verified = self
            .keys
            .iter()
            .filter(|k| header["kid"].as_str().is_none_or(|kid| kid == k.kid))
            .any(|k| k.verifying.verify_strict(signing_input.as_bytes(), &signature).is_ok());
        if !verified {
            return Err(SessionError::Invalid);
        }
        let Value::Object(claims) = decode_json(payload)? else { return Err(SessionError::Invalid) };
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now.unix_seconds() => Ok(claims),
            Some(_) => Err(SessionError::Expired),
            None => Err(SessionError::Invalid),
        }
    }

    /// Seal a small JSON value for a cookie: `base64url(json).base64url(hmac)`.
    pub fn seal(&self, value: &Value) -> String {
        let body = URL_SAFE_NO_PAD.encode(value.to_string());
        let tag = tracking_tag(&self.keys[0].tracking, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Open a sealed value (any current key), or None if it was not sealed by us.
    pub fn open(&self, sealed: &str) -> Option<Value> {
        let (body, tag) = sealed.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let authentic = self.keys.iter().any(|k| bool::from(tracking_tag(&k.tracking, body.as_bytes()).as_slice().ct_eq(&tag)));
        if !authentic {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }
}

impl KeyPair {
    fn from_seed(seed: [u8; 32]) -> KeyPair {
        let signing = SigningKey::from_bytes(&seed);
        let verifying = signing.verifying_key();
        // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
        let x = URL_SAFE_NO_PAD.encode(verifying.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!("{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{x}\"}}")));
        // A separate key for cookie MACs, derived so one secret serves both purposes.
        // Invariant, not input: HMAC accepts keys of every length, so this cannot fail.
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&seed).expect("HMAC takes any key length");
        mac.update(b"saml-edge request tracking v1");
        let tracking: [u8; 32] = mac.finalize().into_bytes().into();
        KeyPair { kid, signing, verifying, tracking }
    }
}

fn tracking_tag(key: &[u8; 32], body: &[u8]) -> Vec<u8> {
    // Invariant, not input: HMAC accepts keys of every length, so this cannot fail.
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn decode_json(part: &str) -> Result<Value, SessionError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| SessionError::Invalid)?;
    serde_json::from_slice(&bytes).map_err(|_| SessionError::Invalid)
}

/// Length of `header.payload` in a compact JWS.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::from_secret(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn mint_and_verify() {
        let keys = keys();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("alice"));
        claims.insert("exp".into(), json!(2000));
        let token = keys.mint(&claims);
        assert_eq!(keys.verify(&token, Instant::from_unix_seconds(1000)).unwrap()["sub"], "alice");
        assert_eq!(keys.verify(&token, Instant::from_unix_seconds(2000)), Err(SessionError::Expired));
        let tampered = token.replacen('.', ".e", 1);
        assert_eq!(keys.verify(&tampered, Instant(0)), Err(SessionError::Invalid));
        let other = SessionKeys::from_seed([8; 32]);
        assert_eq!(other.verify(&token, Instant(0)), Err(SessionError::Invalid));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old = SessionKeys::from_seed([1; 32]);
        let mut claims = Map::new();
        claims.insert("exp".into(), json!(2000));
        let token = old.mint(&claims);
        let rotated = SessionKeys::from_secret(&format!("{},{}", STANDARD.encode([2u8; 32]), STANDARD.encode([1u8; 32]))).unwrap();
        assert!(rotated.verify(&token, Instant(0)).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn alg_none_and_other_algorithms_refused() {
        let keys = keys();
        let forged = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(r#"{"exp":9999999999}"#));
        assert_eq!(keys.verify(&forged, Instant(0)), Err(SessionError::Invalid));
    }

    #[test]
    fn sealed_cookies() {
        let keys = keys();
        let sealed = keys.seal(&json!({"rid": "_r"}));
        assert_eq!(keys.open(&sealed).unwrap()["rid"], "_r");
        assert!(keys.open(&sealed.replace('.', ".A")).is_none());
        assert!(SessionKeys::from_seed([9; 32]).open(&sealed).is_none());
    }

    #[test]
    fn secret_format_errors() {
        assert!(SessionKeys::from_secret("").is_err());
        assert!(SessionKeys::from_secret("c2hvcnQ=").is_err());
    }
}
