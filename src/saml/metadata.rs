//! SAML metadata: importing an IdP's (any namespace prefixes, one IdP per document) and
//! producing ours for the IdP administrator.

use base64::Engine as _;

use super::config::Connector;
use super::{MD_NS, PROTOCOL_NS};
use crate::dsig::algorithms::DSIG_NS;
use crate::xml::{Document, Element, Limits};

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What we take from an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect: Option<String>,
    pub sso_post: Option<String>,
    /// SingleLogoutService endpoints, in document order.
    pub single_logout: Vec<LogoutEndpoint>,
    /// DER certificates with `use="signing"` or no `use`.
    pub signing_certificates: Vec<Vec<u8>>,
    pub name_id_formats: Vec<String>,
    pub want_authn_requests_signed: bool,
}

/// An IdP `SingleLogoutService`: where LogoutRequests go, and where LogoutResponses go
/// (`ResponseLocation`, defaulting to `Location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutEndpoint {
    pub binding: String,
    pub location: String,
    pub response_location: Option<String>,
}

/// Parse IdP metadata: an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly
/// one entity with an `IDPSSODescriptor`. The message names what is wrong.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, String> {
    // Metadata is bigger than a Response (many certificates, long descriptors).
    let limits = Limits { max_bytes: 4 << 20, ..Limits::default() };
    let doc = Document::parse(xml.as_bytes(), &limits).map_err(|e| format!("metadata is not readable XML: {e}"))?;
    let root = doc.root();
    let candidates: Vec<Element<'_>> = if root.is(MD_NS, "EntityDescriptor") {
        vec![root]
    } else if root.is(MD_NS, "EntitiesDescriptor") {
        root.descendants().filter(|e| e.is(MD_NS, "EntityDescriptor") && e.children_named(MD_NS, "IDPSSODescriptor").next().is_some()).collect()
    } else {
        return Err(format!("metadata root is <{}>, expected md:EntityDescriptor or md:EntitiesDescriptor", root.qualified_name()));
    };
    let entity = match candidates[..] {
        [one] => one,
        [] => return Err("metadata describes no identity provider (no IDPSSODescriptor)".into()),
        _ => return Err(format!("metadata describes {} identity providers; give the metadata of exactly one", candidates.len())),
    };
    let entity_id = entity.attribute("entityID").filter(|s| !s.is_empty()).ok_or("EntityDescriptor has no entityID")?.to_string();
    let idp = entity
        .children_named(MD_NS, "IDPSSODescriptor")
        .find(|d| d.attribute("protocolSupportEnumeration").is_some_and(|p| p.split_ascii_whitespace().any(|p| p == PROTOCOL_NS)))
        .ok_or("the entity has no IDPSSODescriptor supporting SAML 2.0")?;

    let endpoint = |name: &str, binding: &str| -> Result<Option<String>, String> {
        match idp.children_named(MD_NS, name).find(|e| e.attribute("Binding") == Some(binding)) {
            None => Ok(None),
            Some(e) => {
                let location = e.attribute("Location").ok_or_else(|| format!("{name} has no Location"))?.trim().to_string();
                crate::url::check_endpoint(&location).map_err(|m| format!("{name} Location {m}"))?;
                Ok(Some(location))
            }
        }
    };
    let sso_redirect = endpoint("SingleSignOnService", BINDING_REDIRECT)?;
    let sso_post = endpoint("SingleSignOnService", BINDING_POST)?;
    let mut single_logout = Vec::new();
    for service in idp.children_named(MD_NS, "SingleLogoutService") {
        let (Some(binding), Some(location)) = (service.attribute("Binding"), service.attribute("Location")) else {
            return Err("SingleLogoutService needs Binding and Location".into());
        };
        let location = location.trim().to_string();
        crate::url::check_endpoint(&location).map_err(|m| format!("SingleLogoutService Location {m}"))?;
        let response_location = service.attribute("ResponseLocation").map(|r| r.trim().to_string());
        if let Some(response_location) = &response_location {
            crate::url::check_endpoint(response_location).map_err(|m| format!("SingleLogoutService ResponseLocation {m}"))?;
        }
        single_logout.push(LogoutEndpoint { binding: binding.to_string(), location, response_location });
    }

    let mut signing_certificates = Vec::new();
    for key_descriptor in idp.children_named(MD_NS, "KeyDescriptor") {
        if !matches!(key_descriptor.attribute("use"), None | Some("signing")) {
            continue;
        }
        for certificate in key_descriptor.descendants().filter(|e| e.is(DSIG_NS, "X509Certificate")) {
            let compact: String = certificate.text().chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| "an X509Certificate in KeyDescriptor is not valid base64".to_string())?;
            if !signing_certificates.contains(&der) {
                signing_certificates.push(der);
            }
        }
    }
    if signing_certificates.is_empty() {
        return Err("IDPSSODescriptor has no signing certificate (KeyDescriptor use=\"signing\")".into());
    }
    Ok(IdpMetadata {
        entity_id,
        sso_redirect,
        sso_post,
        single_logout,
        signing_certificates,
        name_id_formats: idp.children_named(MD_NS, "NameIDFormat").map(|e| e.text().trim().to_string()).collect(),
        want_authn_requests_signed: idp.attribute("WantAuthnRequestsSigned") == Some("true"),
    })
}

/// Our SP metadata for this connector: entity ID, ACS (HTTP-POST), NameID format, and
/// whether we sign requests / want signed assertions.
pub fn sp_metadata(connector: &Connector, signing_certificate_der: Option<&[u8]>) -> String {
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<md:EntityDescriptor xmlns:md=\"{MD_NS}\" entityID=\"{}\">\n",
        escape(&connector.entity_id)
    ));
    xml.push_str(&format!(
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{PROTOCOL_NS}\">\n",
        connector.sign_authn_request
    ));
    if let Some(der) = signing_certificate_der {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        xml.push_str(&format!(
            "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n"
        ));
    }
    // Our request-signing key and decryption keys (rollover: all of them) as bare RSA key
    // values: a certificate would need signing, and the key is what the IdP needs.
    let key_value = |modulus: &str, exponent: &str| {
        format!("<ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{modulus}</ds:Modulus><ds:Exponent>{exponent}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>")
    };
    if signing_certificate_der.is_none() && connector.sign_authn_request {
        let signing_key = connector.private_key.as_deref().and_then(|pem| super::authn_request::SpSigningKey::from_pem(pem, connector.private_key_pass.as_deref()).ok());
        if let Some(key) = signing_key {
            let (modulus, exponent) = key.rsa_key_value();
            xml.push_str(&format!("    <md:KeyDescriptor use=\"signing\">{}</md:KeyDescriptor>\n", key_value(&modulus, &exponent)));
        }
    }
    for key in &connector.decryption_keys {
        let (modulus, exponent) = key.rsa_key_value();
        xml.push_str(&format!("    <md:KeyDescriptor use=\"encryption\">{}", key_value(&modulus, &exponent)));
        for method in super::encryption::SUPPORTED_METHODS {
            xml.push_str(&format!("<md:EncryptionMethod Algorithm=\"{method}\"/>"));
        }
        xml.push_str("</md:KeyDescriptor>\n");
    }
    for binding in [BINDING_REDIRECT, BINDING_POST] {
        xml.push_str(&format!("    <md:SingleLogoutService Binding=\"{binding}\" Location=\"{}\"/>\n", escape(&connector.single_logout_url)));
    }
    let format = connector.name_id_format.as_deref().unwrap_or(super::config::NAMEID_UNSPECIFIED);
    xml.push_str(&format!("    <md:NameIDFormat>{}</md:NameIDFormat>\n", escape(format)));
    xml.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\n",
        escape(&connector.acs_url)
    ));
    xml.push_str("  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n");
    xml
}

/// Escape text for an XML attribute value or text node we write.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_B64: &str = "MIIBszCCAVmgAwIBAgIUAA==";

    fn idp_metadata(prefix: &str, cert: &str) -> String {
        let p = if prefix.is_empty() { String::new() } else { format!("{prefix}:") };
        let decl = if prefix.is_empty() { "xmlns".to_string() } else { format!("xmlns:{prefix}") };
        format!(
            r#"<{p}EntityDescriptor {decl}="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/metadata">
  <{p}IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <{p}KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>
{cert}
</X509Certificate></X509Data></KeyInfo></{p}KeyDescriptor>
    <{p}KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo></{p}KeyDescriptor>
    <{p}SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/slo"/>
    <{p}NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</{p}NameIDFormat>
    <{p}SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.test/sso/post"/>
    <{p}SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>
  </{p}IDPSSODescriptor>
</{p}EntityDescriptor>"#
        )
    }

    #[test]
    fn any_prefix_works() {
        for prefix in ["md", "", "saml2md", "x"] {
            let md = parse_idp_metadata(&idp_metadata(prefix, CERT_B64)).unwrap();
            assert_eq!(md.entity_id, "https://idp.example.test/metadata");
            assert_eq!(md.sso_redirect.as_deref(), Some("https://idp.example.test/sso"));
            assert_eq!(md.sso_post.as_deref(), Some("https://idp.example.test/sso/post"));
            assert_eq!(md.signing_certificates.len(), 1, "encryption key excluded");
            assert!(md.want_authn_requests_signed);
            assert_eq!(md.single_logout, vec![LogoutEndpoint { binding: BINDING_REDIRECT.into(), location: "https://idp.example.test/slo".into(), response_location: None }]);
            assert_eq!(md.name_id_formats, vec!["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"]);
        }
    }

    #[test]
    fn entities_descriptor_with_one_idp() {
        let inner = idp_metadata("md", CERT_B64);
        let wrapped = format!("<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}</md:EntitiesDescriptor>", inner.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", ""));
        assert!(parse_idp_metadata(&wrapped).is_ok());
        let two = format!("<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{0}{0}</md:EntitiesDescriptor>", inner.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", ""));
        assert!(parse_idp_metadata(&two).unwrap_err().contains("2 identity providers"));
    }

    #[test]
    fn insecure_endpoint_refused() {
        let md = idp_metadata("md", CERT_B64).replace("https://idp.example.test/sso\"", "http://idp.example.test/sso\"");
        assert!(parse_idp_metadata(&md).unwrap_err().contains("https"));
    }
}
