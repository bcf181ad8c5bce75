//! The admin API (`/api/admin/…`), enabled by the `ADMIN_TOKEN` secret and protected by
//! it as a bearer token (compared in constant time):
//!
//!   GET    /api/admin/connectors              list
//!   GET    /api/admin/connectors/{id}         one, secrets redacted
//!   PUT    /api/admin/connectors/{id}         create or replace, from connector JSON, from
//!                                             IdP metadata XML (Content-Type …xml), or from
//!                                             `{"idpMetadataUrl": …}`; checked like
//!                                             `check-config`, every problem reported
//!   DELETE /api/admin/connectors/{id}
//!   GET    /api/admin/domains                 email domain → connector
//!   PUT    /api/admin/domains/{domain}        `{"connector": id}`
//!   DELETE /api/admin/domains/{domain}
//!   POST   /api/admin/refresh                 the scheduled metadata refresh, now
//!   GET    /api/admin/health                  certificate expiry, metadata refresh
//!                                             failures, retired certificates still in use

use serde_json::{json, Map, Value};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::idp_metadata::{self, MetadataState};
use super::{json_response, load_connector, Env, Failure, Request, Response, Settings, MAX_BODY_BYTES};
use crate::saml::config::RETAINED_SOURCE;
use crate::saml::{Connector, Identity, Instant};

/// Fields never returned by the API: the known secrets (`privateKey`, `privateKeyPass`,
/// `encPrivateKey`, `encPrivateKeyPass`) and anything else that looks like one, in any
/// spelling (unknown fields are stored as given).
fn is_secret_field(name: &str) -> bool {
    let lowered = name.to_ascii_lowercase();
    ["key", "pass", "secret", "token", "credential"].iter().any(|word| lowered.contains(word)) && !matches!(lowered.as_str(), "keyname")
}

/// Shortest accepted ADMIN_TOKEN: a guessable token would make the API an open door.
const MIN_ADMIN_TOKEN_CHARS: usize = 32;

pub(super) async fn handle(env: &impl Env, request: &Request, settings: &Settings, segments: &[&str]) -> Result<Response, Failure> {
    authorize(env, request)?;
    let method = request.method.as_str();
    match (method, segments) {
        ("GET", ["connectors"]) => list_connectors(env).await,
        ("GET", ["connectors", id]) => get_connector(env, id).await,
        ("PUT", ["connectors", id]) => put_connector(env, request, settings, id).await,
        ("DELETE", ["connectors", id]) => delete_connector(env, id).await,
        ("GET", ["domains"]) => list_domains(env).await,
        ("PUT", ["domains", domain]) => put_domain(env, request, domain).await,
        ("DELETE", ["domains", domain]) => {
            let domain = normalize_domain(domain)?;
            env.kv_delete(&format!("domain:{domain}")).await.map_err(kv_error)?;
            audit(env, "admin.domain_deleted", json!({"domain": domain}));
            Ok(Response { status: 204, ..Response::default() })
        }
        ("POST", ["refresh"]) => {
            let outcomes = scheduled(env).await;
            let list: Vec<Value> = outcomes.iter().map(|o| json!({"connector": o.connector, "ok": o.ok, "message": o.message})).collect();
            Ok(json_response(200, &json!({"refreshed": list}), &[("cache-control", "no-store")]))
        }
        ("GET", ["health"]) => {
            let report = health(env).await;
            Ok(json_response(200, &report, &[("cache-control", "no-store")]))
        }
        (_, ["connectors" | "domains" | "refresh" | "health", ..]) => Err(Failure::new(405, "request.method_not_allowed", format!("{method} is not allowed here"))),
        _ => Err(Failure::new(404, "request.not_found", "no such admin endpoint")),
    }
}

/// Bearer `ADMIN_TOKEN`, compared in constant time (as SHA-256 digests, so the length
/// leaks nothing either). Without the secret the API does not exist.
fn authorize(env: &impl Env, request: &Request) -> Result<(), Failure> {
    let expected = env.var("ADMIN_TOKEN").filter(|t| !t.trim().is_empty()).ok_or_else(|| Failure::new(404, "admin.disabled", "the admin API is disabled (set the ADMIN_TOKEN secret to enable it)"))?;
    if expected.trim().chars().count() < MIN_ADMIN_TOKEN_CHARS {
        return Err(Failure::new(500, "service.misconfigured", format!("ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_CHARS} characters (openssl rand -hex 32); the admin API stays closed")));
    }
    let presented = request.header("authorization").and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))).unwrap_or_default();
    let expected_digest = sha2::Sha256::digest(expected.trim().as_bytes());
    let presented_digest = sha2::Sha256::digest(presented.trim().as_bytes());
    if presented.is_empty() || !bool::from(expected_digest.ct_eq(&presented_digest)) {
        env.log(&json!({"level": "warn", "event": "admin.unauthorized", "method": request.method, "path": request.path(), "tokenPresented": !presented.is_empty()}).to_string());
        return Err(Failure::new(401, "admin.unauthorized", "a valid admin bearer token is required (Authorization: Bearer …)"));
    }
    Ok(())
}

fn kv_error(e: String) -> Failure {
    Failure::new(503, "kv.unavailable", format!("connector store unavailable: {e}"))
}

fn audit(env: &impl Env, event: &str, detail: Value) {
    let mut line = json!({"level": "info", "event": event});
    if let (Some(line), Value::Object(detail)) = (line.as_object_mut(), detail) {
        line.extend(detail);
    }
    env.log(&line.to_string());
}

fn valid_id(id: &str) -> Result<(), Failure> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(Failure::new(400, "admin.bad_id", "a connector ID is 1-64 letters, digits, '-' or '_'"))
    }
}

fn normalize_domain(domain: &str) -> Result<String, Failure> {
    let domain = crate::url::percent_decode(domain.as_bytes()).trim().trim_start_matches('@').to_ascii_lowercase();
    if domain.is_empty() || !domain.contains('.') || domain.len() > 253 || !domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
        return Err(Failure::new(400, "admin.bad_domain", format!("{domain:?} is not a domain name")));
    }
    Ok(domain)
}

async fn list_connectors(env: &impl Env) -> Result<Response, Failure> {
    let mut connectors = Vec::new();
    for key in env.kv_list("connector:").await.map_err(kv_error)? {
        let id = key.trim_start_matches("connector:");
        let stored: Value = env.kv_get(&key).await.map_err(kv_error)?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or(Value::Null);
        connectors.push(json!({
            "id": id,
            "entityID": stored["entityID"],
            "idpEntityId": stored["idpEntityId"],
            "idpMetadataUrl": stored["idpMetadataUrl"],
            "signInEndpoint": stored["signInEndpoint"],
        }));
    }
    Ok(json_response(200, &json!({"connectors": connectors}), &[("cache-control", "no-store")]))
}

async fn get_connector(env: &impl Env, id: &str) -> Result<Response, Failure> {
    valid_id(id)?;
    let stored = env.kv_get(&format!("connector:{id}")).await.map_err(kv_error)?.ok_or_else(|| Failure::new(404, "connector.not_found", format!("no connector named {id:?}")))?;
    let mut value: Value = serde_json::from_str(&stored).map_err(|e| Failure::new(500, "config.invalid", format!("stored connector is not JSON: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        for (field, value) in object.iter_mut() {
            if is_secret_field(field) {
                *value = json!("(redacted)");
            }
        }
    }
    let metadata = idp_metadata::load_state(env, id).await.map_err(kv_error)?.map(|s| metadata_status(&s));
    Ok(json_response(200, &json!({"id": id, "connector": value, "metadata": metadata}), &[("cache-control", "no-store")]))
}

/// Create or replace a connector. The body is connector JSON, or IdP metadata XML
/// (Content-Type application/samlmetadata+xml, application/xml or text/xml). Missing
/// `entityID` / `assertionConsumerServiceUrl` default to this service's URLs for `id`.
async fn put_connector(env: &impl Env, request: &Request, settings: &Settings, id: &str) -> Result<Response, Failure> {
    valid_id(id)?;
    if request.body.len() > MAX_BODY_BYTES {
        return Err(Failure::new(413, "request.too_large", "the body is too large"));
    }
    let body = std::str::from_utf8(&request.body).map_err(|_| Failure::new(400, "admin.bad_body", "the body is not UTF-8"))?;
    let content_type = request.header("content-type").unwrap_or_default().to_ascii_lowercase();
    let mut object: Map<String, Value> = if content_type.contains("xml") || body.trim_start().starts_with('<') {
        let mut object = Map::new();
        object.insert("idpMetadataXml".into(), json!(body));
        object
    } else {
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(object)) => object,
            _ => return Err(Failure::new(400, "admin.bad_body", "the body must be a connector JSON object or IdP metadata XML")),
        }
    };
    let base = format!("{}/api/authn/saml/{id}", settings.origin);
    object.entry("entityID").or_insert_with(|| json!(format!("{base}/metadata")));
    object.entry("assertionConsumerServiceUrl").or_insert_with(|| json!(base));
    let json_text = Value::Object(object.clone()).to_string();

    // A metadata URL is fetched now, so that the connector is checked with what it will
    // use; the result is stored only if the connector is accepted.
    let mut fetch_problem = None;
    let mut metadata_state = None;
    let fetched = match object.get("idpMetadataUrl").and_then(Value::as_str) {
        Some(url) => match idp_metadata::fetch_state(env, id, url).await {
            Ok(state) => {
                fetch_problem = state.last_error.clone().filter(|_| state.xml.is_empty());
                let fetched = state.fetched_metadata();
                metadata_state = Some(state);
                fetched
            }
            Err(e) => {
                fetch_problem = Some(e);
                None
            }
        },
        None => None,
    };
    let checked = Connector::from_json_with_metadata(id, &json_text, fetched.as_ref());
    let (connector, warnings) = match checked {
        Ok(ok) => ok,
        Err(error) => {
            let mut problems: Vec<Value> = error.problems.iter().map(|p| json!({"field": p.field, "message": p.message})).collect();
            if let Some(e) = fetch_problem {
                problems.insert(0, json!({"field": "idpMetadataUrl", "message": format!("fetching the metadata failed: {e}")}));
            }
            env.log(&json!({"level": "warn", "event": "admin.connector_refused", "connector": id, "problems": problems}).to_string());
            let body = json!({"error": {"code": "config.invalid", "message": format!("connector {id:?} is not valid: {} problem(s)", problems.len()), "problems": problems}});
            return Ok(json_response(422, &body, &[("cache-control", "no-store")]));
        }
    };
    let existed = env.kv_get(&format!("connector:{id}")).await.map_err(kv_error)?.is_some();
    env.kv_put(&format!("connector:{id}"), &json_text, None).await.map_err(kv_error)?;
    match &metadata_state {
        Some(state) => idp_metadata::store_state(env, id, state).await.map_err(kv_error)?,
        // A connector no longer configured by URL keeps no stale metadata around.
        None => {
            let _ = env.kv_delete(&idp_metadata::state_key(id)).await;
        }
    }
    audit(env, if existed { "admin.connector_updated" } else { "admin.connector_created" }, json!({"connector": id, "idpEntityId": connector.idp_entity_id}));
    let warnings: Vec<Value> = warnings.iter().map(|w| json!({"field": w.field, "message": w.message})).collect();
    let body = json!({
        "id": id,
        "entityID": connector.entity_id,
        "assertionConsumerServiceUrl": connector.acs_url,
        "metadataUrl": format!("{base}/metadata"),
        "idpEntityId": connector.idp_entity_id,
        "certificates": connector.idp_certificates.len(),
        "warnings": warnings,
    });
    Ok(json_response(if existed { 200 } else { 201 }, &body, &[("cache-control", "no-store")]))
}

async fn delete_connector(env: &impl Env, id: &str) -> Result<Response, Failure> {
    valid_id(id)?;
    let key = format!("connector:{id}");
    if env.kv_get(&key).await.map_err(kv_error)?.is_none() {
        return Err(Failure::new(404, "connector.not_found", format!("no connector named {id:?}")));
    }
    env.kv_delete(&key).await.map_err(kv_error)?;
    let _ = env.kv_delete(&idp_metadata::state_key(id)).await;
    // Domains still pointing here would lead users to a 404: remove them too.
    for domain_key in env.kv_list("domain:").await.map_err(kv_error)? {
        if env.kv_get(&domain_key).await.map_err(kv_error)?.as_deref() == Some(id) {
            env.kv_delete(&domain_key).await.map_err(kv_error)?;
        }
    }
    audit(env, "admin.connector_deleted", json!({"connector": id}));
    Ok(Response { status: 204, ..Response::default() })
}

async fn list_domains(env: &impl Env) -> Result<Response, Failure> {
    let mut domains = Map::new();
    for key in env.kv_list("domain:").await.map_err(kv_error)? {
        if let Some(connector) = env.kv_get(&key).await.map_err(kv_error)? {
            domains.insert(key.trim_start_matches("domain:").to_string(), json!(connector));
        }
    }
    Ok(json_response(200, &json!({"domains": domains}), &[("cache-control", "no-store")]))
}

async fn put_domain(env: &impl Env, request: &Request, domain: &str) -> Result<Response, Failure> {
    let domain = normalize_domain(domain)?;
    let body: Value = serde_json::from_slice(&request.body).map_err(|_| Failure::new(400, "admin.bad_body", "the body must be {\"connector\": \"ID\"}"))?;
    let connector = body["connector"].as_str().ok_or_else(|| Failure::new(400, "admin.bad_body", "the body must be {\"connector\": \"ID\"}"))?;
    valid_id(connector)?;
    if env.kv_get(&format!("connector:{connector}")).await.map_err(kv_error)?.is_none() {
        return Err(Failure::new(404, "connector.not_found", format!("no connector named {connector:?}")));
    }
    env.kv_put(&format!("domain:{domain}"), connector, None).await.map_err(kv_error)?;
    audit(env, "admin.domain_mapped", json!({"domain": domain, "connector": connector}));
    Ok(json_response(200, &json!({"domain": domain, "connector": connector}), &[]))
}

fn metadata_status(state: &MetadataState) -> Value {
    json!({
        "url": state.url,
        "fetchedAt": (state.fetched_at > 0).then(|| Instant::from_unix_seconds(state.fetched_at).to_string()),
        "lastAttempt": (state.last_attempt > 0).then(|| Instant::from_unix_seconds(state.last_attempt).to_string()),
        "lastError": state.last_error,
        "consecutiveFailures": state.consecutive_failures,
        "rolloverInProgress": state.in_rollover(),
        "certificates": state.current.len(),
    })
}

/// The scheduled job (Workers Cron Trigger, or `POST /api/admin/refresh` from any
/// scheduler): refresh every metadata URL, then log the health warnings.
pub async fn scheduled(env: &impl Env) -> Vec<idp_metadata::RefreshOutcome> {
    let outcomes = idp_metadata::refresh_all(env).await;
    health(env).await;
    outcomes
}

/// Every connector's warnings: certificates expired or expiring within 30 days, metadata
/// that could not be refreshed, sign-ins verified by a certificate the metadata no longer
/// lists. Each warning is also one JSON log line.
pub async fn health(env: &impl Env) -> Value {
    let now = env.now();
    let mut connectors = Vec::new();
    let mut healthy = true;
    let keys = env.kv_list("connector:").await.unwrap_or_default();
    for key in keys {
        let id = key.trim_start_matches("connector:").to_string();
        let mut warnings: Vec<Value> = Vec::new();
        let mut certificates = Vec::new();
        match load_connector(env, &id).await {
            Ok(connector) => {
                for warning in connector.certificate_warnings(now) {
                    let code = if warning.message.contains("expired on") { "certificate.expired" } else { "certificate.expiring" };
                    warnings.push(json!({"code": code, "field": warning.field, "message": warning.message}));
                }
                for certificate in &connector.idp_certificates {
                    certificates.push(json!({
                        "subject": certificate.info.subject,
                        "notAfter": Instant::from_unix_seconds(certificate.info.not_after).to_string(),
                        "daysLeft": (certificate.info.not_after - now.unix_seconds()).div_euclid(86_400),
                        "source": certificate.source,
                    }));
                }
            }
            Err(failure) => warnings.push(json!({"code": failure.code, "message": failure.message})),
        }
        let state = idp_metadata::load_state(env, &id).await.ok().flatten();
        if let Some(state) = &state {
            if let Some(error) = &state.last_error {
                warnings.push(json!({"code": "metadata.refresh_failed", "message": format!("the metadata could not be refreshed ({} time(s) in a row): {error}; the metadata fetched at {} stays in use", state.consecutive_failures, Instant::from_unix_seconds(state.fetched_at))}));
            }
            if state.in_rollover() {
                warnings.push(json!({"code": "metadata.rollover", "message": "the IdP's signing certificates changed: the previous ones stay trusted until the new metadata has been seen twice"}));
            }
        }
        if let Ok(Some(note)) = env.kv_get(&retired_key(&id)).await {
            let note: Value = serde_json::from_str(&note).unwrap_or(Value::Null);
            warnings.push(json!({"code": "acs.retired_certificate", "message": format!("a sign-in at {} was verified with certificate {} which the IdP metadata no longer lists: the IdP is still signing with its old key", note["at"].as_str().unwrap_or("?"), note["subject"])}));
        }
        for warning in &warnings {
            env.log(&json!({"level": "warn", "event": "health.warning", "connector": id, "code": warning["code"], "message": warning["message"]}).to_string());
        }
        healthy &= warnings.is_empty();
        connectors.push(json!({"id": id, "ok": warnings.is_empty(), "warnings": warnings, "certificates": certificates, "metadata": state.as_ref().map(metadata_status)}));
    }
    json!({"ok": healthy, "checkedAt": now.to_string(), "connectors": connectors})
}

fn retired_key(connector: &str) -> String {
    format!("warning:{connector}:retired_certificate")
}

/// A sign-in verified by a certificate kept only for rollover: log it and keep a note for
/// the health report (for 30 days).
pub(super) async fn note_retired_certificate(env: &impl Env, connector: &Connector, identity: &Identity, now: Instant) {
    let Some(certificate) = identity.signing_certificate.and_then(|i| connector.idp_certificates.get(i)) else { return };
    if certificate.source != RETAINED_SOURCE {
        return;
    }
    env.log(&json!({"level": "warn", "event": "acs.retired_certificate", "connector": connector.id, "subject": certificate.info.subject}).to_string());
    let note = json!({"at": now.to_string(), "subject": certificate.info.subject, "exp": now.unix_seconds() + 30 * 86_400});
    let _ = env.kv_put(&retired_key(&connector.id), &note.to_string(), Some(30 * 86_400)).await;
}
