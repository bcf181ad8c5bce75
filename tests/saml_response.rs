//! SAML Web Browser SSO profile checks on xmlsec1-signed responses: one passing case
//! per IdP shape, and one failing case per check, each asserting its stable code.

use saml_edge::saml::response::{decode_posted, Expectation, Identity};
use saml_edge::saml::{validate_response, Connector, Instant};

const NOW: &str = "2026-01-01T00:01:00Z";
const REQUEST: &str = "_req-7f3c2a";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/signed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (run scripts/gen-fixtures.sh)"))
}

fn connector_json() -> serde_json::Value {
    let path = format!("{}/tests/fixtures/connectors/acme.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("connector")).expect("json")
}

fn connector_with(changes: serde_json::Value) -> Connector {
    let mut json = connector_json();
    for (key, value) in changes.as_object().expect("object") {
        json[key] = value.clone();
    }
    Connector::from_json("acme", &json.to_string()).expect("valid connector").0
}

fn acme() -> Connector {
    connector_with(serde_json::json!({}))
}

fn at(now: &str) -> Instant {
    Instant::parse(now).expect("time")
}

fn validate(xml: &str, connector: &Connector, now: &str, request_id: Option<&str>) -> Result<Identity, &'static str> {
    validate_response(xml.as_bytes(), connector, Expectation { now: at(now), request_id }).map_err(|e| e.code())
}

/// The code of a rejection with the default connector, time and request.
fn code(xml: &str) -> &'static str {
    code_with(xml, &acme(), NOW, Some(REQUEST))
}

fn code_with(xml: &str, connector: &Connector, now: &str, request_id: Option<&str>) -> &'static str {
    match validate(xml, connector, now, request_id) {
        Ok(_) => "ok",
        Err(code) => code,
    }
}

fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(xml.matches(from).count(), 1, "expected exactly one {from:?}");
    xml.replacen(from, to, 1)
}

fn remove_between(xml: &str, start: &str, end: &str) -> String {
    let s = xml.find(start).expect("start marker");
    let e = xml[s..].find(end).expect("end marker") + s + end.len();
    format!("{}{}", &xml[..s], &xml[e..])
}

// --- valid responses ---------------------------------------------------------------------

#[test]
fn sp_initiated_response_yields_the_identity() {
    let identity = validate(&fixture("assertion-rsa-sha256.xml"), &acme(), NOW, Some(REQUEST)).unwrap();
    assert_eq!(identity.name_id, "alice@example.com");
    assert_eq!(identity.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
    assert_eq!(identity.issuer, "https://idp.example.test/metadata");
    assert_eq!(identity.session_index.as_deref(), Some("_session-42"));
    assert_eq!(identity.session_not_on_or_after, Some(at("2026-01-01T08:00:00Z")));
    assert_eq!(identity.in_response_to.as_deref(), Some(REQUEST));
    assert_eq!(identity.attribute("groups").unwrap(), ["admins", "staff"]);
    assert_eq!(identity.profile.name.as_deref(), Some("Zoë O'Brien & <Co>"));
    assert_eq!(identity.profile.email.as_deref(), Some("alice@example.com"));
    assert!(identity.assertion_signed && !identity.response_signed);
}

#[test]
fn response_signed_and_both_signed_are_valid() {
    let response_only = validate(&fixture("response-rsa-sha256.xml"), &acme(), NOW, Some(REQUEST)).unwrap();
    assert!(response_only.response_signed && !response_only.assertion_signed);
    let both = validate(&fixture("both-rsa-sha256.xml"), &acme(), NOW, Some(REQUEST)).unwrap();
    assert!(both.response_signed && both.assertion_signed);
}

#[test]
fn responses_shaped_like_each_idp_are_valid() {
    for (name, email, display) in [
        ("okta.xml", "alice@example.com", "Zoë O'Brien & <Co>"),
        ("entra.xml", "alice@example.com", "Zoë O'Brien & <Co>"),
        ("adfs.xml", "alice@example.com", "Zoë O'Brien & <Co>"),
        ("google.xml", "alice@example.com", "Zoë O'Brien & <Co>"),
        ("shibboleth.xml", "alice@example.com", "Zoë O'Brien & <Co>"),
    ] {
        // No profileMap: the defaults must find each IdP's claim names.
        let connector = connector_with(serde_json::json!({"profileMap": null}));
        let identity = validate(&fixture(name), &connector, NOW, Some(REQUEST)).unwrap_or_else(|c| panic!("{name}: {c}"));
        assert_eq!(identity.profile.email.as_deref(), Some(email), "{name}");
        assert_eq!(identity.profile.name.as_deref(), Some(display), "{name}");
    }
}

#[test]
fn rollover_key_is_accepted_when_configured() {
    let both_certs = format!(
        "{}{}",
        include_str!("keys/idp-rsa2048.crt"),
        include_str!("keys/rollover-rsa2048.crt")
    );
    let xml = fixture("assertion-rollover-key.xml");
    assert_eq!(code(&xml), "dsig.signature_invalid");
    assert_eq!(code_with(&xml, &connector_with(serde_json::json!({"x509Certificate": both_certs})), NOW, Some(REQUEST)), "ok");
}

#[test]
fn clock_skew_applies_both_ways() {
    let xml = fixture("assertion-rsa-sha256.xml");
    // Conditions NotBefore 23:59:00, SubjectConfirmationData NotOnOrAfter 00:05:00, skew 5 s.
    assert_eq!(code_with(&xml, &acme(), "2025-12-31T23:58:56Z", Some(REQUEST)), "ok");
    assert_eq!(code_with(&xml, &acme(), "2026-01-01T00:05:04Z", Some(REQUEST)), "ok");
    let no_skew = connector_with(serde_json::json!({"timeout": 0}));
    assert_eq!(code_with(&xml, &no_skew, "2025-12-31T23:58:56Z", Some(REQUEST)), "saml.not_yet_valid");
}

#[test]
fn posted_value_is_decoded_from_base64() {
    use base64::Engine as _;
    let posted = base64::engine::general_purpose::STANDARD.encode(fixture("assertion-rsa-sha256.xml"));
    let wrapped: String = posted.as_bytes().chunks(76).map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap())).collect();
    let xml = decode_posted(&wrapped).unwrap();
    assert!(validate_response(&xml, &acme(), Expectation { now: at(NOW), request_id: Some(REQUEST) }).is_ok());
    assert_eq!(decode_posted("%%%").unwrap_err().code(), "saml.response_encoding");
    assert_eq!(decode_posted("aGVsbG8=").unwrap_err().code(), "saml.response_encoding");
}

// --- one rejection per check ------------------------------------------------------------

#[test]
fn not_a_response() {
    assert_eq!(code("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_x\" Version=\"2.0\"/>"), "saml.not_a_response");
}

#[test]
fn wrong_version() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "ID=\"_resp-0001\" Version=\"2.0\"", "ID=\"_resp-0001\" Version=\"1.1\"");
    assert_eq!(code(&xml), "saml.version");
}

#[test]
fn status_not_success_carries_the_idps_words() {
    let xml = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode><samlp:StatusMessage>User cancelled</samlp:StatusMessage></samlp:Status></samlp:Response>"#;
    let error = validate_response(xml.as_bytes(), &acme(), Expectation { now: at(NOW), request_id: Some(REQUEST) }).unwrap_err();
    assert_eq!(error.code(), "saml.status");
    let message = error.to_string();
    assert!(message.contains("Responder") && message.contains("AuthnFailed") && message.contains("User cancelled"), "{message}");
}

#[test]
fn status_missing() {
    let xml = remove_between(&fixture("assertion-rsa-sha256.xml"), "<samlp:Status>", "</samlp:Status>");
    assert_eq!(code(&xml), "saml.status_missing");
}

#[test]
fn two_assertions() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let copy = xml[start..end].replace("_assert-0001", "_assert-0002");
    let xml = replace_once(&xml, "</samlp:Response>", &format!("{copy}</samlp:Response>"));
    assert_eq!(code(&xml), "saml.assertion_count");
}

#[test]
fn no_assertion() {
    let xml = remove_between(&fixture("assertion-rsa-sha256.xml"), "<saml:Assertion", "</saml:Assertion>");
    assert_eq!(code(&xml), "saml.assertion_count");
}

#[test]
fn encrypted_assertion_without_a_decryption_key() {
    let xml = remove_between(&fixture("assertion-rsa-sha256.xml"), "<saml:Assertion", "</saml:Assertion>");
    let xml = replace_once(&xml, "</samlp:Response>", "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedAssertion></samlp:Response>");
    assert_eq!(code(&xml), "saml.encrypted_assertion_unsupported");
}

#[test]
fn assertion_not_covered_by_any_signature() {
    let xml = remove_between(&fixture("assertion-rsa-sha256.xml"), "<ds:Signature", "</ds:Signature>");
    assert_eq!(code(&xml), "saml.assertion_unsigned");
}

#[test]
fn response_signature_required() {
    let connector = connector_with(serde_json::json!({"wantResponseSigned": true}));
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &connector, NOW, Some(REQUEST)), "saml.response_signature_required");
    assert_eq!(code_with(&fixture("both-rsa-sha256.xml"), &connector, NOW, Some(REQUEST)), "ok");
}

#[test]
fn assertion_signature_required() {
    let connector = connector_with(serde_json::json!({"wantAssertionsSigned": true}));
    assert_eq!(code_with(&fixture("response-rsa-sha256.xml"), &connector, NOW, Some(REQUEST)), "saml.assertion_signature_required");
}

#[test]
fn an_invalid_signature_is_never_ignored() {
    // The Response signature is broken, the Assertion's is fine: still refused.
    let xml = fixture("both-rsa-sha256.xml");
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let xml = String::from_utf8(bytes).unwrap();
    assert_eq!(code(&xml), "dsig.signature_invalid");
}

#[test]
fn response_issuer_mismatch() {
    let connector = connector_with(serde_json::json!({"idpEntityId": "https://other-idp.example.test/metadata"}));
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &connector, NOW, Some(REQUEST)), "saml.issuer_mismatch");
}

#[test]
fn assertion_issuer_mismatch() {
    // The (unsigned) Response Issuer is dropped, so the signed Assertion's Issuer is checked.
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "  <saml:Issuer>https://idp.example.test/metadata</saml:Issuer>\n  <samlp:Status>", "  <samlp:Status>");
    let connector = connector_with(serde_json::json!({"idpEntityId": "https://other-idp.example.test/metadata"}));
    let error = validate_response(xml.as_bytes(), &connector, Expectation { now: at(NOW), request_id: Some(REQUEST) }).unwrap_err();
    assert_eq!(error.code(), "saml.issuer_mismatch");
    assert!(error.to_string().starts_with("Assertion Issuer"), "{error}");
}

#[test]
fn destination_mismatch() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "Destination=\"https://sp.example.test/api/authn/saml/acme\"", "Destination=\"https://sp.example.test/api/authn/saml/other\"");
    assert_eq!(code(&xml), "saml.destination_mismatch");
}

#[test]
fn recipient_mismatch() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), " Destination=\"https://sp.example.test/api/authn/saml/acme\"", "");
    let connector = connector_with(serde_json::json!({"assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/other"}));
    assert_eq!(code_with(&xml, &connector, NOW, Some(REQUEST)), "saml.recipient_mismatch");
}

#[test]
fn subject_confirmation_expired() {
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &acme(), "2026-01-01T00:05:05Z", Some(REQUEST)), "saml.confirmation_expired");
}

#[test]
fn in_response_to_mismatch() {
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &acme(), NOW, Some("_req-other")), "saml.in_response_to_mismatch");
}

#[test]
fn replayed_response_without_the_request_tracking() {
    // A genuine SP-initiated response, posted where no request is being tracked.
    let allow = connector_with(serde_json::json!({"allowIdpInitiated": true}));
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &allow, NOW, None), "saml.in_response_to_unexpected");
}

#[test]
fn conditions_not_yet_valid() {
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &acme(), "2025-12-31T23:58:00Z", Some(REQUEST)), "saml.not_yet_valid");
}

#[test]
fn conditions_expired() {
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &acme(), "2026-01-01T00:10:05Z", Some(REQUEST)), "saml.expired");
}

#[test]
fn audience_mismatch() {
    let connector = connector_with(serde_json::json!({"entityID": "https://other-sp.example.test/metadata"}));
    assert_eq!(code_with(&fixture("assertion-rsa-sha256.xml"), &connector, NOW, Some(REQUEST)), "saml.audience_mismatch");
}

#[test]
fn sha1_signed_response_needs_allow_sha1() {
    let xml = fixture("assertion-rsa-sha1.xml");
    assert_eq!(code(&xml), "dsig.sha1_not_allowed");
    assert_eq!(code_with(&xml, &connector_with(serde_json::json!({"allowSha1": true})), NOW, Some(REQUEST)), "ok");
}

#[test]
fn weak_key_needs_a_lowered_minimum() {
    let weak = include_str!("keys/weak-rsa1024.crt");
    let xml = fixture("assertion-weak-rsa1024.xml");
    assert_eq!(code_with(&xml, &connector_with(serde_json::json!({"x509Certificate": weak})), NOW, Some(REQUEST)), "dsig.key_too_small");
    let lowered = connector_with(serde_json::json!({"x509Certificate": weak, "minRsaKeyBits": 1024}));
    assert_eq!(code_with(&xml, &lowered, NOW, Some(REQUEST)), "ok");
}

// --- checks that need a response signed with one deviation (tests/fixtures/signed/profile) --

fn profile(name: &str) -> String {
    fixture(&format!("profile/{name}"))
}

#[test]
fn unsolicited_response_only_when_allowed() {
    let xml = profile("idp-initiated.xml");
    assert_eq!(code_with(&xml, &acme(), NOW, None), "saml.unsolicited");
    let allow = connector_with(serde_json::json!({"allowIdpInitiated": true}));
    let identity = validate(&xml, &allow, NOW, None).unwrap();
    assert_eq!(identity.in_response_to, None);
}

#[test]
fn in_response_to_missing_when_a_request_was_sent() {
    let allow = connector_with(serde_json::json!({"allowIdpInitiated": true}));
    assert_eq!(code_with(&profile("idp-initiated.xml"), &allow, NOW, Some(REQUEST)), "saml.in_response_to_missing");
}

#[test]
fn signed_response_without_destination() {
    assert_eq!(code(&profile("response-signed-no-destination.xml")), "saml.destination_missing");
}

#[test]
fn no_bearer_subject_confirmation() {
    assert_eq!(code(&profile("holder-of-key-only.xml")), "saml.bearer_confirmation_missing");
    assert_eq!(code(&profile("no-subject-confirmation-data.xml")), "saml.bearer_confirmation_missing");
}

#[test]
fn subject_confirmation_not_yet_valid() {
    assert_eq!(code(&profile("confirmation-not-before.xml")), "saml.confirmation_not_yet_valid");
}

#[test]
fn conditions_missing() {
    assert_eq!(code(&profile("no-conditions.xml")), "saml.conditions_missing");
}

#[test]
fn audience_restriction_missing() {
    assert_eq!(code(&profile("no-audience-restriction.xml")), "saml.audience_missing");
}

#[test]
fn every_audience_restriction_must_name_us() {
    assert_eq!(code(&profile("two-audience-restrictions.xml")), "saml.audience_mismatch");
}

#[test]
fn authn_statement_missing() {
    assert_eq!(code(&profile("no-authn-statement.xml")), "saml.authn_statement_missing");
}

#[test]
fn name_id_missing() {
    assert_eq!(code(&profile("no-name-id.xml")), "saml.name_id_missing");
}

#[test]
fn encrypted_name_id_without_a_decryption_key() {
    assert_eq!(code(&profile("encrypted-id.xml")), "saml.encrypted_id_unsupported");
}

#[test]
fn malformed_time() {
    assert_eq!(code(&profile("bad-time.xml")), "saml.invalid_time");
}

#[test]
fn assertion_issuer_missing() {
    assert_eq!(code(&profile("no-assertion-issuer.xml")), "saml.issuer_missing");
}

#[test]
fn session_expired() {
    assert_eq!(code(&profile("session-expired.xml")), "saml.session_expired");
}

#[test]
fn comment_in_signed_name_id_yields_the_whole_value() {
    let identity = validate(&profile("comment-in-name-id.xml"), &acme(), NOW, Some(REQUEST)).unwrap();
    assert_eq!(identity.name_id, "alice@example.com.evil.test");
    assert_eq!(identity.profile.id, "alice@example.com.evil.test");
}

#[test]
fn profile_map_and_defaults() {
    let xml = profile("nameid-persistent-attributes-only.xml");
    let identity = validate(&xml, &connector_with(serde_json::json!({"profileMap": null})), NOW, Some(REQUEST)).unwrap();
    assert_eq!(identity.profile.id, "8f14e45f-ceea-467f-a0e6-6b5c9d1e3a2b");
    assert_eq!(identity.profile.email.as_deref(), Some("alice@example.com"));
    let mapped = connector_with(serde_json::json!({"profileMap": {"id": "email", "name": "groups"}}));
    let identity = validate(&xml, &mapped, NOW, Some(REQUEST)).unwrap();
    assert_eq!(identity.profile.id, "alice@example.com");
    assert_eq!(identity.profile.name.as_deref(), Some("admins"));
}

#[test]
fn an_unsigned_response_in_response_to_cannot_make_an_unsolicited_assertion_solicited() {
    // Only the Assertion is signed and it answers no request; the attacker adds
    // InResponseTo to the unsigned Response, naming a request of their own.
    let xml = replace_once(&profile("idp-initiated.xml"), "ID=\"_resp-0001\"", "ID=\"_resp-0001\" InResponseTo=\"_req-7f3c2a\"");
    assert_eq!(code(&xml), "saml.in_response_to_missing");
}
