//! An [`Env`] over in-memory maps, for the native dev server, tests and benchmarks, and
//! [`block_on`] to drive the service where every await completes at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Env, FetchLimits, Fetched};
use crate::saml::Instant;

/// KV and variables in maps; the clock is fixed when `clock` is set, else the system's
/// (not available on wasm32-unknown-unknown: set `clock` there).
#[derive(Debug, Clone, Default)]
pub struct MemoryEnv {
    /// The seeded keys.
    pub kv: HashMap<String, String>,
    /// Writes since (None = deleted), shared by clones, over `kv`.
    pub written: Arc<Mutex<HashMap<String, Option<String>>>>,
    pub vars: HashMap<String, String>,
    pub clock: Option<Instant>,
    /// Write log lines to stderr (the dev server); silent otherwise.
    pub log_to_stderr: bool,
    /// Outbound GETs (the dev server plugs in `service::native_fetch`; tests a fake).
    pub fetcher: Option<Fetcher>,
    /// Log lines kept for tests (when `keep_logs`).
    pub logs: Arc<Mutex<Vec<String>>>,
    pub keep_logs: bool,
}

/// One outbound GET: the URL and limits in, the answer or a message out.
pub type FetchFn = dyn Fn(&str, &FetchLimits) -> Result<Fetched, String> + Send + Sync;

/// An outbound-GET implementation for [`MemoryEnv`].
#[derive(Clone)]
pub struct Fetcher(pub Arc<FetchFn>);

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher(..)")
    }
}

impl Env for MemoryEnv {
    async fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        if let Some(value) = self.written.lock().map_err(|_| "KV lock poisoned")?.get(key) {
            return Ok(value.clone());
        }
        Ok(self.kv.get(key).cloned())
    }

    async fn kv_put(&self, key: &str, value: &str, _ttl_seconds: Option<u64>) -> Result<(), String> {
        self.written.lock().map_err(|_| "KV lock poisoned")?.insert(key.to_string(), Some(value.to_string()));
        Ok(())
    }

    async fn kv_delete(&self, key: &str) -> Result<(), String> {
        self.written.lock().map_err(|_| "KV lock poisoned")?.insert(key.to_string(), None);
        Ok(())
    }

    async fn kv_list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let written = self.written.lock().map_err(|_| "KV lock poisoned")?;
        let mut keys: Vec<String> = self.kv.keys().filter(|k| !written.contains_key(*k)).chain(written.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k)).filter(|k| k.starts_with(prefix)).cloned().collect();
        keys.sort();
        Ok(keys)
    }

    async fn fetch(&self, url: &str, limits: &FetchLimits) -> Result<Fetched, String> {
        match &self.fetcher {
            Some(fetcher) => (fetcher.0)(url, limits),
            None => Err("outbound requests are not available here".into()),
        }
    }

    fn now(&self) -> Instant {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        return self.clock.unwrap_or_else(Instant::system_now);
        // No std clock on wasm32-unknown-unknown: a fixed clock must be set there.
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        return self.clock.unwrap_or(Instant(0));
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        getrandom::fill(out).map_err(|e| e.to_string())
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn log(&self, line: &str) {
        if self.log_to_stderr {
            eprintln!("{line}");
        }
        if self.keep_logs {
            if let Ok(mut logs) = self.logs.lock() {
                logs.push(line.to_string());
            }
        }
    }
}

/// Runs a future whose awaits never wait (an in-memory Env's), without an async runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}
