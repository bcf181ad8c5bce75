//! Cloudflare Worker adapter (`worker` crate): KV binding `CONNECTORS`, secrets and
//! `[vars]` as settings, `fetch` for IdP metadata, and the Cron Trigger that refreshes it.
//! A thin shell around `service::handle` and `service::admin::scheduled`.

use worker::{event, kv::KvStore, Context, Env as WorkerEnv, Headers, Request, RequestInit, RequestRedirect, Response, Result, ScheduleContext, ScheduledEvent};

use crate::saml::Instant;
use crate::service::{self, Env, FetchLimits, Fetched};

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

    async fn kv_put(&self, key: &str, value: &str, ttl_seconds: Option<u64>) -> std::result::Result<(), String> {
        let kv = self.kv.as_ref().ok_or_else(|| format!("KV binding {KV_BINDING} is not configured"))?;
        let mut put = kv.put(key, value).map_err(|e| e.to_string())?;
        if let Some(ttl) = ttl_seconds {
            put = put.expiration_ttl(ttl.max(60)); // Workers KV's minimum TTL
        }
        put.execute().await.map_err(|e| e.to_string())
    }

    async fn kv_delete(&self, key: &str) -> std::result::Result<(), String> {
        let kv = self.kv.as_ref().ok_or_else(|| format!("KV binding {KV_BINDING} is not configured"))?;
        kv.delete(key).await.map_err(|e| e.to_string())
    }

    async fn kv_list(&self, prefix: &str) -> std::result::Result<Vec<String>, String> {
        let kv = self.kv.as_ref().ok_or_else(|| format!("KV binding {KV_BINDING} is not configured"))?;
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = kv.list().prefix(prefix.to_string());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list.execute().await.map_err(|e| e.to_string())?;
            keys.extend(page.keys.into_iter().map(|k| k.name));
            match page.cursor.filter(|_| !page.list_complete) {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    async fn fetch(&self, url: &str, limits: &FetchLimits) -> std::result::Result<Fetched, String> {
        // Redirects come back to the core, which checks each target before following it.
        // Workers' fetch cannot reach private networks. The body is read chunk by chunk up
        // to the size limit, and the whole exchange races a timer.
        let exchange = async {
            let mut init = RequestInit::new();
            init.with_redirect(RequestRedirect::Manual);
            let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
            let mut response = worker::Fetch::Request(request).send().await.map_err(|e| e.to_string())?;
            let status = response.status_code();
            let location = response.headers().get("location").ok().flatten();
            let mut body = Vec::new();
            if status == 200 {
                let mut stream = response.stream().map_err(|e| e.to_string())?;
                while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                    body.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
                    if body.len() > limits.max_bytes {
                        return Err(format!("the answer is larger than {} bytes", limits.max_bytes));
                    }
                }
            }
            Ok(Fetched { status, location, body })
        };
        let timer = worker::Delay::from(std::time::Duration::from_millis(limits.timeout_ms));
        match futures_util::future::select(std::pin::pin!(exchange), timer).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right(_) => Err(format!("no complete answer within {} ms", limits.timeout_ms)),
        }
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
    let body = if method != "GET" && method != "HEAD" { request.bytes().await.unwrap_or_default() } else { Vec::new() };
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

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): refresh IdP metadata, log health.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: WorkerEnv, _ctx: ScheduleContext) {
    let host = CloudflareEnv { kv: env.kv(KV_BINDING).ok(), env };
    service::admin::scheduled(&host).await;
}
