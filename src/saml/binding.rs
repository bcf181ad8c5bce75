//! The two browser bindings SAML messages travel by (SAML bindings §3.4 and §3.5):
//! HTTP-Redirect (raw DEFLATE, base64, query string, optionally a signature over the
//! query) and HTTP-POST (base64 in a form field). Encoding what we send; decoding what we
//! receive, without trusting any of it yet.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::authn_request::SpSigningKey;
use crate::error::SamlError;
use crate::url::{percent_decode, url_encode};

/// Largest message accepted after inflating a Redirect-binding parameter (a DEFLATE bomb
/// stops here, not in memory).
pub const MAX_INFLATED_BYTES: usize = 1 << 20;

/// The form or query parameter that carries the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageParam {
    Request,
    Response,
}

impl MessageParam {
    pub fn name(self) -> &'static str {
        match self {
            MessageParam::Request => "SAMLRequest",
            MessageParam::Response => "SAMLResponse",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

/// The HTTP-Redirect URL for `xml`. With a signing key, `SigAlg` and `Signature` are
/// appended, the signature covering the query exactly as sent (§3.4.4.1).
pub fn redirect_url(destination: &str, param: MessageParam, xml: &str, relay_state: &str, signing: Option<(&SpSigningKey, &str)>) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
    let mut query = format!("{}={}", param.name(), url_encode(&STANDARD.encode(deflated)));
    if !relay_state.is_empty() {
        query.push_str(&format!("&RelayState={}", url_encode(relay_state)));
    }
    if let Some((key, algorithm)) = signing {
        query.push_str(&format!("&SigAlg={}", url_encode(algorithm)));
        let signature = key.sign(algorithm, query.as_bytes());
        query.push_str(&format!("&Signature={}", url_encode(&STANDARD.encode(signature))));
    }
    let separator = if destination.contains('?') { '&' } else { '?' };
    format!("{destination}{separator}{query}")
}

/// A signature carried in a Redirect-binding query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySignature {
    /// `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as received (still URL-encoded).
    pub signed_octets: String,
    pub algorithm: String,
    pub value: Vec<u8>,
}

/// A message as it arrived, before any check.
#[derive(Debug, Clone)]
pub struct Received {
    pub binding: Binding,
    pub param: MessageParam,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    /// Redirect binding only; POST messages carry XML signatures instead.
    pub query_signature: Option<QuerySignature>,
}

fn encoding(detail: impl Into<String>) -> SamlError {
    SamlError::MessageEncoding { detail: detail.into() }
}

/// Decode a Redirect-binding message from the raw query string (everything after `?`).
/// Each parameter may appear once; the signed octets are rebuilt from the raw values in
/// the order the binding fixes, whatever order they came in.
pub fn receive_redirect(raw_query: &str) -> Result<Received, SamlError> {
    let mut raw: Vec<(&str, &str)> = Vec::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if ["SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature"].contains(&name) {
            if raw.iter().any(|(n, _)| *n == name) {
                return Err(encoding(format!("{name} appears more than once in the query")));
            }
            raw.push((name, value));
        }
    }
    let get = |name: &str| raw.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let (param, message) = match (get("SAMLRequest"), get("SAMLResponse")) {
        (Some(m), None) => (MessageParam::Request, m),
        (None, Some(m)) => (MessageParam::Response, m),
        (Some(_), Some(_)) => return Err(encoding("the query carries both SAMLRequest and SAMLResponse")),
        (None, None) => return Err(encoding("the query carries no SAMLRequest or SAMLResponse")),
    };
    let deflated = decode_base64(&percent_decode(message.as_bytes()))?;
    let xml = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_INFLATED_BYTES)
        .map_err(|e| encoding(format!("{} is not raw DEFLATE data within {MAX_INFLATED_BYTES} bytes ({:?})", param.name(), e.status)))?;
    let relay_state = get("RelayState").map(|v| percent_decode(v.as_bytes()));
    let query_signature = match (get("SigAlg"), get("Signature")) {
        (None, None) => None,
        (Some(algorithm), Some(signature)) => {
            let mut signed_octets = format!("{}={message}", param.name());
            if let Some(relay_state) = get("RelayState") {
                signed_octets.push_str(&format!("&RelayState={relay_state}"));
            }
            signed_octets.push_str(&format!("&SigAlg={algorithm}"));
            Some(QuerySignature { signed_octets, algorithm: percent_decode(algorithm.as_bytes()), value: decode_base64(&percent_decode(signature.as_bytes()))? })
        }
        _ => return Err(encoding("SigAlg and Signature must come together")),
    };
    Ok(Received { binding: Binding::Redirect, param, xml, relay_state, query_signature })
}

/// Decode a POST-binding message from the decoded form fields.
pub fn receive_post(form: &[(String, String)]) -> Result<Received, SamlError> {
    let field = |name: &str| -> Result<Option<&str>, SamlError> {
        let mut values = form.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(encoding(format!("{name} appears more than once in the form")));
        }
        Ok(first)
    };
    let (param, message) = match (field("SAMLRequest")?, field("SAMLResponse")?) {
        (Some(m), None) => (MessageParam::Request, m),
        (None, Some(m)) => (MessageParam::Response, m),
        (Some(_), Some(_)) => return Err(encoding("the form carries both SAMLRequest and SAMLResponse")),
        (None, None) => return Err(encoding("the form carries no SAMLRequest or SAMLResponse")),
    };
    let xml = decode_base64(message)?;
    Ok(Received { binding: Binding::Post, param, xml, relay_state: field("RelayState")?.map(String::from), query_signature: None })
}

fn decode_base64(text: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|e| encoding(format!("not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_round_trip_with_signature() {
        let key = SpSigningKey::from_pem(include_str!("../../tests/keys/other-rsa2048.key"), None).unwrap();
        let algorithm = crate::dsig::algorithms::RSA_SHA256;
        let url = redirect_url("https://idp.test/slo?x=1", MessageParam::Request, "<a>é</a>", "r s/+", Some((&key, algorithm)));
        assert!(url.starts_with("https://idp.test/slo?x=1&SAMLRequest="));
        let query = url.split_once('?').unwrap().1.trim_start_matches("x=1&");
        let received = receive_redirect(query).unwrap();
        assert_eq!(received.param, MessageParam::Request);
        assert_eq!(received.xml, "<a>é</a>".as_bytes());
        assert_eq!(received.relay_state.as_deref(), Some("r s/+"));
        let signature = received.query_signature.unwrap();
        assert_eq!(signature.algorithm, algorithm);
        let public = crate::dsig::TrustedKey::from_public_key_der(
            &rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.public_key()).unwrap().into_vec(),
            [0; 32],
        )
        .unwrap();
        let policy = crate::dsig::VerifyPolicy::default();
        assert_eq!(crate::dsig::verify_detached(signature.signed_octets.as_bytes(), &signature.algorithm, &signature.value, std::slice::from_ref(&public), &policy), Ok(0));
        // Parameter order in the URL does not change the signed octets.
        let mut parts: Vec<&str> = query.split('&').collect();
        parts.reverse();
        let reordered = receive_redirect(&parts.join("&")).unwrap().query_signature.unwrap();
        assert_eq!(reordered.signed_octets, signature.signed_octets);
        // A changed RelayState breaks it.
        let tampered = receive_redirect(&query.replace("RelayState=r", "RelayState=R")).unwrap().query_signature.unwrap();
        assert!(crate::dsig::verify_detached(tampered.signed_octets.as_bytes(), &tampered.algorithm, &tampered.value, &[public], &policy).is_err());
    }

    #[test]
    fn malformed_queries_refused() {
        let code = |q: &str| receive_redirect(q).unwrap_err().code();
        assert_eq!(code(""), "saml.message_encoding");
        assert_eq!(code("SAMLRequest=AA&SAMLRequest=AA"), "saml.message_encoding");
        assert_eq!(code("SAMLRequest=AA&SAMLResponse=AA"), "saml.message_encoding");
        assert_eq!(code("SAMLRequest=%%%"), "saml.message_encoding");
        assert_eq!(code("SAMLRequest=AAAA&Signature=AA"), "saml.message_encoding");
        // A DEFLATE bomb: 4 MiB of zeros compresses to a few KiB.
        let bomb = STANDARD.encode(miniz_oxide::deflate::compress_to_vec(&vec![b'<'; 4 << 20], 9));
        assert_eq!(code(&format!("SAMLRequest={}", url_encode(&bomb))), "saml.message_encoding");
    }

    #[test]
    fn post_form() {
        let form = vec![("SAMLResponse".to_string(), STANDARD.encode("<x/>")), ("RelayState".to_string(), "abc".to_string())];
        let received = receive_post(&form).unwrap();
        assert_eq!((received.binding, received.param, received.xml.as_slice(), received.relay_state.as_deref()), (Binding::Post, MessageParam::Response, &b"<x/>"[..], Some("abc")));
        assert!(receive_post(&[]).is_err());
    }
}
