//! Signature wrapping (XSW1–XSW8, after Somorovsky et al., "On Breaking SAML", 2012), built
//! from genuine xmlsec1-signed responses so every copied signature is itself valid. Each
//! must be refused, and no variant may ever yield the attacker's identity.

use saml_edge::saml::response::Expectation;
use saml_edge::saml::{validate_response, Connector, Instant};

const EVIL: &str = "mallory@evil.test";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/signed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture")
}

fn connector() -> Connector {
    let path = format!("{}/tests/fixtures/connectors/acme.json", env!("CARGO_MANIFEST_DIR"));
    Connector::from_json("acme", &std::fs::read_to_string(path).unwrap()).unwrap().0
}

fn outcome(xml: &str) -> Result<String, &'static str> {
    let expect = Expectation { now: Instant::parse("2026-01-01T00:01:00Z").unwrap(), request_id: Some("_req-7f3c2a") };
    validate_response(xml.as_bytes(), &connector(), expect).map(|i| i.name_id).map_err(|e| e.code())
}

/// The slice `<tag ...>...</tag>` of the first element with this start and end text.
fn element<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
    let s = xml.find(start).expect("start");
    let e = xml[s..].find(end).expect("end") + s + end.len();
    &xml[s..e]
}

fn without(xml: &str, part: &str) -> String {
    xml.replacen(part, "", 1)
}

fn evil(part: &str) -> String {
    part.replace(">alice@example.com<", &format!(">{EVIL}<"))
}

fn assert_refused(name: &str, xml: &str, expected: &[&str]) {
    match outcome(xml) {
        Ok(name_id) => panic!("{name}: accepted, signed in as {name_id}"),
        Err(code) => assert!(expected.contains(&code), "{name}: refused with {code}, expected one of {expected:?}"),
    }
}

/// Response-signed fixture: (whole document, the Response's Signature, the Assertion).
fn response_signed() -> (String, String, String) {
    let xml = fixture("response-rsa-sha256.xml");
    let signature = element(&xml, "<ds:Signature", "</ds:Signature>").to_string();
    let assertion = element(&xml, "<saml:Assertion", "</saml:Assertion>").to_string();
    (xml, signature, assertion)
}

/// Assertion-signed fixture: (whole document, the signed Assertion, its Signature).
fn assertion_signed() -> (String, String, String) {
    let xml = fixture("assertion-rsa-sha256.xml");
    let assertion = element(&xml, "<saml:Assertion", "</saml:Assertion>").to_string();
    let signature = element(&assertion, "<ds:Signature", "</ds:Signature>").to_string();
    (xml, assertion, signature)
}

fn original_response(xml: &str) -> &str {
    element(xml, "<samlp:Response", "</samlp:Response>")
}

#[test]
fn baseline_fixtures_are_valid() {
    assert_eq!(outcome(&fixture("response-rsa-sha256.xml")).unwrap(), "alice@example.com");
    assert_eq!(outcome(&fixture("assertion-rsa-sha256.xml")).unwrap(), "alice@example.com");
}

#[test]
fn xsw1_original_response_inside_the_copied_signature() {
    let (xml, signature, _) = response_signed();
    let original = original_response(&xml).to_string();
    let evil_response = evil(&without(&original, &signature)).replacen("ID=\"_resp-0001\"", "ID=\"_evil\"", 1);
    let wrapped_signature = signature.replacen("</ds:Signature>", &format!("<ds:Object>{original}</ds:Object></ds:Signature>"), 1);
    let attack = evil_response.replacen("</saml:Issuer>", &format!("</saml:Issuer>{wrapped_signature}"), 1);
    assert_refused("XSW1", &attack, &["saml.assertion_count", "dsig.unexpected_content", "dsig.reference_not_parent"]);
}

#[test]
fn xsw2_original_response_beside_the_copied_signature() {
    let (xml, signature, _) = response_signed();
    let original = original_response(&xml).to_string();
    let evil_response = evil(&without(&original, &signature)).replacen("ID=\"_resp-0001\"", "ID=\"_evil\"", 1);
    let attack = evil_response.replacen("</saml:Issuer>", &format!("</saml:Issuer>{signature}{original}"), 1);
    assert_refused("XSW2", &attack, &["saml.assertion_count", "dsig.reference_not_parent"]);
}

#[test]
fn xsw3_evil_assertion_with_the_same_id_before_the_signed_one() {
    let (xml, assertion, signature) = assertion_signed();
    let attack = xml.replacen(&assertion, &format!("{}{assertion}", evil(&without(&assertion, &signature))), 1);
    assert_refused("XSW3", &attack, &["saml.assertion_count", "dsig.reference_not_unique"]);
}

#[test]
fn xsw4_signed_assertion_wrapped_inside_the_evil_one() {
    let (xml, assertion, signature) = assertion_signed();
    let evil_assertion = evil(&without(&assertion, &signature));
    let wrapper = evil_assertion.replacen("</saml:Assertion>", &format!("{assertion}</saml:Assertion>"), 1);
    let attack = xml.replacen(&assertion, &wrapper, 1);
    assert_refused("XSW4", &attack, &["saml.assertion_count", "dsig.reference_not_unique"]);
}

#[test]
fn xsw5_evil_assertion_keeps_the_signature_original_copy_appended() {
    let (xml, assertion, signature) = assertion_signed();
    let attack = xml
        .replacen(&assertion, &evil(&assertion), 1)
        .replacen("</samlp:Response>", &format!("{}</samlp:Response>", without(&assertion, &signature)), 1);
    assert_refused("XSW5", &attack, &["saml.assertion_count", "dsig.reference_not_unique", "dsig.digest_mismatch"]);
}

#[test]
fn xsw6_original_assertion_inside_the_evil_assertions_signature() {
    let (xml, assertion, signature) = assertion_signed();
    let signature_with_original = signature.replacen("</ds:Signature>", &format!("<ds:Object>{}</ds:Object></ds:Signature>", without(&assertion, &signature)), 1);
    let attack = xml.replacen(&assertion, &evil(&assertion.replacen(&signature, &signature_with_original, 1)), 1);
    assert_refused("XSW6", &attack, &["saml.assertion_count", "dsig.unexpected_content", "dsig.reference_not_unique"]);
}

#[test]
fn xsw7_original_assertion_hidden_in_extensions() {
    let (xml, assertion, signature) = assertion_signed();
    let extensions = format!("<samlp:Extensions>{assertion}</samlp:Extensions>");
    let attack = xml
        .replacen(&assertion, &evil(&without(&assertion, &signature)), 1)
        .replacen("<samlp:Status>", &format!("{extensions}<samlp:Status>"), 1);
    assert_refused("XSW7", &attack, &["saml.assertion_count", "saml.assertion_unsigned"]);
}

#[test]
fn xsw8_original_assertion_inside_signature_object_of_evil_assertion() {
    let (xml, assertion, signature) = assertion_signed();
    let object = format!("<ds:Object>{}</ds:Object>", without(&assertion, &signature));
    let evil_signature = signature.replacen("</ds:Signature>", &format!("{object}</ds:Signature>"), 1);
    let attack = xml.replacen(&assertion, &evil(&assertion).replacen(&signature, &evil_signature, 1), 1);
    assert_refused("XSW8", &attack, &["saml.assertion_count", "dsig.unexpected_content", "dsig.reference_not_unique"]);
}

#[test]
fn signature_lifted_onto_a_lone_evil_assertion() {
    // No second assertion for the count to catch: the signature's Reference must still fail.
    let (xml, assertion, _) = assertion_signed();
    let attack = xml.replacen(&assertion, &evil(&assertion).replacen("ID=\"_assert-0001\"", "ID=\"_evil\"", 1), 1);
    assert_refused("lifted signature", &attack, &["dsig.reference_not_found"]);
    let same_id = xml.replacen(&assertion, &evil(&assertion), 1);
    assert_refused("edited assertion", &same_id, &["dsig.digest_mismatch"]);
}

#[test]
fn response_signature_does_not_cover_an_assertion_moved_out() {
    // The signed Response's assertion is replaced by an evil one: digest of the Response fails.
    let (xml, _, assertion) = response_signed();
    let attack = xml.replacen(&assertion, &evil(&assertion), 1);
    assert_refused("edited response", &attack, &["dsig.digest_mismatch"]);
}
