//! XML-DSig against documents signed by the real signer (xmlsec1, `scripts/gen-fixtures.sh`):
//! every supported algorithm verifies, and every known trick fails with its own code.

use saml_edge::dsig::{self, TrustedKey, Verified, VerifyPolicy};
use saml_edge::xml::{Document, Element, Limits};
use saml_edge::Error;

const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/signed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (run scripts/gen-fixtures.sh)"))
}

fn keys(names: &[&str]) -> Vec<TrustedKey> {
    names
        .iter()
        .flat_map(|name| {
            let path = format!("{}/tests/keys/{name}.crt", env!("CARGO_MANIFEST_DIR"));
            TrustedKey::from_certificates(&std::fs::read_to_string(path).expect("cert")).expect("parse cert")
        })
        .collect()
}

fn idp() -> Vec<TrustedKey> {
    keys(&["idp-rsa2048"])
}

fn find<'d>(doc: &'d Document, ns: &str, local: &str) -> Element<'d> {
    std::iter::once(doc.root()).chain(doc.root().descendants()).find(|e| e.is(ns, local)).expect("element present")
}

/// Parse, then verify the signature carried by the first `{ns}local` element.
fn verify_with(xml: &str, ns: &str, local: &str, keys: &[TrustedKey], policy: &VerifyPolicy) -> Result<(String, usize), Error> {
    let doc = Document::parse(xml.as_bytes(), &Limits::default())?;
    let element = find(&doc, ns, local);
    let verified = dsig::verify_element(element, keys, policy)?;
    Ok((verified.element().local_name().to_string(), verified.key_index()))
}

fn assertion_code(xml: &str) -> &'static str {
    assertion_code_with(xml, &idp(), &VerifyPolicy::default())
}

fn assertion_code_with(xml: &str, keys: &[TrustedKey], policy: &VerifyPolicy) -> &'static str {
    match verify_with(xml, SAML_NS, "Assertion", keys, policy) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Replace exactly one occurrence, so a test never silently mutates nothing.
fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(xml.matches(from).count(), 1, "expected exactly one {from:?}");
    xml.replacen(from, to, 1)
}

fn signed_assertion_block(xml: &str) -> &str {
    let start = xml.find("<saml:Assertion").expect("assertion start");
    let end = xml.find("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    &xml[start..end]
}

// --- what must verify ------------------------------------------------------------------

#[test]
fn every_supported_algorithm_verifies() {
    for (name, key) in [
        ("assertion-rsa-sha256.xml", "idp-rsa2048"),
        ("assertion-rsa-sha384.xml", "idp-rsa2048"),
        ("assertion-rsa-sha512.xml", "idp-rsa2048"),
        ("assertion-ecdsa-p256-sha256.xml", "idp-p256"),
        ("assertion-ecdsa-p384-sha384.xml", "idp-p384"),
        ("assertion-rsa-sha256-c14n10.xml", "idp-rsa2048"),
        ("assertion-rsa-sha256-exc-comments.xml", "idp-rsa2048"),
        ("assertion-rsa-sha256-prefixlist.xml", "idp-rsa2048"),
        ("assertion-rsa-sha256-large.xml", "idp-rsa2048"),
    ] {
        assert_eq!(assertion_code_with(&fixture(name), &keys(&[key]), &VerifyPolicy::default()), "ok", "{name}");
    }
}

#[test]
fn sha1_verifies_only_when_allowed() {
    let xml = fixture("assertion-rsa-sha1.xml");
    let allow = VerifyPolicy { allow_sha1: true, ..VerifyPolicy::default() };
    assert_eq!(assertion_code_with(&xml, &idp(), &allow), "ok");
    assert_eq!(assertion_code(&xml), "dsig.sha1_not_allowed");
}

#[test]
fn response_signature_and_double_signature_verify() {
    let policy = VerifyPolicy::default();
    assert!(verify_with(&fixture("response-rsa-sha256.xml"), SAMLP_NS, "Response", &idp(), &policy).is_ok());
    let both = fixture("both-rsa-sha256.xml");
    assert!(verify_with(&both, SAMLP_NS, "Response", &idp(), &policy).is_ok());
    assert!(verify_with(&both, SAML_NS, "Assertion", &idp(), &policy).is_ok());
}

#[test]
fn rollover_any_configured_key_verifies() {
    let keys = keys(&["idp-rsa2048", "rollover-rsa2048"]);
    let result = verify_with(&fixture("assertion-rollover-key.xml"), SAML_NS, "Assertion", &keys, &VerifyPolicy::default());
    assert_eq!(result.unwrap().1, 1, "the second (rollover) key verified");
}

#[test]
fn idp_shaped_responses_verify() {
    let policy = VerifyPolicy::default();
    for name in ["okta.xml", "entra.xml", "adfs.xml", "google.xml", "shibboleth.xml"] {
        let xml = fixture(name);
        assert_eq!(assertion_code(&xml), "ok", "{name}: assertion");
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        if dsig::signature_child(doc.root()).unwrap().is_some() {
            assert!(dsig::verify_element(doc.root(), &idp(), &policy).is_ok(), "{name}: response");
        }
    }
}

#[test]
fn weak_key_verifies_only_when_the_minimum_is_lowered() {
    let xml = fixture("assertion-weak-rsa1024.xml");
    let weak = keys(&["weak-rsa1024"]);
    assert_eq!(assertion_code_with(&xml, &weak, &VerifyPolicy::default()), "dsig.key_too_small");
    assert_eq!(assertion_code_with(&xml, &weak, &VerifyPolicy { min_rsa_bits: 1024, ..VerifyPolicy::default() }), "ok");
}

#[test]
fn verified_handle_covers_the_element_but_not_its_signature() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    let assertion = find(&doc, SAML_NS, "Assertion");
    let verified: Verified<'_> = dsig::verify_element(assertion, &idp(), &VerifyPolicy::default()).unwrap();
    let name_id = find(&doc, SAML_NS, "NameID");
    let signature = dsig::signature_child(assertion).unwrap().unwrap();
    assert!(verified.covers(name_id.id()));
    assert!(!verified.covers(signature.id()));
    assert!(!verified.covers(doc.root().id()));
}

#[test]
fn comment_injected_into_signed_name_id_cannot_truncate_it() {
    // Comments are not part of the digest, so this still verifies; the text read must be
    // the whole value, never the part before the comment.
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">alice@example.com</saml:NameID>", ">alice@example.com<!---->.evil.test</saml:NameID>");
    assert_eq!(assertion_code(&xml), "dsig.digest_mismatch", "appending text changes the digest");
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">alice@example.com</saml:NameID>", ">alice@example<!---->.com</saml:NameID>");
    assert_eq!(assertion_code(&xml), "ok");
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(find(&doc, SAML_NS, "NameID").text(), "alice@example.com");
}

// --- what must fail, each with its code -------------------------------------------------

#[test]
fn changed_byte_in_signed_content() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">alice@example.com</saml:NameID>", ">alicf@example.com</saml:NameID>");
    assert_eq!(assertion_code(&xml), "dsig.digest_mismatch");
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "NotOnOrAfter=\"2026-01-01T00:10:00Z\"", "NotOnOrAfter=\"2036-01-01T00:10:00Z\"");
    assert_eq!(assertion_code(&xml), "dsig.digest_mismatch");
}

#[test]
fn changed_byte_in_digest_value() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let xml = replace_once(&xml, "<ds:DigestValue>/RPm", "<ds:DigestValue>/RPn");
    assert_eq!(assertion_code(&xml), "dsig.digest_mismatch");
}

#[test]
fn changed_byte_in_signature_value() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:SignatureValue>Aeu", "<ds:SignatureValue>Beu");
    assert_eq!(assertion_code(&xml), "dsig.signature_invalid");
}

#[test]
fn changed_byte_in_signed_info() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:Reference URI=\"#_assert-0001\">", "<ds:Reference URI=\"#_assert-0001\" Type=\"x\">");
    assert_eq!(assertion_code(&xml), "dsig.signature_invalid");
}

#[test]
fn wrong_key() {
    assert_eq!(assertion_code_with(&fixture("assertion-rsa-sha256.xml"), &keys(&["other-rsa2048"]), &VerifyPolicy::default()), "dsig.signature_invalid");
}

#[test]
fn key_only_in_key_info_is_not_trusted() {
    // Signed by the attacker's key, whose certificate rides along in KeyInfo.
    assert_eq!(assertion_code(&fixture("assertion-keyinfo-attacker.xml")), "dsig.signature_invalid");
}

#[test]
fn no_configured_keys() {
    assert_eq!(assertion_code_with(&fixture("assertion-rsa-sha256.xml"), &[], &VerifyPolicy::default()), "dsig.no_trusted_keys");
}

#[test]
fn key_of_the_wrong_family() {
    assert_eq!(assertion_code_with(&fixture("assertion-ecdsa-p256-sha256.xml"), &idp(), &VerifyPolicy::default()), "dsig.no_matching_key");
}

#[test]
fn two_elements_with_the_same_id() {
    // XSW: a forged copy of the signed assertion, with the same ID, placed first.
    let xml = fixture("assertion-rsa-sha256.xml");
    let forged = signed_assertion_block(&xml).replace("alice@example.com", "mallory@example.com");
    let xml = replace_once(&xml, "  <saml:Assertion ", &format!("{forged}\n  <saml:Assertion "));
    assert_eq!(assertion_code(&xml), "dsig.reference_not_unique");
}

#[test]
fn id_duplicated_elsewhere_in_the_document() {
    let xml = replace_once(
        &fixture("assertion-rsa-sha256.xml"),
        "<samlp:Status>",
        "<samlp:Extensions><a ID=\"_x\"/><b Id=\"_x\"/></samlp:Extensions><samlp:Status>",
    );
    assert_eq!(assertion_code(&xml), "dsig.duplicate_id");
}

#[test]
fn second_signed_info() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let si_start = xml.find("<ds:SignedInfo>").unwrap();
    let si_end = xml.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
    let copy = xml[si_start..si_end].to_string();
    let xml = replace_once(&xml, "<ds:KeyInfo>", &format!("<ds:KeyInfo>{copy}"));
    assert_eq!(assertion_code(&xml), "dsig.signed_info_not_unique");
}

#[test]
fn signed_info_wrapped_in_another_element() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:SignedInfo>", "<ds:Wrapper><ds:SignedInfo>");
    let xml = replace_once(&xml, "</ds:SignedInfo>", "</ds:SignedInfo></ds:Wrapper>");
    assert_eq!(assertion_code(&xml), "dsig.signed_info_misplaced");
}

#[test]
fn comment_inside_digest_value() {
    // Exclusive C14N drops the comment from SignedInfo, so the signature itself would
    // still verify: the value must be refused on its own terms.
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:DigestValue>/RPm", "<ds:DigestValue>/R<!-- x -->Pm");
    assert_eq!(assertion_code(&xml), "dsig.value_not_plain_text");
}

#[test]
fn element_inside_signature_value() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:SignatureValue>Aeu", "<ds:SignatureValue><x/>Aeu");
    assert_eq!(assertion_code(&xml), "dsig.value_not_plain_text");
}

#[test]
fn reference_to_an_element_that_is_not_the_signatures_parent() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "URI=\"#_assert-0001\"", "URI=\"#_resp-0001\"");
    assert_eq!(assertion_code(&xml), "dsig.reference_not_parent");
}

#[test]
fn signature_moved_to_an_unsigned_element() {
    // XSW: the genuine signature is lifted into a forged assertion; its Reference still
    // names the genuine assertion, which now sits elsewhere.
    let xml = fixture("response-rsa-sha256.xml");
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    assert!(dsig::verify_element(doc.root(), &idp(), &VerifyPolicy::default()).is_ok());
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &xml[sig_start..sig_end];
    let without = xml.replacen(signature, "", 1);
    let forged = without.replacen("<saml:Issuer>https://idp.example.test/metadata</saml:Issuer>", &format!("<saml:Issuer>https://idp.example.test/metadata</saml:Issuer>{signature}"), 2);
    // The signature now sits in the Assertion (second Issuer) and in the Response again.
    let code = assertion_code(&forged);
    assert_eq!(code, "dsig.reference_not_parent");
}

#[test]
fn reference_not_found() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "URI=\"#_assert-0001\"", "URI=\"#_nowhere\"");
    assert_eq!(assertion_code(&xml), "dsig.reference_not_found");
}

#[test]
fn whole_document_and_xpointer_references_refused() {
    for uri in ["", "#xpointer(/)", "#xpointer(id('_assert-0001'))", "http://example.com/x"] {
        let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "URI=\"#_assert-0001\"", &format!("URI=\"{uri}\""));
        assert_eq!(assertion_code(&xml), "dsig.reference_uri_unsupported", "{uri}");
    }
}

#[test]
fn xpath_transform() {
    assert_eq!(assertion_code(&fixture("assertion-xpath-transform.xml")), "dsig.transform_forbidden");
}

#[test]
fn xslt_transform() {
    let xml = replace_once(
        &fixture("assertion-rsa-sha256.xml"),
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"/></ds:Transform>",
    );
    assert_eq!(assertion_code(&xml), "dsig.transform_forbidden");
}

#[test]
fn base64_transform() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "xmldsig#enveloped-signature", "xmldsig#base64");
    assert_eq!(assertion_code(&xml), "dsig.transform_forbidden");
}

#[test]
fn more_than_two_transforms() {
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), exc, &format!("{exc}{exc}"));
    assert_eq!(assertion_code(&xml), "dsig.too_many_transforms");
}

#[test]
fn missing_enveloped_signature_transform() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>", "");
    assert_eq!(assertion_code(&xml), "dsig.enveloped_transform_missing");
}

#[test]
fn transforms_in_the_wrong_order() {
    let env = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), &format!("{env}{exc}"), &format!("{exc}{env}"));
    assert_eq!(assertion_code(&xml), "dsig.transform_chain_invalid");
}

#[test]
fn hmac_signature_method() {
    assert_eq!(assertion_code(&fixture("assertion-hmac-sha256.xml")), "dsig.signature_algorithm_unsupported");
}

#[test]
fn sha1_digest_with_sha256_signature_when_sha1_not_allowed() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1");
    assert_eq!(assertion_code(&xml), "dsig.sha1_not_allowed");
}

#[test]
fn unknown_canonicalization() {
    let xml = replace_once(
        &fixture("assertion-rsa-sha256.xml"),
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>",
    );
    assert_eq!(assertion_code(&xml), "dsig.c14n_unsupported");
}

#[test]
fn two_references() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let start = xml.find("<ds:Reference ").unwrap();
    let end = xml.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let reference = xml[start..end].to_string();
    let xml = replace_once(&xml, "</ds:Reference>", &format!("</ds:Reference>{reference}"));
    assert_eq!(assertion_code(&xml), "dsig.reference_count");
}

#[test]
fn two_signatures_on_one_element() {
    let xml = fixture("assertion-rsa-sha256.xml");
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = xml[start..end].to_string();
    let xml = replace_once(&xml, "</ds:Signature>", &format!("</ds:Signature>{signature}"));
    assert_eq!(assertion_code(&xml), "dsig.signature_not_unique");
}

#[test]
fn unsigned_element() {
    let xml = fixture("response-rsa-sha256.xml");
    assert_eq!(assertion_code(&xml), "dsig.signature_missing");
}

#[test]
fn object_inside_signature() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), "</ds:KeyInfo>", "</ds:KeyInfo><ds:Object><saml:Assertion ID=\"_evil\"/></ds:Object>");
    assert_eq!(assertion_code(&xml), "dsig.unexpected_content");
}

#[test]
fn doctype_with_internal_entity() {
    let xml = fixture("assertion-rsa-sha256.xml").replacen(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!DOCTYPE r [<!ENTITY who \"mallory@example.com\">]>",
        1,
    );
    assert_eq!(assertion_code(&xml), "xml.doctype_forbidden");
}

#[test]
fn two_roots() {
    let xml = fixture("assertion-rsa-sha256.xml") + "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
    assert_eq!(assertion_code(&xml), "xml.multiple_roots");
}

#[test]
fn ten_thousand_nested_elements() {
    let nested = "<x>".repeat(10_000) + &"</x>".repeat(10_000);
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">admins<", &format!(">admins{nested}<"));
    assert_eq!(assertion_code(&xml), "xml.too_deep");
}

#[test]
fn five_megabytes_of_input() {
    let padding = " ".repeat(5 * 1024 * 1024);
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">admins<", &format!(">admins{padding}<"));
    assert_eq!(assertion_code(&xml), "xml.too_large");
}

#[test]
fn every_error_has_a_message_naming_the_check() {
    let xml = replace_once(&fixture("assertion-rsa-sha256.xml"), ">alice@example.com</saml:NameID>", ">alicf@example.com</saml:NameID>");
    let error = verify_with(&xml, SAML_NS, "Assertion", &idp(), &VerifyPolicy::default()).unwrap_err();
    assert!(error.to_string().contains("digest"), "{error}");
    assert!(error.to_string().contains("_assert-0001"), "{error}");
}

#[test]
fn inclusive_prefix_list_is_bounded() {
    // Walked for every element before any signature check: an unbounded list is a CPU sink.
    let prefixes: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let xml = replace_once(
        &fixture("assertion-rsa-sha256.xml"),
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        &format!("<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{}\"/></ds:Transform>", prefixes.join(" ")),
    );
    assert_eq!(assertion_code(&xml), "dsig.prefix_list_too_long");
    let repeated = replace_once(
        &fixture("assertion-rsa-sha256-prefixlist.xml"),
        "PrefixList=\"xs xsi\"",
        &format!("PrefixList=\"{}\"", "xs xsi ".repeat(5000).trim_end()),
    );
    assert_eq!(assertion_code(&repeated), "dsig.signature_invalid", "duplicates are folded, the changed SignedInfo then fails");
}
