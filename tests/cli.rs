//! The `saml-edge` command line contract: exit codes 0/1/2 and the JSON shapes scripts rely on.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_saml-edge")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

const CONNECTOR: &str = "tests/fixtures/connectors/acme.json";

#[test]
fn verify_valid_prints_the_identity_and_exits_0() {
    let (code, out) = run(&["verify", "--connector", CONNECTOR, "--now", "2026-01-01T00:01:00Z", "--request-id", "_req-7f3c2a", "tests/fixtures/signed/assertion-rsa-sha256.xml"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attributes", "issuer", "nameId", "nameIdFormat", "ok", "profile", "sessionIndex"]);
    assert_eq!(json["ok"], true);
    assert_eq!(json["nameId"], "alice@example.com");
    assert_eq!(json["attributes"]["groups"], serde_json::json!(["admins", "staff"]));
    assert_eq!(json["profile"]["id"], "alice@example.com");
}

#[test]
fn verify_rejected_prints_the_error_and_exits_1() {
    let (code, out) = run(&["verify", "--connector", CONNECTOR, "--now", "2026-01-01T00:20:00Z", "--request-id", "_req-7f3c2a", "tests/fixtures/signed/assertion-rsa-sha256.xml"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json, serde_json::json!({"ok": false, "error": {"code": "saml.expired", "message": json["error"]["message"]}}));
    assert!(json["error"]["message"].as_str().unwrap().contains("expired"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(run(&[]).0, 2);
    assert_eq!(run(&["verify", "tests/fixtures/signed/okta.xml"]).0, 2, "missing --connector");
    assert_eq!(run(&["verify", "--connector", CONNECTOR, "--now", "yesterday", "x"]).0, 2);
    assert_eq!(run(&["verify", "--connector", CONNECTOR, "/no/such/file"]).0, 2);
    assert_eq!(run(&["frobnicate"]).0, 2);
}

#[test]
fn check_config_and_metadata() {
    let (code, out) = run(&["check-config", "--json", CONNECTOR]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["ok"], true);
    let (code, out) = run(&["check-config", "--json", "--now", "2045-01-01T00:00:00Z", CONNECTOR]);
    assert_eq!(code, 0);
    assert!(out.contains("expired"), "an expired IdP certificate is a warning: {out}");
    let (code, out) = run(&["metadata", "--connector", CONNECTOR]);
    assert_eq!(code, 0);
    assert!(out.contains("<md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://sp.example.test/api/authn/saml/acme\""));
}

#[test]
fn sp_metadata_publishes_the_request_signing_key_when_requests_are_signed() {
    use base64::Engine as _;
    let (code, signed) = run(&["metadata", "--connector", "kv-seed/connectors/simplesamlphp-signed.json"]);
    assert_eq!(code, 0);
    let start = signed.find("<md:KeyDescriptor use=\"signing\">").expect("signing key published");
    let modulus = &signed[start..];
    let modulus = &modulus[modulus.find("<ds:Modulus>").unwrap() + 12..modulus.find("</ds:Modulus>").unwrap()];
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(modulus).unwrap().len(), 256, "RSA-2048 modulus");
    assert!(signed.contains("AuthnRequestsSigned=\"true\""));
    let (_, unsigned) = run(&["metadata", "--connector", "kv-seed/connectors/simplesamlphp.json"]);
    assert!(!unsigned.contains("use=\"signing\""));
}
