//! Connector configuration, with Logto's SAML connector field names so that a config
//! exported from Logto works unchanged, plus the documented saml-edge additions.
//!
//! Parsing is field by field (not serde derive) so that every problem is reported at
//! once, each naming its field; unknown fields are warnings.

use serde_json::{Map, Value};

use super::metadata::{self, IdpMetadata};
use crate::url;
use crate::dsig::{self, algorithms, TrustedKey, VerifyPolicy};
use crate::error::{ConfigError, ConfigProblem};

pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const KNOWN_NAMEID_FORMATS: [&str; 6] = [
    NAMEID_UNSPECIFIED,
    NAMEID_EMAIL,
    "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified",
];

/// Order of signing and encryption at the IdP (Logto's `messageSigningOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningOrder {
    SignThenEncrypt,
    EncryptThenSign,
}

/// Which IdP attribute feeds each profile field (Logto's `profileMap`). Values name an
/// attribute by Name or FriendlyName; `nameID` names the NameID itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileMap {
    pub id: Option<String>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An IdP signing certificate from the configuration (its key is in `Connector::trusted_keys`,
/// at the same index).
#[derive(Debug, Clone)]
pub struct IdpCertificate {
    pub der: Vec<u8>,
    pub info: dsig::keys::CertificateInfo,
    /// Where it came from: `x509Certificate`, `idpMetadataXml`, `idpMetadataUrl`, or
    /// `idpMetadataUrl (retained)`: no longer in the fetched metadata but still trusted
    /// until the new metadata has been seen twice (rollover).
    pub source: &'static str,
}

/// IdP metadata fetched from `idpMetadataUrl` (kept in KV beside the connector): the
/// latest document, plus certificates it no longer lists that are still trusted during a
/// rollover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedMetadata {
    pub xml: String,
    pub retained_certificates: Vec<Vec<u8>>,
}

/// The source name of certificates kept through a rollover.
pub const RETAINED_SOURCE: &str = "idpMetadataUrl (retained)";

/// A validated connector.
#[derive(Debug, Clone)]
pub struct Connector {
    pub id: String,
    /// Our SP entity ID: the Issuer of our requests and the Audience we expect.
    pub entity_id: String,
    pub acs_url: String,
    /// The IdP's SSO endpoint for the HTTP-Redirect binding.
    pub sign_in_endpoint: Option<String>,
    /// The IdP's SingleLogoutService (HTTP-Redirect) for our LogoutRequests, and where
    /// our LogoutResponses go (its ResponseLocation). None: sign-out is local only.
    pub sign_out_endpoint: Option<String>,
    pub sign_out_response_endpoint: Option<String>,
    /// Our SingleLogoutService URL (`singleLogoutServiceUrl`, default `{ACS}/slo`).
    pub single_logout_url: String,
    /// Expected Issuer of responses.
    pub idp_entity_id: Option<String>,
    pub idp_certificates: Vec<IdpCertificate>,
    /// The keys of `idp_certificates`, parsed once: signatures are checked against these only.
    idp_keys: Vec<TrustedKey>,
    pub idp_metadata: Option<IdpMetadata>,
    /// Where the IdP metadata is fetched from and kept current (`idpMetadataUrl`).
    pub idp_metadata_url: Option<String>,
    pub sign_authn_request: bool,
    pub encrypt_assertion: bool,
    pub request_signature_algorithm: String,
    pub message_signing_order: SigningOrder,
    pub private_key: Option<String>,
    pub private_key_pass: Option<String>,
    pub enc_private_key: Option<String>,
    pub enc_private_key_pass: Option<String>,
    /// SP decryption keys parsed from `encPrivateKey` (several PEM blocks = rollover).
    pub decryption_keys: Vec<super::encryption::DecryptionKey>,
    /// Accept RSA-1.5 key transport (refused by default: Bleichenbacher-style attacks).
    pub allow_rsa15: bool,
    pub name_id_format: Option<String>,
    /// Allowed clock skew in milliseconds (Logto's `timeout`).
    pub clock_skew_ms: i64,
    pub profile_map: ProfileMap,
    pub allow_idp_initiated: bool,
    pub allow_sha1: bool,
    pub want_assertions_signed: bool,
    pub want_response_signed: bool,
    pub min_rsa_key_bits: usize,
    pub email_domains: Vec<String>,
    pub return_to_allowlist: Vec<String>,
}

impl Connector {
    /// The keys signatures are checked against (configured certificates only).
    pub fn trusted_keys(&self) -> &[TrustedKey] {
        &self.idp_keys
    }

    /// IdP certificates are key carriers (their dates are not enforced), but an expired
    /// or soon-expiring one usually means a rotation is coming: say so (check-config,
    /// the admin health report, the scheduled job's log).
    pub fn certificate_warnings(&self, now: super::Instant) -> Vec<ConfigProblem> {
        let now_s = now.unix_seconds();
        let mut warnings = Vec::new();
        for certificate in &self.idp_certificates {
            let info = &certificate.info;
            let until = super::Instant::from_unix_seconds(info.not_after);
            let message = if info.not_after < now_s {
                format!("certificate {:?} expired on {until}; signatures still verify, but the IdP has probably rotated its key", info.subject)
            } else if info.not_after < now_s + 30 * 86_400 {
                format!("certificate {:?} expires on {until} (within 30 days): expect a key rollover", info.subject)
            } else {
                continue;
            };
            warnings.push(ConfigProblem { field: certificate.source.to_string(), message });
        }
        warnings
    }

    pub fn verify_policy(&self) -> VerifyPolicy {
        VerifyPolicy { allow_sha1: self.allow_sha1, min_rsa_bits: self.min_rsa_key_bits }
    }

    /// Parse and validate a connector's JSON. On success, also returns warnings
    /// (unknown fields, settings that work but deserve a look).
    pub fn from_json(id: &str, json: &str) -> Result<(Connector, Vec<ConfigProblem>), ConfigError> {
        Connector::from_json_with_metadata(id, json, None)
    }

    /// As [`Connector::from_json`], with the metadata fetched for `idpMetadataUrl`.
    pub fn from_json_with_metadata(id: &str, json: &str, fetched: Option<&FetchedMetadata>) -> Result<(Connector, Vec<ConfigProblem>), ConfigError> {
        let fail = |problems| ConfigError { connector: Some(id.to_string()), problems };
        let value: Value = serde_json::from_str(json)
            .map_err(|e| fail(vec![problem("(json)", &format!("not valid JSON: {e}"))]))?;
        let Value::Object(object) = value else {
            return Err(fail(vec![problem("(json)", "the connector config must be a JSON object")]));
        };
        let mut fields = Fields { object: &object, problems: Vec::new(), warnings: Vec::new(), fetched };
        let connector = fields.connector(id);
        match connector {
            Some(connector) if fields.problems.is_empty() => Ok((connector, fields.warnings)),
            _ => Err(fail(fields.problems)),
        }
    }
}

const KNOWN_FIELDS: &[&str] = &[
    "entityID",
    "signInEndpoint",
    "x509Certificate",
    "x509certificate",
    "idpMetadataXml",
    "idpMetadataUrl",
    "assertionConsumerServiceUrl",
    "signAuthnRequest",
    "encryptAssertion",
    "requestSignatureAlgorithm",
    "messageSigningOrder",
    "privateKey",
    "privateKeyPass",
    "encPrivateKey",
    "encPrivateKeyPass",
    "nameIDFormat",
    "timeout",
    "profileMap",
    "idpEntityId",
    "signOutEndpoint",
    "singleLogoutServiceUrl",
    "allowIdpInitiated",
    "allowSha1",
    "allowRsa15",
    "wantAssertionsSigned",
    "wantResponseSigned",
    "minRsaKeyBits",
    "emailDomains",
    "returnToAllowlist",
];

fn problem(field: &str, message: &str) -> ConfigProblem {
    ConfigProblem { field: field.to_string(), message: message.to_string() }
}

struct Fields<'a> {
    object: &'a Map<String, Value>,
    problems: Vec<ConfigProblem>,
    warnings: Vec<ConfigProblem>,
    fetched: Option<&'a FetchedMetadata>,
}

impl<'a> Fields<'a> {
    fn error(&mut self, field: &str, message: &str) {
        self.problems.push(problem(field, message));
    }

    fn warn(&mut self, field: &str, message: &str) {
        self.warnings.push(problem(field, message));
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    fn required_string(&mut self, field: &str) -> Option<String> {
        let value = self.string(field);
        if value.is_none() && !self.problems.iter().any(|p| p.field == field) {
            self.error(field, "is required");
        }
        value
    }

    fn bool(&mut self, field: &str, default: bool) -> bool {
        match self.object.get(field) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.error(field, "must be true or false");
                default
            }
        }
    }

    fn integer(&mut self, field: &str, default: i64, range: std::ops::RangeInclusive<i64>) -> i64 {
        match self.object.get(field) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if range.contains(&v) => v,
                _ => {
                    self.error(field, &format!("must be a whole number from {} to {}", range.start(), range.end()));
                    default
                }
            },
            Some(_) => {
                self.error(field, "must be a number");
                default
            }
        }
    }

    fn string_list(&mut self, field: &str) -> Vec<String> {
        match self.object.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let strings: Vec<String> = items.iter().filter_map(|v| v.as_str().map(String::from)).collect();
                if strings.len() != items.len() {
                    self.error(field, "must be a list of strings");
                }
                strings
            }
            Some(_) => {
                self.error(field, "must be a string or a list of strings");
                Vec::new()
            }
        }
    }

    fn endpoint(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        match url::check_endpoint(&value) {
            Ok(()) => Some(value),
            Err(message) => {
                self.error(field, &message);
                None
            }
        }
    }

    fn connector(&mut self, id: &str) -> Option<Connector> {
        for key in self.object.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                self.warnings.push(problem(key, "unknown field, ignored"));
            }
        }

        let entity_id = self.required_string("entityID");
        let acs = self.required_string("assertionConsumerServiceUrl");
        let acs_url = self.endpoint("assertionConsumerServiceUrl", acs);

        let idp_metadata_url = self.string("idpMetadataUrl");
        let idp_metadata_url = self.endpoint("idpMetadataUrl", idp_metadata_url);
        let pasted = self.string("idpMetadataXml");
        if pasted.is_some() && idp_metadata_url.is_some() {
            self.error("idpMetadataUrl", "set idpMetadataUrl or idpMetadataXml, not both");
        }
        let (metadata_xml, metadata_field) = match (pasted, idp_metadata_url.as_ref().and(self.fetched)) {
            (Some(xml), _) => (Some(xml), "idpMetadataXml"),
            (None, Some(fetched)) => (Some(fetched.xml.clone()), "idpMetadataUrl"),
            (None, None) => (None, "idpMetadataXml"),
        };
        let idp_metadata = match metadata_xml {
            Some(xml) => match metadata::parse_idp_metadata(&xml) {
                Ok(md) => Some(md),
                Err(message) => {
                    self.error(metadata_field, &message);
                    None
                }
            },
            None => None,
        };
        if idp_metadata_url.is_some() && self.fetched.is_none() {
            self.warn("idpMetadataUrl", "the metadata has not been fetched yet: it is fetched on first use and by the scheduled refresh");
        }

        let sign_in = self.string("signInEndpoint").or_else(|| idp_metadata.as_ref().and_then(|m| m.sso_redirect.clone()));
        let sign_in_endpoint = self.endpoint("signInEndpoint", sign_in);
        if sign_in_endpoint.is_none() && !self.problems.iter().any(|p| p.field == "signInEndpoint") {
            self.warn("signInEndpoint", "no IdP sign-in endpoint (and none in idpMetadataXml): only IdP-initiated sign-in can work");
        }

        // Single Logout: an explicit endpoint, else the metadata's HTTP-Redirect one (the
        // only binding we send by: a POST would need an XML-signed, auto-submitted form).
        let metadata_slo = idp_metadata.as_ref().and_then(|m| m.single_logout.iter().find(|e| e.binding == metadata::BINDING_REDIRECT).cloned());
        let configured_slo = self.string("signOutEndpoint");
        let (sign_out_endpoint, sign_out_response_endpoint) = match (configured_slo, metadata_slo) {
            (Some(url), _) => {
                let url = self.endpoint("signOutEndpoint", Some(url));
                (url.clone(), url)
            }
            (None, Some(e)) => (Some(e.location.clone()), Some(e.response_location.unwrap_or(e.location))),
            (None, None) => (None, None),
        };
        if sign_out_endpoint.is_none() && idp_metadata.as_ref().is_some_and(|m| !m.single_logout.is_empty()) {
            self.warn("signOutEndpoint", "the IdP metadata lists SingleLogoutService only for bindings other than HTTP-Redirect: sign-out stays local");
        }
        let single_logout_url = match self.string("singleLogoutServiceUrl") {
            Some(url) => self.endpoint("singleLogoutServiceUrl", Some(url)),
            None => acs_url.as_ref().map(|acs| format!("{}/slo", acs.trim_end_matches('/'))),
        };

        let idp_entity_id = self.string("idpEntityId").or_else(|| idp_metadata.as_ref().map(|m| m.entity_id.clone()));
        if let (Some(configured), Some(md)) = (self.string("idpEntityId"), idp_metadata.as_ref()) {
            if configured != md.entity_id {
                self.warn("idpEntityId", &format!("differs from the metadata's entityID {:?}; the configured value is used", md.entity_id));
            }
        }
        if idp_entity_id.is_none() {
            self.warn("idpEntityId", "not set and no idpMetadataXml: the Issuer of responses is not checked (the signature still is)");
        }

        let metadata_source = if idp_metadata_url.is_some() { "idpMetadataUrl" } else { "idpMetadataXml" };
        let (idp_certificates, idp_keys) = self.certificates(idp_metadata.as_ref(), metadata_source);

        let sign_authn_request = self.bool("signAuthnRequest", false);
        let encrypt_assertion = self.bool("encryptAssertion", false);
        let request_signature_algorithm = self
            .string("requestSignatureAlgorithm")
            .unwrap_or_else(|| algorithms::RSA_SHA256.to_string());
        if ![algorithms::RSA_SHA1, algorithms::RSA_SHA256, algorithms::RSA_SHA512].contains(&request_signature_algorithm.as_str()) {
            self.error("requestSignatureAlgorithm", "must be the rsa-sha1, rsa-sha256 or rsa-sha512 algorithm URI");
        }
        let message_signing_order = match self.string("messageSigningOrder").as_deref() {
            None | Some("sign-then-encrypt") => SigningOrder::SignThenEncrypt,
            Some("encrypt-then-sign") => SigningOrder::EncryptThenSign,
            Some(_) => {
                self.error("messageSigningOrder", "must be \"sign-then-encrypt\" or \"encrypt-then-sign\"");
                SigningOrder::SignThenEncrypt
            }
        };
        let private_key = self.pem("privateKey");
        let private_key_pass = self.string("privateKeyPass");
        let enc_private_key = self.pem("encPrivateKey");
        let enc_private_key_pass = self.string("encPrivateKeyPass");
        if sign_authn_request && private_key.is_none() {
            self.error("privateKey", "is required when signAuthnRequest is true");
        }
        let decryption_keys = match &enc_private_key {
            Some(pem) => match super::encryption::DecryptionKey::from_pem(pem, enc_private_key_pass.as_deref()) {
                Ok(keys) => keys,
                Err(message) => {
                    self.error("encPrivateKey", &message);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        if encrypt_assertion && enc_private_key.is_none() {
            self.error("encPrivateKey", "is required when encryptAssertion is true");
        }
        let allow_rsa15 = self.bool("allowRsa15", false);

        let name_id_format = self.string("nameIDFormat");
        if let Some(format) = &name_id_format {
            if !KNOWN_NAMEID_FORMATS.contains(&format.as_str()) {
                self.warn("nameIDFormat", "not one of the standard NameID format URIs");
            }
        }
        let clock_skew_ms = self.integer("timeout", 5000, 0..=600_000);
        let profile_map = self.profile_map();
        let allow_idp_initiated = self.bool("allowIdpInitiated", false);
        let allow_sha1 = self.bool("allowSha1", false);
        let want_assertions_signed = self.bool("wantAssertionsSigned", false);
        let want_response_signed = self.bool("wantResponseSigned", false);
        let min_rsa_key_bits = self.integer("minRsaKeyBits", 2048, 1024..=16384) as usize;
        if min_rsa_key_bits < 2048 {
            self.warn("minRsaKeyBits", "RSA keys under 2048 bits are accepted: ask the IdP to rotate to a stronger key");
        }
        for (certificate, key) in idp_certificates.iter().zip(&idp_keys) {
            if key.family() == algorithms::KeyFamily::Rsa && key.bits() < min_rsa_key_bits {
                let message = format!(
                    "certificate {:?} has a {}-bit RSA key, below minRsaKeyBits ({min_rsa_key_bits}): its signatures will be refused",
                    certificate.info.subject,
                    key.bits()
                );
                self.warn(certificate.source, &message);
            }
        }
        let email_domains: Vec<String> = self.string_list("emailDomains").iter().map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase()).collect();
        for domain in &email_domains {
            if domain.is_empty() || !domain.contains('.') || domain.contains(['/', ':', ' ', '@']) {
                self.error("emailDomains", &format!("{domain:?} is not a domain name"));
            }
        }
        let return_to_allowlist = self.string_list("returnToAllowlist");
        for entry in &return_to_allowlist {
            if let Err(message) = url::check_allowlist_entry(entry) {
                self.error("returnToAllowlist", &message);
            }
        }

        Some(Connector {
            id: id.to_string(),
            entity_id: entity_id?,
            acs_url: acs_url?,
            sign_in_endpoint,
            sign_out_endpoint,
            sign_out_response_endpoint,
            single_logout_url: single_logout_url?,
            idp_entity_id,
            idp_certificates,
            idp_keys,
            idp_metadata,
            idp_metadata_url,
            sign_authn_request,
            encrypt_assertion,
            request_signature_algorithm,
            message_signing_order,
            private_key,
            private_key_pass,
            enc_private_key,
            enc_private_key_pass,
            decryption_keys,
            allow_rsa15,
            name_id_format,
            clock_skew_ms,
            profile_map,
            allow_idp_initiated,
            allow_sha1,
            want_assertions_signed,
            want_response_signed,
            min_rsa_key_bits,
            email_domains,
            return_to_allowlist,
        })
    }

    /// `x509Certificate` (one or more PEM blocks, bare base64, or a list of those) plus the
    /// signing certificates of `idpMetadataXml`.
    fn certificates(&mut self, metadata: Option<&IdpMetadata>, metadata_source: &'static str) -> (Vec<IdpCertificate>, Vec<TrustedKey>) {
        let field = if self.object.contains_key("x509Certificate") { "x509Certificate" } else { "x509certificate" };
        let mut certificates = Vec::new();
        let mut keys = Vec::new();
        for text in self.string_list(field) {
            match dsig::keys::certificate_ders(&text) {
                Ok(ders) => {
                    for der in ders {
                        self.add_certificate(&mut certificates, &mut keys, der, "x509Certificate");
                    }
                }
                Err(e) => self.error(field, &e.to_string()),
            }
        }
        for der in metadata.map(|m| m.signing_certificates.clone()).unwrap_or_default() {
            if !certificates.iter().any(|c: &IdpCertificate| c.der == der) {
                self.add_certificate(&mut certificates, &mut keys, der, metadata_source);
            }
        }
        if metadata_source == "idpMetadataUrl" {
            for der in self.fetched.map(|f| f.retained_certificates.clone()).unwrap_or_default() {
                if !certificates.iter().any(|c: &IdpCertificate| c.der == der) {
                    self.add_certificate(&mut certificates, &mut keys, der, RETAINED_SOURCE);
                }
            }
        }
        if certificates.is_empty() && !self.problems.iter().any(|p| p.field == field || p.field == "idpMetadataXml" || p.field == "idpMetadataUrl") {
            if self.object.contains_key("idpMetadataUrl") {
                self.error("idpMetadataUrl", "no IdP signing certificate yet: the metadata could not be fetched (see the connector's metadata status)");
            } else {
                self.error("x509Certificate", "no IdP signing certificate: set x509Certificate, idpMetadataXml or idpMetadataUrl");
            }
        }
        (certificates, keys)
    }

    fn add_certificate(&mut self, certificates: &mut Vec<IdpCertificate>, keys: &mut Vec<TrustedKey>, der: Vec<u8>, source: &'static str) {
        match (TrustedKey::from_der(&der), dsig::keys::CertificateInfo::from_der(&der)) {
            (Ok(key), Ok(info)) => {
                certificates.push(IdpCertificate { der, info, source });
                keys.push(key);
            }
            (Err(e), _) | (_, Err(e)) => self.error(source, &e.to_string()),
        }
    }

    fn pem(&mut self, field: &str) -> Option<String> {
        let value = self.string(field)?;
        if !value.contains("-----BEGIN") || !value.contains("PRIVATE KEY-----") {
            self.error(field, "must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)");
            return None;
        }
        Some(value)
    }

    fn profile_map(&mut self) -> ProfileMap {
        let mut map = ProfileMap::default();
        match self.object.get("profileMap") {
            None | Some(Value::Null) => {}
            Some(Value::Object(entries)) => {
                for (key, value) in entries {
                    let Some(value) = value.as_str().map(str::trim).filter(|v| !v.is_empty()).map(String::from) else {
                        self.error(&format!("profileMap.{key}"), "must be a non-empty string naming an attribute");
                        continue;
                    };
                    match key.as_str() {
                        "id" => map.id = Some(value),
                        "name" => map.name = Some(value),
                        "avatar" => map.avatar = Some(value),
                        "email" => map.email = Some(value),
                        "phone" => map.phone = Some(value),
                        _ => self.warn(&format!("profileMap.{key}"), "unknown profile field (id, name, avatar, email, phone), ignored"),
                    }
                }
            }
            Some(_) => self.error("profileMap", "must be an object"),
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const CERT: &str = include_str!("../../tests/keys/idp-rsa2048.crt");

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "entityID": "https://sp.example.test/saml/metadata",
            "assertionConsumerServiceUrl": "https://sp.example.test/api/authn/saml/acme",
            "signInEndpoint": "https://idp.example.test/sso",
            "x509Certificate": CERT,
            "idpEntityId": "https://idp.example.test/metadata",
        })
    }

    #[test]
    fn logto_fields_and_defaults() {
        let (c, warnings) = Connector::from_json("acme", &minimal().to_string()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.clock_skew_ms, 5000);
        assert_eq!(c.request_signature_algorithm, algorithms::RSA_SHA256);
        assert_eq!(c.idp_certificates.len(), 1);
        assert!(!c.allow_idp_initiated && !c.allow_sha1 && !c.want_response_signed);
        assert_eq!(c.min_rsa_key_bits, 2048);
    }

    #[test]
    fn every_problem_reported_at_once_and_unknown_fields_warned() {
        let json = serde_json::json!({
            "entityID": 5,
            "assertionConsumerServiceUrl": "http://sp.example.test/acs",
            "x509Certificate": "not base64!",
            "timeout": -1,
            "signAuthnRequest": true,
            "authnRequestBinding": "HTTP-Redirect",
        });
        let error = Connector::from_json("acme", &json.to_string()).unwrap_err();
        let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
        for field in ["entityID", "assertionConsumerServiceUrl", "x509Certificate", "timeout", "privateKey"] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
        assert_eq!(error.code(), "config.invalid");

        let mut ok = minimal();
        ok["authnRequestBinding"] = "HTTP-Redirect".into();
        let (_, warnings) = Connector::from_json("acme", &ok.to_string()).unwrap();
        assert_eq!(warnings[0].field, "authnRequestBinding");
    }

    #[test]
    fn several_certificates_for_rollover() {
        let mut json = minimal();
        let rollover = include_str!("../../tests/keys/rollover-rsa2048.crt");
        json["x509Certificate"] = serde_json::json!([CERT, rollover]);
        assert_eq!(Connector::from_json("acme", &json.to_string()).unwrap().0.idp_certificates.len(), 2);
        json["x509Certificate"] = format!("{CERT}\n{rollover}").into();
        assert_eq!(Connector::from_json("acme", &json.to_string()).unwrap().0.idp_certificates.len(), 2);
    }
}
