//! saml-edge: SAML 2.0 single sign-on for edge runtimes.
//!
//! Data flows one way: bytes → [`xml`] (strict tree) → [`c14n`] (canonical bytes) →
//! [`dsig`] (a [`dsig::Verified`] handle to exactly the signed element) → [`saml`]
//! (profile checks → [`saml::Identity`]).
#![forbid(unsafe_code)]

pub mod c14n;
pub mod edge;
pub mod dsig;
pub mod error;
pub mod saml;
pub mod service;
pub mod session;
pub mod url;
pub mod xml;

pub use error::{ConfigError, ConfigProblem, DsigError, Error, SamlError, XmlError};
