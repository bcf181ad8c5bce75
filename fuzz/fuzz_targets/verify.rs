//! parse → canonicalize → verify, on arbitrary bytes. Any panic, crash or timeout is a
//! finding: every input must end in Ok or a coded error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saml_edge::c14n::{self, Method};
use saml_edge::dsig::{self, TrustedKey, VerifyPolicy};
use saml_edge::xml::{Document, Limits};
use std::sync::OnceLock;

fn keys() -> &'static [TrustedKey] {
    static KEYS: OnceLock<Vec<TrustedKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pem = concat!(
            include_str!("../../tests/keys/idp-rsa2048.crt"),
            include_str!("../../tests/keys/idp-p256.crt"),
        );
        TrustedKey::from_certificates(pem).expect("test certificates parse")
    })
}

fuzz_target!(|data: &[u8]| {
    // Small parsers that see attacker text directly: times, forms, return URLs.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = saml_edge::saml::Instant::parse(text);
        let _ = saml_edge::service::parse_form(data);
        let _ = saml_edge::service::redirect::resolve_return_to(text, "https://sp.example.test", &["https://app.example.test/x".into()]);
        let _ = saml_edge::saml::response::decode_posted(text);
    }
    let Ok(doc) = Document::parse(data, &Limits::default()) else { return };
    let policy = VerifyPolicy { allow_sha1: true, min_rsa_bits: 1024 };
    for exclusive in [false, true] {
        let method = Method { exclusive, with_comments: true, inclusive_prefixes: vec!["#default".into()] };
        let mut out = Vec::new();
        c14n::canonicalize_document(&doc, &method, None, &mut out);
        assert!(std::str::from_utf8(&out).is_ok(), "canonical output is UTF-8");
    }
    for element in doc.elements() {
        if matches!(dsig::signature_child(element), Ok(Some(_))) {
            let _ = dsig::verify_element(element, keys(), &policy).map_err(|e| e.code());
        }
    }
    let _ = doc.root().text();
});
