//! The sign-in service, written once for every host: `handle(env, request) -> response`.
//! Hosts (Cloudflare Worker, Spin component, native dev server) only convert requests
//! and provide an [`Env`]; nothing here knows which one is running.
//!
//! Routes:
//!   GET  /sign-in[?email=|?connector=][&return_to=]       home-realm discovery
//!   GET  /api/authn/saml/{connector}/sign-in?return_to=   SP-initiated sign-in
//!   POST /api/authn/saml/{connector}                      ACS (HTTP-POST binding)
//!   GET  /api/authn/saml/{connector}/metadata             SP metadata
//!   GET  /api/session                                     the session's claims, or 401
//!   GET  /.well-known/jwks.json                           session verification keys
//!   GET|POST /api/authn/saml/{connector}/slo              Single Logout (both directions)
//!   GET  /sign-out[?post_logout_redirect_uri=][&local=1]  ends the session (and at the IdP)
//!   *    /api/admin/…                                     the admin API (see `admin`)

pub mod admin;
pub mod idp_metadata;
mod logout;
mod memory;
#[cfg(not(target_arch = "wasm32"))]
pub mod native_fetch;
mod pages;
pub mod redirect;

pub use memory::{block_on, Fetcher, MemoryEnv};
pub use crate::url::parse_form;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::saml::authn_request::{self, SpSigningKey};
use crate::saml::response::{decode_posted, Expectation, Identity};
use crate::saml::{metadata, validate_response, Connector, Instant};
use crate::session::SessionKeys;

pub const SESSION_COOKIE: &str = "saml_edge_session";
/// The host settings the service reads (secrets and plain variables alike); adapters pass
/// exactly these through.
pub const SETTINGS: &[&str] = &[
    "SESSION_SIGNING_KEY",
    "PUBLIC_ORIGIN",
    "SESSION_TTL_SECONDS",
    "SESSION_ISSUER",
    "SESSION_AUDIENCE",
    "RETURN_TO_ALLOWLIST",
    "SESSION_REVOCATION",
    "ADMIN_TOKEN",
    "METADATA_ALLOW_LOOPBACK",
];
const TRACKING_COOKIE_PREFIX: &str = "saml_req_";
const TRACKING_TTL_SECONDS: i64 = 600;
const DEFAULT_SESSION_TTL_SECONDS: i64 = 8 * 3600;
/// Largest ACS body accepted; a Response this size is already far past any real one.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// An HTTP request as the core sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The full URL (`https://host/path?query`).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An HTTP response. Several `Set-Cookie` headers may appear.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a host provides: KV reads, the clock, randomness, secrets/settings and a log.
#[allow(async_fn_in_trait)]
pub trait Env {
    async fn kv_get(&self, key: &str) -> Result<Option<String>, String>;
    /// Store `value` under `key`. With a TTL the store may drop the key after that many
    /// seconds (Workers KV does; Spin's store keeps it): readers never rely on that, every
    /// expiring value carries its own `exp`.
    async fn kv_put(&self, key: &str, value: &str, ttl_seconds: Option<u64>) -> Result<(), String>;
    async fn kv_delete(&self, key: &str) -> Result<(), String>;
    /// Every key starting with `prefix`.
    async fn kv_list(&self, prefix: &str) -> Result<Vec<String>, String>;
    /// One outbound HTTP GET, redirects not followed. The host enforces `limits` as far as
    /// it can, and refuses internal addresses it resolves names to (see `url::check_fetch_url`,
    /// which the core applies to every URL first).
    async fn fetch(&self, url: &str, limits: &FetchLimits) -> Result<Fetched, String>;
    fn now(&self) -> Instant;
    fn random(&self, out: &mut [u8]) -> Result<(), String>;
    /// A secret or setting (`SESSION_SIGNING_KEY`, `PUBLIC_ORIGIN`, …).
    fn var(&self, name: &str) -> Option<String>;
    /// One structured (JSON) log line.
    fn log(&self, line: &str);
}

/// Limits on one outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub max_bytes: usize,
    pub timeout_ms: u64,
    /// http://localhost targets are allowed (development and tests only).
    pub allow_loopback: bool,
}

/// What an outbound GET returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// A refusal with its HTTP status, stable code and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, code, message: message.into() }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = error.code();
        let status = match &error {
            Error::Config(_) => 500,
            Error::Xml(_) => 400,
            Error::Saml(crate::SamlError::ResponseEncoding { .. } | crate::SamlError::NotAResponse { .. } | crate::SamlError::MessageEncoding { .. } | crate::SamlError::UnexpectedMessage { .. }) => 400,
            Error::Saml(crate::SamlError::Unsolicited | crate::SamlError::InResponseToUnexpected { .. }) => 403,
            Error::Saml(_) | Error::Dsig(_) => 401,
        };
        Failure { status, code, message: error.to_string() }
    }
}

/// Per-request settings from the host's variables.
struct Settings {
    origin: String,
    keys: Arc<SessionKeys>,
    session_ttl: i64,
    issuer: String,
    audience: String,
    allowlist: Vec<String>,
    /// Cookies get `Secure` except on an http://localhost origin (development).
    secure: bool,
}

impl Settings {
    fn from_env(env: &impl Env, request: &Request) -> Result<Settings, Failure> {
        let origin = match env.var("PUBLIC_ORIGIN") {
            Some(origin) => origin.trim_end_matches('/').to_string(),
            None => crate::url::parse_absolute(&request.url).map(|u| u.origin()).ok_or_else(|| Failure::new(400, "request.url", "request URL is not absolute"))?,
        };
        let secret = env.var("SESSION_SIGNING_KEY").ok_or_else(|| misconfigured("SESSION_SIGNING_KEY is not set"))?;
        let keys = session_keys(&secret)?;
        let session_ttl = match env.var("SESSION_TTL_SECONDS") {
            Some(v) => v.trim().parse::<i64>().ok().filter(|t| (60..=30 * 86_400).contains(t)).ok_or_else(|| misconfigured("SESSION_TTL_SECONDS must be 60..2592000"))?,
            None => DEFAULT_SESSION_TTL_SECONDS,
        };
        let issuer = env.var("SESSION_ISSUER").unwrap_or_else(|| origin.clone());
        let audience = env.var("SESSION_AUDIENCE").unwrap_or_else(|| issuer.clone());
        let allowlist = env.var("RETURN_TO_ALLOWLIST").map(|v| v.split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(String::from).collect()).unwrap_or_default();
        let secure = !crate::url::parse_absolute(&origin).is_some_and(|u| u.scheme == "http" && u.is_loopback());
        Ok(Settings { origin, keys, session_ttl, issuer, audience, allowlist, secure })
    }

    fn allowlist_with(&self, connector: Option<&Connector>) -> Vec<String> {
        let mut list = self.allowlist.clone();
        if let Some(connector) = connector {
            list.extend(connector.return_to_allowlist.iter().cloned());
        }
        list
    }
}

/// Session keys derived from the secret, kept per isolate (deriving an Ed25519 public
/// key is a scalar multiplication) and re-derived when the secret changes.
fn session_keys(secret: &str) -> Result<Arc<SessionKeys>, Failure> {
    type KeysForSecret = ([u8; 32], Arc<SessionKeys>); // SHA-256 of the secret, its keys
    static KEYS: OnceLock<Mutex<Option<KeysForSecret>>> = OnceLock::new();
    let fingerprint: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
    let cache = KEYS.get_or_init(|| Mutex::new(None));
    if let Some((_, keys)) = cache.lock().ok().as_ref().and_then(|c| c.as_ref().filter(|(f, _)| *f == fingerprint).cloned()) {
        return Ok(keys);
    }
    let keys = Arc::new(SessionKeys::from_secret(secret).map_err(misconfigured)?);
    if let Ok(mut slot) = cache.lock() {
        *slot = Some((fingerprint, Arc::clone(&keys)));
    }
    Ok(keys)
}

fn misconfigured(detail: impl Into<String>) -> Failure {
    Failure::new(500, "service.misconfigured", detail)
}

/// Handle one request. Never panics on input; every refusal is a page or JSON with a code.
pub async fn handle(env: &impl Env, request: Request) -> Response {
    let wants_json = request.wants_json();
    let route = route(&request);
    let result = match Settings::from_env(env, &request) {
        Ok(settings) => dispatch(env, &request, &settings, route).await,
        Err(failure) => Err(failure),
    };
    match result {
        Ok(response) => response,
        Err(failure) => {
            env.log(&json!({"level": "warn", "event": "request.refused", "route": route.name(), "status": failure.status, "code": failure.code, "message": failure.message}).to_string());
            pages::failure(&failure, wants_json)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    Index,
    Discovery,
    SignIn(&'a str),
    Acs(&'a str),
    Metadata(&'a str),
    SingleLogout(&'a str),
    Admin,
    Session,
    Jwks,
    SignOut,
    NotFound,
    MethodNotAllowed,
}

impl Route<'_> {
    fn name(&self) -> &'static str {
        match self {
            Route::Index => "index",
            Route::Discovery => "discovery",
            Route::SignIn(_) => "sign_in",
            Route::Acs(_) => "acs",
            Route::Metadata(_) => "metadata",
            Route::SingleLogout(_) => "slo",
            Route::Admin => "admin",
            Route::Session => "session",
            Route::Jwks => "jwks",
            Route::SignOut => "sign_out",
            Route::NotFound => "not_found",
            Route::MethodNotAllowed => "method_not_allowed",
        }
    }
}

fn route(request: &Request) -> Route<'_> {
    let path = request.path();
    let get = request.method == "GET" || request.method == "HEAD";
    let post = request.method == "POST";
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let valid_id = |id: &str| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let route = match segments.as_slice() {
        [""] => Route::Index,
        ["sign-in"] => Route::Discovery,
        ["sign-out"] => Route::SignOut,
        ["api", "session"] => Route::Session,
        ["api", "admin", ..] => return Route::Admin,
        [".well-known", "jwks.json"] => Route::Jwks,
        ["api", "authn", "saml", id] if valid_id(id) => return if post { Route::Acs(id) } else { Route::MethodNotAllowed },
        ["api", "authn", "saml", id, "sign-in"] if valid_id(id) => Route::SignIn(id),
        ["api", "authn", "saml", id, "slo"] if valid_id(id) => return if get || post { Route::SingleLogout(id) } else { Route::MethodNotAllowed },
        ["api", "authn", "saml", id, "metadata"] if valid_id(id) => Route::Metadata(id),
        _ => return Route::NotFound,
    };
    if get {
        route
    } else {
        Route::MethodNotAllowed
    }
}

async fn dispatch(env: &impl Env, request: &Request, settings: &Settings, route: Route<'_>) -> Result<Response, Failure> {
    match route {
        Route::Index => Ok(pages::index()),
        Route::Discovery => discovery(env, request).await,
        Route::SignIn(id) => sign_in(env, request, settings, id).await,
        Route::Acs(id) => acs(env, request, settings, id).await,
        Route::Metadata(id) => {
            let connector = load_connector(env, id).await?;
            Ok(Response {
                status: 200,
                headers: vec![("content-type".into(), "application/samlmetadata+xml".into())],
                body: metadata::sp_metadata(&connector, None).into_bytes(),
            })
        }
        Route::Session => session(env, request, settings).await,
        Route::SingleLogout(id) => logout::single_logout(env, request, settings, id).await,
        Route::Admin => {
            let segments: Vec<&str> = request.path().trim_start_matches("/api/admin").trim_matches('/').split('/').collect();
            admin::handle(env, request, settings, &segments).await
        }
        Route::Jwks => Ok(json_response(200, &settings.keys.jwks(), &[("cache-control", "public, max-age=300")])),
        Route::SignOut => logout::sign_out(env, request, settings).await,
        Route::NotFound => Err(Failure::new(404, "request.not_found", "no such page")),
        Route::MethodNotAllowed => Err(Failure::new(405, "request.method_not_allowed", format!("{} is not allowed here", request.method))),
    }
}

async fn load_connector(env: &impl Env, id: &str) -> Result<Arc<Connector>, Failure> {
    let json = env
        .kv_get(&format!("connector:{id}"))
        .await
        .map_err(|e| Failure::new(503, "kv.unavailable", format!("connector store unavailable: {e}")))?
        .ok_or_else(|| Failure::new(404, "connector.not_found", format!("no connector named {id:?}")))?;
    // A connector configured by metadata URL is built with the metadata kept in KV.
    let metadata_url = json.contains("idpMetadataUrl").then(|| serde_json::from_str::<Value>(&json).ok()).flatten().and_then(|v| v["idpMetadataUrl"].as_str().map(String::from));
    let fetched = match &metadata_url {
        Some(url) => idp_metadata::metadata_for(env, id, url).await,
        None => None,
    };
    // Parsing a connector (JSON, certificates, key preparation) costs more than the rest
    // of a sign-in's bookkeeping, so each isolate keeps the parsed form, keyed by the
    // exact JSON (and metadata): a changed config in KV is parsed afresh on first use.
    let mut hasher = sha2::Sha256::new();
    hasher.update(json.as_bytes());
    if let Some(fetched) = &fetched {
        hasher.update(fetched.xml.as_bytes());
        fetched.retained_certificates.iter().for_each(|c| hasher.update(c));
    }
    let fingerprint: [u8; 32] = hasher.finalize().into();
    if let Some(connector) = connector_cache().lock().ok().and_then(|cache| cache.get(id).filter(|(f, _)| *f == fingerprint).map(|(_, c)| Arc::clone(c))) {
        return Ok(connector);
    }
    match Connector::from_json_with_metadata(id, &json, fetched.as_ref()) {
        Ok((connector, _warnings)) => {
            let connector = Arc::new(connector);
            if let Ok(mut cache) = connector_cache().lock() {
                if cache.len() >= CONNECTOR_CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(id.to_string(), (fingerprint, Arc::clone(&connector)));
            }
            Ok(connector)
        }
        Err(error) => {
            env.log(&json!({"level": "error", "event": "connector.invalid", "connector": id, "message": error.to_string()}).to_string());
            let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
            Err(Failure::new(500, "config.invalid", format!("connector {id:?} is misconfigured (check: {}); run `saml-edge check-config` on it", fields.join(", "))))
        }
    }
}

const CONNECTOR_CACHE_ENTRIES: usize = 256;

type ConnectorCache = Mutex<HashMap<String, ([u8; 32], Arc<Connector>)>>;

fn connector_cache() -> &'static ConnectorCache {
    static CACHE: OnceLock<ConnectorCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

async fn discovery(env: &impl Env, request: &Request) -> Result<Response, Failure> {
    let query = request.query_params();
    let return_to = param(&query, "return_to").unwrap_or_default();
    let connector_id = match (param(&query, "connector"), param(&query, "email")) {
        (Some(id), _) => id.to_string(),
        (None, Some(email)) => {
            let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or(email).trim().to_ascii_lowercase();
            if domain.is_empty() || domain.contains(['/', ' ', '@']) {
                return Err(Failure::new(400, "discovery.bad_email", "enter your work email address"));
            }
            env.kv_get(&format!("domain:{domain}"))
                .await
                .map_err(|e| Failure::new(503, "kv.unavailable", format!("connector store unavailable: {e}")))?
                .ok_or_else(|| Failure::new(404, "discovery.unknown_domain", format!("single sign-on is not set up for {domain}")))?
        }
        (None, None) => return Ok(pages::discovery_form(return_to)),
    };
    let mut location = format!("/api/authn/saml/{}/sign-in", authn_request::url_encode(connector_id.trim()));
    if !return_to.is_empty() {
        location.push_str(&format!("?return_to={}", authn_request::url_encode(return_to)));
    }
    Ok(redirect(302, &location, Vec::new()))
}

async fn sign_in(env: &impl Env, request: &Request, settings: &Settings, id: &str) -> Result<Response, Failure> {
    let connector = load_connector(env, id).await?;
    let query = request.query_params();
    let return_to = redirect::resolve_return_to(param(&query, "return_to").unwrap_or_default(), &settings.origin, &settings.allowlist_with(Some(&connector)))
        .map_err(|m| Failure::new(400, "redirect.not_allowed", m))?;
    let signing_key = sp_signing_key(&connector)?;
    let request_id = format!("_{}", hex(&random_bytes::<16>(env)?));
    let relay_state = URL_SAFE_NO_PAD.encode(random_bytes::<12>(env)?);
    let now = env.now();
    let redirect_request = authn_request::redirect_request(&connector, signing_key.as_ref(), &request_id, now, &relay_state).map_err(|e| Failure::from(Error::Config(e)))?;
    let tracking = settings.keys.seal(&json!({"rid": request_id, "cid": id, "rt": return_to, "exp": now.unix_seconds() + TRACKING_TTL_SECONDS}));
    env.log(&json!({"level": "info", "event": "sign_in.redirect", "connector": id, "requestId": request_id, "signed": connector.sign_authn_request}).to_string());
    let cookie = tracking_cookie(settings, &relay_state, &tracking, TRACKING_TTL_SECONDS);
    Ok(redirect(302, &redirect_request.url, vec![cookie]))
}

async fn acs(env: &impl Env, request: &Request, settings: &Settings, id: &str) -> Result<Response, Failure> {
    if request.body.len() > MAX_BODY_BYTES {
        return Err(Failure::new(413, "request.too_large", "the posted form is too large"));
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(Failure::new(400, "request.content_type", "the ACS expects an HTML form post (application/x-www-form-urlencoded)"));
    }
    let form = parse_form(&request.body);
    let saml_response = param(&form, "SAMLResponse").ok_or_else(|| Failure::new(400, "saml.response_missing", "the form has no SAMLResponse"))?;
    let relay_state = param(&form, "RelayState").unwrap_or_default();
    let now = env.now();

    // The request this browser sent, if it is tracking one for this connector.
    let tracking = tracked_request(request, settings, relay_state, id, None, now);
    let request_id = tracking.as_ref().and_then(|t| t["rid"].as_str().map(String::from));

    let connector = load_connector(env, id).await?;
    let xml = decode_posted(saml_response).map_err(|e| Failure::from(Error::from(e)))?;
    let outcome = validate_response(&xml, &connector, Expectation { now, request_id: request_id.as_deref() });
    let identity = match outcome {
        Ok(identity) => identity,
        Err(error) => {
            env.log(&json!({"level": "warn", "event": "acs.refused", "connector": id, "code": error.code(), "message": error.to_string(), "tracked": request_id.is_some()}).to_string());
            return Err(error.into());
        }
    };
    let return_to = match &tracking {
        Some(t) => t["rt"].as_str().unwrap_or_default().to_string(),
        None => idp_initiated_return_to(relay_state, settings, &connector)?,
    };

    let sid = hex(&random_bytes::<16>(env)?);
    let claims = session_claims(&identity, &connector, settings, now, &sid);
    admin::note_retired_certificate(env, &connector, &identity, now).await;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let token = settings.keys.mint(&claims);
    env.log(&json!({"level": "info", "event": "acs.signed_in", "connector": id, "nameId": identity.name_id, "issuer": identity.issuer, "assertionId": identity.assertion_id, "idpInitiated": request_id.is_none()}).to_string());
    let mut cookies = vec![session_cookie(settings, &token, exp - now.unix_seconds())];
    if tracking.is_some() {
        cookies.push(tracking_cookie(settings, relay_state, "", 0));
    }
    Ok(redirect(303, &return_to, cookies))
}

/// The SP key, when the connector signs what it sends (`signAuthnRequest`): AuthnRequests,
/// LogoutRequests and LogoutResponses alike.
fn sp_signing_key(connector: &Connector) -> Result<Option<SpSigningKey>, Failure> {
    match (&connector.sign_authn_request, &connector.private_key) {
        (true, Some(pem)) => SpSigningKey::from_pem(pem, connector.private_key_pass.as_deref()).map(Some).map_err(|m| {
            Failure::from(Error::Config(crate::ConfigError { connector: Some(connector.id.clone()), problems: vec![crate::ConfigProblem { field: "privateKey".into(), message: m }] }))
        }),
        _ => Ok(None),
    }
}

/// The request this browser is tracking under `relay_state` for connector `id`: the
/// sealed cookie set when the request was sent, of the given `kind` (None: a sign-in,
/// `Some("logout")`: a LogoutRequest), not expired. Anything else is no tracking at all.
fn tracked_request(request: &Request, settings: &Settings, relay_state: &str, id: &str, kind: Option<&str>, now: Instant) -> Option<Value> {
    if relay_state.is_empty() || relay_state.len() > 64 {
        return None;
    }
    let name = format!("{TRACKING_COOKIE_PREFIX}{relay_state}");
    let cookies = request.cookies();
    let sealed = cookies.iter().find(|(n, _)| *n == name)?.1;
    settings
        .keys
        .open(sealed)
        .filter(|t| t["cid"] == id && t.get("kind").and_then(Value::as_str) == kind && t["exp"].as_i64().is_some_and(|exp| exp > now.unix_seconds()))
}

/// In an IdP-initiated sign-in the RelayState, if it looks like a URL, is where the user
/// wants to go: it passes the same allowlist as any return URL. Opaque values are ignored.
fn idp_initiated_return_to(relay_state: &str, settings: &Settings, connector: &Connector) -> Result<String, Failure> {
    let looks_like_url = relay_state.starts_with('/') || relay_state.contains(':') || relay_state.contains('\\');
    let target = if looks_like_url { relay_state } else { "" };
    redirect::resolve_return_to(target, &settings.origin, &settings.allowlist_with(Some(connector))).map_err(|m| Failure::new(400, "redirect.not_allowed", m))
}

fn session_claims(identity: &Identity, connector: &Connector, settings: &Settings, now: Instant, sid: &str) -> Map<String, Value> {
    let mut exp = now.unix_seconds() + settings.session_ttl;
    if let Some(limit) = identity.session_not_on_or_after {
        exp = exp.min(limit.unix_seconds());
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(settings.issuer));
    claims.insert("sub".into(), json!(identity.profile.id));
    claims.insert("aud".into(), json!(settings.audience));
    claims.insert("iat".into(), json!(now.unix_seconds()));
    claims.insert("exp".into(), json!(exp));
    if let Some(email) = &identity.profile.email {
        claims.insert("email".into(), json!(email));
    }
    if let Some(name) = &identity.profile.name {
        claims.insert("name".into(), json!(name));
    }
    claims.insert("connector".into(), json!(connector.id));
    claims.insert("sid".into(), json!(sid));
    claims.insert("nameId".into(), json!(identity.name_id));
    if let Some(format) = &identity.name_id_format {
        claims.insert("nameIdFormat".into(), json!(format));
    }
    claims.insert("sessionIndex".into(), json!(identity.session_index));
    claims.insert("profile".into(), identity.profile_json());
    claims
}

async fn session(env: &impl Env, request: &Request, settings: &Settings) -> Result<Response, Failure> {
    let now = env.now();
    let cookies = request.cookies();
    let token = cookies.iter().find(|(n, _)| *n == SESSION_COOKIE).map(|(_, v)| *v).ok_or_else(|| Failure::new(401, "session.missing", "not signed in"))?;
    let claims = verified_claims(token, settings, now)?;
    if logout::is_revoked(env, &claims, now).await? {
        return Err(Failure::new(401, "session.revoked", "this session was ended by a sign-out; sign in again"));
    }
    Ok(json_response(200, &Value::Object(claims), &[("cache-control", "no-store")]))
}

fn verified_claims(token: &str, settings: &Settings, now: Instant) -> Result<Map<String, Value>, Failure> {
    let claims = settings.keys.verify(token, now).map_err(|e| Failure::new(401, e.code(), "the session is not valid; sign in again"))?;
    if claims.get("iss") != Some(&json!(settings.issuer)) || claims.get("aud") != Some(&json!(settings.audience)) {
        return Err(Failure::new(401, "session.invalid", "the session was issued for another service"));
    }
    Ok(claims)
}

fn tracking_cookie(settings: &Settings, relay_state: &str, value: &str, max_age: i64) -> String {
    // The IdP's POST to the ACS is cross-site, so the cookie needs SameSite=None (which
    // browsers only honour with Secure). On an http://localhost origin, IdP and SP are
    // same-site and Secure is impossible, so Lax is used there.
    let same_site = if settings.secure { "SameSite=None; Secure" } else { "SameSite=Lax" };
    format!("{TRACKING_COOKIE_PREFIX}{relay_state}={value}; Path=/api/authn/saml/; Max-Age={max_age}; HttpOnly; {same_site}")
}

fn session_cookie(settings: &Settings, value: &str, max_age: i64) -> String {
    let secure = if settings.secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}", max_age.max(0))
}

fn redirect(status: u16, location: &str, cookies: Vec<String>) -> Response {
    let mut headers = vec![("location".to_string(), location.to_string()), ("cache-control".to_string(), "no-store".to_string())];
    headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
    Response { status, headers, body: Vec::new() }
}

fn json_response(status: u16, value: &Value, extra: &[(&str, &str)]) -> Response {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    Response { status, headers, body: value.to_string().into_bytes() }
}

fn random_bytes<const N: usize>(env: &impl Env) -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    env.random(&mut bytes).map_err(|e| Failure::new(503, "service.randomness", format!("no randomness available: {e}")))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The client asked for JSON (API clients) rather than an HTML page.
    pub fn wants_json(&self) -> bool {
        self.header("accept").is_some_and(|a| a.contains("application/json"))
    }

    /// The path, without query or fragment.
    pub fn path(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
        let path = &after_scheme[path_start..];
        let end = path.find(['?', '#']).unwrap_or(path.len());
        if path.is_empty() {
            "/"
        } else {
            &path[..end]
        }
    }

    pub fn query_params(&self) -> Vec<(String, String)> {
        let query = self.url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split('#').next().unwrap_or_default();
        parse_form(query.as_bytes())
    }

    /// Cookie name/value pairs from the `Cookie` header(s).
    pub fn cookies(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_paths() {
        assert_eq!(parse_form(b"a=1+2&b=%2F%zz&c"), vec![("a".into(), "1 2".into()), ("b".into(), "/%zz".into()), ("c".into(), "".into())]);
        assert_eq!(parse_form(b"x=%4"), vec![("x".into(), "%4".into())]);
        let request = Request { url: "http://h:1/api/session?x=1#f".into(), ..Request::default() };
        assert_eq!(request.path(), "/api/session");
        assert_eq!(Request { url: "http://h".into(), ..Request::default() }.path(), "/");
    }
}
