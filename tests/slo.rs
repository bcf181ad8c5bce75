//! Single Logout through `service::handle` with an in-memory Env (issue 6): the IdP's
//! LogoutRequest by POST (xmlsec1-signed fixtures in tests/fixtures/logout/) and by
//! Redirect (query-signed with the test IdP key), SP-initiated logout and the IdP's
//! LogoutResponse, and the revocation list `/api/session` honours. Each refusal is a
//! named test with its own code. SimpleSAMLphp runs the same flows in tests/e2e.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use saml_edge::dsig::algorithms::{RSA_SHA1, RSA_SHA256};
use saml_edge::saml::authn_request::{url_encode, SpSigningKey};
use saml_edge::saml::binding::{self, MessageParam};
use saml_edge::saml::Instant;
use saml_edge::service::{self, block_on, MemoryEnv, Request, Response};
use saml_edge::session::SessionKeys;
use serde_json::{json, Value};
use std::collections::HashMap;

const ORIGIN: &str = "https://sp.example.test";
const NOW: &str = "2026-01-01T00:01:00Z";
const SEED: [u8; 32] = [9; 32];
const SLO_URL: &str = "https://sp.example.test/api/authn/saml/acme/slo";
const IDP_SLO: &str = "https://idp.example.test/slo";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The `acme` connector with the IdP's SLO endpoint and request signing on.
fn connector_json(extra: Value) -> String {
    let mut connector: Value = serde_json::from_str(&read("tests/fixtures/connectors/acme.json")).unwrap();
    connector["signOutEndpoint"] = IDP_SLO.into();
    connector["signAuthnRequest"] = true.into();
    connector["privateKey"] = read("tests/keys/sp-signing.key").into();
    for (k, v) in extra.as_object().unwrap() {
        connector[k] = v.clone();
    }
    connector.to_string()
}

fn env_with(connector: String, clock: &str) -> MemoryEnv {
    let mut kv = HashMap::new();
    kv.insert("connector:acme".to_string(), connector);
    let mut vars = HashMap::new();
    vars.insert("SESSION_SIGNING_KEY".to_string(), STANDARD.encode(SEED));
    vars.insert("PUBLIC_ORIGIN".to_string(), ORIGIN.to_string());
    MemoryEnv { kv, vars, clock: Some(Instant::parse(clock).unwrap()), log_to_stderr: false, ..MemoryEnv::default() }
}

fn env() -> MemoryEnv {
    env_with(connector_json(json!({})), NOW)
}

fn now() -> i64 {
    Instant::parse(NOW).unwrap().unix_seconds()
}

/// A session token as the ACS mints it.
fn session_token(name_id: &str, session_index: Option<&str>, iat: i64) -> String {
    let mut claims = serde_json::Map::new();
    for (k, v) in [
        ("iss", json!(ORIGIN)),
        ("aud", json!(ORIGIN)),
        ("sub", json!(name_id)),
        ("iat", json!(iat)),
        ("exp", json!(iat + 3600)),
        ("connector", json!("acme")),
        ("sid", json!(format!("sid-{name_id}-{iat}"))),
        ("nameId", json!(name_id)),
        ("nameIdFormat", json!("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")),
        ("sessionIndex", json!(session_index)),
    ] {
        claims.insert(k.into(), v);
    }
    SessionKeys::from_seed(SEED).mint(&claims)
}

fn session_cookie(token: &str) -> String {
    format!("saml_edge_session={token}")
}

fn request(env: &MemoryEnv, method: &str, path_and_query: &str, cookie: Option<&str>, body: Option<String>) -> Response {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if let Some(cookie) = cookie {
        headers.push(("cookie".to_string(), cookie.to_string()));
    }
    if body.is_some() {
        headers.push(("content-type".to_string(), "application/x-www-form-urlencoded".to_string()));
    }
    let request = Request { method: method.into(), url: format!("{ORIGIN}{path_and_query}"), headers, body: body.unwrap_or_default().into_bytes() };
    block_on(service::handle(env, request))
}

fn post_slo(env: &MemoryEnv, param: &str, xml: &str, relay_state: Option<&str>, cookie: Option<&str>) -> Response {
    let mut body = format!("{param}={}", url_encode(&STANDARD.encode(xml)));
    if let Some(relay_state) = relay_state {
        body.push_str(&format!("&RelayState={}", url_encode(relay_state)));
    }
    request(env, "POST", "/api/authn/saml/acme/slo", cookie, Some(body))
}

fn code(response: &Response) -> String {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&response.body)));
    body["error"]["code"].as_str().or(body["code"].as_str()).unwrap_or_default().to_string()
}

fn assert_refused(response: &Response, status: u16, expected: &str) {
    assert_eq!((response.status, code(response).as_str()), (status, expected), "{}", String::from_utf8_lossy(&response.body));
}

fn set_cookies(response: &Response) -> Vec<&str> {
    response.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect()
}

fn clears_session(response: &Response) -> bool {
    set_cookies(response).iter().any(|c| c.starts_with("saml_edge_session=;") && c.contains("Max-Age=0"))
}

fn session_status(env: &MemoryEnv, token: &str) -> (u16, String) {
    let response = request(env, "GET", "/api/session", Some(&session_cookie(token)), None);
    let code = if response.status == 200 { String::new() } else { code(&response) };
    (response.status, code)
}

/// The query parameters of a URL, decoded.
fn query(url: &str) -> HashMap<String, String> {
    service::parse_form(url.split_once('?').unwrap().1.as_bytes()).into_iter().collect()
}

/// The XML a Redirect-binding URL carries.
fn redirect_xml(url: &str) -> String {
    let raw = url.split_once('?').unwrap().1;
    String::from_utf8(binding::receive_redirect(raw).unwrap().xml).unwrap()
}

fn idp_key() -> SpSigningKey {
    SpSigningKey::from_pem(&read("tests/keys/idp-rsa2048.key"), None).unwrap()
}

/// An IdP LogoutRequest for the Redirect binding, issued at NOW.
fn idp_logout_request(id: &str, name_id: &str, session_index: Option<&str>, destination: &str) -> String {
    let session_index = session_index.map(|s| format!("<samlp:SessionIndex>{s}</samlp:SessionIndex>")).unwrap_or_default();
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{NOW}" Destination="{destination}"><saml:Issuer>https://idp.example.test/metadata</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>"#
    )
}

fn idp_logout_response(in_response_to: &str) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr" Version="2.0" IssueInstant="{NOW}" Destination="{SLO_URL}" InResponseTo="{in_response_to}"><saml:Issuer>https://idp.example.test/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#
    )
}

/// `/api/authn/saml/acme/slo?…` for a Redirect-binding message signed with `algorithm`
/// (None: unsigned).
fn redirect_path(param: MessageParam, xml: &str, relay_state: &str, algorithm: Option<&str>) -> String {
    let key = idp_key();
    binding::redirect_url("/api/authn/saml/acme/slo", param, xml, relay_state, algorithm.map(|a| (&key, a)))
}

/// A tracking cookie as `/sign-out` sets it for `request_id`.
fn logout_tracking(relay_state: &str, request_id: &str, kind: Option<&str>) -> String {
    let mut value = json!({"rid": request_id, "cid": "acme", "rt": "https://sp.example.test/bye", "exp": now() + 600});
    if let Some(kind) = kind {
        value["kind"] = kind.into();
    }
    format!("saml_req_{relay_state}={}", SessionKeys::from_seed(SEED).seal(&value))
}

// --- IdP-initiated logout ---------------------------------------------------------------

#[test]
fn idp_logout_by_post_clears_the_session_revokes_copies_and_answers_the_idp() {
    let env = env();
    let token = session_token("alice@example.com", Some("_session-42"), now() - 60);
    assert_eq!(session_status(&env, &token).0, 200);
    let response = post_slo(&env, "SAMLRequest", &read("tests/fixtures/logout/logout-request.xml"), Some("idp-relay"), Some(&session_cookie(&token)));
    assert_eq!(response.status, 302, "{}", String::from_utf8_lossy(&response.body));
    assert!(clears_session(&response));
    let location = response.header("location").unwrap();
    assert!(location.starts_with(&format!("{IDP_SLO}?SAMLResponse=")), "{location}");
    let params = query(location);
    assert_eq!(params["RelayState"], "idp-relay");
    assert_eq!(params["SigAlg"], RSA_SHA256, "the connector signs what it sends");
    let answer = redirect_xml(location);
    for part in ["<samlp:LogoutResponse ", "InResponseTo=\"_idp-logout-1\"", "Destination=\"https://idp.example.test/slo\"", "status:Success\"", "<saml:Issuer>https://sp.example.test/saml/metadata</saml:Issuer>"] {
        assert!(answer.contains(part), "{part} missing from {answer}");
    }
    // Any copy of the token is now refused by /api/session.
    assert_eq!(session_status(&env, &token), (401, "session.revoked".into()));
}

#[test]
fn idp_logout_leaves_another_users_cookie_alone() {
    let env = env();
    let bob = session_token("bob@example.com", Some("_other"), now() - 60);
    let response = post_slo(&env, "SAMLRequest", &read("tests/fixtures/logout/logout-request.xml"), None, Some(&session_cookie(&bob)));
    assert_eq!(response.status, 302);
    assert!(!clears_session(&response));
    assert_eq!(session_status(&env, &bob).0, 200);
    let alice = session_token("alice@example.com", Some("_session-42"), now() - 60);
    assert_eq!(session_status(&env, &alice), (401, "session.revoked".into()));
}

#[test]
fn idp_logout_without_session_index_ends_every_earlier_session_of_the_user() {
    let env = env();
    let earlier = session_token("alice@example.com", Some("_a"), now() - 60);
    let response = post_slo(&env, "SAMLRequest", &read("tests/fixtures/logout/logout-request-all-sessions.xml"), None, None);
    assert_eq!(response.status, 302);
    assert!(clears_session(&response), "no cookie came along (cross-site POST): cleared anyway");
    assert_eq!(session_status(&env, &earlier), (401, "session.revoked".into()));
    let later = session_token("alice@example.com", Some("_b"), now() + 5);
    assert_eq!(session_status(&env, &later).0, 200, "signing in again after the logout works");
}

#[test]
fn idp_logout_by_redirect_with_query_signature() {
    let env = env();
    let token = session_token("alice@example.com", Some("_s1"), now() - 60);
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), SLO_URL);
    let response = request(&env, "GET", &redirect_path(MessageParam::Request, &xml, "rs", Some(RSA_SHA256)), Some(&session_cookie(&token)), None);
    assert_eq!(response.status, 302, "{}", String::from_utf8_lossy(&response.body));
    assert!(clears_session(&response));
    assert!(redirect_xml(response.header("location").unwrap()).contains("InResponseTo=\"_r1\""));
    assert_eq!(session_status(&env, &token), (401, "session.revoked".into()));
}

#[test]
fn revocation_can_be_switched_off() {
    let mut env = env();
    env.vars.insert("SESSION_REVOCATION".into(), "off".into());
    let token = session_token("alice@example.com", Some("_session-42"), now() - 60);
    let response = post_slo(&env, "SAMLRequest", &read("tests/fixtures/logout/logout-request.xml"), None, Some(&session_cookie(&token)));
    assert_eq!(response.status, 302);
    assert!(clears_session(&response));
    assert_eq!(session_status(&env, &token).0, 200, "copies of the token stay valid until exp");
}

#[test]
fn logout_request_signed_by_another_key() {
    assert_refused(&post_slo(&env(), "SAMLRequest", &read("tests/fixtures/logout/logout-request-other-key.xml"), None, None), 401, "dsig.signature_invalid");
}

#[test]
fn logout_request_unsigned_post() {
    let signed = read("tests/fixtures/logout/logout-request.xml");
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..start], &signed[end..]);
    assert_refused(&post_slo(&env(), "SAMLRequest", &unsigned, None, None), 401, "saml.logout_signature_required");
}

#[test]
fn logout_request_unsigned_redirect() {
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), SLO_URL);
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", None), None, None), 401, "saml.logout_signature_required");
}

#[test]
fn logout_request_edited_after_signing() {
    let signed = read("tests/fixtures/logout/logout-request.xml").replace("alice@example.com", "bob@example.com");
    assert_refused(&post_slo(&env(), "SAMLRequest", &signed, None, None), 401, "dsig.digest_mismatch");
}

#[test]
fn logout_request_relay_state_changed_in_query() {
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), SLO_URL);
    let path = redirect_path(MessageParam::Request, &xml, "rs", Some(RSA_SHA256)).replace("RelayState=rs", "RelayState=rx");
    assert_refused(&request(&env(), "GET", &path, None, None), 401, "dsig.signature_invalid");
}

#[test]
fn logout_request_sha1_query_signature() {
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), SLO_URL);
    let path = redirect_path(MessageParam::Request, &xml, "rs", Some(RSA_SHA1));
    assert_refused(&request(&env(), "GET", &path, None, None), 401, "dsig.sha1_not_allowed");
    let allowed = env_with(connector_json(json!({"allowSha1": true})), NOW);
    assert_eq!(request(&allowed, "GET", &path, None, None).status, 302);
}

#[test]
fn logout_request_for_another_sp() {
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), "https://other.example.test/slo");
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", Some(RSA_SHA256)), None, None), 401, "saml.destination_mismatch");
}

#[test]
fn logout_request_from_another_issuer() {
    let xml = idp_logout_request("_r1", "alice@example.com", Some("_s1"), SLO_URL).replace("https://idp.example.test/metadata", "https://evil.example.test/");
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", Some(RSA_SHA256)), None, None), 401, "saml.issuer_mismatch");
}

#[test]
fn logout_request_replayed_later() {
    let late = env_with(connector_json(json!({})), "2026-01-01T00:30:00Z");
    assert_refused(&post_slo(&late, "SAMLRequest", &read("tests/fixtures/logout/logout-request.xml"), None, None), 401, "saml.logout_stale");
}

#[test]
fn logout_request_expired() {
    let xml = idp_logout_request("_r1", "alice@example.com", None, SLO_URL).replace("Version=\"2.0\"", "Version=\"2.0\" NotOnOrAfter=\"2026-01-01T00:00:30Z\"");
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", Some(RSA_SHA256)), None, None), 401, "saml.logout_expired");
}

#[test]
fn logout_request_without_name_id() {
    let xml = idp_logout_request("_r1", "", None, SLO_URL);
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", Some(RSA_SHA256)), None, None), 401, "saml.logout_name_id_missing");
}

#[test]
fn logout_request_with_doctype() {
    let xml = format!("<!DOCTYPE x [<!ENTITY e \"alice\">]>{}", idp_logout_request("_r1", "&e;", None, SLO_URL));
    assert_refused(&request(&env(), "GET", &redirect_path(MessageParam::Request, &xml, "", Some(RSA_SHA256)), None, None), 400, "xml.doctype_forbidden");
}

#[test]
fn logout_message_not_base64() {
    assert_refused(&request(&env(), "GET", "/api/authn/saml/acme/slo?SAMLRequest=%%%", None, None), 400, "saml.message_encoding");
    assert_refused(&request(&env(), "GET", "/api/authn/saml/acme/slo", None, None), 400, "saml.message_encoding");
}

#[test]
fn an_authn_response_is_not_a_logout_message() {
    let response = read("tests/fixtures/signed/assertion-rsa-sha256.xml");
    assert_refused(&post_slo(&env(), "SAMLResponse", &response, None, None), 400, "saml.unexpected_message");
}

// --- SP-initiated logout ----------------------------------------------------------------

#[test]
fn sign_out_sends_a_signed_logout_request_and_accepts_the_answer() {
    let env = env();
    let token = session_token("alice@example.com", Some("_session-42"), now() - 60);
    let response = request(&env, "GET", "/sign-out?post_logout_redirect_uri=%2Fbye", Some(&session_cookie(&token)), None);
    assert_eq!(response.status, 302, "{}", String::from_utf8_lossy(&response.body));
    assert!(clears_session(&response), "signed out here before the IdP is asked");
    let location = response.header("location").unwrap();
    assert!(location.starts_with(&format!("{IDP_SLO}?SAMLRequest=")), "{location}");
    let params = query(location);
    assert_eq!(params["SigAlg"], RSA_SHA256);
    let xml = redirect_xml(location);
    for part in [
        "<samlp:LogoutRequest ",
        "Destination=\"https://idp.example.test/slo\"",
        "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">alice@example.com</saml:NameID>",
        "<samlp:SessionIndex>_session-42</samlp:SessionIndex>",
    ] {
        assert!(xml.contains(part), "{part} missing from {xml}");
    }
    // The query signature verifies with the SP's certificate, as the IdP checks it.
    let received = binding::receive_redirect(location.split_once('?').unwrap().1).unwrap();
    let signature = received.query_signature.unwrap();
    let sp_keys = saml_edge::dsig::TrustedKey::from_certificates(&read("tests/keys/sp-signing.crt")).unwrap();
    assert!(saml_edge::dsig::verify_detached(signature.signed_octets.as_bytes(), &signature.algorithm, &signature.value, &sp_keys, &Default::default()).is_ok());
    assert_eq!(session_status(&env, &token), (401, "session.revoked".into()), "copies of the token end too");

    // The IdP answers; the tracking cookie ties the answer to this browser's request.
    let tracking = set_cookies(&response).into_iter().find(|c| c.starts_with("saml_req_")).unwrap();
    let tracking = tracking.split(';').next().unwrap().to_string();
    let request_id = xml.split("ID=\"").nth(1).unwrap().split('"').next().unwrap();
    let relay_state = &params["RelayState"];
    let answer = redirect_path(MessageParam::Response, &idp_logout_response(request_id), relay_state, Some(RSA_SHA256));
    let done = request(&env, "GET", &answer, Some(&tracking), None);
    assert_eq!(done.status, 303, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.header("location"), Some("https://sp.example.test/bye"));
    assert!(set_cookies(&done).iter().any(|c| c.starts_with(&format!("saml_req_{relay_state}=;"))));
}

#[test]
fn sign_out_unsigned_when_the_connector_does_not_sign() {
    let env = env_with(connector_json(json!({"signAuthnRequest": false})), NOW);
    let token = session_token("alice@example.com", Some("_s"), now() - 60);
    let location = request(&env, "GET", "/sign-out", Some(&session_cookie(&token)), None).header("location").unwrap().to_string();
    assert!(location.starts_with(IDP_SLO) && !location.contains("Signature="), "{location}");
}

#[test]
fn sign_out_local_only() {
    let token = session_token("alice@example.com", Some("_s"), now() - 60);
    let response = request(&env(), "GET", "/sign-out?local=1", Some(&session_cookie(&token)), None);
    assert_eq!((response.status, response.header("location")), (303, Some("https://sp.example.test/")));
    assert!(clears_session(&response));
}

#[test]
fn sign_out_without_idp_slo_endpoint_is_local() {
    let mut connector: Value = serde_json::from_str(&connector_json(json!({}))).unwrap();
    connector.as_object_mut().unwrap().remove("signOutEndpoint");
    let env = env_with(connector.to_string(), NOW);
    let token = session_token("alice@example.com", Some("_s"), now() - 60);
    let response = request(&env, "GET", "/sign-out", Some(&session_cookie(&token)), None);
    assert_eq!(response.status, 303);
    assert!(clears_session(&response));
}

#[test]
fn logout_response_by_post_with_tracking() {
    let response = post_slo(&env(), "SAMLResponse", &read("tests/fixtures/logout/logout-response.xml"), Some("t1"), Some(&logout_tracking("t1", "_slo-req-1", Some("logout"))));
    assert_eq!(response.status, 303, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(response.header("location"), Some("https://sp.example.test/bye"));
}

#[test]
fn logout_response_without_tracking() {
    assert_refused(&post_slo(&env(), "SAMLResponse", &read("tests/fixtures/logout/logout-response.xml"), Some("t1"), None), 403, "saml.in_response_to_unexpected");
}

#[test]
fn logout_response_to_a_sign_in_request() {
    // A sign-in tracking cookie with the same request ID does not make it our logout.
    let response = post_slo(&env(), "SAMLResponse", &read("tests/fixtures/logout/logout-response.xml"), Some("t1"), Some(&logout_tracking("t1", "_slo-req-1", None)));
    assert_refused(&response, 403, "saml.in_response_to_unexpected");
}

#[test]
fn logout_response_to_another_request() {
    let response = post_slo(&env(), "SAMLResponse", &read("tests/fixtures/logout/logout-response.xml"), Some("t1"), Some(&logout_tracking("t1", "_other", Some("logout"))));
    assert_refused(&response, 401, "saml.in_response_to_mismatch");
}

#[test]
fn logout_response_reporting_failure() {
    let response = post_slo(&env(), "SAMLResponse", &read("tests/fixtures/logout/logout-response-failed.xml"), Some("t1"), Some(&logout_tracking("t1", "_slo-req-1", Some("logout"))));
    assert_refused(&response, 401, "saml.status");
}

#[test]
fn sp_metadata_lists_single_logout_service() {
    let response = request(&env(), "GET", "/api/authn/saml/acme/metadata", None, None);
    let xml = String::from_utf8(response.body).unwrap();
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        let element = format!("<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\" Location=\"{SLO_URL}\"/>");
        assert!(xml.contains(&element), "{element} missing from {xml}");
    }
}

#[test]
fn replayed_logout_request_does_not_end_sessions_signed_in_since() {
    let env = env();
    let before = session_token("alice@example.com", Some("_session-42"), now() - 60);
    let since = session_token("alice@example.com", Some("_session-42"), now());
    let request = read("tests/fixtures/logout/logout-request.xml");
    for _ in 0..2 {
        assert_eq!(post_slo(&env, "SAMLRequest", &request, None, None).status, 302);
    }
    assert_eq!(session_status(&env, &before), (401, "session.revoked".into()));
    assert_eq!(session_status(&env, &since).0, 200, "the cut-off is the request's IssueInstant, not its arrival");
}

#[test]
fn a_session_index_reused_for_another_user_is_not_revoked() {
    let env = env();
    let bob = session_token("bob@example.com", Some("_session-42"), now() - 60);
    assert_eq!(post_slo(&env, "SAMLRequest", &read("tests/fixtures/logout/logout-request.xml"), None, None).status, 302);
    assert_eq!(session_status(&env, &bob).0, 200);
}

#[test]
fn deleting_the_connector_ends_its_sessions() {
    let env = env();
    let token = session_token("alice@example.com", Some("_s"), now() - 60);
    assert_eq!(session_status(&env, &token).0, 200);
    block_on(service::Env::kv_delete(&env, "connector:acme")).unwrap();
    assert_eq!(session_status(&env, &token), (401, "session.revoked".into()));
}

#[test]
fn failed_revocation_is_reported_to_the_idp_as_partial_logout() {
    // A KV that refuses writes: the IdP must not be told the logout is complete.
    struct ReadOnly(MemoryEnv);
    impl service::Env for ReadOnly {
        async fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
            self.0.kv_get(key).await
        }
        async fn kv_put(&self, _: &str, _: &str, _: Option<u64>) -> Result<(), String> {
            Err("read-only".into())
        }
        async fn kv_delete(&self, _: &str) -> Result<(), String> {
            Err("read-only".into())
        }
        async fn kv_list(&self, prefix: &str) -> Result<Vec<String>, String> {
            self.0.kv_list(prefix).await
        }
        async fn fetch(&self, url: &str, limits: &service::FetchLimits) -> Result<service::Fetched, String> {
            self.0.fetch(url, limits).await
        }
        fn now(&self) -> Instant {
            self.0.now()
        }
        fn random(&self, out: &mut [u8]) -> Result<(), String> {
            self.0.random(out)
        }
        fn var(&self, name: &str) -> Option<String> {
            self.0.var(name)
        }
        fn log(&self, line: &str) {
            self.0.log(line)
        }
    }
    let env = ReadOnly(env());
    let token = session_token("alice@example.com", Some("_session-42"), now() - 60);
    let body = format!("SAMLRequest={}", url_encode(&STANDARD.encode(read("tests/fixtures/logout/logout-request.xml"))));
    let request = Request {
        method: "POST".into(),
        url: format!("{ORIGIN}/api/authn/saml/acme/slo"),
        headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into()), ("cookie".into(), session_cookie(&token))],
        body: body.into_bytes(),
    };
    let response = block_on(service::handle(&env, request));
    assert_eq!(response.status, 302);
    let answer = redirect_xml(response.header("location").unwrap());
    assert!(answer.contains("status:Responder") && answer.contains("status:PartialLogout"), "{answer}");
}

#[test]
fn idp_logout_with_an_encrypted_name_id_is_decrypted_with_the_sp_key() {
    // tests/fixtures/encrypted-id/logout-request.xml: alice's NameID encrypted to
    // sp-enc-rsa2048 by xmlsec1, then the LogoutRequest signed (scripts/gen-fixtures.sh §8).
    let xml = read("tests/fixtures/encrypted-id/logout-request.xml");
    let env = env_with(connector_json(json!({"encPrivateKey": read("tests/keys/sp-enc-rsa2048.key")})), NOW);
    let token = session_token("alice@example.com", Some("_session-42"), now() - 60);
    let response = post_slo(&env, "SAMLRequest", &xml, None, Some(&session_cookie(&token)));
    assert_eq!(response.status, 302, "{}", String::from_utf8_lossy(&response.body));
    assert!(clears_session(&response), "the decrypted NameID is the cookie's user");
    assert!(redirect_xml(response.header("location").unwrap()).contains("status:Success\""));
    assert_eq!(session_status(&env, &token), (401, "session.revoked".into()));

    // Without a decryption key the NameID cannot be read; with the wrong key, it does not decrypt.
    assert_refused(&post_slo(&env_with(connector_json(json!({})), NOW), "SAMLRequest", &xml, None, None), 401, "saml.encrypted_id_unsupported");
    let wrong = env_with(connector_json(json!({"encPrivateKey": read("tests/keys/sp-enc2-rsa2048.key")})), NOW);
    assert_refused(&post_slo(&wrong, "SAMLRequest", &xml, None, None), 401, "saml.decryption_failed");
}

#[test]
fn idp_logout_with_a_tampered_encrypted_name_id_fails_its_signature_first() {
    let xml = read("tests/fixtures/encrypted-id/logout-request.xml");
    // The EncryptedData's CipherValue (the last one: the EncryptedKey's comes first).
    let at = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let flipped = if xml.as_bytes()[at] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &xml[..at], &xml[at + 1..]);
    assert_ne!(tampered, xml);
    let env = env_with(connector_json(json!({"encPrivateKey": read("tests/keys/sp-enc-rsa2048.key")})), NOW);
    assert_refused(&post_slo(&env, "SAMLRequest", &tampered, None, None), 401, "dsig.digest_mismatch");
}
