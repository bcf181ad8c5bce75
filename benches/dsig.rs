//! Parse, canonicalize and verify an ~8 KB signed SAML Response (RSA-2048, SHA-256),
//! natively. Run: `cargo bench --bench dsig`.

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use saml_edge::c14n::{self, Method};
use saml_edge::dsig::{self, TrustedKey, VerifyPolicy};
use saml_edge::xml::{Document, Element, Limits};
use std::hint::black_box;

const RESPONSE: &str = include_str!("../tests/fixtures/signed/assertion-rsa-sha256-large.xml");
const IDP_CERT: &str = include_str!("../tests/keys/idp-rsa2048.crt");
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn assertion(doc: &Document) -> Element<'_> {
    doc.root().children_named(SAML_NS, "Assertion").next().expect("assertion")
}

fn bench(c: &mut Criterion) {
    let keys = TrustedKey::from_certificates(IDP_CERT).expect("cert");
    let policy = VerifyPolicy::default();
    let limits = Limits::default();
    let doc = Document::parse(RESPONSE.as_bytes(), &limits).expect("parse");
    let exclusive = Method { exclusive: true, ..Method::default() };

    let mut group = c.benchmark_group(format!("saml_response_{}_bytes", RESPONSE.len()));
    group.bench_function("parse", |b| b.iter(|| Document::parse(black_box(RESPONSE.as_bytes()), &limits).expect("parse")));
    group.bench_function("canonicalize_assertion_exc_c14n", |b| {
        b.iter(|| c14n::element_to_vec(assertion(&doc), &exclusive, None))
    });
    group.bench_function("verify_assertion", |b| {
        b.iter(|| dsig::verify_element(assertion(&doc), &keys, &policy).expect("verifies").key_index())
    });
    group.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            let doc = Document::parse(black_box(RESPONSE.as_bytes()), &limits).expect("parse");
            dsig::verify_element(assertion(&doc), &keys, &policy).expect("verifies").key_index()
        })
    });
    // The two RSA backends on one RSA-2048/SHA-256 signature (the SignedInfo's).
    let signed_info = doc.elements().find(|e| e.is("http://www.w3.org/2000/09/xmldsig#", "SignedInfo")).expect("SignedInfo");
    let digest = dsig::algorithms::HashAlgorithm::Sha256.digest(&c14n::element_to_vec(signed_info, &exclusive, None));
    let value: String = doc.elements().find(|e| e.is("http://www.w3.org/2000/09/xmldsig#", "SignatureValue")).expect("value").text().split_whitespace().collect();
    let signature = base64::engine::general_purpose::STANDARD.decode(value).expect("base64");
    for (name, backend) in [("rsa2048_verify_rustcrypto", &dsig::RustCryptoRsa as &dyn dsig::RsaVerifier), ("rsa2048_verify_fixed_width", &dsig::FixedWidthRsa)] {
        assert!(keys[0].verify(&dsig::algorithms::RSA_PKCS1_SHA256, &digest, &signature, backend));
        group.bench_function(name, |b| b.iter(|| keys[0].verify(&dsig::algorithms::RSA_PKCS1_SHA256, black_box(&digest), &signature, backend)));
    }
    group.bench_function("load_certificate", |b| b.iter(|| TrustedKey::from_certificates(black_box(IDP_CERT)).expect("cert")));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
