//! Cloudflare Worker adapter (`worker` crate): KV binding `CONNECTORS`, secrets and
//! `[vars]` as settings. A thin shell around `service::handle`.

use worker::{event, kv::KvStore, Context, Env as WorkerEnv, Headers, Request, Response, Result};

use crate::saml::Instant;
use crate::service::{self, Env};

/// The KV namespace binding holding `connector:{id}` and `domain:{domain}` keys.
const KV_BINDING: &str = "CONNECTORS";

struct CloudflareEnv {
    kv: Option<KvStore>,
    env: WorkerEnv,
}

impl Env for CloudflareEnv {
    async fn kv_get(&self, key: &str) -> std::result::Result<Option<String>, String> {
        let kv = self.kv.as_ref().ok_or_else(|| format!("KV binding {KV_BINDING} is not configured"))?;
        kv.get(key).text().await.map_err(|e| e.to_string())
    }

    fn now(&self) -> Instant {
        Instant(worker::Date::now().as_millis() as i64)
    }

    fn random(&self, out: &mut [u8]) -> std::result::Result<(), String> {
        getrandom::fill(out).map_err(|e| e.to_string())
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.secret(name).map(|s| s.to_string()).or_else(|_| self.env.var(name).map(|v| v.to_string())).ok()
    }

    fn log(&self, line: &str) {
        worker::console_log!("{}", line);
    }
}

#[event(fetch)]
async fn fetch(mut request: Request, env: WorkerEnv, _ctx: Context) -> Result<Response> {
    let method = request.method().to_string();
    let body = if method == "POST" { request.bytes().await.unwrap_or_default() } else { Vec::new() };
    let core_request = service::Request {
        method,
        url: request.url()?.to_string(),
        headers: request.headers().entries().collect(),
        body,
    };
    let host = CloudflareEnv { kv: env.kv(KV_BINDING).ok(), env };
    let response = service::handle(&host, core_request).await;

    // Built from bytes (not Response::redirect, whose headers are immutable) so that
    // several Set-Cookie headers can be appended.
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    Ok(Response::from_bytes(response.body)?.with_status(response.status).with_headers(headers))
}
