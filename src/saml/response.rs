//! A posted SAML Response → an [`Identity`], applying every check of the Web Browser SSO
//! profile. Identity data is read only from the one Assertion that a verified signature
//! covers; the current time and the expected request ID are inputs.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::config::{Connector, NAMEID_EMAIL};
use super::time::Instant;
use super::{encryption, ASSERTION_NS, PROTOCOL_NS};
use crate::dsig::{self, Verified};
use crate::error::{Error, SamlError};
use crate::xml::{Document, Element, Limits};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// One SAML attribute, all its values in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub name: String,
    pub friendly_name: Option<String>,
    pub name_format: Option<String>,
    pub values: Vec<String>,
}

/// The profile fields an application cares about, after `profileMap`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub id: String,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Who signed in, as asserted by the IdP and checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub issuer: String,
    pub session_index: Option<String>,
    pub session_not_on_or_after: Option<Instant>,
    pub assertion_id: String,
    /// End of the Assertion's validity (Conditions NotOnOrAfter).
    pub not_on_or_after: Option<Instant>,
    pub in_response_to: Option<String>,
    pub attributes: Vec<SamlAttribute>,
    pub profile: Profile,
    pub response_signed: bool,
    pub assertion_signed: bool,
    /// Index (into `Connector::idp_certificates`) of the certificate whose key verified.
    pub signing_certificate: Option<usize>,
}

impl Identity {
    /// All values of the attribute with this Name (or FriendlyName).
    pub fn attribute(&self, key: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|a| a.name == key)
            .or_else(|| self.attributes.iter().find(|a| a.friendly_name.as_deref() == Some(key)))
            .map(|a| a.values.as_slice())
    }

    /// Attributes as `{Name: [values]}`.
    pub fn attributes_json(&self) -> Value {
        let map: Map<String, Value> = self.attributes.iter().map(|a| (a.name.clone(), json!(a.values))).collect();
        Value::Object(map)
    }

    pub fn profile_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), json!(self.profile.id));
        for (key, value) in [("name", &self.profile.name), ("avatar", &self.profile.avatar), ("email", &self.profile.email), ("phone", &self.profile.phone)] {
            if let Some(value) = value {
                map.insert(key.into(), json!(value));
            }
        }
        Value::Object(map)
    }
}

/// What the response must answer: the time, and the ID of the AuthnRequest this browser
/// sent (None when no request is being tracked: only an IdP-initiated response can match).
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    pub now: Instant,
    pub request_id: Option<&'a str>,
}

/// Decode the `SAMLResponse` form value (base64, whitespace tolerated) — or take raw XML
/// as is, for the CLI.
pub fn decode_posted(value: &str) -> Result<Vec<u8>, SamlError> {
    let trimmed = value.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with('<') {
        return Ok(trimmed.as_bytes().to_vec());
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| SamlError::ResponseEncoding { detail: e.to_string() })?;
    if !bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'<' || *b == 0xEF) {
        return Err(SamlError::ResponseEncoding { detail: "decoded value is not XML".into() });
    }
    Ok(bytes)
}

/// Validate a SAML Response document for `connector`.
pub fn validate_response(xml: &[u8], connector: &Connector, expect: Expectation<'_>) -> Result<Identity, Error> {
    let doc = Document::parse(xml, &Limits::default())?;
    validate_document(&doc, connector, expect)
}

fn validate_document(doc: &Document, connector: &Connector, expect: Expectation<'_>) -> Result<Identity, Error> {
    let response = doc.root();
    if !response.is(PROTOCOL_NS, "Response") {
        return Err(SamlError::NotAResponse { found: response.qualified_name() }.into());
    }
    let version = response.attribute("Version").ok_or(SamlError::MissingAttribute { element: "Response", attribute: "Version" })?;
    if version != "2.0" {
        return Err(SamlError::UnsupportedVersion { version: version.to_string() }.into());
    }
    response.attribute("ID").ok_or(SamlError::MissingAttribute { element: "Response", attribute: "ID" })?;
    check_status(response)?;

    // Exactly one assertion, plaintext or encrypted, anywhere in the document, and it is a
    // direct child of the Response.
    let plaintext = doc.elements().filter(|e| e.is(ASSERTION_NS, "Assertion")).count();
    let encrypted = doc.elements().filter(|e| e.is(ASSERTION_NS, "EncryptedAssertion")).count();
    if plaintext + encrypted != 1 {
        return Err(SamlError::AssertionCount { found: plaintext + encrypted }.into());
    }
    let local = if plaintext == 1 { "Assertion" } else { "EncryptedAssertion" };
    let carried = response.children_named(ASSERTION_NS, local).next().ok_or(SamlError::AssertionCount { found: 0 })?;
    if connector.encrypt_assertion && plaintext == 1 {
        return Err(SamlError::AssertionNotEncrypted.into());
    }

    // Signatures: each one present must verify; the policy decides which are required.
    let keys = connector.trusted_keys();
    let policy = connector.verify_policy();
    let response_verified: Option<Verified<'_>> = match dsig::signature_child(response)? {
        Some(_) => Some(dsig::verify_element(response, keys, &policy)?),
        None => None,
    };

    // Policy that needs no decryption is enforced before decrypting: a required Response
    // signature then covers the ciphertext, and tampered ciphertexts never reach the key.
    if connector.want_response_signed && response_verified.is_none() {
        return Err(SamlError::ResponseSignatureRequired.into());
    }

    // An encrypted assertion is decrypted and parsed on its own, in the namespace context
    // of the EncryptedAssertion, then goes through exactly the same checks.
    let decrypted: Document;
    let assertion = if plaintext == 1 {
        carried
    } else {
        if connector.decryption_keys.is_empty() {
            return Err(SamlError::EncryptedAssertionUnsupported.into());
        }
        let bytes = encryption::decrypt_element(carried, &connector.decryption_keys, connector.allow_rsa15)?;
        // Whatever is wrong with the plaintext reads exactly like a failed decryption, so
        // that no answer tells a padding or format oracle anything about it.
        decrypted = encryption::parse_decrypted(carried, &bytes).map_err(|_| encryption::opaque_failure())?;
        decrypted_assertion(&decrypted).map_err(|_| encryption::opaque_failure())?
    };
    // For a decrypted assertion, anything that fails before a signature vouches for it
    // reads as the one opaque decryption failure: a format or signature error on tampered
    // ciphertext would otherwise be an oracle on the plaintext (Jager & Somorovsky, 2011).
    let from_ciphertext = plaintext == 0;
    let opaque = |error: Error| if from_ciphertext { Error::from(encryption::opaque_failure()) } else { error };
    let assertion_verified: Option<Verified<'_>> = match dsig::signature_child(assertion).map_err(|e| opaque(e.into()))? {
        Some(_) => Some(dsig::verify_element(assertion, keys, &policy).map_err(|e| opaque(e.into()))?),
        None => None,
    };
    if connector.want_assertions_signed && assertion_verified.is_none() {
        return Err(SamlError::AssertionSignatureRequired.into());
    }
    // `carried` is the Assertion or the EncryptedAssertion that holds it.
    let assertion_covered = assertion_verified.is_some() || response_verified.is_some_and(|v| v.covers(carried.id()));
    if !assertion_covered {
        return Err(opaque(SamlError::AssertionUnsigned.into()));
    }
    // From here on, identity data comes only from `assertion`, which a signature covers.

    let expected_issuer = connector.idp_entity_id.as_deref();
    if let Some(issuer) = response.children_named(ASSERTION_NS, "Issuer").next() {
        check_issuer("Response", &issuer.text(), expected_issuer)?;
    }
    match response.attribute("Destination") {
        Some(destination) if destination != connector.acs_url => {
            return Err(SamlError::DestinationMismatch { found: destination.to_string(), expected: connector.acs_url.clone(), endpoint: "ACS URL" }.into())
        }
        None if response_verified.is_some() => return Err(SamlError::DestinationMissing.into()),
        _ => {}
    }

    let skew = connector.clock_skew_ms;
    let issuer = assertion.children_named(ASSERTION_NS, "Issuer").next().ok_or(SamlError::IssuerMissing { element: "Assertion" })?.text();
    check_issuer("Assertion", &issuer, expected_issuer)?;
    let assertion_id = assertion.attribute("ID").ok_or(SamlError::MissingAttribute { element: "Assertion", attribute: "ID" })?;

    let subject = assertion.children_named(ASSERTION_NS, "Subject").next().ok_or(SamlError::NameIdMissing)?;

    let conditions = assertion.children_named(ASSERTION_NS, "Conditions").next().ok_or(SamlError::ConditionsMissing)?;
    if let Some(not_before) = time_attribute(conditions, "NotBefore", "Conditions NotBefore")? {
        if expect.now.plus_millis(skew) < not_before {
            return Err(SamlError::NotYetValid { not_before: not_before.to_string() }.into());
        }
    }
    let not_on_or_after = time_attribute(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter")?;
    if let Some(limit) = not_on_or_after {
        if expect.now.plus_millis(-skew) >= limit {
            return Err(SamlError::Expired { not_on_or_after: limit.to_string() }.into());
        }
    }
    check_audience(conditions, &connector.entity_id)?;

    // The Response's own InResponseTo counts only when the Response signature verified;
    // unsigned, anyone could set it to turn an unsolicited assertion into a "reply".
    let signed_response_in_response_to = response_verified.and_then(|_| response.attribute("InResponseTo"));
    let in_response_to = check_subject_confirmation(signed_response_in_response_to, subject, connector, expect)?;

    let authn = assertion.children_named(ASSERTION_NS, "AuthnStatement").next().ok_or(SamlError::AuthnStatementMissing)?;
    let session_not_on_or_after = time_attribute(authn, "SessionNotOnOrAfter", "AuthnStatement SessionNotOnOrAfter")?;
    if let Some(limit) = session_not_on_or_after {
        if expect.now.plus_millis(-skew) >= limit {
            return Err(SamlError::SessionExpired { session_not_on_or_after: limit.to_string() }.into());
        }
    }

    // Last, as it may cost an RSA private-key operation (an EncryptedID): a replayed,
    // expired or misdirected assertion is refused before that.
    let (name_id, name_id_format) = name_id_of(subject, connector)?;
    let attributes = read_attributes(assertion);
    let profile = build_profile(connector, &name_id, name_id_format.as_deref(), &attributes);
    Ok(Identity {
        name_id,
        name_id_format,
        issuer,
        session_index: authn.attribute("SessionIndex").map(String::from),
        session_not_on_or_after,
        assertion_id: assertion_id.to_string(),
        not_on_or_after,
        in_response_to,
        attributes,
        profile,
        response_signed: response_verified.is_some(),
        assertion_signed: assertion_verified.is_some(),
        signing_certificate: assertion_verified.or(response_verified).map(|v| v.key_index()),
    })
}

/// The decrypted content must be exactly one Assertion element (nothing else, nothing nested).
fn decrypted_assertion(doc: &Document) -> Result<Element<'_>, SamlError> {
    let mut children = doc.root().child_elements();
    let assertion = children.next().filter(|a| a.is(ASSERTION_NS, "Assertion"));
    let stray_text = doc.root().children().any(|c| matches!(c, crate::xml::NodeRef::Text(t) if !crate::xml::is_xml_whitespace(t)));
    let nested = doc.elements().filter(|e| e.is(ASSERTION_NS, "Assertion") || e.is(ASSERTION_NS, "EncryptedAssertion")).count();
    match assertion {
        Some(assertion) if children.next().is_none() && !stray_text && nested == 1 => Ok(assertion),
        _ => Err(SamlError::DecryptionFailed { detail: "the decrypted content is not exactly one Assertion".into() }),
    }
}

/// The Subject's one identifier: a NameID, or an EncryptedID decrypted with the SP's keys
/// (it sits inside the assertion a signature has covered). Returns the value and Format.
/// The one NameID, or EncryptedID (decrypted), among the children of `holder` (a Subject
/// or a LogoutRequest, which a verified signature covers): its value and Format. The
/// schema allows one of BaseID, NameID and EncryptedID; BaseID is not supported.
pub(crate) fn name_id_of(holder: Element<'_>, connector: &Connector) -> Result<(String, Option<String>), Error> {
    let identifiers: Vec<Element<'_>> = holder.child_elements().filter(|e| ["BaseID", "NameID", "EncryptedID"].iter().any(|name| e.is(ASSERTION_NS, name))).collect();
    let (value, format) = match identifiers[..] {
        [one] if one.is(ASSERTION_NS, "NameID") => (one.text(), one.attribute("Format").map(String::from)),
        [one] if one.is(ASSERTION_NS, "EncryptedID") => {
            let decrypted = encryption::decrypt_name_id(one, &connector.decryption_keys, connector.allow_rsa15)?;
            (decrypted.value, decrypted.format)
        }
        [] | [_] => return Err(SamlError::NameIdMissing.into()),
        _ => return Err(SamlError::SubjectIdentifierAmbiguous.into()),
    };
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace()).to_string();
    if value.is_empty() {
        return Err(SamlError::NameIdMissing.into());
    }
    Ok((value, format))
}

pub(crate) fn check_status(response: Element<'_>) -> Result<(), SamlError> {
    let status = response.children_named(PROTOCOL_NS, "Status").next().ok_or(SamlError::StatusMissing)?;
    let code = status.children_named(PROTOCOL_NS, "StatusCode").next().ok_or(SamlError::StatusMissing)?;
    let value = code.attribute("Value").ok_or(SamlError::StatusMissing)?;
    if value == STATUS_SUCCESS {
        return Ok(());
    }
    let short = |uri: &str| uri.rsplit(':').next().unwrap_or(uri).to_string();
    Err(SamlError::StatusNotSuccess {
        status: short(value),
        detail: code.children_named(PROTOCOL_NS, "StatusCode").next().and_then(|c| c.attribute("Value")).map(short),
        message: status.children_named(PROTOCOL_NS, "StatusMessage").next().map(|m| m.text().trim().to_string()),
    })
}

fn check_issuer(element: &'static str, found: &str, expected: Option<&str>) -> Result<(), SamlError> {
    let found = found.trim();
    match expected {
        Some(expected) if found != expected => {
            Err(SamlError::IssuerMismatch { element, found: found.to_string(), expected: expected.to_string() })
        }
        _ => Ok(()),
    }
}

fn time_attribute(element: Element<'_>, attribute: &str, field: &'static str) -> Result<Option<Instant>, SamlError> {
    match element.attribute(attribute) {
        None => Ok(None),
        Some(value) => Instant::parse(value.trim()).map(Some).ok_or(SamlError::InvalidTime { field, value: value.to_string() }),
    }
}

/// A bearer SubjectConfirmation for our ACS, still valid, answering our request (or none).
/// Returns the request ID the response answers.
fn check_subject_confirmation(
    signed_response_in_response_to: Option<&str>,
    subject: Element<'_>,
    connector: &Connector,
    expect: Expectation<'_>,
) -> Result<Option<String>, SamlError> {
    let skew = connector.clock_skew_ms;
    let mut first_error = None;
    for confirmation in subject.children_named(ASSERTION_NS, "SubjectConfirmation") {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = confirmation.children_named(ASSERTION_NS, "SubjectConfirmationData").next() else { continue };
        let result = (|| {
            let recipient = data.attribute("Recipient").unwrap_or_default();
            if recipient != connector.acs_url {
                return Err(SamlError::RecipientMismatch { found: recipient.to_string(), expected: connector.acs_url.clone() });
            }
            match time_attribute(data, "NotOnOrAfter", "SubjectConfirmationData NotOnOrAfter")? {
                Some(limit) if expect.now.plus_millis(-skew) < limit => {}
                Some(limit) => return Err(SamlError::ConfirmationExpired { not_on_or_after: limit.to_string() }),
                None => return Err(SamlError::ConfirmationExpired { not_on_or_after: "(missing NotOnOrAfter)".into() }),
            }
            if let Some(not_before) = time_attribute(data, "NotBefore", "SubjectConfirmationData NotBefore")? {
                if expect.now.plus_millis(skew) < not_before {
                    return Err(SamlError::ConfirmationNotYetValid { not_before: not_before.to_string() });
                }
            }
            check_in_response_to(signed_response_in_response_to, data.attribute("InResponseTo"), connector, expect)
        })();
        match result {
            Ok(answered) => return Ok(answered),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SamlError::BearerConfirmationMissing))
}

/// SP-initiated: the response must answer exactly the request this browser sent.
/// Otherwise it must be unsolicited (no InResponseTo) and the connector must allow that.
fn check_in_response_to(
    on_response: Option<&str>,
    on_confirmation: Option<&str>,
    connector: &Connector,
    expect: Expectation<'_>,
) -> Result<Option<String>, SamlError> {
    let answered: Vec<&str> = [on_confirmation, on_response].into_iter().flatten().collect();
    match expect.request_id {
        Some(expected) => {
            if let Some(other) = answered.iter().find(|a| **a != expected) {
                return Err(SamlError::InResponseToMismatch { found: other.to_string(), expected: expected.to_string() });
            }
            if answered.is_empty() {
                return Err(SamlError::InResponseToMissing { expected: expected.to_string() });
            }
            Ok(Some(expected.to_string()))
        }
        None => match answered.first() {
            Some(found) => Err(SamlError::InResponseToUnexpected { found: found.to_string() }),
            None if connector.allow_idp_initiated => Ok(None),
            None => Err(SamlError::Unsolicited),
        },
    }
}

/// Every AudienceRestriction must include our entity ID, and there must be at least one.
fn check_audience(conditions: Element<'_>, entity_id: &str) -> Result<(), SamlError> {
    let mut restrictions = 0;
    for restriction in conditions.children_named(ASSERTION_NS, "AudienceRestriction") {
        restrictions += 1;
        let audiences: Vec<String> = restriction.children_named(ASSERTION_NS, "Audience").map(|a| a.text().trim().to_string()).collect();
        if !audiences.iter().any(|a| a == entity_id) {
            return Err(SamlError::AudienceMismatch { found: audiences, expected: entity_id.to_string() });
        }
    }
    if restrictions == 0 {
        return Err(SamlError::AudienceMissing);
    }
    Ok(())
}

fn read_attributes(assertion: Element<'_>) -> Vec<SamlAttribute> {
    let mut attributes: Vec<SamlAttribute> = Vec::new();
    for statement in assertion.children_named(ASSERTION_NS, "AttributeStatement") {
        for attribute in statement.children_named(ASSERTION_NS, "Attribute") {
            let Some(name) = attribute.attribute("Name") else { continue };
            let values: Vec<String> = attribute.children_named(ASSERTION_NS, "AttributeValue").map(|v| v.text()).collect();
            match attributes.iter_mut().find(|a| a.name == name) {
                Some(existing) => existing.values.extend(values),
                None => attributes.push(SamlAttribute {
                    name: name.to_string(),
                    friendly_name: attribute.attribute("FriendlyName").map(String::from),
                    name_format: attribute.attribute("NameFormat").map(String::from),
                    values,
                }),
            }
        }
    }
    attributes
}

/// Claim names IdPs commonly use, tried in order when `profileMap` names none (or the named
/// attribute is absent).
const EMAIL_CLAIMS: &[&str] = &[
    "email",
    "mail",
    "emailAddress",
    "emailaddress",
    "Email",
    "EmailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "User.email",
];
const NAME_CLAIMS: &[&str] = &[
    "name",
    "displayName",
    "displayname",
    "DisplayName",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "cn",
    "urn:oid:2.5.4.3",
    "fullName",
];
const AVATAR_CLAIMS: &[&str] = &["avatar", "picture", "photo", "thumbnailPhoto"];
const PHONE_CLAIMS: &[&str] = &[
    "phone",
    "phoneNumber",
    "phone_number",
    "mobile",
    "telephoneNumber",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/mobilephone",
    "urn:oid:2.5.4.20",
    "urn:oid:0.9.2342.19200300.100.1.41",
];

fn build_profile(connector: &Connector, name_id: &str, name_id_format: Option<&str>, attributes: &[SamlAttribute]) -> Profile {
    let first = |key: &str| -> Option<String> {
        attributes
            .iter()
            .find(|a| a.name == key)
            .or_else(|| attributes.iter().find(|a| a.friendly_name.as_deref() == Some(key)))
            .and_then(|a| a.values.iter().find(|v| !v.trim().is_empty()))
            .map(|v| v.trim().to_string())
    };
    let mapped = |key: &Option<String>| -> Option<String> {
        match key.as_deref() {
            Some("nameID" | "NameID" | "nameId") => Some(name_id.to_string()),
            Some(key) => first(key),
            None => None,
        }
    };
    let common = |names: &[&str]| names.iter().find_map(|n| first(n));
    let map = &connector.profile_map;
    let email = mapped(&map.email)
        .or_else(|| common(EMAIL_CLAIMS))
        .or_else(|| (name_id_format == Some(NAMEID_EMAIL)).then(|| name_id.to_string()));
    let name = mapped(&map.name).or_else(|| common(NAME_CLAIMS)).or_else(|| {
        let given = common(&["givenName", "givenname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42"])?;
        match common(&["surname", "sn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4"]) {
            Some(surname) => Some(format!("{given} {surname}")),
            None => Some(given),
        }
    });
    Profile {
        id: mapped(&map.id).unwrap_or_else(|| name_id.to_string()),
        name,
        avatar: mapped(&map.avatar).or_else(|| common(AVATAR_CLAIMS)),
        email,
        phone: mapped(&map.phone).or_else(|| common(PHONE_CLAIMS)),
    }
}
