//! Spin adapter (`spin-sdk` 7, WASI 0.3; needs Spin ≥ 4.1): the default key-value store
//! holds connectors, Spin variables hold secrets and settings. A thin shell around
//! `service::handle`.

use std::collections::HashMap;

use spin_sdk::http::body::IncomingBodyExt as _;
use spin_sdk::http::{FullBody, Request, Response};
use spin_sdk::key_value::Store;

use crate::saml::Instant;
use crate::service::{self, Env};

/// Settings read from Spin variables (Spin names are lowercase: `session_signing_key`).
const VARIABLES: &[&str] = &["SESSION_SIGNING_KEY", "PUBLIC_ORIGIN", "SESSION_TTL_SECONDS", "SESSION_ISSUER", "SESSION_AUDIENCE", "RETURN_TO_ALLOWLIST"];

struct SpinEnv {
    store: Option<Store>,
    vars: HashMap<&'static str, String>,
}

impl Env for SpinEnv {
    async fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        let store = self.store.as_ref().ok_or("the default key-value store is not available")?;
        let value = store.get(key).await.map_err(|e| e.to_string())?;
        value.map(|bytes| String::from_utf8(bytes).map_err(|_| format!("KV value of {key} is not UTF-8"))).transpose()
    }

    fn now(&self) -> Instant {
        Instant::system_now()
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        getrandom::fill(out).map_err(|e| e.to_string())
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn log(&self, line: &str) {
        eprintln!("{line}");
    }
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> Result<Response<FullBody<bytes::Bytes>>, String> {
    let (parts, body) = request.into_parts();
    let method = parts.method.to_string();
    let body = if method == "POST" { body.bytes().await.map(|b| b.to_vec()).unwrap_or_default() } else { Vec::new() };
    // Spin gives an absolute URI to the component; fall back to the Host header.
    let url = match parts.uri.scheme_str() {
        Some(_) => parts.uri.to_string(),
        None => {
            let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}{}", parts.uri)
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let core_request = service::Request { method, url, headers, body };

    let mut vars = HashMap::new();
    for name in VARIABLES {
        if let Ok(value) = spin_sdk::variables::get(name.to_ascii_lowercase()).await {
            if !value.is_empty() {
                vars.insert(*name, value);
            }
        }
    }
    let host = SpinEnv { store: Store::open_default().await.ok(), vars };
    let response = service::handle(&host, core_request).await;

    let mut builder = Response::<()>::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(FullBody::new(bytes::Bytes::from(response.body))).map_err(|e| e.to_string())
}
