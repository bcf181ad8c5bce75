//! SAML 2.0 Web Browser SSO, SP side: connector configs, metadata, and turning a
//! verified Response into an identity. Nothing here touches HTTP.

pub mod binding;
pub mod config;
pub mod logout;
pub mod encryption;
pub mod authn_request;
pub mod metadata;
pub mod response;
pub mod time;

pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

pub use config::Connector;
pub use response::{validate_response, Identity};
pub use time::Instant;
