//! SP-initiated sign-in: the AuthnRequest and its HTTP-Redirect binding (raw DEFLATE,
//! base64, URL encoding, RelayState, and optionally a signature over the exact query).

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};

use super::config::Connector;
use super::metadata::{escape, BINDING_POST};
use super::time::Instant;
use super::{ASSERTION_NS, PROTOCOL_NS};
use crate::dsig::algorithms;
use crate::error::{ConfigError, ConfigProblem};
pub use crate::url::url_encode;

/// An AuthnRequest ready to send: its ID (to match InResponseTo later) and the URL the
/// browser is redirected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRequest {
    pub id: String,
    pub url: String,
}

/// The AuthnRequest XML for this connector.
pub fn authn_request_xml(connector: &Connector, id: &str, issue_instant: Instant, destination: &str) -> String {
    let name_id_policy = match &connector.name_id_format {
        Some(format) => format!("<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>", escape(format)),
        None => "<samlp:NameIDPolicy AllowCreate=\"true\"/>".to_string(),
    };
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{BINDING_POST}\"><saml:Issuer>{}</saml:Issuer>{name_id_policy}</samlp:AuthnRequest>",
        escape(id),
        issue_instant,
        escape(destination),
        escape(&connector.acs_url),
        escape(&connector.entity_id),
    )
}

/// Build the HTTP-Redirect binding URL for an AuthnRequest with ID `id`. Signs the query
/// when the connector says `signAuthnRequest`.
pub fn redirect_request(
    connector: &Connector,
    signing_key: Option<&SpSigningKey>,
    id: &str,
    issue_instant: Instant,
    relay_state: &str,
) -> Result<RedirectRequest, ConfigError> {
    let destination = connector.sign_in_endpoint.as_deref().ok_or_else(|| ConfigError {
        connector: Some(connector.id.clone()),
        problems: vec![ConfigProblem {
            field: "signInEndpoint".into(),
            message: "no IdP sign-in endpoint is configured (set signInEndpoint or idpMetadataXml)".into(),
        }],
    })?;
    let xml = authn_request_xml(connector, id, issue_instant, destination);
    let signing = if connector.sign_authn_request {
        let key = signing_key.ok_or_else(|| ConfigError {
            connector: Some(connector.id.clone()),
            problems: vec![ConfigProblem { field: "privateKey".into(), message: "is required to sign AuthnRequests".into() }],
        })?;
        Some((key, connector.request_signature_algorithm.as_str()))
    } else {
        None
    };
    let url = super::binding::redirect_url(destination, super::binding::MessageParam::Request, &xml, relay_state, signing);
    Ok(RedirectRequest { id: id.to_string(), url })
}

/// The SP's RSA key for signing requests (`privateKey` / `privateKeyPass`).
#[derive(Clone)]
pub struct SpSigningKey {
    key: rsa::RsaPrivateKey,
}

impl std::fmt::Debug for SpSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpSigningKey(..)")
    }
}

impl SpSigningKey {
    /// PKCS#1 (`RSA PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) or encrypted PKCS#8
    /// (`ENCRYPTED PRIVATE KEY`, with `privateKeyPass`).
    pub fn from_pem(pem: &str, pass: Option<&str>) -> Result<SpSigningKey, String> {
        let pem = pem.trim();
        let key = if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            let pass = pass.ok_or("the key is encrypted: privateKeyPass is required")?;
            rsa::RsaPrivateKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes()).map_err(|e| format!("cannot decrypt the key: {e}"))?
        } else if pem.contains("BEGIN RSA PRIVATE KEY") {
            if pem.contains("Proc-Type: 4,ENCRYPTED") {
                return Err("legacy encrypted PEM is not supported: convert with `openssl pkcs8 -topk8`".into());
            }
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("not a PKCS#1 RSA key: {e}"))?
        } else {
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("not a PKCS#8 RSA key: {e}"))?
        };
        Ok(SpSigningKey { key })
    }

    /// PKCS#1 v1.5 signature with the hash the algorithm URI names (validated in config).
    pub fn sign(&self, algorithm: &str, message: &[u8]) -> Vec<u8> {
        use rsa::pkcs1v15::SigningKey;
        match algorithm {
            algorithms::RSA_SHA1 => SigningKey::<sha1::Sha1>::new(self.key.clone()).sign(message).to_vec(),
            algorithms::RSA_SHA512 => SigningKey::<sha2::Sha512>::new(self.key.clone()).sign(message).to_vec(),
            _ => SigningKey::<sha2::Sha256>::new(self.key.clone()).sign(message).to_vec(),
        }
    }

    pub fn public_key(&self) -> rsa::RsaPublicKey {
        self.key.to_public_key()
    }

    /// The public half as an XML-DSig `RSAKeyValue` (base64 Modulus and Exponent).
    pub fn rsa_key_value(&self) -> (String, String) {
        rsa_key_value(&self.key.to_public_key())
    }
}

/// (Modulus, Exponent) of an RSA public key, base64, for `ds:RSAKeyValue` in metadata.
pub(crate) fn rsa_key_value(public: &rsa::RsaPublicKey) -> (String, String) {
    use rsa::traits::PublicKeyParts as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    (b64(&public.n().as_ref().to_be_bytes_trimmed_vartime()), b64(&public.e().to_be_bytes_trimmed_vartime()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(extra: serde_json::Value) -> Connector {
        let mut json = serde_json::json!({
            "entityID": "https://sp.example.test/saml/metadata",
            "assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/acme",
            "signInEndpoint": "https://idp.example.test/sso",
            "x509Certificate": include_str!("../../tests/keys/idp-rsa2048.crt"),
            "nameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        });
        for (k, v) in extra.as_object().unwrap() {
            json[k] = v.clone();
        }
        Connector::from_json("acme", &json.to_string()).unwrap().0
    }

    fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
        url.split_once('?')?.1.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")))
    }

    fn url_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn redirect_binding_round_trips() {
        let c = connector(serde_json::json!({}));
        let now = Instant::parse("2026-01-01T00:00:00Z").unwrap();
        let request = redirect_request(&c, None, "_abc", now, "rs/1 x").unwrap();
        assert!(request.url.starts_with("https://idp.example.test/sso?SAMLRequest="));
        assert_eq!(query_param(&request.url, "RelayState"), Some("rs%2F1%20x"));
        let deflated = base64::engine::general_purpose::STANDARD.decode(url_decode(query_param(&request.url, "SAMLRequest").unwrap())).unwrap();
        let xml = String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&deflated).unwrap()).unwrap();
        let doc = crate::xml::Document::parse(xml.as_bytes(), &crate::xml::Limits::default()).unwrap();
        let root = doc.root();
        assert!(root.is(PROTOCOL_NS, "AuthnRequest"));
        assert_eq!(root.attribute("ID"), Some("_abc"));
        assert_eq!(root.attribute("IssueInstant"), Some("2026-01-01T00:00:00Z"));
        assert_eq!(root.attribute("Destination"), Some("https://idp.example.test/sso"));
        assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some("https://sp.example.test/api/authn/saml/acme"));
        assert_eq!(root.attribute("ProtocolBinding"), Some(BINDING_POST));
        assert!(xml.contains("<saml:Issuer>https://sp.example.test/saml/metadata</saml:Issuer>"));
        assert!(xml.contains("Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\""));
        assert!(query_param(&request.url, "Signature").is_none());
    }

    #[test]
    fn signed_redirect_verifies_over_the_exact_query() {
        use rsa::pkcs1v15::{Signature, VerifyingKey};
        use rsa::signature::Verifier as _;
        let pem = include_str!("../../tests/keys/other-rsa2048.key");
        let key = SpSigningKey::from_pem(pem, None).unwrap();
        let c = connector(serde_json::json!({"signAuthnRequest": true, "privateKey": pem}));
        let request = redirect_request(&c, Some(&key), "_abc", Instant(0), "rs").unwrap();
        let query = request.url.split_once('?').unwrap().1;
        let (signed, signature) = query.split_once("&Signature=").unwrap();
        assert!(signed.ends_with(&format!("SigAlg={}", url_encode(algorithms::RSA_SHA256))));
        let signature = base64::engine::general_purpose::STANDARD.decode(url_decode(signature)).unwrap();
        let verifier = VerifyingKey::<sha2::Sha256>::new(key.public_key());
        assert!(verifier.verify(signed.as_bytes(), &Signature::try_from(signature.as_slice()).unwrap()).is_ok());
        assert!(redirect_request(&c, None, "_abc", Instant(0), "rs").is_err(), "a signing connector needs its key");
    }
}
