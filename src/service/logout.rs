//! Sign-out and Single Logout over stateless sessions.
//!
//! - `/sign-out` clears the session cookie, marks the session revoked in KV, and, when the
//!   connector knows the IdP's SingleLogoutService, sends a signed-if-configured
//!   LogoutRequest there; the IdP's LogoutResponse comes back to
//!   `/api/authn/saml/{id}/slo` and is checked against an HMAC-sealed tracking cookie.
//! - An IdP's LogoutRequest at the same endpoint clears the cookie if it belongs to the
//!   named user and writes a revocation to KV that `/api/session` honours, since a JWT
//!   cannot be recalled from wherever else it was copied.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use super::{
    hex, load_connector, param, parse_form, random_bytes, redirect, session_cookie, tracking_cookie, verified_claims, Env, Failure, Request, Response, Settings,
    MAX_BODY_BYTES, SESSION_COOKIE, TRACKING_TTL_SECONDS,
};
use crate::error::Error;
use crate::saml::binding::{self, MessageParam, Received};
use crate::saml::logout::{self, Subject};
use crate::saml::{Connector, Instant};

/// `kind` of a tracking cookie for a LogoutRequest (sign-in cookies have none).
pub(super) const LOGOUT_KIND: &str = "logout";

/// `GET /sign-out[?post_logout_redirect_uri=][&local=1]`.
pub(super) async fn sign_out(env: &impl Env, request: &Request, settings: &Settings) -> Result<Response, Failure> {
    let now = env.now();
    let cookies = request.cookies();
    let claims = cookies.iter().find(|(n, _)| *n == SESSION_COOKIE).and_then(|(_, token)| verified_claims(token, settings, now).ok());
    let connector = match claims.as_ref().and_then(|c| c.get("connector")).and_then(Value::as_str) {
        Some(id) => load_connector(env, id).await.ok(),
        None => None,
    };
    // This session ends here whatever happens next (a refused redirect, a connector that
    // no longer loads, the IdP), including copies of the token.
    if let Some(claims) = &claims {
        if let (Some(connector_id), Some(sid)) = (claims.get("connector").and_then(Value::as_str), claims.get("sid").and_then(Value::as_str)) {
            if let Err(e) = revoke(env, settings, connector_id, &RevocationKey::Session(sid), now).await {
                env.log(&json!({"level": "warn", "event": "sign_out.revocation_failed", "connector": connector_id, "message": e}).to_string());
            }
        }
    }
    let query = request.query_params();
    let clear = session_cookie(settings, "", 0);
    let target = param(&query, "post_logout_redirect_uri").unwrap_or_default();
    let location = match super::redirect::resolve_return_to(target, &settings.origin, &settings.allowlist_with(connector.as_deref())) {
        Ok(location) => location,
        Err(message) => {
            // Signed out all the same; only the redirect is refused.
            let mut response = super::pages::failure(&Failure::new(400, "redirect.not_allowed", message), request.wants_json());
            response.headers.push(("set-cookie".into(), clear));
            return Ok(response);
        }
    };
    let local_only = param(&query, "local").is_some_and(|v| v == "1" || v == "true");
    let single_logout = match (&claims, &connector) {
        (Some(claims), Some(connector)) if !local_only && connector.sign_out_endpoint.is_some() => Some((claims, connector)),
        _ => None,
    };
    let Some((claims, connector)) = single_logout else {
        env.log(&json!({"level": "info", "event": "sign_out", "connector": connector.as_ref().map(|c| c.id.clone()), "singleLogout": false}).to_string());
        return Ok(redirect(303, &location, vec![clear]));
    };

    // SP-initiated Single Logout: the LogoutRequest goes by HTTP-Redirect, tracked like an
    // AuthnRequest so that only the answer to this browser's request is accepted.
    let subject = Subject {
        name_id: claims.get("nameId").and_then(Value::as_str).unwrap_or_default().to_string(),
        format: claims.get("nameIdFormat").and_then(Value::as_str).map(String::from),
        session_index: claims.get("sessionIndex").and_then(Value::as_str).map(String::from),
    };
    let destination = connector.sign_out_endpoint.as_deref().unwrap_or_default();
    let request_id = format!("_{}", hex(&random_bytes::<16>(env)?));
    let relay_state = URL_SAFE_NO_PAD.encode(random_bytes::<12>(env)?);
    let xml = logout::logout_request_xml(connector, &request_id, now, destination, &subject);
    let key = super::sp_signing_key(connector)?;
    let url = binding::redirect_url(destination, MessageParam::Request, &xml, &relay_state, key.as_ref().map(|k| (k, connector.request_signature_algorithm.as_str())));
    let tracking = settings.keys.seal(&json!({"rid": request_id, "cid": connector.id, "rt": location, "exp": now.unix_seconds() + TRACKING_TTL_SECONDS, "kind": LOGOUT_KIND}));
    env.log(&json!({"level": "info", "event": "sign_out", "connector": connector.id, "singleLogout": true, "requestId": request_id, "signed": key.is_some()}).to_string());
    Ok(redirect(302, &url, vec![clear, tracking_cookie(settings, &relay_state, &tracking, TRACKING_TTL_SECONDS)]))
}

/// `GET|POST /api/authn/saml/{id}/slo`: the IdP's LogoutResponse to our request, or its
/// own LogoutRequest.
pub(super) async fn single_logout(env: &impl Env, request: &Request, settings: &Settings, id: &str) -> Result<Response, Failure> {
    let connector = load_connector(env, id).await?;
    let received = if request.method == "POST" {
        if request.body.len() > MAX_BODY_BYTES {
            return Err(Failure::new(413, "request.too_large", "the posted form is too large"));
        }
        binding::receive_post(&parse_form(&request.body))
    } else {
        let raw_query = request.url.split_once('?').map_or("", |(_, q)| q);
        binding::receive_redirect(raw_query.split('#').next().unwrap_or_default())
    }
    .map_err(|e| Failure::from(Error::from(e)))?;
    match received.param {
        MessageParam::Response => logout_response(env, request, settings, &connector, &received),
        MessageParam::Request => logout_request(env, request, settings, &connector, &received).await,
    }
}

/// The IdP's answer to our LogoutRequest. The session was already cleared when the user
/// signed out; this only decides where the browser goes next.
fn logout_response(env: &impl Env, request: &Request, settings: &Settings, connector: &Connector, received: &Received) -> Result<Response, Failure> {
    let now = env.now();
    let relay_state = received.relay_state.as_deref().unwrap_or_default();
    let tracking = super::tracked_request(request, settings, relay_state, &connector.id, Some(LOGOUT_KIND), now);
    let request_id = tracking.as_ref().and_then(|t| t["rid"].as_str());
    if let Err(error) = logout::validate_logout_response(received, connector, now, request_id) {
        env.log(&json!({"level": "warn", "event": "slo.response_refused", "connector": connector.id, "code": error.code(), "message": error.to_string(), "tracked": request_id.is_some()}).to_string());
        return Err(Failure::from(error));
    }
    let location = tracking.as_ref().and_then(|t| t["rt"].as_str()).unwrap_or_default();
    env.log(&json!({"level": "info", "event": "slo.completed", "connector": connector.id, "requestId": request_id}).to_string());
    Ok(redirect(303, location, vec![tracking_cookie(settings, relay_state, "", 0), session_cookie(settings, "", 0)]))
}

/// An IdP-initiated LogoutRequest: end the named sessions, answer the IdP.
async fn logout_request(env: &impl Env, request: &Request, settings: &Settings, connector: &Connector, received: &Received) -> Result<Response, Failure> {
    let now = env.now();
    let logout_request = match logout::validate_logout_request(received, connector, now) {
        Ok(r) => r,
        Err(error) => {
            env.log(&json!({"level": "warn", "event": "slo.request_refused", "connector": connector.id, "code": error.code(), "message": error.to_string()}).to_string());
            return Err(Failure::from(error));
        }
    };

    // The browser's own session: cleared when it is the named user's (or when the cookie
    // did not come along, as on a cross-site POST); another user's session is left alone.
    let cookies = request.cookies();
    let claims = cookies.iter().find(|(n, _)| *n == SESSION_COOKIE).and_then(|(_, token)| verified_claims(token, settings, now).ok());
    let belongs = |claims: &Map<String, Value>| {
        claims.get("connector").and_then(Value::as_str) == Some(connector.id.as_str())
            && claims.get("nameId").and_then(Value::as_str) == Some(logout_request.name_id.as_str())
            && (logout_request.session_indexes.is_empty()
                || claims.get("sessionIndex").and_then(Value::as_str).is_some_and(|s| logout_request.session_indexes.iter().any(|i| i == s)))
    };
    let clear_cookie = claims.as_ref().is_none_or(belongs);

    // Every other copy of those sessions' tokens: revoked in KV for `/api/session`.
    let keys: Vec<RevocationKey<'_>> = if logout_request.session_indexes.is_empty() {
        vec![RevocationKey::Subject(&logout_request.name_id)]
    } else {
        logout_request.session_indexes.iter().map(|s| RevocationKey::SessionIndex(&logout_request.name_id, s)).collect()
    };
    // What the IdP ended is what existed when it issued the request (plus clock skew): a
    // replayed copy of the same request cannot end sessions signed in since.
    let cutoff = logout_request.issue_instant.plus_millis(connector.clock_skew_ms).min(now);
    let mut revoked = true;
    for key in &keys {
        if let Err(e) = revoke(env, settings, &connector.id, key, cutoff).await {
            env.log(&json!({"level": "error", "event": "slo.revocation_failed", "connector": connector.id, "message": e}).to_string());
            revoked = false;
        }
    }
    let (status, second_level) = if revoked {
        (logout::STATUS_SUCCESS, None)
    } else {
        (logout::STATUS_RESPONDER, Some(logout::STATUS_PARTIAL_LOGOUT))
    };
    env.log(&json!({"level": "info", "event": "slo.idp_logout", "connector": connector.id, "requestId": logout_request.id, "nameId": logout_request.name_id, "sessionIndexes": logout_request.session_indexes, "cookieCleared": clear_cookie, "revoked": revoked}).to_string());

    let mut cookies = Vec::new();
    if clear_cookie {
        cookies.push(session_cookie(settings, "", 0));
    }
    let Some(destination) = connector.sign_out_response_endpoint.as_deref() else {
        // Nowhere to answer: the logout is done on our side all the same.
        return Ok(redirect(303, &format!("{}/", settings.origin), cookies));
    };
    let response_id = format!("_{}", hex(&random_bytes::<16>(env)?));
    let xml = logout::logout_response_xml(connector, &response_id, now, destination, &logout_request.id, status, second_level);
    let key = super::sp_signing_key(connector)?;
    let relay_state = received.relay_state.as_deref().unwrap_or_default();
    let url = binding::redirect_url(destination, MessageParam::Response, &xml, relay_state, key.as_ref().map(|k| (k, connector.request_signature_algorithm.as_str())));
    Ok(redirect(302, &url, cookies))
}

/// What a revocation names: one of our sessions (its `sid`, on sign-out here), the
/// sessions of one IdP session (its SessionIndex), or every session of a NameID (an IdP
/// LogoutRequest without SessionIndex). The last two cover sessions issued up to the
/// logout only, so signing in again works at once.
enum RevocationKey<'a> {
    Session(&'a str),
    /// (NameID, SessionIndex): an IdP that reuses index values across users cannot make
    /// one user's logout end another's session.
    SessionIndex(&'a str, &'a str),
    Subject(&'a str),
}

impl RevocationKey<'_> {
    /// Hashed, so that any NameID or SessionIndex fits a KV key and none is stored in clear.
    fn kv_key(&self, connector: &str) -> String {
        let mut hasher = sha2::Sha256::new();
        let kind = match self {
            RevocationKey::Session(sid) => {
                hasher.update(sid.as_bytes());
                "session"
            }
            RevocationKey::SessionIndex(name_id, index) => {
                // Length-prefixed, so no two (NameID, index) pairs hash the same input.
                hasher.update((name_id.len() as u64).to_be_bytes());
                hasher.update(name_id.as_bytes());
                hasher.update(index.as_bytes());
                "idx"
            }
            RevocationKey::Subject(name_id) => {
                hasher.update(name_id.as_bytes());
                "sub"
            }
        };
        format!("revoked:{connector}:{kind}:{}", hex(&hasher.finalize()[..16]))
    }
}

pub(super) fn revocation_enabled(env: &impl Env) -> bool {
    env.var("SESSION_REVOCATION").is_none_or(|v| v.trim() != "off")
}

/// Revoke the sessions `key` names that were issued up to `before`. An existing entry
/// with a later cut-off is kept (a replayed or late message never lowers it).
async fn revoke(env: &impl Env, settings: &Settings, connector: &str, key: &RevocationKey<'_>, before: Instant) -> Result<(), String> {
    if !revocation_enabled(env) {
        return Ok(());
    }
    let kv_key = key.kv_key(connector);
    let existing = env.kv_get(&kv_key).await?.and_then(|e| serde_json::from_str::<Value>(&e).ok()).and_then(|e| e["before"].as_i64());
    if existing.is_some_and(|existing| existing >= before.unix_seconds()) {
        return Ok(());
    }
    // No session issued before the cut-off outlives the longest TTL, so neither must this entry.
    let ttl = settings.session_ttl + 60;
    let value = json!({"before": before.unix_seconds(), "exp": before.unix_seconds() + ttl});
    env.kv_put(&kv_key, &value.to_string(), Some(ttl as u64)).await
}

/// Whether `claims` belong to a session revoked by sign-out or an IdP's LogoutRequest.
pub(super) async fn is_revoked(env: &impl Env, claims: &Map<String, Value>, now: Instant) -> Result<bool, Failure> {
    if !revocation_enabled(env) {
        return Ok(false);
    }
    let Some(connector) = claims.get("connector").and_then(Value::as_str) else { return Ok(false) };
    // Deleting a connector (offboarding a customer) ends its sessions too.
    let unavailable = |e: String| Failure::new(503, "kv.unavailable", format!("revocation list unavailable: {e}"));
    if env.kv_get(&format!("connector:{connector}")).await.map_err(unavailable)?.is_none() {
        return Ok(true);
    }
    let issued_at = claims.get("iat").and_then(Value::as_i64).unwrap_or(i64::MIN);
    let mut keys = Vec::new();
    if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
        keys.push(RevocationKey::Session(sid));
    }
    let name_id = claims.get("nameId").and_then(Value::as_str);
    if let (Some(name_id), Some(session_index)) = (name_id, claims.get("sessionIndex").and_then(Value::as_str)) {
        keys.push(RevocationKey::SessionIndex(name_id, session_index));
    }
    if let Some(name_id) = name_id {
        keys.push(RevocationKey::Subject(name_id));
    }
    for key in keys {
        let entry = env.kv_get(&key.kv_key(connector)).await.map_err(unavailable)?;
        let Some(entry) = entry.and_then(|e| serde_json::from_str::<Value>(&e).ok()) else { continue };
        let live = entry["exp"].as_i64().is_some_and(|exp| exp > now.unix_seconds());
        // A session is revoked if it was issued no later than the logout.
        if live && entry["before"].as_i64().is_some_and(|before| issued_at <= before) {
            return Ok(true);
        }
    }
    Ok(false)
}
