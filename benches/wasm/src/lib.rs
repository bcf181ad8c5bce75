//! Exports one function per measured operation; `scripts/bench-edge.mjs` calls them in a
//! loop under Node (V8, the engine inside workerd) and reports time per call.

use base64::Engine as _;
use saml_edge::dsig::algorithms::RSA_PKCS1_SHA256;
use saml_edge::dsig::{RsaVerifier, RustCryptoRsa, TrustedKey};
use saml_edge::saml::response::{decode_posted, Expectation};
use saml_edge::saml::{validate_response, Connector, Instant};
use saml_edge::service::{self, block_on, MemoryEnv, Request};
use std::sync::OnceLock;
use wasm_bindgen::prelude::*;

const RESPONSE: &str = include_str!("../../../tests/fixtures/signed/assertion-rsa-sha256-large.xml");
const CONNECTOR: &str = include_str!("../../../tests/fixtures/connectors/acme.json");
const NOW: &str = "2026-01-01T00:01:00Z";
const SP_KEY: &str = include_str!("../../../tests/keys/sp-signing.key");
const SMALL: &str = include_str!("../../../tests/fixtures/signed/assertion-rsa-sha256.xml");
const ENCRYPTED_GCM: &str = include_str!("../../../tests/fixtures/encrypted/oaep-mgf1p-aes256-gcm.xml");
const SP_ENC_KEY: &str = include_str!("../../../tests/keys/sp-enc-rsa2048.key");

struct Fixture {
    posted: String,
    connector: Connector,
    request: Request,
    env: MemoryEnv,
    rsa: (TrustedKey, Vec<u8>, Vec<u8>),
    signing: (Connector, saml_edge::saml::authn_request::SpSigningKey),
    encrypting: Connector,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let posted = base64::engine::general_purpose::STANDARD.encode(RESPONSE);
        let connector = Connector::from_json("acme", CONNECTOR).expect("connector").0;
        let keys = saml_edge::session::SessionKeys::from_seed([9u8; 32]);
        let now = Instant::parse(NOW).expect("time");
        let sealed = keys.seal(&serde_json::json!({"rid": "_req-7f3c2a", "cid": "acme", "rt": "https://sp.example.test/", "exp": now.unix_seconds() + 600}));
        let body = format!("SAMLResponse={}&RelayState=r1", saml_edge::saml::authn_request::url_encode(&posted));
        let request = Request {
            method: "POST".into(),
            url: "https://sp.example.test/api/authn/saml/acme".into(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into()), ("cookie".into(), format!("saml_req_r1={sealed}"))],
            body: body.into_bytes(),
        };
        // One RSA-2048/SHA-256 signature to verify on its own: the SignedInfo's.
        let key = connector.trusted_keys()[0].clone();
        let (digest, signature) = signed_info_digest_and_signature();
        let env = MemoryEnv {
            kv: [("connector:acme".to_string(), CONNECTOR.to_string())].into(),
            vars: [
                ("SESSION_SIGNING_KEY".to_string(), base64::engine::general_purpose::STANDARD.encode([9u8; 32])),
                ("PUBLIC_ORIGIN".to_string(), "https://sp.example.test".to_string()),
            ]
            .into(),
            clock: Some(now),
            log_to_stderr: false,
            ..MemoryEnv::default()
        };
        let mut signing_json: serde_json::Value = serde_json::from_str(CONNECTOR).expect("json");
        signing_json["signAuthnRequest"] = true.into();
        signing_json["privateKey"] = SP_KEY.into();
        let signing_connector = Connector::from_json("acme", &signing_json.to_string()).expect("connector").0;
        let sp_key = saml_edge::saml::authn_request::SpSigningKey::from_pem(SP_KEY, None).expect("SP key");
        let mut encrypting: serde_json::Value = serde_json::from_str(CONNECTOR).expect("json");
        encrypting["encPrivateKey"] = SP_ENC_KEY.into();
        let encrypting = Connector::from_json("acme", &encrypting.to_string()).expect("connector").0;
        Fixture { posted, connector, request, env, rsa: (key, digest, signature), signing: (signing_connector, sp_key), encrypting }
    })
}

fn signed_info_digest_and_signature() -> (Vec<u8>, Vec<u8>) {
    use saml_edge::c14n::{self, Method};
    use saml_edge::xml::{Document, Limits};
    let doc = Document::parse(RESPONSE.as_bytes(), &Limits::default()).expect("parse");
    let dsig = "http://www.w3.org/2000/09/xmldsig#";
    let signed_info = doc.elements().find(|e| e.is(dsig, "SignedInfo")).expect("SignedInfo");
    let canonical = c14n::element_to_vec(signed_info, &Method { exclusive: true, ..Method::default() }, None);
    let digest = saml_edge::dsig::algorithms::HashAlgorithm::Sha256.digest(&canonical);
    let value = doc.elements().find(|e| e.is(dsig, "SignatureValue")).expect("SignatureValue").text();
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    (digest, base64::engine::general_purpose::STANDARD.decode(compact).expect("base64"))
}

/// Builds the fixture (parses the connector and certificate): part of a cold start.
#[wasm_bindgen]
pub fn prepare() -> usize {
    fixture().posted.len()
}

#[wasm_bindgen]
pub fn rsa2048_verify() -> bool {
    let (key, digest, signature) = &fixture().rsa;
    key.verify(&RSA_PKCS1_SHA256, digest, signature, &RustCryptoRsa as &dyn RsaVerifier)
}

#[wasm_bindgen]
pub fn rsa2048_verify_fixed_width() -> bool {
    let (key, digest, signature) = &fixture().rsa;
    key.verify(&RSA_PKCS1_SHA256, digest, signature, &saml_edge::dsig::FixedWidthRsa as &dyn RsaVerifier)
}

#[wasm_bindgen]
pub fn validate_response_8kb() -> bool {
    let f = fixture();
    let xml = decode_posted(&f.posted).expect("decode");
    validate_response(&xml, &f.connector, Expectation { now: Instant::parse(NOW).expect("time"), request_id: Some("_req-7f3c2a") }).is_ok()
}

#[wasm_bindgen]
pub fn acs_request_8kb() -> u16 {
    let f = fixture();
    block_on(service::handle(&f.env, f.request.clone())).status
}

#[wasm_bindgen]
pub fn authn_request_signed() -> bool {
    let (connector, key) = &fixture().signing;
    saml_edge::saml::authn_request::redirect_request(connector, Some(key), "_id", Instant(0), "relay").is_ok()
}

#[wasm_bindgen]
pub fn authn_request_unsigned() -> bool {
    saml_edge::saml::authn_request::redirect_request(&fixture().connector, None, "_id", Instant(0), "relay").is_ok()
}

fn validate_with_decryption_key(xml: &str) -> bool {
    let expect = Expectation { now: Instant::parse(NOW).expect("time"), request_id: Some("_req-7f3c2a") };
    validate_response(xml.as_bytes(), &fixture().encrypting, expect).is_ok()
}

/// The plain signed Assertion that the encrypted fixture carries: the baseline.
#[wasm_bindgen]
pub fn validate_response_small() -> bool {
    validate_with_decryption_key(SMALL)
}

/// The same Assertion encrypted (RSA-OAEP to RSA-2048, AES-256-GCM): the difference is
/// the decryption cost.
#[wasm_bindgen]
pub fn validate_encrypted_gcm() -> bool {
    validate_with_decryption_key(ENCRYPTED_GCM)
}
