//! Enveloped XML-DSig verification: **this is where signatures are checked.**
//!
//! One shape is accepted, the one SAML uses: an element carries exactly one `ds:Signature`
//! child whose single `Reference URI="#id"` points back at that element, with the
//! enveloped-signature transform and at most one canonicalization. Everything about the
//! signature is parsed strictly, keys come only from the caller, and success yields a
//! [`Verified`] handle to the covered element — not a bool — so the SAML layer can only
//! read what the signature covered.

pub mod algorithms;
pub mod keys;

use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::c14n::{self, Method};
use crate::error::DsigError;
use crate::xml::{Document, Element, NodeId, NodeRef, XML_NS};
use algorithms::{HashAlgorithm, SignatureAlgorithm, Transform, DSIG_NS, EXC_C14N_NS};
pub use keys::{FixedWidthRsa, RsaKey, RsaVerifier, RustCryptoRsa, TrustedKey};

/// What the caller allows beyond the safe defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Accept SHA-1 digests and rsa-sha1 (some legacy IdPs still use them).
    pub allow_sha1: bool,
    /// Smallest accepted RSA modulus.
    pub min_rsa_bits: usize,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy { allow_sha1: false, min_rsa_bits: 2048 }
    }
}

/// Proof that `element` (and its subtree, minus the signature itself) was signed by one of
/// the trusted keys.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'d> {
    element: Element<'d>,
    signature: Element<'d>,
    algorithm: SignatureAlgorithm,
    key_index: usize,
}

impl<'d> Verified<'d> {
    /// The signed element.
    pub fn element(&self) -> Element<'d> {
        self.element
    }

    /// True if `node` is part of the signed content: inside the element and not inside
    /// the enveloped signature (which the digest excludes).
    pub fn covers(&self, node: NodeId) -> bool {
        self.element.contains(node) && !self.signature.contains(node)
    }

    pub fn algorithm(&self) -> &'static str {
        self.algorithm.uri
    }

    /// Which of the trusted keys verified it (index into the caller's list).
    pub fn key_index(&self) -> usize {
        self.key_index
    }
}

/// The `ds:Signature` child of `element`, if it has one. More than one is an error.
pub fn signature_child<'d>(element: Element<'d>) -> Result<Option<Element<'d>>, DsigError> {
    let mut signatures = element.children_named(DSIG_NS, "Signature");
    let first = signatures.next();
    if signatures.next().is_some() {
        return Err(DsigError::SignatureNotUnique { element: element.qualified_name() });
    }
    Ok(first)
}

/// Verify the enveloped signature carried by `element` with the default RSA backend.
pub fn verify_element<'d>(element: Element<'d>, keys: &[TrustedKey], policy: &VerifyPolicy) -> Result<Verified<'d>, DsigError> {
    verify_element_with(element, keys, policy, &RustCryptoRsa)
}

/// Verify the enveloped signature carried by `element`.
pub fn verify_element_with<'d>(
    element: Element<'d>,
    keys: &[TrustedKey],
    policy: &VerifyPolicy,
    rsa: &dyn RsaVerifier,
) -> Result<Verified<'d>, DsigError> {
    let signature = signature_child(element)?
        .ok_or_else(|| DsigError::SignatureMissing { element: element.qualified_name() })?;
    let parsed = SignatureParts::parse(signature, policy)?;

    // The reference must resolve, uniquely in the whole document, to the signature's parent.
    let target = resolve_id(element.document(), &parsed.reference_id)?;
    if target != element {
        return Err(DsigError::ReferenceNotParent { id: parsed.reference_id });
    }

    let usable = usable_keys(keys, &parsed.algorithm, policy)?;

    // Reference validation: canonical bytes of the element, signature excluded, straight
    // into the hasher.
    let mut hasher = parsed.digest_algorithm.hasher();
    c14n::canonicalize_element(element, &parsed.reference_method, Some(signature.id()), &mut hasher);
    let digest = hasher.finish();
    if !bool::from(digest.ct_eq(&parsed.digest_value)) {
        return Err(DsigError::DigestMismatch { id: parsed.reference_id });
    }

    // Signature validation over the canonical SignedInfo, in its document context.
    let mut hasher = parsed.algorithm.hash.hasher();
    c14n::canonicalize_element(parsed.signed_info, &parsed.signed_info_method, None, &mut hasher);
    let signed_info_digest = hasher.finish();
    for index in usable {
        if keys[index].verify(&parsed.algorithm, &signed_info_digest, &parsed.signature_value, rsa) {
            return Ok(Verified { element, signature, algorithm: parsed.algorithm, key_index: index });
        }
    }
    Err(DsigError::SignatureInvalid)
}

/// Verify a detached signature over `message`: the HTTP-Redirect binding's query
/// signature (SAML bindings §3.4.4.1), where the signed octets are the query string
/// itself. Same keys, algorithms and policy as XML signatures; returns the key's index.
pub fn verify_detached(message: &[u8], algorithm_uri: &str, signature: &[u8], keys: &[TrustedKey], policy: &VerifyPolicy) -> Result<usize, DsigError> {
    let algorithm = SignatureAlgorithm::from_uri(algorithm_uri, policy.allow_sha1)?;
    let usable = usable_keys(keys, &algorithm, policy)?;
    let digest = algorithm.hash.digest(message);
    usable.into_iter().find(|&index| keys[index].verify(&algorithm, &digest, signature, &RustCryptoRsa)).ok_or(DsigError::SignatureInvalid)
}

/// Indices of the trusted keys that fit the algorithm and the policy.
fn usable_keys(keys: &[TrustedKey], algorithm: &SignatureAlgorithm, policy: &VerifyPolicy) -> Result<Vec<usize>, DsigError> {
    if keys.is_empty() {
        return Err(DsigError::NoTrustedKeys);
    }
    let same_family: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].family() == algorithm.family).collect();
    if same_family.is_empty() {
        return Err(DsigError::NoMatchingKey { algorithm: algorithm.uri.to_string() });
    }
    let big_enough: Vec<usize> = same_family
        .iter()
        .copied()
        .filter(|&i| keys[i].family() != algorithms::KeyFamily::Rsa || keys[i].bits() >= policy.min_rsa_bits)
        .collect();
    if big_enough.is_empty() {
        let bits = same_family.iter().map(|&i| keys[i].bits()).max().unwrap_or(0);
        return Err(DsigError::KeyTooSmall { bits, min: policy.min_rsa_bits });
    }
    Ok(big_enough)
}

/// The parts of a `ds:Signature`, parsed and checked against the accepted shape.
struct SignatureParts<'d> {
    signed_info: Element<'d>,
    signed_info_method: Method,
    algorithm: SignatureAlgorithm,
    reference_id: String,
    reference_method: Method,
    digest_algorithm: HashAlgorithm,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

impl<'d> SignatureParts<'d> {
    fn parse(signature: Element<'d>, policy: &VerifyPolicy) -> Result<Self, DsigError> {
        // Exactly one SignedInfo anywhere inside the Signature, and it is a direct child:
        // a second or wrapped SignedInfo is how verifiers get confused about what was signed.
        let mut signed_infos = signature.descendants().filter(|e| e.is(DSIG_NS, "SignedInfo"));
        let signed_info = signed_infos.next().ok_or(DsigError::SignedInfoMissing)?;
        if signed_infos.next().is_some() {
            return Err(DsigError::SignedInfoNotUnique);
        }
        let mut children = ElementCursor::new(signature, "ds:Signature")?;
        if children.next() != Some(signed_info) {
            return Err(DsigError::SignedInfoMisplaced);
        }
        let signature_value = children.require("SignatureValue")?;
        children.optional("KeyInfo"); // Ignored: keys come from the configuration only.
        children.finish()?;

        let mut parts = ElementCursor::new(signed_info, "ds:SignedInfo")?;
        let canonicalization = parts.require("CanonicalizationMethod")?;
        let signed_info_method = canonicalization_method(canonicalization)?;
        let signature_method = parts.require("SignatureMethod")?;
        let algorithm = SignatureAlgorithm::from_uri(algorithm_of(signature_method, "ds:SignatureMethod")?, policy.allow_sha1)?;
        let references: Vec<Element<'d>> = parts.rest();
        let reference_count = references.iter().filter(|e| e.is(DSIG_NS, "Reference")).count();
        if let Some(other) = references.iter().find(|e| !e.is(DSIG_NS, "Reference")) {
            return Err(unexpected("ds:SignedInfo", *other));
        }
        let [reference] = references[..] else {
            return Err(DsigError::ReferenceCount { found: reference_count });
        };

        let uri = reference.attribute("URI").unwrap_or_default();
        let reference_id = match uri.strip_prefix('#') {
            Some(id) if !id.is_empty() && !id.contains(['(', ')', '#', ' ']) => id.to_string(),
            _ => return Err(DsigError::ReferenceUriUnsupported { uri: uri.to_string() }),
        };

        let mut reference_parts = ElementCursor::new(reference, "ds:Reference")?;
        let transforms = match reference_parts.optional("Transforms") {
            Some(transforms) => parse_transforms(transforms)?,
            None => Vec::new(),
        };
        let reference_method = reference_method(&transforms)?;
        let digest_method = reference_parts.require("DigestMethod")?;
        let digest_algorithm = HashAlgorithm::from_digest_uri(algorithm_of(digest_method, "ds:DigestMethod")?, policy.allow_sha1)?;
        let digest_value = base64_value(reference_parts.require("DigestValue")?, "DigestValue")?;
        reference_parts.finish()?;

        Ok(SignatureParts {
            signed_info,
            signed_info_method,
            algorithm,
            reference_id,
            reference_method,
            digest_algorithm,
            digest_value,
            signature_value: base64_value(signature_value, "SignatureValue")?,
        })
    }
}

fn parse_transforms(transforms: Element<'_>) -> Result<Vec<Transform>, DsigError> {
    let elements: Vec<Element<'_>> = ElementCursor::new(transforms, "ds:Transforms")?.rest();
    if let Some(other) = elements.iter().find(|e| !e.is(DSIG_NS, "Transform")) {
        return Err(unexpected("ds:Transforms", *other));
    }
    if elements.len() > 2 {
        return Err(DsigError::TooManyTransforms { found: elements.len() });
    }
    elements
        .iter()
        .map(|transform| match Transform::from_uri(algorithm_of(*transform, "ds:Transform")?)? {
            Transform::Canonicalize(method) => Ok(Transform::Canonicalize(with_prefix_list(method, *transform)?)),
            Transform::EnvelopedSignature => {
                ElementCursor::new(*transform, "the enveloped-signature Transform")?.finish()?;
                Ok(Transform::EnvelopedSignature)
            }
        })
        .collect()
}

/// The canonicalization a Reference's transform chain amounts to.
fn reference_method(transforms: &[Transform]) -> Result<Method, DsigError> {
    let method = match transforms {
        [Transform::EnvelopedSignature] => Method::default(), // implicit inclusive C14N
        [Transform::EnvelopedSignature, Transform::Canonicalize(method)] => method.clone(),
        [Transform::Canonicalize(_), Transform::EnvelopedSignature] => {
            return Err(DsigError::TransformChainInvalid { detail: "enveloped-signature must come before canonicalization" })
        }
        [Transform::EnvelopedSignature, Transform::EnvelopedSignature] => {
            return Err(DsigError::TransformChainInvalid { detail: "enveloped-signature listed twice" })
        }
        _ => return Err(DsigError::EnvelopedTransformMissing),
    };
    // A bare-name "#id" reference selects the element without comments, whatever the
    // method says (XML-DSig §4.3.3.3); only #xpointer references keep them.
    Ok(Method { with_comments: false, ..method })
}

fn canonicalization_method(element: Element<'_>) -> Result<Method, DsigError> {
    let uri = algorithm_of(element, "ds:CanonicalizationMethod")?;
    let method = Method::from_uri(uri).ok_or_else(|| DsigError::CanonicalizationUnsupported { algorithm: uri.to_string() })?;
    with_prefix_list(method, element)
}

/// Reads an exclusive method's `InclusiveNamespaces PrefixList`; refuses other children.
fn with_prefix_list(mut method: Method, element: Element<'_>) -> Result<Method, DsigError> {
    let mut children = ElementCursor::new(element, "a canonicalization method")?;
    if method.exclusive {
        if let Some(list) = children.next_if(|e| e.is(EXC_C14N_NS, "InclusiveNamespaces")) {
            method.inclusive_prefixes = prefix_list(list.attribute("PrefixList").unwrap_or_default())?;
        }
    }
    children.finish()?;
    Ok(method)
}

/// Most prefixes an `InclusiveNamespaces PrefixList` may name. Real ones name a handful
/// (`xs xsi`); the list is walked for every element before any signature is checked, so
/// an unbounded one would be a free CPU sink.
const MAX_INCLUSIVE_PREFIXES: usize = 32;

fn prefix_list(list: &str) -> Result<Vec<String>, DsigError> {
    let mut prefixes: Vec<String> = Vec::new();
    for prefix in list.split_ascii_whitespace() {
        if !prefixes.iter().any(|p| p == prefix) {
            prefixes.push(prefix.to_string());
        }
        if prefixes.len() > MAX_INCLUSIVE_PREFIXES || prefix.len() > 64 {
            return Err(DsigError::PrefixListTooLong { limit: MAX_INCLUSIVE_PREFIXES });
        }
    }
    Ok(prefixes)
}

fn algorithm_of<'d>(element: Element<'d>, name: &'static str) -> Result<&'d str, DsigError> {
    element.attribute("Algorithm").ok_or(DsigError::MissingElement { within: name, name: "Algorithm attribute" })
}

/// A base64 value that must be plain text: a comment or element inside a DigestValue or
/// SignatureValue is refused rather than skipped.
fn base64_value(element: Element<'_>, field: &'static str) -> Result<Vec<u8>, DsigError> {
    let mut compact = String::new();
    for child in element.children() {
        match child {
            NodeRef::Text(text) => compact.extend(text.chars().filter(|c| !c.is_ascii_whitespace())),
            _ => return Err(DsigError::ValueNotPlainText { field }),
        }
    }
    base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| DsigError::ValueBadBase64 { field })
}

/// Attributes that carry IDs. Counting all of them (not just SAML's `ID`) means no
/// element can shadow another under a different spelling.
fn is_id_attribute(namespace: Option<&str>, local: &str) -> bool {
    match namespace {
        None => matches!(local, "ID" | "Id" | "id"),
        Some(ns) => ns == XML_NS && local == "id",
    }
}

/// The one element whose ID is `id`. IDs must be unique across the whole document.
fn resolve_id<'d>(doc: &'d Document, id: &str) -> Result<Element<'d>, DsigError> {
    let mut found: Vec<Element<'d>> = Vec::new();
    let mut seen: std::collections::HashSet<&'d str> = std::collections::HashSet::new();
    let mut duplicate: Option<&'d str> = None;
    for element in doc.elements() {
        for attribute in element.attributes() {
            if !is_id_attribute(attribute.namespace(), attribute.local_name()) {
                continue;
            }
            if attribute.value() == id {
                found.push(element);
            }
            if !seen.insert(attribute.value()) && duplicate.is_none() {
                duplicate = Some(attribute.value());
            }
        }
    }
    match found[..] {
        [] => Err(DsigError::ReferenceNotFound { id: id.to_string() }),
        [element] => match duplicate {
            Some(other) => Err(DsigError::DuplicateId { id: other.to_string() }),
            None => Ok(element),
        },
        _ => Err(DsigError::ReferenceNotUnique { id: id.to_string(), count: found.len() }),
    }
}

fn unexpected(within: &'static str, element: Element<'_>) -> DsigError {
    DsigError::UnexpectedContent { within, found: format!("element <{}>", element.qualified_name()) }
}

/// Walks the child elements of a signature structure in schema order. Text other than
/// whitespace is refused up front; comments and PIs are allowed between elements.
struct ElementCursor<'d> {
    within: &'static str,
    elements: std::iter::Peekable<std::vec::IntoIter<Element<'d>>>,
}

impl<'d> ElementCursor<'d> {
    fn new(parent: Element<'d>, within: &'static str) -> Result<Self, DsigError> {
        let mut elements = Vec::new();
        for child in parent.children() {
            match child {
                NodeRef::Element(e) => elements.push(e),
                NodeRef::Text(t) if !crate::xml::is_xml_whitespace(t) => {
                    return Err(DsigError::UnexpectedContent { within, found: "text".into() })
                }
                _ => {}
            }
        }
        Ok(ElementCursor { within, elements: elements.into_iter().peekable() })
    }

    fn next(&mut self) -> Option<Element<'d>> {
        self.elements.next()
    }

    fn next_if(&mut self, f: impl FnOnce(&Element<'d>) -> bool) -> Option<Element<'d>> {
        self.elements.next_if(f)
    }

    fn optional(&mut self, local: &str) -> Option<Element<'d>> {
        self.elements.next_if(|e| e.is(DSIG_NS, local))
    }

    fn require(&mut self, local: &'static str) -> Result<Element<'d>, DsigError> {
        match self.elements.next() {
            Some(e) if e.is(DSIG_NS, local) => Ok(e),
            Some(other) => Err(unexpected(self.within, other)),
            None => Err(DsigError::MissingElement { within: self.within, name: local }),
        }
    }

    fn rest(self) -> Vec<Element<'d>> {
        self.elements.collect()
    }

    fn finish(mut self) -> Result<(), DsigError> {
        match self.elements.next() {
            Some(other) => Err(unexpected(self.within, other)),
            None => Ok(()),
        }
    }
}
