//! saml-edge: SAML 2.0 single sign-on for edge runtimes.
//!
//! Data flows one way: bytes → [`xml`] (strict tree) → [`c14n`] (canonical bytes) →
//! [`dsig`] (a [`dsig::Verified`] handle to exactly the signed element).
#![forbid(unsafe_code)]

pub mod c14n;
pub mod dsig;
pub mod error;
pub mod xml;

pub use error::{DsigError, Error, XmlError};
