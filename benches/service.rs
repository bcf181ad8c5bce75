//! Full SAML validation and the sign-in service's hot paths, natively, through the same
//! core the edge builds run. Run: `cargo bench --bench service`.
//!
//! - validate_response: base64 decode → parse → verify → profile checks → identity
//! - authn_request_redirect: unsigned and RSA-SHA256-signed HTTP-Redirect URLs
//! - acs_request: a whole ACS POST through `service::handle` (form, tracking cookie,
//!   validation, session JWT), with an in-memory Env
//! - validate_encrypted: the same Assertion, signed then encrypted (RSA-OAEP key
//!   transport to an RSA-2048 SP key, AES-256-GCM and -CBC): the difference from
//!   validate_response_small is the cost of decryption, dominated by one RSA-2048
//!   private-key operation

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use saml_edge::saml::authn_request::{redirect_request, SpSigningKey};
use saml_edge::saml::response::{decode_posted, Expectation};
use saml_edge::saml::{validate_response, Connector, Instant};
use saml_edge::service::{self, block_on, MemoryEnv, Request};
use std::hint::black_box;

const RESPONSE: &str = include_str!("../tests/fixtures/signed/assertion-rsa-sha256-large.xml");
const CONNECTOR: &str = include_str!("../tests/fixtures/connectors/acme.json");
const SP_KEY: &str = include_str!("../tests/keys/sp-signing.key");
const SMALL: &str = include_str!("../tests/fixtures/signed/assertion-rsa-sha256.xml");
const ENCRYPTED_GCM: &str = include_str!("../tests/fixtures/encrypted/oaep-mgf1p-aes256-gcm.xml");
const ENCRYPTED_CBC: &str = include_str!("../tests/fixtures/encrypted/oaep-mgf1p-aes256-cbc.xml");
const SP_ENC_KEY: &str = include_str!("../tests/keys/sp-enc-rsa2048.key");

fn bench(c: &mut Criterion) {
    let now = Instant::parse("2026-01-01T00:01:00Z").unwrap();
    let posted = base64::engine::general_purpose::STANDARD.encode(RESPONSE);
    let (connector, _) = Connector::from_json("acme", CONNECTOR).unwrap();
    let expect = Expectation { now, request_id: Some("_req-7f3c2a") };

    let mut group = c.benchmark_group("service");
    group.bench_function("validate_response_8kb", |b| {
        b.iter(|| {
            let xml = decode_posted(black_box(&posted)).unwrap();
            validate_response(&xml, &connector, expect).unwrap().name_id
        })
    });
    group.bench_function("connector_from_json", |b| b.iter(|| Connector::from_json("acme", black_box(CONNECTOR)).unwrap()));

    group.bench_function("authn_request_redirect_unsigned", |b| b.iter(|| redirect_request(&connector, None, "_id", now, "relay").unwrap()));
    let mut signing = serde_json::from_str::<serde_json::Value>(CONNECTOR).unwrap();
    signing["signAuthnRequest"] = true.into();
    signing["privateKey"] = SP_KEY.into();
    let (signing_connector, _) = Connector::from_json("acme", &signing.to_string()).unwrap();
    let key = SpSigningKey::from_pem(SP_KEY, None).unwrap();
    group.bench_function("authn_request_redirect_signed_rsa2048", |b| {
        b.iter(|| redirect_request(&signing_connector, Some(&key), "_id", now, "relay").unwrap())
    });

    // The ACS through the whole core: the signed SP-initiated response with its tracking cookie.
    let tracking_env = MemoryEnv {
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
    let keys = saml_edge::session::SessionKeys::from_seed([9u8; 32]);
    let sealed = keys.seal(&serde_json::json!({"rid": "_req-7f3c2a", "cid": "acme", "rt": "https://sp.example.test/", "exp": now.unix_seconds() + 600}));
    let acs_body = format!("SAMLResponse={}&RelayState=r1", saml_edge::saml::authn_request::url_encode(&posted));
    let request = Request {
        method: "POST".into(),
        url: "https://sp.example.test/api/authn/saml/acme".into(),
        headers: vec![
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("cookie".into(), format!("saml_req_r1={sealed}")),
        ],
        body: acs_body.into_bytes(),
    };
    let check = block_on(service::handle(&tracking_env, request.clone()));
    assert_eq!(check.status, 303, "{}", String::from_utf8_lossy(&check.body));
    group.bench_function("acs_request_8kb", |b| b.iter(|| block_on(service::handle(&tracking_env, black_box(request.clone()))).status));

    let mut encrypting: serde_json::Value = serde_json::from_str(CONNECTOR).unwrap();
    encrypting["encPrivateKey"] = SP_ENC_KEY.into();
    let (encrypting, _) = Connector::from_json("acme", &encrypting.to_string()).unwrap();
    for (name, xml) in [("validate_response_small", SMALL), ("validate_encrypted_oaep_aes256_gcm", ENCRYPTED_GCM), ("validate_encrypted_oaep_aes256_cbc", ENCRYPTED_CBC)] {
        validate_response(xml.as_bytes(), &encrypting, expect).unwrap();
        group.bench_function(name, |b| b.iter(|| validate_response(black_box(xml.as_bytes()), &encrypting, expect).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
