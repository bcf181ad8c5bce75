//! Issue 7 through `service::handle` with an in-memory Env: the admin API (token checks,
//! connectors from JSON, metadata XML and metadata URL, domains), IdP metadata by URL with
//! its SSRF rules, the rollover across scheduled runs with sign-ins that never fail, and
//! the health report. Fetches go to a fake IdP here; `native_fetch` is tested against real
//! loopback servers at the end. The dev server and the Worker run the same flows against
//! SimpleSAMLphp in tests/e2e.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use saml_edge::saml::authn_request::url_encode;
use saml_edge::saml::Instant;
use saml_edge::service::{self, block_on, native_fetch, FetchLimits, Fetched, Fetcher, MemoryEnv, Request, Response};
use saml_edge::session::SessionKeys;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod support;
use support::{flaky_loopback_server, loopback_server, signing_metadata as metadata};

const ORIGIN: &str = "https://sp.example.test";
const NOW: &str = "2026-01-01T00:01:00Z";
const SEED: [u8; 32] = [9; 32];
const TOKEN: &str = "s3cret-admin-token-0123456789abcdef";
const METADATA_URL: &str = "https://idp.example.test/federationmetadata.xml";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A fake outbound network: URL → answer (or error), and a log of what was asked.
#[derive(Clone, Default)]
struct FakeNet {
    answers: Arc<Mutex<HashMap<String, Result<Fetched, String>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeNet {
    fn serve(&self, url: &str, answer: Result<Fetched, String>) {
        self.answers.lock().unwrap().insert(url.to_string(), answer);
    }

    fn serve_metadata(&self, certificates: &[&str]) {
        self.serve(METADATA_URL, Ok(Fetched { status: 200, location: None, body: metadata(certificates).into_bytes() }));
    }

    fn fetcher(&self) -> Fetcher {
        let net = self.clone();
        Fetcher(Arc::new(move |url: &str, _limits: &FetchLimits| {
            net.asked.lock().unwrap().push(url.to_string());
            net.answers.lock().unwrap().get(url).cloned().unwrap_or_else(|| Err(format!("no route to {url}")))
        }))
    }
}

fn env_with(net: &FakeNet, token: Option<&str>) -> MemoryEnv {
    let mut vars = HashMap::new();
    vars.insert("SESSION_SIGNING_KEY".to_string(), STANDARD.encode(SEED));
    vars.insert("PUBLIC_ORIGIN".to_string(), ORIGIN.to_string());
    if let Some(token) = token {
        vars.insert("ADMIN_TOKEN".to_string(), token.to_string());
    }
    MemoryEnv { vars, clock: Some(Instant::parse(NOW).unwrap()), fetcher: Some(net.fetcher()), keep_logs: true, ..MemoryEnv::default() }
}

fn call(env: &MemoryEnv, method: &str, path: &str, token: Option<&str>, content_type: &str, body: &str) -> Response {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if let Some(token) = token {
        headers.push(("authorization".to_string(), format!("Bearer {token}")));
    }
    if !body.is_empty() {
        headers.push(("content-type".to_string(), content_type.to_string()));
    }
    block_on(service::handle(env, Request { method: method.into(), url: format!("{ORIGIN}{path}"), headers, body: body.as_bytes().to_vec() }))
}

fn admin(env: &MemoryEnv, method: &str, path: &str, body: &str) -> Response {
    call(env, method, path, Some(TOKEN), "application/json", body)
}

fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", response.status, String::from_utf8_lossy(&response.body)))
}

fn code(response: &Response) -> String {
    json_of(response)["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// The connector the signed fixtures were made for, configured by metadata URL.
fn connector_by_url() -> String {
    json!({
        "entityID": "https://sp.example.test/saml/metadata",
        "assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/acme",
        "idpMetadataUrl": METADATA_URL,
        "profileMap": {"id": "nameID", "email": "email", "name": "displayName"},
    })
    .to_string()
}

/// POST a signed fixture to the ACS as the answer to the fixtures' request.
fn sign_in(env: &MemoryEnv, fixture: &str) -> Response {
    let sealed = SessionKeys::from_seed(SEED).seal(&json!({"rid": "_req-7f3c2a", "cid": "acme", "rt": "https://sp.example.test/app", "exp": Instant::parse(NOW).unwrap().unix_seconds() + 600}));
    let posted = STANDARD.encode(read(&format!("tests/fixtures/signed/{fixture}")));
    let request = Request {
        method: "POST".into(),
        url: format!("{ORIGIN}/api/authn/saml/acme"),
        headers: vec![
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("accept".into(), "application/json".into()),
            ("cookie".into(), format!("saml_req_r1={sealed}")),
        ],
        body: format!("SAMLResponse={}&RelayState=r1", url_encode(&posted)).into_bytes(),
    };
    block_on(service::handle(env, request))
}

fn assert_signs_in(env: &MemoryEnv, fixture: &str) {
    let response = sign_in(env, fixture);
    assert_eq!(response.status, 303, "{fixture}: {}", String::from_utf8_lossy(&response.body));
}

fn health_codes(env: &MemoryEnv) -> Vec<String> {
    let report = json_of(&admin(env, "GET", "/api/admin/health", ""));
    report["connectors"].as_array().unwrap().iter().flat_map(|c| c["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_string()).collect::<Vec<_>>()).collect()
}

fn scheduled_run(env: &MemoryEnv) -> Value {
    json_of(&admin(env, "POST", "/api/admin/refresh", ""))
}

// --- the token ---------------------------------------------------------------------------

#[test]
fn admin_api_is_disabled_without_a_token() {
    let env = env_with(&FakeNet::default(), None);
    let response = call(&env, "GET", "/api/admin/connectors", Some("anything"), "", "");
    assert_eq!((response.status, code(&response).as_str()), (404, "admin.disabled"));
}

#[test]
fn a_short_admin_token_keeps_the_api_closed() {
    let env = env_with(&FakeNet::default(), Some("short"));
    let response = call(&env, "GET", "/api/admin/connectors", Some("short"), "", "");
    assert_eq!((response.status, code(&response).as_str()), (500, "service.misconfigured"));
}

#[test]
fn a_refused_update_keeps_the_stored_metadata() {
    let net = FakeNet::default();
    net.serve_metadata(&["idp-rsa2048"]);
    let env = env_with(&net, Some(TOKEN));
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &connector_by_url()).status, 201);
    let before = block_on(service::Env::kv_get(&env, "metadata:acme")).unwrap();
    let mut bad: Value = serde_json::from_str(&connector_by_url()).unwrap();
    bad["idpMetadataUrl"] = "https://idp.example.test/other.xml".into();
    bad["timeout"] = "soon".into();
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &bad.to_string()).status, 422);
    assert_eq!(block_on(service::Env::kv_get(&env, "metadata:acme")).unwrap(), before);
    assert_signs_in(&env, "assertion-rsa-sha256.xml");
}

#[test]
fn admin_call_without_a_token() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    let response = call(&env, "GET", "/api/admin/connectors", None, "", "");
    assert_eq!((response.status, code(&response).as_str()), (401, "admin.unauthorized"));
}

#[test]
fn admin_call_with_a_wrong_token() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    for wrong in ["s3cret-admin-token-0123456789abcdeF", "s3cret-admin-token-0123456789abcdef0", "", "s3cret"] {
        let response = call(&env, "PUT", "/api/admin/connectors/acme", Some(wrong), "application/json", &connector_by_url());
        assert_eq!((response.status, code(&response).as_str()), (401, "admin.unauthorized"), "{wrong:?}");
    }
    let basic = block_on(service::handle(&env, Request {
        method: "GET".into(),
        url: format!("{ORIGIN}/api/admin/connectors"),
        headers: vec![("authorization".into(), format!("Basic {}", STANDARD.encode(format!("admin:{TOKEN}"))))],
        body: Vec::new(),
    }));
    assert_eq!(basic.status, 401);
    assert!(env.logs.lock().unwrap().iter().any(|l| l.contains("admin.unauthorized")));
    assert!(env.kv_list_sync("connector:").is_empty(), "nothing was written");
}

trait KvListSync {
    fn kv_list_sync(&self, prefix: &str) -> Vec<String>;
}

impl KvListSync for MemoryEnv {
    fn kv_list_sync(&self, prefix: &str) -> Vec<String> {
        block_on(service::Env::kv_list(self, prefix)).unwrap()
    }
}

// --- connectors ----------------------------------------------------------------------------

#[test]
fn connector_created_from_a_metadata_url_signs_users_in() {
    let net = FakeNet::default();
    net.serve_metadata(&["idp-rsa2048"]);
    let env = env_with(&net, Some(TOKEN));
    let created = admin(&env, "PUT", "/api/admin/connectors/acme", &connector_by_url());
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(json_of(&created)["idpEntityId"], "https://idp.example.test/metadata");
    assert!(env.kv_list_sync("metadata:").contains(&"metadata:acme".to_string()), "the metadata is kept beside the connector");
    assert_signs_in(&env, "assertion-rsa-sha256.xml");
    // Signed by a key the metadata does not list: refused.
    assert_eq!(code(&sign_in(&env, "assertion-rollover-key.xml")), "dsig.signature_invalid");
    let again = admin(&env, "PUT", "/api/admin/connectors/acme", &connector_by_url());
    assert_eq!(again.status, 200, "replacing answers 200");
}

#[test]
fn connector_created_from_metadata_xml() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    let created = call(&env, "PUT", "/api/admin/connectors/okta-acme", Some(TOKEN), "application/samlmetadata+xml", &metadata(&["idp-rsa2048"]));
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let body = json_of(&created);
    assert_eq!(body["entityID"], "https://sp.example.test/api/authn/saml/okta-acme/metadata", "SP values default to this service's URLs");
    assert_eq!(body["assertionConsumerServiceUrl"], "https://sp.example.test/api/authn/saml/okta-acme");
    let sp_metadata = call(&env, "GET", "/api/authn/saml/okta-acme/metadata", None, "", "");
    assert_eq!(sp_metadata.status, 200);
}

#[test]
fn invalid_connector_reports_every_problem() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    let body = json!({"entityID": 5, "timeout": "soon", "x509Certificate": "not base64!", "assertionConsumerServiceUrl": "http://sp.example.test/acs"}).to_string();
    let response = admin(&env, "PUT", "/api/admin/connectors/acme", &body);
    assert_eq!((response.status, code(&response).as_str()), (422, "config.invalid"));
    let fields: Vec<String> = json_of(&response)["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap().to_string()).collect();
    for field in ["entityID", "timeout", "x509Certificate", "assertionConsumerServiceUrl"] {
        assert!(fields.contains(&field.to_string()), "{field} missing from {fields:?}");
    }
    assert!(env.kv_list_sync("connector:").is_empty(), "an invalid connector is not stored");
}

#[test]
fn list_get_redacts_secrets_map_domains_and_delete() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    let mut connector: Value = serde_json::from_str(&read("tests/fixtures/connectors/acme.json")).unwrap();
    connector["signAuthnRequest"] = true.into();
    connector["privateKey"] = read("tests/keys/sp-signing.key").into();
    connector["privatekey"] = "misspelt secret".into();
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &connector.to_string()).status, 201);
    let listed = json_of(&admin(&env, "GET", "/api/admin/connectors", ""));
    assert_eq!(listed["connectors"][0]["id"], "acme");
    let one = json_of(&admin(&env, "GET", "/api/admin/connectors/acme", ""));
    assert_eq!(one["connector"]["privateKey"], "(redacted)");
    assert!(!one.to_string().contains("PRIVATE KEY") && !one.to_string().contains("misspelt"));

    let mapped = admin(&env, "PUT", "/api/admin/domains/Example.COM", &json!({"connector": "acme"}).to_string());
    assert_eq!(mapped.status, 200, "{}", String::from_utf8_lossy(&mapped.body));
    assert_eq!(json_of(&admin(&env, "GET", "/api/admin/domains", ""))["domains"]["example.com"], "acme");
    let discovery = call(&env, "GET", "/sign-in?email=alice%40example.com", None, "", "");
    assert_eq!(discovery.header("location"), Some("/api/authn/saml/acme/sign-in"));
    let unknown = admin(&env, "PUT", "/api/admin/domains/example.org", &json!({"connector": "nope"}).to_string());
    assert_eq!((unknown.status, code(&unknown).as_str()), (404, "connector.not_found"));

    assert_eq!(admin(&env, "DELETE", "/api/admin/connectors/acme", "").status, 204);
    assert!(env.kv_list_sync("connector:").is_empty());
    assert!(env.kv_list_sync("domain:").is_empty(), "domains pointing at a deleted connector go with it");
    assert_eq!(code(&admin(&env, "DELETE", "/api/admin/connectors/acme", "")), "connector.not_found");
}

// --- SSRF: refused metadata URLs -----------------------------------------------------------

fn refused_url(url: &str, net: &FakeNet) -> String {
    let env = env_with(net, Some(TOKEN));
    let body = json!({"idpMetadataUrl": url}).to_string();
    let response = admin(&env, "PUT", "/api/admin/connectors/acme", &body);
    assert_eq!((response.status, code(&response).as_str()), (422, "config.invalid"), "{url}: {}", String::from_utf8_lossy(&response.body));
    json_of(&response)["error"]["problems"].to_string()
}

#[test]
fn metadata_url_over_plain_http() {
    assert!(refused_url("http://idp.example.test/md", &FakeNet::default()).contains("https"));
}

#[test]
fn metadata_url_at_a_private_address() {
    let net = FakeNet::default();
    for url in ["https://10.0.0.5/md", "https://169.254.169.254/latest/meta-data", "https://[::1]/md", "https://192.168.1.10/md", "https://metadata.google.internal/md"] {
        let problems = refused_url(url, &net);
        assert!(problems.contains("address") || problems.contains("internal host"), "{url}: {problems}");
    }
    assert!(net.asked.lock().unwrap().is_empty(), "nothing was fetched");
}

#[test]
fn metadata_url_on_loopback_outside_development() {
    let net = FakeNet::default();
    refused_url("http://127.0.0.1:8080/saml2/idp/metadata.php", &net);
    assert!(net.asked.lock().unwrap().is_empty());
}

#[test]
fn metadata_redirect_to_a_private_address() {
    let net = FakeNet::default();
    net.serve(METADATA_URL, Ok(Fetched { status: 302, location: Some("https://169.254.169.254/latest/meta-data".into()), body: Vec::new() }));
    let problems = refused_url(METADATA_URL, &net);
    assert!(problems.contains("169.254.169.254"), "{problems}");
    assert_eq!(net.asked.lock().unwrap().len(), 1, "the redirect target was not fetched");
}

#[test]
fn metadata_with_too_many_redirects() {
    let net = FakeNet::default();
    for i in 0..5 {
        net.serve(&format!("https://idp.example.test/r{i}"), Ok(Fetched { status: 302, location: Some(format!("/r{}", i + 1)), body: Vec::new() }));
    }
    assert!(refused_url("https://idp.example.test/r0", &net).contains("redirects"));
}

#[test]
fn metadata_that_is_not_idp_metadata() {
    let net = FakeNet::default();
    net.serve(METADATA_URL, Ok(Fetched { status: 200, location: None, body: b"<html>login</html>".to_vec() }));
    assert!(refused_url(METADATA_URL, &net).contains("metadata root"));
    net.serve(METADATA_URL, Ok(Fetched { status: 404, location: None, body: Vec::new() }));
    assert!(refused_url(METADATA_URL, &net).contains("404"));
}

// --- rollover across scheduled runs --------------------------------------------------------

#[test]
fn rollover_across_two_scheduled_runs_without_a_failed_sign_in() {
    let net = FakeNet::default();
    net.serve_metadata(&["idp-rsa2048"]);
    let env = env_with(&net, Some(TOKEN));
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &connector_by_url()).status, 201);
    assert_signs_in(&env, "assertion-rsa-sha256.xml");
    assert!(health_codes(&env).is_empty(), "{:?}", health_codes(&env));

    // The IdP publishes its next certificate beside the current one.
    net.serve_metadata(&["idp-rsa2048", "rollover-rsa2048"]);
    scheduled_run(&env);
    assert_signs_in(&env, "assertion-rsa-sha256.xml");
    assert_signs_in(&env, "assertion-rollover-key.xml");
    scheduled_run(&env);

    // It switches to the new key and drops the old one from its metadata.
    net.serve_metadata(&["rollover-rsa2048"]);
    scheduled_run(&env);
    assert_signs_in(&env, "assertion-rollover-key.xml");
    assert_signs_in(&env, "assertion-rsa-sha256.xml"); // a response signed just before the switch
    let codes = health_codes(&env);
    assert!(codes.contains(&"metadata.rollover".to_string()) && codes.contains(&"acs.retired_certificate".to_string()), "{codes:?}");
    assert!(env.logs.lock().unwrap().iter().any(|l| l.contains("\"event\":\"acs.retired_certificate\"")));

    // Seen twice: the old certificate is no longer trusted.
    scheduled_run(&env);
    assert_signs_in(&env, "assertion-rollover-key.xml");
    assert_eq!(code(&sign_in(&env, "assertion-rsa-sha256.xml")), "dsig.signature_invalid");
}

#[test]
fn a_failed_refresh_keeps_the_good_metadata() {
    let net = FakeNet::default();
    net.serve_metadata(&["idp-rsa2048"]);
    let env = env_with(&net, Some(TOKEN));
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &connector_by_url()).status, 201);
    for broken in [Err("connection timed out".to_string()), Ok(Fetched { status: 500, location: None, body: Vec::new() }), Ok(Fetched { status: 200, location: None, body: b"<x/>".to_vec() })] {
        net.serve(METADATA_URL, broken);
        let run = scheduled_run(&env);
        assert_eq!(run["refreshed"][0]["ok"], false, "{run}");
        assert_signs_in(&env, "assertion-rsa-sha256.xml");
    }
    assert!(health_codes(&env).contains(&"metadata.refresh_failed".to_string()));
    assert!(env.logs.lock().unwrap().iter().any(|l| l.contains("\"event\":\"metadata.refresh_failed\"")));
    net.serve_metadata(&["idp-rsa2048"]);
    scheduled_run(&env);
    assert!(health_codes(&env).is_empty(), "recovered");
}

#[test]
fn health_reports_expiring_certificates() {
    let env = env_with(&FakeNet::default(), Some(TOKEN));
    assert_eq!(admin(&env, "PUT", "/api/admin/connectors/acme", &read("tests/fixtures/connectors/acme.json")).status, 201);
    let report = json_of(&admin(&env, "GET", "/api/admin/health", ""));
    let not_after = report["connectors"][0]["certificates"][0]["notAfter"].as_str().unwrap().to_string();
    // Seen from 10 days before the certificate's end.
    let mut later = env.clone();
    later.clock = Some(Instant::from_unix_seconds(Instant::parse(&not_after).unwrap().unix_seconds() - 10 * 86_400));
    assert_eq!(health_codes(&later), vec!["certificate.expiring"]);
    later.clock = Some(Instant::from_unix_seconds(Instant::parse(&not_after).unwrap().unix_seconds() + 86_400));
    assert_eq!(health_codes(&later), vec!["certificate.expired"]);
    assert!(later.logs.lock().unwrap().iter().any(|l| l.contains("\"event\":\"health.warning\"")));
}

// --- the native hosts' fetch, against real loopback servers -----------------------------------

fn limits(timeout_ms: u64) -> FetchLimits {
    FetchLimits { max_bytes: 1 << 20, timeout_ms, allow_loopback: true }
}

#[test]
fn native_fetch_serves_loopback_metadata_in_development() {
    let body = metadata(&["idp-rsa2048"]);
    let url = loopback_server(0, format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes());
    let fetched = native_fetch::fetch(&url, &limits(2000)).unwrap();
    assert_eq!((fetched.status, fetched.body), (200, body.into_bytes()));
}

#[test]
fn native_fetch_refuses_an_oversized_answer() {
    let big = vec![b'<'; 2 << 20];
    let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    answer.extend_from_slice(&big);
    let error = native_fetch::fetch(&loopback_server(0, answer), &limits(5000)).unwrap_err();
    assert!(error.contains("larger than"), "{error}");
}

#[test]
fn native_fetch_gives_up_on_a_slow_server() {
    let error = native_fetch::fetch(&loopback_server(3000, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()), &limits(300)).unwrap_err();
    assert!(error.contains("within 300 ms"), "{error}");
}

#[test]
fn native_fetch_refuses_loopback_outside_development() {
    let url = loopback_server(0, b"HTTP/1.1 200 OK\r\n\r\n".to_vec());
    let error = native_fetch::fetch(&url, &FetchLimits { allow_loopback: false, ..limits(1000) }).unwrap_err();
    assert!(error.contains("https") || error.contains("address"), "{error}");
}

#[test]
fn native_fetch_tries_a_dropped_connection_again() {
    let body = metadata(&["idp-rsa2048"]);
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes();
    let fetched = native_fetch::fetch(&flaky_loopback_server(2, 0, answer.clone()), &limits(2000)).unwrap();
    assert_eq!((fetched.status, fetched.body), (200, body.into_bytes()));

    let error = native_fetch::fetch(&flaky_loopback_server(3, 0, answer), &limits(2000)).unwrap_err();
    assert!(error.contains("3 tries"), "{error}");
}
