//! IdP metadata by URL (`idpMetadataUrl`): fetched with the host's outbound HTTP under
//! SSRF rules, kept in KV beside the connector (`metadata:{id}`), refreshed on a schedule,
//! and rolled over without a gap: certificates the new metadata drops stay trusted until
//! that new metadata has been seen on two fetches, and a failed fetch never replaces good
//! metadata.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{Env, FetchLimits};
use crate::saml::config::FetchedMetadata;
use crate::saml::metadata::parse_idp_metadata;

pub const METADATA_MAX_BYTES: usize = 4 << 20;
pub const METADATA_TIMEOUT_MS: u64 = 10_000;
pub const MAX_REDIRECTS: usize = 3;
/// Fetches of the same new certificate set before the ones it dropped stop being trusted.
pub const ROLLOVER_CONFIRMATIONS: u32 = 2;
/// A connector whose metadata was never fetched is retried on demand at most this often.
const ON_DEMAND_RETRY_SECONDS: i64 = 60;

pub fn state_key(connector: &str) -> String {
    format!("metadata:{connector}")
}

/// What KV keeps for a connector's metadata URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataState {
    pub url: String,
    /// The last metadata fetched successfully.
    pub xml: String,
    pub fetched_at: i64,
    /// Signing certificates (base64 DER) of the metadata in force.
    pub current: Vec<String>,
    /// A different set seen on the latest fetches, and how many times in a row.
    pub candidate: Vec<String>,
    pub candidate_seen: u32,
    pub last_attempt: i64,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
}

impl MetadataState {
    pub fn from_json(text: &str) -> Option<MetadataState> {
        let v: Value = serde_json::from_str(text).ok()?;
        let list = |key: &str| v[key].as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default();
        Some(MetadataState {
            url: v["url"].as_str()?.to_string(),
            xml: v["xml"].as_str().unwrap_or_default().to_string(),
            fetched_at: v["fetchedAt"].as_i64().unwrap_or(0),
            current: list("current"),
            candidate: list("candidate"),
            candidate_seen: v["candidateSeen"].as_u64().unwrap_or(0) as u32,
            last_attempt: v["lastAttempt"].as_i64().unwrap_or(0),
            last_error: v["lastError"].as_str().map(String::from),
            consecutive_failures: v["consecutiveFailures"].as_u64().unwrap_or(0) as u32,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url, "xml": self.xml, "fetchedAt": self.fetched_at, "current": self.current,
            "candidate": self.candidate, "candidateSeen": self.candidate_seen, "lastAttempt": self.last_attempt,
            "lastError": self.last_error, "consecutiveFailures": self.consecutive_failures,
        })
    }

    /// Whether a rollover is under way (old certificates still trusted).
    pub fn in_rollover(&self) -> bool {
        !self.candidate.is_empty()
    }

    /// What the connector is built from: the latest metadata, plus the certificates it
    /// dropped that are still trusted.
    pub fn fetched_metadata(&self) -> Option<FetchedMetadata> {
        if self.xml.is_empty() {
            return None;
        }
        let latest = if self.candidate.is_empty() { &self.current } else { &self.candidate };
        let retained = self.current.iter().chain(&self.candidate).filter(|c| !latest.contains(c)).filter_map(|c| STANDARD.decode(c).ok()).collect();
        Some(FetchedMetadata { xml: self.xml.clone(), retained_certificates: retained })
    }

    /// Record a successful fetch of `xml` listing `certificates` (the rollover rule).
    pub fn apply_success(&mut self, xml: String, certificates: Vec<String>, now: i64) -> RolloverEvent {
        self.xml = xml;
        self.fetched_at = now;
        self.last_attempt = now;
        self.last_error = None;
        self.consecutive_failures = 0;
        if self.current.is_empty() {
            self.current = certificates;
            return RolloverEvent::First;
        }
        if same_set(&certificates, &self.current) {
            let abandoned = self.in_rollover();
            self.candidate.clear();
            self.candidate_seen = 0;
            return if abandoned { RolloverEvent::Abandoned } else { RolloverEvent::Unchanged };
        }
        if same_set(&certificates, &self.candidate) {
            self.candidate_seen += 1;
        } else {
            self.candidate = certificates;
            self.candidate_seen = 1;
        }
        if self.candidate_seen >= ROLLOVER_CONFIRMATIONS {
            self.current = std::mem::take(&mut self.candidate);
            self.candidate_seen = 0;
            RolloverEvent::Completed
        } else {
            RolloverEvent::Started
        }
    }

    pub fn apply_failure(&mut self, error: String, now: i64) {
        self.last_attempt = now;
        self.last_error = Some(error);
        self.consecutive_failures += 1;
    }
}

/// What a successful fetch changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloverEvent {
    First,
    Unchanged,
    /// New certificates are trusted; the dropped ones still are, until confirmed.
    Started,
    /// The new set was seen twice: dropped certificates are no longer trusted.
    Completed,
    /// The metadata went back to the set in force.
    Abandoned,
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

pub fn allow_loopback(env: &impl Env) -> bool {
    env.var("METADATA_ALLOW_LOOPBACK").is_some_and(|v| v.trim() == "true" || v.trim() == "1")
}

/// Fetch and parse the metadata at `url`: every URL (redirect targets included) passes
/// `url::check_fetch_url`, at most `MAX_REDIRECTS` redirects, `METADATA_MAX_BYTES`,
/// `METADATA_TIMEOUT_MS`, status 200, and a document the metadata importer accepts.
/// Returns the XML and its signing certificates (base64 DER).
pub async fn fetch_metadata(env: &impl Env, url: &str) -> Result<(String, Vec<String>), String> {
    let limits = FetchLimits { max_bytes: METADATA_MAX_BYTES, timeout_ms: METADATA_TIMEOUT_MS, allow_loopback: allow_loopback(env) };
    let mut target = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        crate::url::check_fetch_url(&target, limits.allow_loopback)?;
        let answer = env.fetch(&target, &limits).await?;
        if answer.body.len() > limits.max_bytes {
            return Err(format!("the metadata is larger than {} bytes", limits.max_bytes));
        }
        match answer.status {
            200 => {
                let xml = String::from_utf8(answer.body).map_err(|_| "the metadata is not UTF-8".to_string())?;
                let parsed = parse_idp_metadata(&xml)?;
                let certificates = parsed.signing_certificates.iter().map(|der| STANDARD.encode(der)).collect();
                return Ok((xml, certificates));
            }
            301 | 302 | 303 | 307 | 308 => {
                let location = answer.location.ok_or("a redirect without Location")?;
                target = resolve_location(&target, &location)?;
            }
            status => return Err(format!("{target} answered HTTP {status}")),
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// An absolute Location, or a path on the same origin.
fn resolve_location(base: &str, location: &str) -> Result<String, String> {
    if location.starts_with("https://") || location.starts_with("http://") {
        return Ok(location.to_string());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let origin = crate::url::parse_absolute(base).map(|u| u.origin()).ok_or("bad base URL")?;
        return Ok(format!("{origin}{location}"));
    }
    Err(format!("redirect to {location:?} refused"))
}

/// The stored state for a connector, or None.
pub async fn load_state(env: &impl Env, connector: &str) -> Result<Option<MetadataState>, String> {
    Ok(env.kv_get(&state_key(connector)).await?.and_then(|text| MetadataState::from_json(&text)))
}

/// Fetch the connector's metadata now and store the result (a failure is recorded
/// beside the good metadata, never over it). Logs one JSON line.
pub async fn refresh_connector(env: &impl Env, connector: &str, url: &str) -> Result<MetadataState, String> {
    let state = fetch_state(env, connector, url).await?;
    store_state(env, connector, &state).await?;
    match &state.last_error {
        Some(error) if state.xml.is_empty() => Err(error.clone()),
        _ => Ok(state),
    }
}

/// The connector's metadata state after fetching `url` now, not yet stored (the admin API
/// stores it only once the connector built from it is valid).
pub async fn fetch_state(env: &impl Env, connector: &str, url: &str) -> Result<MetadataState, String> {
    let now = env.now().unix_seconds();
    let mut state = match load_state(env, connector).await? {
        Some(state) if state.url == url => state,
        // A new URL starts over: nothing learnt from the old one is trusted.
        _ => MetadataState { url: url.to_string(), ..MetadataState::default() },
    };
    match fetch_metadata(env, url).await {
        Ok((xml, certificates)) => {
            let event = state.apply_success(xml, certificates, now);
            let level = if matches!(event, RolloverEvent::Started | RolloverEvent::Completed) { "warn" } else { "info" };
            env.log(&json!({"level": level, "event": "metadata.refreshed", "connector": connector, "url": url, "rollover": format!("{event:?}").to_lowercase(), "certificates": state.current.len() + state.candidate.len()}).to_string());
        }
        Err(error) => {
            state.apply_failure(error.clone(), now);
            env.log(&json!({"level": "error", "event": "metadata.refresh_failed", "connector": connector, "url": url, "message": error, "consecutiveFailures": state.consecutive_failures, "keptMetadataFrom": state.fetched_at}).to_string());
        }
    }
    Ok(state)
}

pub async fn store_state(env: &impl Env, connector: &str, state: &MetadataState) -> Result<(), String> {
    env.kv_put(&state_key(connector), &state.to_json().to_string(), None).await
}

/// One line per connector of a refresh run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub connector: String,
    pub ok: bool,
    pub message: String,
}

/// Refresh every connector that has an `idpMetadataUrl` (the scheduled job).
pub async fn refresh_all(env: &impl Env) -> Vec<RefreshOutcome> {
    let mut outcomes = Vec::new();
    let keys = match env.kv_list("connector:").await {
        Ok(keys) => keys,
        Err(e) => {
            env.log(&json!({"level": "error", "event": "metadata.refresh_failed", "message": format!("cannot list connectors: {e}")}).to_string());
            return outcomes;
        }
    };
    for key in keys {
        let id = key.trim_start_matches("connector:").to_string();
        let Ok(Some(json)) = env.kv_get(&key).await else { continue };
        let Some(url) = serde_json::from_str::<Value>(&json).ok().and_then(|v| v["idpMetadataUrl"].as_str().map(String::from)) else { continue };
        let outcome = match refresh_connector(env, &id, &url).await {
            Ok(state) => {
                let message = match &state.last_error {
                    Some(error) => format!("refresh failed, previous metadata kept: {error}"),
                    None if state.in_rollover() => "ok, certificate rollover in progress".into(),
                    None => "ok".into(),
                };
                RefreshOutcome { connector: id, ok: state.last_error.is_none(), message }
            }
            Err(e) => RefreshOutcome { connector: id, ok: false, message: e },
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// Metadata for building the connector at request time: the stored state, or a fetch
/// now when none is stored yet (a connector just created by URL).
pub async fn metadata_for(env: &impl Env, connector: &str, url: &str) -> Option<FetchedMetadata> {
    match load_state(env, connector).await {
        Ok(Some(state)) if state.url == url && !state.xml.is_empty() => state.fetched_metadata(),
        // Never fetched successfully, and tried just now: requests must not become a way
        // to make us fetch over and over.
        Ok(Some(state)) if state.url == url && env.now().unix_seconds() - state.last_attempt < ON_DEMAND_RETRY_SECONDS => None,
        _ => {
            // Mark the attempt before making it, so that concurrent requests wait for the
            // retry interval instead of fetching too.
            let marker = MetadataState { url: url.to_string(), last_attempt: env.now().unix_seconds(), last_error: Some("first fetch in progress".into()), ..MetadataState::default() };
            store_state(env, connector, &marker).await.ok()?;
            refresh_connector(env, connector, url).await.ok().and_then(|s| s.fetched_metadata())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stand-in certificates: base64 of their names.
    fn certs(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| STANDARD.encode(n)).collect()
    }

    #[test]
    fn rollover_keeps_dropped_certificates_until_seen_twice() {
        let mut state = MetadataState { url: "u".into(), ..MetadataState::default() };
        assert_eq!(state.apply_success("x".into(), certs(&["A"]), 1), RolloverEvent::First);
        assert_eq!(state.apply_success("x".into(), certs(&["A"]), 2), RolloverEvent::Unchanged);
        // The IdP adds B: trusted at once, nothing dropped.
        assert_eq!(state.apply_success("x".into(), certs(&["A", "B"]), 3), RolloverEvent::Started);
        assert_eq!(state.apply_success("x".into(), certs(&["B", "A"]), 4), RolloverEvent::Completed);
        assert_eq!(state.current, certs(&["A", "B"]), "the set first seen, in its order");
        // Then drops A: still trusted after one fetch, gone after the second.
        assert_eq!(state.apply_success("x".into(), certs(&["B"]), 5), RolloverEvent::Started);
        assert_eq!(state.fetched_metadata().unwrap().retained_certificates.len(), 1);
        state.apply_failure("timeout".into(), 6);
        assert_eq!(state.candidate_seen, 1, "a failure neither confirms nor resets");
        assert_eq!(state.apply_success("x".into(), certs(&["B"]), 7), RolloverEvent::Completed);
        assert_eq!(state.current, certs(&["B"]));
        assert!(state.fetched_metadata().unwrap().retained_certificates.is_empty());
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut state = MetadataState { url: "https://idp/md".into(), ..MetadataState::default() };
        state.apply_success("<x/>".into(), certs(&["A"]), 10);
        state.apply_failure("boom".into(), 11);
        assert_eq!(MetadataState::from_json(&state.to_json().to_string()), Some(state));
    }

    #[test]
    fn redirect_locations() {
        assert_eq!(resolve_location("https://a.test/x", "/y").unwrap(), "https://a.test/y");
        assert_eq!(resolve_location("https://a.test/x", "https://b.test/").unwrap(), "https://b.test/");
        assert!(resolve_location("https://a.test/x", "//evil.test/").is_err());
    }
}
