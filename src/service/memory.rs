//! An [`Env`] over in-memory maps, for the native dev server, tests and benchmarks, and
//! [`block_on`] to drive the service where every await completes at once.

use std::collections::HashMap;

use super::Env;
use crate::saml::Instant;

/// KV and variables in maps; the clock is fixed when `clock` is set, else the system's
/// (not available on wasm32-unknown-unknown: set `clock` there).
#[derive(Debug, Clone, Default)]
pub struct MemoryEnv {
    pub kv: HashMap<String, String>,
    pub vars: HashMap<String, String>,
    pub clock: Option<Instant>,
    /// Write log lines to stderr (the dev server); silent otherwise.
    pub log_to_stderr: bool,
}

impl Env for MemoryEnv {
    async fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.kv.get(key).cloned())
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
