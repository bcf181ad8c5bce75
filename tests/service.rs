//! The service core through `service::handle`, with an in-memory Env: routing, cookies,
//! tracking, sessions and error mapping — everything that does not need a live IdP.

use base64::Engine as _;
use saml_edge::saml::authn_request::url_encode;
use saml_edge::saml::Instant;
use saml_edge::service::{self, block_on, MemoryEnv, Request, Response};
use saml_edge::session::SessionKeys;
use std::collections::HashMap;

const ORIGIN: &str = "https://sp.example.test";
const NOW: &str = "2026-01-01T00:01:00Z";
const SEED: [u8; 32] = [9; 32];

fn env_with(origin: &str) -> MemoryEnv {
    let acme = std::fs::read_to_string(format!("{}/tests/fixtures/connectors/acme.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut kv = HashMap::new();
    kv.insert("connector:acme".to_string(), acme);
    kv.insert("connector:broken".to_string(), r#"{"entityID": 3, "timeout": "soon"}"#.to_string());
    kv.insert("domain:example.com".to_string(), "acme".to_string());
    let mut vars = HashMap::new();
    vars.insert("SESSION_SIGNING_KEY".to_string(), base64::engine::general_purpose::STANDARD.encode(SEED));
    vars.insert("PUBLIC_ORIGIN".to_string(), origin.to_string());
    MemoryEnv { kv, vars, clock: Some(Instant::parse(NOW).unwrap()), log_to_stderr: false, ..MemoryEnv::default() }
}

fn env() -> MemoryEnv {
    env_with(ORIGIN)
}

fn get(env: &MemoryEnv, path: &str, headers: &[(&str, &str)]) -> Response {
    let request = Request {
        method: "GET".into(),
        url: format!("{ORIGIN}{path}"),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: Vec::new(),
    };
    block_on(service::handle(env, request))
}

fn post_acs(env: &MemoryEnv, connector: &str, response_xml: &str, relay: &str, cookie: Option<String>) -> Response {
    let posted = base64::engine::general_purpose::STANDARD.encode(response_xml);
    let mut headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string()), ("accept".to_string(), "application/json".to_string())];
    if let Some(cookie) = cookie {
        headers.push(("cookie".to_string(), cookie));
    }
    let request = Request {
        method: "POST".into(),
        url: format!("{ORIGIN}/api/authn/saml/{connector}"),
        headers,
        body: format!("SAMLResponse={}&RelayState={}", url_encode(&posted), url_encode(relay)).into_bytes(),
    };
    block_on(service::handle(env, request))
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&response.body)))
}

fn set_cookies(response: &Response) -> Vec<&str> {
    response.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/signed/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A tracking cookie as the sign-in step would have set it for the fixtures' request ID.
fn tracking_cookie(relay: &str, connector: &str, return_to: &str) -> String {
    let sealed = SessionKeys::from_seed(SEED).seal(&serde_json::json!({"rid": "_req-7f3c2a", "cid": connector, "rt": return_to, "exp": Instant::parse(NOW).unwrap().unix_seconds() + 600}));
    format!("saml_req_{relay}={sealed}")
}

#[test]
fn sign_in_redirects_to_the_idp_with_a_tracking_cookie() {
    let response = get(&env(), "/api/authn/saml/acme/sign-in?return_to=%2Fapp", &[]);
    assert_eq!(response.status, 302);
    let location = response.header("location").unwrap();
    assert!(location.starts_with("https://idp.example.test/sso?SAMLRequest="), "{location}");
    assert!(location.contains("&RelayState="));
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1);
    let cookie = cookies[0];
    assert!(cookie.starts_with("saml_req_"), "{cookie}");
    for attribute in ["Path=/api/authn/saml/", "HttpOnly", "SameSite=None", "Secure", "Max-Age=600"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
}

#[test]
fn on_http_localhost_cookies_drop_secure() {
    let response = get(&env_with("http://127.0.0.1:8787"), "/api/authn/saml/acme/sign-in", &[]);
    let cookie = set_cookies(&response)[0];
    assert!(!cookie.contains("Secure") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[test]
fn acs_with_tracking_issues_a_session_and_clears_tracking() {
    let env = env();
    let cookie = tracking_cookie("r1", "acme", "https://sp.example.test/app");
    let response = post_acs(&env, "acme", &fixture("assertion-rsa-sha256.xml"), "r1", Some(cookie));
    assert_eq!(response.status, 303, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(response.header("location"), Some("https://sp.example.test/app"));
    let cookies = set_cookies(&response);
    let session = cookies.iter().find(|c| c.starts_with("saml_edge_session=")).unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    assert!(cookies.iter().any(|c| c.starts_with("saml_req_r1=;") && c.contains("Max-Age=0")));

    // The session: exp is capped by nothing here (8 h TTL < SessionNotOnOrAfter 08:00? equal).
    let token = session.trim_start_matches("saml_edge_session=").split(';').next().unwrap();
    let claims = json(&get(&env, "/api/session", &[("cookie", &format!("saml_edge_session={token}"))]));
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["connector"], "acme");
    assert_eq!(claims["iss"], ORIGIN);
    assert_eq!(claims["sessionIndex"], "_session-42");
    assert!(claims["exp"].as_i64().unwrap() <= Instant::parse("2026-01-01T08:00:00Z").unwrap().unix_seconds());
}

#[test]
fn tracking_for_another_connector_does_not_count() {
    let cookie = tracking_cookie("r1", "other", "https://sp.example.test/app");
    let response = post_acs(&env(), "acme", &fixture("assertion-rsa-sha256.xml"), "r1", Some(cookie));
    assert_eq!(response.status, 403);
    assert_eq!(json(&response)["error"]["code"], "saml.in_response_to_unexpected");
}

#[test]
fn forged_tracking_cookie_is_ignored() {
    let forged = SessionKeys::from_seed([1; 32]).seal(&serde_json::json!({"rid": "_req-7f3c2a", "cid": "acme", "rt": "https://evil.test/", "exp": 9_999_999_999i64}));
    let response = post_acs(&env(), "acme", &fixture("assertion-rsa-sha256.xml"), "r1", Some(format!("saml_req_r1={forged}")));
    assert_eq!(json(&response)["error"]["code"], "saml.in_response_to_unexpected");
}

#[test]
fn errors_are_json_or_html_with_their_code() {
    let env = env();
    let response = post_acs(&env, "acme", "not xml", "", None);
    assert_eq!(response.status, 400);
    assert_eq!(json(&response)["error"]["code"], "saml.response_encoding");
    let html = get(&env, "/api/authn/saml/nope/sign-in", &[]);
    assert_eq!(html.status, 404);
    assert!(html.header("content-type").unwrap().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&html.body).contains("connector.not_found"));
}

#[test]
fn a_misconfigured_connector_is_named_at_request_time() {
    let response = get(&env(), "/api/authn/saml/broken/sign-in", &[("accept", "application/json")]);
    assert_eq!(response.status, 500);
    let body = json(&response);
    assert_eq!(body["error"]["code"], "config.invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("broken") && message.contains("entityID") && message.contains("timeout"), "{message}");
}

#[test]
fn routes_methods_and_discovery() {
    let env = env();
    assert_eq!(get(&env, "/nowhere", &[]).status, 404);
    assert_eq!(get(&env, "/api/authn/saml/acme", &[]).status, 405);
    assert_eq!(get(&env, "/api/authn/saml/..%2f/sign-in", &[]).status, 404);
    assert_eq!(get(&env, "/sign-in", &[]).status, 200);
    let discovered = get(&env, "/sign-in?email=Alice%40Example.COM&return_to=%2Fx", &[]);
    assert_eq!(discovered.status, 302);
    assert_eq!(discovered.header("location"), Some("/api/authn/saml/acme/sign-in?return_to=%2Fx"));
    assert_eq!(json(&get(&env, "/sign-in?email=bob%40unknown.test", &[("accept", "application/json")]))["error"]["code"], "discovery.unknown_domain");
    let metadata = get(&env, "/api/authn/saml/acme/metadata", &[]);
    assert!(String::from_utf8_lossy(&metadata.body).contains("entityID=\"https://sp.example.test/saml/metadata\""));
    let jwks = json(&get(&env, "/.well-known/jwks.json", &[]));
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(json(&get(&env, "/api/session", &[("accept", "application/json")]))["error"]["code"], "session.missing");
}

#[test]
fn return_to_tricks_are_refused_at_sign_in_and_sign_out() {
    let env = env();
    for trick in ["//evil.test", "/%5Cevil.test", "javascript:alert(1)", "https://evil.test/", "/\t/evil.test"] {
        let encoded = url_encode(trick);
        for path in [format!("/api/authn/saml/acme/sign-in?return_to={encoded}"), format!("/sign-out?post_logout_redirect_uri={encoded}")] {
            let response = get(&env, &path, &[("accept", "application/json")]);
            assert_eq!(response.status, 400, "{path}");
            assert_eq!(json(&response)["error"]["code"], "redirect.not_allowed", "{path}");
            assert!(response.header("location").is_none());
        }
    }
}

#[test]
fn missing_signing_key_is_a_clear_misconfiguration() {
    let mut env = env();
    env.vars.remove("SESSION_SIGNING_KEY");
    let response = get(&env, "/api/session", &[("accept", "application/json")]);
    assert_eq!(response.status, 500);
    assert_eq!(json(&response)["error"]["code"], "service.misconfigured");
}
