//! Host adapters: each turns its runtime's request into a [`crate::service::Request`],
//! gives the core an [`crate::service::Env`], and turns the response back. No SAML here.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod cloudflare;

#[cfg(target_os = "wasi")]
mod spin;
