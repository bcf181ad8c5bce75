//! Encrypted assertions (XML Encryption): fixtures encrypted by the real xmlsec1
//! (`scripts/gen-fixtures.sh`, tests/fixtures/encrypted/) and python3-saml's encrypted
//! responses. Every algorithm decrypts and the signed assertion inside verifies; every
//! refusal has its own code.

use saml_edge::dsig::{self, TrustedKey, VerifyPolicy};
use saml_edge::saml::encryption::{decrypt_element, decrypt_name_id, DecryptionKey};
use saml_edge::saml::response::{decode_posted, Expectation};
use saml_edge::saml::{validate_response, Connector, Instant, ASSERTION_NS};
use saml_edge::xml::{Document, Limits};

const NOW: &str = "2026-01-01T00:01:00Z";
const REQUEST: &str = "_req-7f3c2a";

fn read(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn encrypted(name: &str) -> String {
    read(&format!("tests/fixtures/encrypted/{name}"))
}

fn connector(extra: serde_json::Value) -> Connector {
    let mut json: serde_json::Value = serde_json::from_str(&read("tests/fixtures/connectors/acme.json")).unwrap();
    json["encPrivateKey"] = read("tests/keys/sp-enc-rsa2048.key").into();
    for (k, v) in extra.as_object().unwrap() {
        json[k] = v.clone();
    }
    Connector::from_json("acme", &json.to_string()).expect("connector").0
}

fn code(xml: &str, connector: &Connector) -> &'static str {
    let expect = Expectation { now: Instant::parse(NOW).unwrap(), request_id: Some(REQUEST) };
    match validate_response(xml.as_bytes(), connector, expect) {
        Ok(identity) => {
            assert_eq!(identity.name_id, "alice@example.com");
            "ok"
        }
        Err(e) => e.code(),
    }
}

#[test]
fn every_algorithm_decrypts_and_the_signed_assertion_inside_verifies() {
    let c = connector(serde_json::json!({}));
    let dir = format!("{}/tests/fixtures/encrypted", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for name in [
        "oaep-mgf1p-aes128-cbc.xml",
        "oaep-mgf1p-aes192-cbc.xml",
        "oaep-mgf1p-aes256-cbc.xml",
        "oaep-mgf1p-aes128-gcm.xml",
        "oaep-mgf1p-aes192-gcm.xml",
        "oaep-mgf1p-aes256-gcm.xml",
        "oaep11-sha256-mgf1sha256-aes256-gcm.xml",
        "oaep11-sha256-mgf1sha1-aes256-cbc.xml",
        "oaep11-sha512-mgf1sha512-aes128-gcm.xml",
        "oaep11-sha384-mgf1sha384-aes192-gcm.xml",
        "oaep11-sha1-mgf1sha1-aes128-cbc.xml",
        "oaep11-sha512-mgf1sha256-aes256-cbc.xml",
        "encrypted-key-beside-data.xml",
        "keyname-reference.xml",
        "encrypt-then-sign.xml",
    ] {
        assert!(std::path::Path::new(&format!("{dir}/{name}")).exists(), "{name}: run scripts/gen-fixtures.sh");
        assert_eq!(code(&encrypted(name), &c), "ok", "{name}");
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn rollover_any_configured_decryption_key() {
    let xml = encrypted("encrypted-with-enc2.xml");
    assert_eq!(code(&xml, &connector(serde_json::json!({}))), "saml.decryption_failed");
    let both = format!("{}{}", read("tests/keys/sp-enc-rsa2048.key"), read("tests/keys/sp-enc2-rsa2048.key"));
    assert_eq!(code(&xml, &connector(serde_json::json!({"encPrivateKey": both}))), "ok");
}

#[test]
fn rsa15_refused_unless_allowed() {
    let xml = encrypted("rsa15-aes128-cbc.xml");
    assert_eq!(code(&xml, &connector(serde_json::json!({}))), "saml.rsa15_refused");
    assert_eq!(code(&xml, &connector(serde_json::json!({"allowRsa15": true}))), "ok");
}

#[test]
fn wrong_key() {
    let wrong = connector(serde_json::json!({"encPrivateKey": read("tests/keys/sp-enc2-rsa2048.key")}));
    assert_eq!(code(&encrypted("oaep-mgf1p-aes256-cbc.xml"), &wrong), "saml.decryption_failed");
}

#[test]
fn no_decryption_key_configured() {
    let mut json: serde_json::Value = serde_json::from_str(&read("tests/fixtures/connectors/acme.json")).unwrap();
    json["encryptAssertion"] = false.into();
    let plain = Connector::from_json("acme", &json.to_string()).unwrap().0;
    assert_eq!(code(&encrypted("oaep-mgf1p-aes256-cbc.xml"), &plain), "saml.encrypted_assertion_unsupported");
}

/// Flip one byte inside the EncryptedData's CipherValue (the last CipherValue).
fn tamper_content(xml: &str, from_end: usize) -> String {
    use base64::Engine as _;
    let start = xml.rfind("<xenc:CipherValue>").expect("CipherValue") + "<xenc:CipherValue>".len();
    let end = start + xml[start..].find("</xenc:CipherValue>").unwrap();
    let b64: String = xml[start..end].split_whitespace().collect();
    let mut bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let at = bytes.len() - from_end;
    bytes[at] ^= 0x01;
    format!("{}{}{}", &xml[..start], base64::engine::general_purpose::STANDARD.encode(bytes), &xml[end..])
}

#[test]
fn tampered_gcm_tag() {
    let xml = tamper_content(&encrypted("oaep-mgf1p-aes256-gcm.xml"), 1);
    assert_eq!(code(&xml, &connector(serde_json::json!({}))), "saml.decryption_failed");
}

#[test]
fn tampered_cbc_padding_or_content() {
    // The last block carries the padding; flipping a bit in the IV of that block (the
    // second-to-last block) garbles the padding byte or the plaintext: either way refused.
    let xml = tamper_content(&encrypted("oaep-mgf1p-aes256-cbc.xml"), 17);
    let result = code(&xml, &connector(serde_json::json!({})));
    assert!(["saml.decryption_failed", "xml.malformed", "dsig.digest_mismatch"].contains(&result), "{result}");
    let xml = tamper_content(&encrypted("oaep-mgf1p-aes256-cbc.xml"), 40);
    assert_ne!(code(&xml, &connector(serde_json::json!({}))), "ok");
}

#[test]
fn encrypted_assertion_beside_a_plaintext_one_is_wrapping() {
    assert_eq!(code(&encrypted("double-encrypted-xsw.xml"), &connector(serde_json::json!({}))), "saml.assertion_count");
}

#[test]
fn encrypt_assertion_refuses_plaintext() {
    let plain = read("tests/fixtures/signed/assertion-rsa-sha256.xml");
    assert_eq!(code(&plain, &connector(serde_json::json!({"encryptAssertion": true}))), "saml.assertion_not_encrypted");
    assert_eq!(code(&plain, &connector(serde_json::json!({}))), "ok");
}

#[test]
fn python3_saml_encrypted_responses_decrypt_with_their_sp_key() {
    // python3-saml's fixtures: SP key customPath/certs/sp.key, key transport RSA-1.5 (so
    // refused by default, and opted in here); the assertion inside is signed by
    // customPath/certs/idp.crt (1024-bit, SHA-1: policy lowered for them).
    let base = "../shared/vectors/python3-saml";
    let keys = DecryptionKey::from_pem(&read(&format!("{base}/customPath/certs/sp.key")), None).unwrap();
    let idp = TrustedKey::from_certificates(&read(&format!("{base}/customPath/certs/idp.crt"))).unwrap();
    let policy = VerifyPolicy { allow_sha1: true, min_rsa_bits: 1024 };
    for name in ["double_signed_encrypted_assertion.xml.base64", "signed_encrypted_assertion.xml.base64"] {
        let xml = decode_posted(&read(&format!("{base}/responses/{name}"))).unwrap();
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let encrypted = doc.elements().find(|e| e.is(ASSERTION_NS, "EncryptedAssertion")).expect(name);
        assert_eq!(decrypt_element(encrypted, &keys, false).unwrap_err().code(), "saml.rsa15_refused", "{name}");
        let plain = decrypt_element(encrypted, &keys, true).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = String::from_utf8(plain).unwrap();
        // Parsed in the namespace context of the EncryptedAssertion, as the validator does.
        let wrapped = format!("<w xmlns:saml=\"{ASSERTION_NS}\">{text}</w>");
        let decrypted = Document::parse(wrapped.as_bytes(), &Limits::default()).unwrap();
        let assertion = decrypted.root().child_elements().next().unwrap();
        assert!(assertion.is(ASSERTION_NS, "Assertion"), "{name}");
        assert!(dsig::verify_element(assertion, &idp, &policy).is_ok(), "{name}: the decrypted assertion's signature verifies");
    }
}

#[test]
fn sp_metadata_publishes_every_decryption_key() {
    let both = format!("{}{}", read("tests/keys/sp-enc-rsa2048.key"), read("tests/keys/sp-enc2-rsa2048.key"));
    let metadata = saml_edge::saml::metadata::sp_metadata(&connector(serde_json::json!({"encPrivateKey": both})), None);
    assert_eq!(metadata.matches("<md:KeyDescriptor use=\"encryption\">").count(), 2);
    assert!(metadata.contains("<md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>"));
    let doc = Document::parse(metadata.as_bytes(), &Limits::default()).expect("well-formed metadata");
    assert_eq!(doc.root().attribute("entityID"), Some("https://sp.example.test/saml/metadata"));
}

#[test]
fn response_signature_policy_is_enforced_before_decrypting() {
    let tampered = tamper_content(&encrypted("oaep-mgf1p-aes256-cbc.xml"), 17);
    let strict = connector(serde_json::json!({"wantResponseSigned": true}));
    assert_eq!(code(&tampered, &strict), "saml.response_signature_required");
}

#[test]
fn tampered_ciphertext_always_gets_the_same_answer() {
    // No padding, format or signature oracle: every tampered byte, wherever it lands
    // (IV, body, padding block), yields the identical code and message.
    let c = connector(serde_json::json!({}));
    let expect = Expectation { now: Instant::parse(NOW).unwrap(), request_id: Some(REQUEST) };
    for fixture in ["oaep-mgf1p-aes256-cbc.xml", "oaep-mgf1p-aes128-gcm.xml"] {
        let xml = encrypted(fixture);
        let mut answers = std::collections::BTreeSet::new();
        for from_end in (1..400).step_by(13) {
            let tampered = tamper_content(&xml, from_end);
            let error = validate_response(tampered.as_bytes(), &c, expect).expect_err("tampering is refused");
            answers.insert((error.code(), error.to_string()));
        }
        assert_eq!(answers.len(), 1, "{fixture}: distinguishable answers {answers:?}");
        assert_eq!(answers.iter().next().unwrap().0, "saml.decryption_failed");
    }
}

#[test]
fn encrypted_name_id_in_a_signed_assertion_is_decrypted() {
    // tests/fixtures/encrypted-id/assertion.xml: alice's NameID encrypted to sp-enc-rsa2048
    // by xmlsec1, then the Assertion signed (scripts/gen-fixtures.sh §8).
    let xml = read("tests/fixtures/encrypted-id/assertion.xml");
    let expect = Expectation { now: Instant::parse(NOW).unwrap(), request_id: Some(REQUEST) };
    let identity = validate_response(xml.as_bytes(), &connector(serde_json::json!({})), expect).unwrap();
    assert_eq!(identity.name_id, "alice@example.com");
    assert_eq!(identity.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
    assert_eq!(identity.profile.id, "alice@example.com", "profile id from the decrypted NameID");

    let no_key = Connector::from_json("acme", &read("tests/fixtures/connectors/acme.json")).unwrap().0;
    assert_eq!(code(&xml, &no_key), "saml.encrypted_id_unsupported");
    let wrong = connector(serde_json::json!({"encPrivateKey": read("tests/keys/sp-enc2-rsa2048.key")}));
    assert_eq!(code(&xml, &wrong), "saml.decryption_failed");
}

#[test]
fn encrypted_name_id_ciphertext_is_covered_by_the_signature() {
    let xml = read("tests/fixtures/encrypted-id/assertion.xml");
    let at = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let flipped = if xml.as_bytes()[at] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &xml[..at], &xml[at + 1..]);
    assert_eq!(code(&tampered, &connector(serde_json::json!({}))), "dsig.digest_mismatch");
}

#[test]
fn a_subject_with_a_name_id_and_an_encrypted_id_is_ambiguous() {
    // Signed as is by xmlsec1 (scripts/gen-fixtures.sh §8): which one names the user?
    let xml = read("tests/fixtures/encrypted-id/assertion-name-id-and-encrypted-id.xml");
    assert_eq!(code(&xml, &connector(serde_json::json!({}))), "saml.subject_identifier_ambiguous");
}

#[test]
fn python3_saml_encrypted_name_id_decrypts_with_their_sp_key() {
    // response_encrypted_nameid: a signed assertion whose Subject holds an EncryptedID
    // (RSA-1.5 key transport, AES-128-CBC) to python3-saml's customPath/certs/sp.key.
    let base = "../shared/vectors/python3-saml";
    let keys = DecryptionKey::from_pem(&read(&format!("{base}/customPath/certs/sp.key")), None).unwrap();
    let xml = decode_posted(&read(&format!("{base}/responses/response_encrypted_nameid.xml.base64"))).unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let encrypted_id = doc.elements().find(|e| e.is(ASSERTION_NS, "EncryptedID")).unwrap();
    assert_eq!(decrypt_name_id(encrypted_id, &keys, false).unwrap_err().code(), "saml.rsa15_refused");
    let name_id = decrypt_name_id(encrypted_id, &keys, true).unwrap();
    // What `xmlsec1 --decrypt --privkey-pem customPath/certs/sp.key` gives for it.
    assert_eq!(name_id.value, "2de11defd199f8d5bb63f9b7deb265ba5c675c10");
    assert_eq!(name_id.format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"));
}

#[test]
fn an_expired_assertion_is_refused_before_its_name_id_is_decrypted() {
    // With a key that cannot decrypt it, the answer is still about the time: nothing
    // costs an RSA private-key operation until every cheap check has passed.
    let xml = read("tests/fixtures/encrypted-id/assertion.xml");
    let wrong = connector(serde_json::json!({"encPrivateKey": read("tests/keys/sp-enc2-rsa2048.key")}));
    let late = Expectation { now: Instant::parse("2027-01-01T00:00:00Z").unwrap(), request_id: Some(REQUEST) };
    let error = validate_response(xml.as_bytes(), &wrong, late).unwrap_err();
    assert!(error.code().ends_with("expired"), "{}", error.code());
}
