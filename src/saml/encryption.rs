//! XML Encryption in SAML: an `EncryptedAssertion` → the plaintext Assertion, an
//! `EncryptedID` → the plaintext NameID (both are SAML's EncryptedElementType).
//!
//! Key transport: RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, and `xmlenc11#rsa-oaep` with
//! SHA-1/256/384/512 digests and MGF1 variants); RSA-1.5 only when the connector opts in
//! (Bleichenbacher). Content: AES-128/192/256-CBC and AES-128/192/256-GCM. The EncryptedKey
//! may sit inside EncryptedData's KeyInfo or beside it (RetrievalMethod / KeyName), and
//! every configured SP key is tried (rollover). Whatever fails while unwrapping the key
//! yields one and the same error, so the ACS is no padding oracle.

use aes_gcm::aead::{Aead as _, KeyInit as _};
use base64::Engine as _;
use cbc::cipher::{BlockModeDecrypt as _, KeyIvInit as _};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;

use crate::dsig::algorithms::DSIG_NS;
use super::ASSERTION_NS;
use crate::error::{Error, SamlError};
use crate::xml::{Document, Element, Limits, NodeRef};

pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const ENCRYPTED_KEY_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";

/// An SP decryption key (`encPrivateKey`).
#[derive(Clone)]
pub struct DecryptionKey {
    key: rsa::RsaPrivateKey,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionKey(..)")
    }
}

impl DecryptionKey {
    /// Every private key in `pem` (several PEM blocks = rollover): PKCS#1, PKCS#8, or
    /// encrypted PKCS#8 with `pass`.
    pub fn from_pem(pem: &str, pass: Option<&str>) -> Result<Vec<DecryptionKey>, String> {
        let mut keys = Vec::new();
        let mut rest = pem;
        while let Some(start) = rest.find("-----BEGIN ") {
            let end_marker = rest[start..].find("-----END ").ok_or("PEM block without END line")? + start;
            let end = rest[end_marker + 9..].find("-----").map(|i| end_marker + 9 + i + 5).ok_or("PEM block without END line")?;
            let block = &rest[start..end];
            let key = if block.contains("BEGIN ENCRYPTED PRIVATE KEY") {
                let pass = pass.ok_or("the key is encrypted: encPrivateKeyPass is required")?;
                rsa::RsaPrivateKey::from_pkcs8_encrypted_pem(block, pass.as_bytes()).map_err(|e| format!("cannot decrypt the key: {e}"))?
            } else if block.contains("BEGIN RSA PRIVATE KEY") {
                rsa::RsaPrivateKey::from_pkcs1_pem(block).map_err(|e| format!("not a PKCS#1 RSA key: {e}"))?
            } else {
                rsa::RsaPrivateKey::from_pkcs8_pem(block).map_err(|e| format!("not a PKCS#8 RSA key: {e}"))?
            };
            keys.push(DecryptionKey { key });
            rest = &rest[end..];
        }
        if keys.is_empty() {
            return Err("no PEM private key found".into());
        }
        Ok(keys)
    }
}

impl DecryptionKey {
    /// The public half as an XML-DSig `RSAKeyValue` (base64 Modulus and Exponent), for SP
    /// metadata.
    pub fn rsa_key_value(&self) -> (String, String) {
        super::authn_request::rsa_key_value(&self.key.to_public_key())
    }
}

impl DecryptionKey {
    /// A key from PKCS#8 DER (test vectors, raw keys).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<DecryptionKey, String> {
        rsa::RsaPrivateKey::from_pkcs8_der(der).map(|key| DecryptionKey { key }).map_err(|e| e.to_string())
    }
}

/// RSA-OAEP key unwrapping as the decryptor does it (blinded), by XML algorithm URIs:
/// `digest` a DigestMethod (None = SHA-1), `mgf` an xmlenc11 MGF (None = MGF1-SHA1).
pub fn rsa_oaep_decrypt(key: &DecryptionKey, digest: Option<&str>, mgf: Option<&str>, label: Option<&[u8]>, ciphertext: &[u8]) -> Option<Vec<u8>> {
    let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
    oaep_decrypt(&key.key, &mut rng, oaep_hash(digest).ok()?, mgf_hash(mgf).ok()?, label, ciphertext)
}

/// Content decryption as the decryptor does it, by algorithm URI: AES-CBC (IV ‖ data,
/// ISO 10126 padding) or AES-GCM (IV ‖ data ‖ tag).
pub fn decrypt_content(algorithm: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let content = ContentAlgorithm::from_uri(algorithm)?;
    if key.len() != content.key_len() {
        return Err(SamlError::DecryptionFailed { detail: "the session key does not fit the content algorithm".into() });
    }
    content.decrypt(key, data)
}

/// Encryption methods we decrypt, in preference order, for SP metadata.
pub const SUPPORTED_METHODS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    RSA_OAEP_11,
    RSA_OAEP_MGF1P,
];

/// The one error for anything that goes wrong once a session key is in hand (content
/// decryption, padding, the plaintext itself): identical text, so it is no oracle.
pub fn opaque_failure() -> SamlError {
    SamlError::DecryptionFailed { detail: OPAQUE_DETAIL.into() }
}
const OPAQUE_DETAIL: &str = "the encrypted assertion does not decrypt to a valid assertion with the configured keys";

/// [`opaque_failure`] for an EncryptedID.
fn opaque_name_id_failure() -> SamlError {
    SamlError::DecryptionFailed { detail: "the EncryptedID does not decrypt to a NameID with the configured keys".into() }
}

/// Decrypt the one EncryptedData of an `EncryptedAssertion` or `EncryptedID`; returns the
/// plaintext bytes.
pub fn decrypt_element(encrypted: Element<'_>, keys: &[DecryptionKey], allow_rsa15: bool) -> Result<Vec<u8>, SamlError> {
    let container = encrypted.local_name();
    let fail = |detail: String| SamlError::DecryptionFailed { detail };
    if keys.is_empty() {
        return Err(if container == "EncryptedID" { SamlError::EncryptedIdUnsupported } else { SamlError::EncryptedAssertionUnsupported });
    }
    let mut data = encrypted.children_named(XENC_NS, "EncryptedData");
    let encrypted_data = data.next().ok_or_else(|| fail(format!("{container} has no EncryptedData")))?;
    if data.next().is_some() {
        return Err(fail(format!("{container} has more than one EncryptedData")));
    }
    if let Some(kind) = encrypted_data.attribute("Type") {
        if kind != "http://www.w3.org/2001/04/xmlenc#Element" {
            return Err(fail("EncryptedData must encrypt an element".into()));
        }
    }
    let content = ContentAlgorithm::from_uri(algorithm(encrypted_data)?)?;
    let encrypted_key = find_encrypted_key(encrypted, encrypted_data)?;
    let session_key = unwrap_key(encrypted_key, keys, allow_rsa15, content.key_len())?;
    let ciphertext = cipher_value(encrypted_data)?;
    content.decrypt(&session_key, &ciphertext)
}

/// A NameID the IdP sent encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedNameId {
    pub value: String,
    pub format: Option<String>,
}

/// Decrypt an `EncryptedID`: the plaintext must be exactly one `saml:NameID` with text
/// only (a BaseID or anything else is refused). Call it only on an EncryptedID that a
/// verified signature covers: the ciphertext is then the IdP's, and no answer here can
/// serve as an oracle on someone else's.
pub fn decrypt_name_id(encrypted_id: Element<'_>, keys: &[DecryptionKey], allow_rsa15: bool) -> Result<DecryptedNameId, SamlError> {
    // What fails once the session key is in hand reads as one opaque failure; the rest
    // (an unknown algorithm, no matching EncryptedKey) keeps its detail, for interop.
    let plaintext = decrypt_element(encrypted_id, keys, allow_rsa15).map_err(|e| match e {
        SamlError::DecryptionFailed { detail } if detail == OPAQUE_DETAIL => opaque_name_id_failure(),
        other => other,
    })?;
    let doc = parse_decrypted(encrypted_id, &plaintext).map_err(|_| opaque_name_id_failure())?;
    let mut children = doc.root().child_elements();
    let name_id = children.next().filter(|n| n.is(ASSERTION_NS, "NameID") && n.child_elements().next().is_none());
    let stray_text = doc.root().children().any(|c| matches!(c, NodeRef::Text(t) if !crate::xml::is_xml_whitespace(t)));
    match name_id {
        Some(name_id) if children.next().is_none() && !stray_text => Ok(DecryptedNameId {
            value: name_id.text(),
            format: name_id.attribute("Format").map(String::from),
        }),
        _ => Err(opaque_name_id_failure()),
    }
}

/// Parse decrypted bytes inside an element that re-declares the namespaces in scope at
/// the encrypted element (and adds no binding of its own, so C14N sees the original
/// context).
pub(crate) fn parse_decrypted(encrypted: Element<'_>, plaintext: &[u8]) -> Result<Document, Error> {
    let text = std::str::from_utf8(plaintext).map_err(|_| SamlError::DecryptionFailed { detail: "the decrypted content is not UTF-8".into() })?;
    let text = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, body)| body),
        None => text,
    };
    let mut bindings: Vec<(Option<&str>, &str)> = Vec::new();
    for element in std::iter::once(encrypted).chain(encrypted.ancestors()) {
        for decl in element.declarations() {
            if !bindings.iter().any(|(p, _)| *p == decl.prefix()) {
                bindings.push((decl.prefix(), decl.uri()));
            }
        }
    }
    let mut wrapper = String::from("<decrypted");
    for (prefix, uri) in bindings {
        match prefix {
            Some(p) => wrapper.push_str(&format!(" xmlns:{p}=\"{}\"", super::metadata::escape(uri))),
            None => wrapper.push_str(&format!(" xmlns=\"{}\"", super::metadata::escape(uri))),
        }
    }
    wrapper.push('>');
    wrapper.push_str(text);
    wrapper.push_str("</decrypted>");
    Ok(Document::parse(wrapper.as_bytes(), &Limits::default())?)
}

fn algorithm<'d>(element: Element<'d>) -> Result<&'d str, SamlError> {
    element
        .children_named(XENC_NS, "EncryptionMethod")
        .next()
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or_else(|| SamlError::DecryptionFailed { detail: format!("{} has no EncryptionMethod Algorithm", element.local_name()) })
}

fn cipher_value(element: Element<'_>) -> Result<Vec<u8>, SamlError> {
    let value = element
        .children_named(XENC_NS, "CipherData")
        .next()
        .and_then(|d| d.children_named(XENC_NS, "CipherValue").next())
        .ok_or_else(|| SamlError::DecryptionFailed { detail: format!("{} has no CipherData/CipherValue", element.local_name()) })?;
    if value.children().any(|c| !matches!(c, NodeRef::Text(_))) {
        return Err(SamlError::DecryptionFailed { detail: "CipherValue must be plain base64 text".into() });
    }
    let compact: String = value.text().chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::DecryptionFailed { detail: "CipherValue is not base64".into() })
}

/// The EncryptedKey for this EncryptedData: inside its KeyInfo, or a sibling named by
/// RetrievalMethod (`URI="#id"`) or KeyName (`CarriedKeyName`), or the only sibling.
fn find_encrypted_key<'d>(encrypted: Element<'d>, encrypted_data: Element<'d>) -> Result<Element<'d>, SamlError> {
    let fail = |detail: &str| SamlError::DecryptionFailed { detail: detail.to_string() };
    let siblings: Vec<Element<'d>> = encrypted.children_named(XENC_NS, "EncryptedKey").collect();
    let key_info = encrypted_data.children_named(DSIG_NS, "KeyInfo").next();
    if let Some(key_info) = key_info {
        if let Some(inner) = key_info.children_named(XENC_NS, "EncryptedKey").next() {
            return Ok(inner);
        }
        if let Some(retrieval) = key_info.children_named(DSIG_NS, "RetrievalMethod").next() {
            if retrieval.attribute("Type").is_some_and(|t| t != ENCRYPTED_KEY_TYPE) {
                return Err(fail("RetrievalMethod must point at an EncryptedKey"));
            }
            let id = retrieval.attribute("URI").and_then(|u| u.strip_prefix('#')).ok_or_else(|| fail("RetrievalMethod URI must be \"#id\""))?;
            let matching: Vec<Element<'d>> = siblings.iter().copied().filter(|k| k.attribute("Id") == Some(id)).collect();
            return match matching[..] {
                [one] => Ok(one),
                _ => Err(fail("RetrievalMethod does not name exactly one EncryptedKey beside the EncryptedData")),
            };
        }
        if let Some(name) = key_info.children_named(DSIG_NS, "KeyName").next() {
            let name = name.text();
            let matching: Vec<Element<'d>> = siblings
                .iter()
                .copied()
                .filter(|k| k.children_named(XENC_NS, "CarriedKeyName").next().is_some_and(|c| c.text().trim() == name.trim()))
                .collect();
            return match matching[..] {
                [one] => Ok(one),
                _ => Err(fail("KeyName does not name exactly one EncryptedKey beside the EncryptedData")),
            };
        }
    }
    match siblings[..] {
        [one] => Ok(one),
        [] => Err(fail("no EncryptedKey for the EncryptedData")),
        _ => Err(fail("several EncryptedKeys and no KeyInfo saying which one")),
    }
}

/// RSA-decrypt the session key with each configured SP key. Every failure is reported
/// the same way (no oracle), and the length must fit the content algorithm.
fn unwrap_key(encrypted_key: Element<'_>, keys: &[DecryptionKey], allow_rsa15: bool, key_len: usize) -> Result<Vec<u8>, SamlError> {
    let uri = algorithm(encrypted_key)?;
    let method = encrypted_key.children_named(XENC_NS, "EncryptionMethod").next();
    let digest = method.and_then(|m| m.children_named(DSIG_NS, "DigestMethod").next()).and_then(|d| d.attribute("Algorithm"));
    let mgf = method.and_then(|m| m.children_named(XENC11_NS, "MGF").next()).and_then(|d| d.attribute("Algorithm"));
    let label = match method.and_then(|m| m.children_named(XENC_NS, "OAEPparams").next()) {
        Some(params) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(params.text().split_whitespace().collect::<String>())
                .map_err(|_| SamlError::DecryptionFailed { detail: "OAEPparams is not base64".into() })?,
        ),
        None => None,
    };
    let transport = match uri {
        RSA_OAEP_MGF1P => KeyTransport::Oaep { digest: oaep_hash(digest)?, mgf: OaepHash::Sha1 },
        RSA_OAEP_11 => KeyTransport::Oaep { digest: oaep_hash(digest)?, mgf: mgf_hash(mgf)? },
        RSA_1_5 if allow_rsa15 => KeyTransport::Pkcs1v15,
        RSA_1_5 => return Err(SamlError::Rsa15Refused),
        other => return Err(SamlError::DecryptionFailed { detail: format!("key transport {other} is not supported") }),
    };
    let ciphertext = cipher_value(encrypted_key)?;
    let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
    for key in keys {
        let result = match transport {
            KeyTransport::Oaep { digest, mgf } => oaep_decrypt(&key.key, &mut rng, digest, mgf, label.as_deref(), &ciphertext),
            // Implicit rejection: a malformed RSA-1.5 block yields a random key, so the
            // content decryption fails like any wrong key would (no Bleichenbacher oracle).
            KeyTransport::Pkcs1v15 => key.key.decrypt_blinded(&mut rng, rsa::Pkcs1v15Encrypt, &ciphertext).ok().filter(|k| k.len() == key_len).or_else(|| {
                let mut random = vec![0u8; key_len];
                getrandom::fill(&mut random).ok().map(|_| random)
            }),
        };
        if let Some(session_key) = result.filter(|k| k.len() == key_len) {
            return Ok(session_key);
        }
    }
    Err(opaque_failure())
}

#[derive(Clone, Copy)]
enum KeyTransport {
    Oaep { digest: OaepHash, mgf: OaepHash },
    Pkcs1v15,
}

#[derive(Clone, Copy)]
enum OaepHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn oaep_hash(uri: Option<&str>) -> Result<OaepHash, SamlError> {
    Ok(match uri {
        None | Some("http://www.w3.org/2000/09/xmldsig#sha1") => OaepHash::Sha1,
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => OaepHash::Sha256,
        Some("http://www.w3.org/2001/04/xmldsig-more#sha384") => OaepHash::Sha384,
        Some("http://www.w3.org/2001/04/xmlenc#sha512") => OaepHash::Sha512,
        Some(other) => return Err(SamlError::DecryptionFailed { detail: format!("OAEP digest {other} is not supported") }),
    })
}

fn mgf_hash(uri: Option<&str>) -> Result<OaepHash, SamlError> {
    Ok(match uri {
        None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => OaepHash::Sha1,
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => OaepHash::Sha256,
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha384") => OaepHash::Sha384,
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha512") => OaepHash::Sha512,
        Some(other) => return Err(SamlError::DecryptionFailed { detail: format!("MGF {other} is not supported") }),
    })
}

fn oaep_decrypt(
    key: &rsa::RsaPrivateKey,
    rng: &mut rsa::rand_core::UnwrapErr<getrandom::SysRng>,
    digest: OaepHash,
    mgf: OaepHash,
    label: Option<&[u8]>,
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    macro_rules! oaep {
        ($d:ty, $m:ty) => {{
            let padding = match label {
                Some(label) => rsa::Oaep::<$d, $m>::new_with_mgf_hash_and_label(label.to_vec()),
                None => rsa::Oaep::<$d, $m>::new_with_mgf_hash(),
            };
            key.decrypt_blinded(rng, padding, ciphertext).ok()
        }};
    }
    // Every digest with every MGF1 hash: IdPs pair them freely (SHA-256 with MGF1-SHA-1
    // is the commonest xmlenc11 choice, SHA-512 with MGF1-SHA-256 occurs too).
    macro_rules! with_mgf {
        ($d:ty) => {
            match mgf {
                OaepHash::Sha1 => oaep!($d, sha1::Sha1),
                OaepHash::Sha256 => oaep!($d, sha2::Sha256),
                OaepHash::Sha384 => oaep!($d, sha2::Sha384),
                OaepHash::Sha512 => oaep!($d, sha2::Sha512),
            }
        };
    }
    match digest {
        OaepHash::Sha1 => with_mgf!(sha1::Sha1),
        OaepHash::Sha256 => with_mgf!(sha2::Sha256),
        OaepHash::Sha384 => with_mgf!(sha2::Sha384),
        OaepHash::Sha512 => with_mgf!(sha2::Sha512),
    }
}

#[derive(Clone, Copy, Debug)]
enum ContentAlgorithm {
    Cbc(usize),
    Gcm(usize),
}

impl ContentAlgorithm {
    fn from_uri(uri: &str) -> Result<Self, SamlError> {
        Ok(match uri {
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => ContentAlgorithm::Cbc(16),
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => ContentAlgorithm::Cbc(24),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => ContentAlgorithm::Cbc(32),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => ContentAlgorithm::Gcm(16),
            "http://www.w3.org/2009/xmlenc11#aes192-gcm" => ContentAlgorithm::Gcm(24),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => ContentAlgorithm::Gcm(32),
            other => return Err(SamlError::DecryptionFailed { detail: format!("content encryption {other} is not supported") }),
        })
    }

    fn key_len(self) -> usize {
        match self {
            ContentAlgorithm::Cbc(n) | ContentAlgorithm::Gcm(n) => n,
        }
    }

    /// CBC: IV (16) ‖ ciphertext, ISO 10126 padding (only the last byte is meaningful).
    /// GCM: IV (12) ‖ ciphertext ‖ tag (16).
    fn decrypt(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
        let fail = opaque_failure;
        match self {
            ContentAlgorithm::Cbc(n) => {
                if data.len() < 32 || !data.len().is_multiple_of(16) {
                    return Err(fail());
                }
                let (iv, body) = data.split_at(16);
                let mut blocks: Vec<aes::Block> = body.chunks(16).filter_map(|c| aes::Block::try_from(c).ok()).collect();
                match n {
                    16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv).map_err(|_| fail())?.decrypt_blocks(&mut blocks),
                    24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv).map_err(|_| fail())?.decrypt_blocks(&mut blocks),
                    _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).map_err(|_| fail())?.decrypt_blocks(&mut blocks),
                }
                let mut plain: Vec<u8> = blocks.iter().flat_map(|b| b.iter().copied()).collect();
                let pad = usize::from(*plain.last().ok_or_else(fail)?);
                if pad == 0 || pad > 16 || pad > plain.len() {
                    return Err(fail());
                }
                plain.truncate(plain.len() - pad);
                Ok(plain)
            }
            ContentAlgorithm::Gcm(n) => {
                if data.len() < 12 + 16 {
                    return Err(fail());
                }
                let (iv, body) = data.split_at(12);
                let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::try_from(iv).map_err(|_| fail())?;
                let plain = match n {
                    16 => aes_gcm::Aes128Gcm::new_from_slice(key).map_err(|_| fail())?.decrypt(&nonce, body),
                    24 => aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key).map_err(|_| fail())?.decrypt(&nonce, body),
                    _ => aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| fail())?.decrypt(&nonce, body),
                };
                plain.map_err(|_| fail())
            }
        }
    }
}
