//! The `saml-edge` command line contract: exit codes 0/1/2 and the JSON shapes scripts rely on.

use std::process::Command;

mod support;

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

/// A dev server on a free port with an empty seed and the admin API on; killed on drop.
struct DevServer {
    child: std::process::Child,
    url: String,
    _seed: std::path::PathBuf,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dev_server(token: &str) -> DevServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let seed = std::env::temp_dir().join(format!("saml-edge-cli-seed-{port}"));
    std::fs::create_dir_all(seed.join("connectors")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_saml-edge"))
        .args(["dev", "--port", &port.to_string(), "--seed", seed.to_str().unwrap()])
        .env("ADMIN_TOKEN", token)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return DevServer { child, url, _seed: seed };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the dev server did not start on {url}");
}

fn admin(server: &DevServer, token: &str, words: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["admin", "--url", &server.url, "--token", token];
    args.extend_from_slice(words);
    let (code, out) = run(&args);
    (code, serde_json::from_str(&out).unwrap_or_else(|_| serde_json::json!({"raw": out})))
}

#[test]
fn admin_commands_manage_connectors_through_the_api() {
    let server = dev_server("cli-token-0123456789abcdef0123456789");
    let (code, out) = admin(&server, "cli-token-0123456789abcdef0123456789", &["put", "acme", CONNECTOR]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["id"], "acme");
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["list"]).1["connectors"][0]["id"], "acme");
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["map-domain", "example.com", "acme"]).0, 0);
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["domains"]).1["domains"]["example.com"], "acme");
    let (code, health) = admin(&server, "cli-token-0123456789abcdef0123456789", &["health"]);
    assert_eq!((code, health["connectors"][0]["id"].as_str()), (0, Some("acme")), "{health}");
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["refresh"]).0, 0);
    let (code, refused) = admin(&server, "wrong-token", &["list"]);
    assert_eq!((code, refused["error"]["code"].as_str()), (1, Some("admin.unauthorized")));
    let (code, invalid) = admin(&server, "cli-token-0123456789abcdef0123456789", &["put", "broken", "Cargo.toml"]);
    assert_eq!((code, invalid["error"]["code"].as_str()), (1, Some("admin.bad_body")), "{invalid}");
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["delete", "acme"]).0, 0);
    assert_eq!(admin(&server, "cli-token-0123456789abcdef0123456789", &["get", "acme"]).0, 1);
    let (code, _) = run(&["admin", "--url", &server.url, "list"]);
    assert_eq!(code, 2, "no token: usage error");
}

#[test]
fn check_config_fetches_a_metadata_url() {
    let metadata = support::signing_metadata(&["idp-rsa2048"]);
    let url = support::loopback_server(0, format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{metadata}", metadata.len()).into_bytes());
    let port = url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/md").to_string();
    let path = std::env::temp_dir().join(format!("by-url-{port}.json"));
    let connector = serde_json::json!({"entityID": "https://sp.example.test/saml/metadata", "assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/acme", "idpMetadataUrl": url});
    std::fs::write(&path, connector.to_string()).unwrap();
    let (code, out) = run(&["check-config", "--json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let unreachable = serde_json::json!({"entityID": "https://sp.example.test/saml/metadata", "assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/acme", "idpMetadataUrl": "https://10.0.0.1/md"});
    std::fs::write(&path, unreachable.to_string()).unwrap();
    let (code, out) = run(&["check-config", "--json", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("fetching the metadata failed"), "{out}");
}
