//! Single Logout (SAML profiles §4.4), SP side: the LogoutRequest we send when a user
//! signs out here, the LogoutResponse the IdP sends back, the LogoutRequest an IdP sends
//! when the user signs out elsewhere, and our LogoutResponse to that.
//!
//! Incoming messages must be signed (a query signature on HTTP-Redirect, an enveloped
//! XML signature on the root for HTTP-POST) by a configured IdP key; nothing in them is
//! read before that signature verifies.

use super::binding::{Binding, Received};
use super::config::Connector;
use super::metadata::escape;
use super::response::{check_status, name_id_of};
use super::time::Instant;
use super::{ASSERTION_NS, PROTOCOL_NS};
use crate::dsig;
use crate::error::{Error, SamlError};
use crate::xml::{Document, Element, Limits};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

/// How old an incoming logout message may be (beyond the connector's clock skew): a
/// browser carries it straight from the IdP, so minutes are plenty.
pub const MAX_MESSAGE_AGE_MS: i64 = 10 * 60 * 1000;
/// More SessionIndex elements than this in one LogoutRequest are refused.
const MAX_SESSION_INDEXES: usize = 64;

/// The subject of a session, as the IdP named it at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name_id: String,
    pub format: Option<String>,
    pub session_index: Option<String>,
}

/// Our LogoutRequest for a user signing out here (SP-initiated).
pub fn logout_request_xml(connector: &Connector, id: &str, issue_instant: Instant, destination: &str, subject: &Subject) -> String {
    let format = subject.format.as_deref().map(|f| format!(" Format=\"{}\"", escape(f))).unwrap_or_default();
    let session_index = subject.session_index.as_deref().map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s))).unwrap_or_default();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{issue_instant}\" Destination=\"{}\"><saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{session_index}</samlp:LogoutRequest>",
        escape(id),
        escape(destination),
        escape(&connector.entity_id),
        escape(&subject.name_id),
    )
}

/// Our LogoutResponse to an IdP's LogoutRequest.
pub fn logout_response_xml(connector: &Connector, id: &str, issue_instant: Instant, destination: &str, in_response_to: &str, status: &str, second_level: Option<&str>) -> String {
    let inner = second_level.map(|s| format!("<samlp:StatusCode Value=\"{}\"/>", escape(s))).unwrap_or_default();
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{issue_instant}\" Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{}\">{inner}</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>",
        escape(id),
        escape(destination),
        escape(in_response_to),
        escape(&connector.entity_id),
        escape(status),
    )
}

/// What a verified LogoutRequest from the IdP asks us to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// Empty: every session of this NameID (SAML core §3.7.1).
    pub session_indexes: Vec<String>,
    /// When the IdP issued it: sessions we minted later are not what it ends.
    pub issue_instant: Instant,
}

/// Verify and read an IdP's LogoutRequest (IdP-initiated logout, either binding).
pub fn validate_logout_request(received: &Received, connector: &Connector, now: Instant) -> Result<LogoutRequest, Error> {
    let doc = Document::parse(&received.xml, &Limits::default())?;
    let root = verified_root(&doc, received, connector, "LogoutRequest", now)?;
    if let Some(limit) = root.attribute("NotOnOrAfter") {
        let limit = Instant::parse(limit.trim()).ok_or(SamlError::InvalidTime { field: "LogoutRequest NotOnOrAfter", value: limit.to_string() })?;
        if now.plus_millis(-connector.clock_skew_ms) >= limit {
            return Err(SamlError::LogoutExpired { not_on_or_after: limit.to_string() }.into());
        }
    }
    let session_indexes: Vec<String> = root.children_named(PROTOCOL_NS, "SessionIndex").map(|s| s.text().trim().to_string()).collect();
    if session_indexes.len() > MAX_SESSION_INDEXES {
        return Err(SamlError::MessageEncoding { detail: format!("more than {MAX_SESSION_INDEXES} SessionIndex elements") }.into());
    }
    // Exactly one NameID or EncryptedID, the signature over the root covering either; last,
    // as an EncryptedID costs an RSA private-key operation.
    let (name_id, name_id_format) = name_id_of(root, connector).map_err(|e| match e {
        Error::Saml(SamlError::NameIdMissing | SamlError::SubjectIdentifierAmbiguous) => SamlError::LogoutNameIdMissing.into(),
        other => other,
    })?;
    let issue_instant = root.attribute("IssueInstant").and_then(|i| Instant::parse(i.trim())).unwrap_or(now);
    Ok(LogoutRequest {
        issue_instant,
        id: root.attribute("ID").unwrap_or_default().to_string(),
        name_id,
        name_id_format,
        session_indexes,
    })
}

/// Verify the IdP's LogoutResponse to the LogoutRequest this browser sent (`expected_request_id`,
/// None when it is tracking none) and that the IdP reports success.
pub fn validate_logout_response(received: &Received, connector: &Connector, now: Instant, expected_request_id: Option<&str>) -> Result<(), Error> {
    let doc = Document::parse(&received.xml, &Limits::default())?;
    let root = verified_root(&doc, received, connector, "LogoutResponse", now)?;
    match (root.attribute("InResponseTo"), expected_request_id) {
        (Some(found), Some(expected)) if found != expected => {
            return Err(SamlError::InResponseToMismatch { found: found.to_string(), expected: expected.to_string() }.into())
        }
        (None, Some(expected)) => return Err(SamlError::InResponseToMissing { expected: expected.to_string() }.into()),
        (found, None) => return Err(SamlError::InResponseToUnexpected { found: found.unwrap_or("(none)").to_string() }.into()),
        _ => {}
    }
    check_status(root)?;
    Ok(())
}

/// The checks every incoming logout message gets, signature first: the root is the
/// expected message, signed by a configured IdP key, from the expected Issuer, addressed
/// to our SingleLogoutService, and recent.
fn verified_root<'d>(doc: &'d Document, received: &Received, connector: &Connector, expected: &'static str, now: Instant) -> Result<Element<'d>, Error> {
    let root = doc.root();
    if !root.is(PROTOCOL_NS, expected) {
        return Err(SamlError::UnexpectedMessage { expected, found: root.qualified_name() }.into());
    }
    let keys = connector.trusted_keys();
    let policy = connector.verify_policy();
    match (&received.query_signature, received.binding) {
        (Some(signature), Binding::Redirect) => {
            dsig::verify_detached(signature.signed_octets.as_bytes(), &signature.algorithm, &signature.value, keys, &policy)?;
        }
        // The root's enveloped signature covers the whole message but itself.
        (None, Binding::Post) if dsig::signature_child(root)?.is_some() => {
            dsig::verify_element(root, keys, &policy)?;
        }
        _ => return Err(SamlError::LogoutSignatureRequired { message: expected }.into()),
    }
    let version = root.attribute("Version").ok_or(SamlError::MissingAttribute { element: expected, attribute: "Version" })?;
    if version != "2.0" {
        return Err(SamlError::UnsupportedVersion { version: version.to_string() }.into());
    }
    root.attribute("ID").ok_or(SamlError::MissingAttribute { element: expected, attribute: "ID" })?;
    let issuer = root.children_named(ASSERTION_NS, "Issuer").next().ok_or(SamlError::IssuerMissing { element: expected })?.text();
    if let Some(expected_issuer) = connector.idp_entity_id.as_deref() {
        if issuer.trim() != expected_issuer {
            return Err(SamlError::IssuerMismatch { element: expected, found: issuer.trim().to_string(), expected: expected_issuer.to_string() }.into());
        }
    }
    match root.attribute("Destination") {
        None => return Err(SamlError::DestinationMissing.into()),
        Some(destination) if destination != connector.single_logout_url => {
            return Err(SamlError::DestinationMismatch { found: destination.to_string(), expected: connector.single_logout_url.clone(), endpoint: "SingleLogoutService URL" }.into())
        }
        Some(_) => {}
    }
    let issued = root.attribute("IssueInstant").ok_or(SamlError::MissingAttribute { element: expected, attribute: "IssueInstant" })?;
    let issued_at = Instant::parse(issued.trim()).ok_or(SamlError::InvalidTime { field: "IssueInstant", value: issued.to_string() })?;
    let skew = connector.clock_skew_ms;
    if issued_at > now.plus_millis(skew) || issued_at < now.plus_millis(-skew - MAX_MESSAGE_AGE_MS) {
        return Err(SamlError::LogoutStale { issue_instant: issued_at.to_string() }.into());
    }
    Ok(root)
}
