//! Responses issued by a real IdP (SimpleSAMLphp, through its real login form) pass
//! `saml-edge verify`, in each signing variant. The connector is made from the IdP's
//! real metadata.

mod support;

use std::process::Command;

const ACS: &str = "https://sp.example.test/api/authn/saml/ssp";

fn verify(connector: &serde_json::Value, saml_response: &str) -> (i32, serde_json::Value) {
    // One directory per call: the tests in this file run in parallel threads.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("saml-edge-ssp-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let connector_file = dir.join("ssp.json");
    let response_file = dir.join("response.b64");
    std::fs::write(&connector_file, connector.to_string()).unwrap();
    std::fs::write(&response_file, saml_response).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_saml-edge"))
        .args(["verify", "--connector"])
        .arg(&connector_file)
        .arg(&response_file)
        .output()
        .expect("run saml-edge");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&output.stdout)));
    (output.status.code().unwrap_or(-1), json)
}

#[test]
fn simplesamlphp_responses_pass_saml_edge_verify() {
    let state = support::start_idp();
    let metadata = support::idp_metadata();
    let variants = [
        ("assertion", serde_json::json!({"signAssertion": true, "signResponse": false}), false),
        ("response", serde_json::json!({"signAssertion": false, "signResponse": true}), false),
        ("both", serde_json::json!({"signAssertion": true, "signResponse": true}), false),
        ("sha1", serde_json::json!({"signAssertion": true, "signResponse": false, "signatureAlgorithm": "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}), true),
    ];
    for (name, options, sha1) in variants {
        let entity_id = format!("https://sp.example.test/ssp/{name}");
        let mut sp = serde_json::json!({"entityId": entity_id, "acs": ACS});
        for (k, v) in options.as_object().unwrap() {
            sp[k] = v.clone();
        }
        support::add_sp(&state, sp);
        let url = format!("{}?spentityid={}&RelayState=%2Fhome", support::IDP_SSO, support::percent_encode(&entity_id));
        let (action, saml_response, relay_state) = support::login(&url, "alice", "alice-pass");
        assert_eq!(action, ACS, "{name}: posted to our ACS");
        assert_eq!(relay_state.as_deref(), Some("/home"));

        let connector = serde_json::json!({
            "entityID": entity_id,
            "assertionConsumerServiceUrl": ACS,
            "idpMetadataXml": metadata,
            "allowIdpInitiated": true,
        });
        let (code, out) = verify(&connector, &saml_response);
        if sha1 {
            assert_eq!(code, 1, "{name}: SHA-1 refused by default: {out}");
            assert_eq!(out["error"]["code"], "dsig.sha1_not_allowed", "{name}");
            let mut allowing = connector.clone();
            allowing["allowSha1"] = true.into();
            let (code, out) = verify(&allowing, &saml_response);
            assert_eq!(code, 0, "{name} with allowSha1: {out}");
        } else {
            assert_eq!(code, 0, "{name}: {out}");
            assert_eq!(out["ok"], true);
            assert_eq!(out["nameId"], "alice@example.com", "{name}");
            assert_eq!(out["issuer"], support::IDP_ENTITY_ID);
            assert_eq!(out["attributes"]["displayName"][0], "Zoë O'Brien & <Co>", "{name}");
            assert_eq!(out["attributes"]["groups"], serde_json::json!(["admins", "staff"]));
            assert_eq!(out["profile"]["email"], "alice@example.com");
            assert!(out["sessionIndex"].is_string());
        }

        // The same response for another SP (wrong audience) and without allowIdpInitiated.
        let mut other = connector.clone();
        other["entityID"] = "https://sp.example.test/ssp/someone-else".into();
        other["allowSha1"] = true.into();
        assert_eq!(verify(&other, &saml_response).1["error"]["code"], "saml.audience_mismatch", "{name}");
        let mut strict = connector.clone();
        strict["allowIdpInitiated"] = false.into();
        strict["allowSha1"] = true.into();
        assert_eq!(verify(&strict, &saml_response).1["error"]["code"], "saml.unsolicited", "{name}");
    }
}

/// SimpleSAMLphp encrypting assertions to our SP key (it uses AES-128-CBC with
/// RSA-OAEP-MGF1P; its certificate-based encryption offers no GCM), signed inside
/// (sign-then-encrypt) or with the Response signed around it (encrypt-then-sign).
#[test]
fn simplesamlphp_encrypted_assertions_decrypt_and_verify() {
    let state = support::start_idp();
    let metadata = support::idp_metadata();
    let repo = env!("CARGO_MANIFEST_DIR");
    let sp_cert = std::fs::read_to_string(format!("{repo}/tests/keys/sp-enc-rsa2048.crt")).unwrap();
    let sp_key = std::fs::read_to_string(format!("{repo}/tests/keys/sp-enc-rsa2048.key")).unwrap();
    for (name, sign_assertion, sign_response) in [("sign-then-encrypt", true, false), ("encrypt-then-sign", false, true)] {
        let entity_id = format!("https://sp.example.test/ssp/encrypted-{name}");
        support::add_sp(
            &state,
            serde_json::json!({"entityId": entity_id, "acs": ACS, "signAssertion": sign_assertion, "signResponse": sign_response, "encryptAssertion": true, "certificate": sp_cert}),
        );
        let url = format!("{}?spentityid={}", support::IDP_SSO, support::percent_encode(&entity_id));
        let (_, saml_response, _) = support::login(&url, "alice", "alice-pass");
        let connector = serde_json::json!({
            "entityID": entity_id,
            "assertionConsumerServiceUrl": ACS,
            "idpMetadataXml": metadata,
            "allowIdpInitiated": true,
            "encryptAssertion": true,
            "encPrivateKey": sp_key,
        });
        let (code, out) = verify(&connector, &saml_response);
        assert_eq!(code, 0, "{name}: {out}");
        assert_eq!(out["nameId"], "alice@example.com", "{name}");
        assert_eq!(out["attributes"]["displayName"][0], "Zoë O'Brien & <Co>", "{name}");

        let mut without_key = connector.clone();
        without_key["encPrivateKey"] = serde_json::Value::Null;
        without_key["encryptAssertion"] = false.into();
        assert_eq!(verify(&without_key, &saml_response).1["error"]["code"], "saml.encrypted_assertion_unsupported", "{name}");
        let mut wrong_key = connector.clone();
        wrong_key["encPrivateKey"] = std::fs::read_to_string(format!("{repo}/tests/keys/sp-enc2-rsa2048.key")).unwrap().into();
        assert_eq!(verify(&wrong_key, &saml_response).1["error"]["code"], "saml.decryption_failed", "{name}");
    }
}

/// SimpleSAMLphp encrypting the NameID (`nameid.encryption`: an EncryptedID, AES-128-CBC
/// with RSA-OAEP-MGF1P to our SP key) inside a signed assertion.
#[test]
fn simplesamlphp_encrypted_name_id_decrypts() {
    let state = support::start_idp();
    let repo = env!("CARGO_MANIFEST_DIR");
    let sp_cert = std::fs::read_to_string(format!("{repo}/tests/keys/sp-enc-rsa2048.crt")).unwrap();
    let sp_key = std::fs::read_to_string(format!("{repo}/tests/keys/sp-enc-rsa2048.key")).unwrap();
    let entity_id = "https://sp.example.test/ssp/encrypted-name-id";
    support::add_sp(&state, serde_json::json!({"entityId": entity_id, "acs": ACS, "signAssertion": true, "encryptNameId": true, "certificate": sp_cert}));
    let url = format!("{}?spentityid={}", support::IDP_SSO, support::percent_encode(entity_id));
    let (_, saml_response, _) = support::login(&url, "alice", "alice-pass");
    let xml = String::from_utf8(saml_edge::saml::response::decode_posted(&saml_response).unwrap()).unwrap();
    assert!(xml.contains(":EncryptedID>") && !xml.contains("alice@example.com</saml:NameID>"), "the IdP sent the NameID encrypted: {xml}");

    let connector = serde_json::json!({
        "entityID": entity_id,
        "assertionConsumerServiceUrl": ACS,
        "idpMetadataXml": support::idp_metadata(),
        "allowIdpInitiated": true,
        "encPrivateKey": sp_key,
    });
    let (code, out) = verify(&connector, &saml_response);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["nameId"], "alice@example.com");
    let mut without_key = connector.clone();
    without_key["encPrivateKey"] = serde_json::Value::Null;
    assert_eq!(verify(&without_key, &saml_response).1["error"]["code"], "saml.encrypted_id_unsupported");
}
