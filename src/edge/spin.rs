//! Spin adapter (`spin-sdk` 7, WASI 0.3; needs Spin ≥ 4.1): the default key-value store
//! holds connectors, Spin variables hold secrets and settings. A thin shell around
//! `service::handle`.

use std::collections::HashMap;

use spin_sdk::http::body::IncomingBodyExt as _;
use spin_sdk::http::{FullBody, Request, Response};
use spin_sdk::key_value::Store;

use crate::saml::Instant;
use crate::service::{self, Env, FetchLimits, Fetched};

/// Settings read from Spin variables (Spin names are lowercase: `session_signing_key`).
const VARIABLES: &[&str] = service::SETTINGS;

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

    async fn kv_put(&self, key: &str, value: &str, _ttl_seconds: Option<u64>) -> Result<(), String> {
        // Spin's store has no expiry: values carry their own `exp` and readers check it.
        let store = self.store.as_ref().ok_or("the default key-value store is not available")?;
        store.set(key, value.as_bytes()).await.map_err(|e| e.to_string())
    }

    async fn kv_delete(&self, key: &str) -> Result<(), String> {
        let store = self.store.as_ref().ok_or("the default key-value store is not available")?;
        store.delete(key).await.map_err(|e| e.to_string())
    }

    async fn kv_list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let store = self.store.as_ref().ok_or("the default key-value store is not available")?;
        let keys = store.get_keys().await.collect().await.map_err(|e| e.to_string())?;
        Ok(keys.into_iter().filter(|k| k.starts_with(prefix)).collect())
    }

    async fn fetch(&self, url: &str, limits: &FetchLimits) -> Result<Fetched, String> {
        // Spin only reaches hosts listed in `allowed_outbound_hosts` (spin.toml); it does
        // not follow redirects for us, so the core checks each target. The body is read
        // chunk by chunk up to the size limit. (Spin's own outbound timeouts apply; the
        // guest has no timer to race.)
        use spin_sdk::http::body::IncomingBodyExt as _;
        let request = spin_sdk::http::Request::get(url).body(spin_sdk::http::EmptyBody::new()).map_err(|e| e.to_string())?;
        let response = spin_sdk::http::send(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from);
        let mut body = Vec::new();
        if status == 200 {
            let mut stream = response.into_body().stream();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                body.extend_from_slice(&chunk.map_err(|e| format!("{e:?}"))?);
                if body.len() > limits.max_bytes {
                    return Err(format!("the answer is larger than {} bytes", limits.max_bytes));
                }
            }
        }
        Ok(Fetched { status, location, body })
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
    let body = if method != "GET" && method != "HEAD" { body.bytes().await.map(|b| b.to_vec()).unwrap_or_default() } else { Vec::new() };
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
