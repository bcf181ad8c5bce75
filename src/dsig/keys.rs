//! Trusted keys: the IdP certificates from the connector configuration, and nothing else.
//! A `KeyInfo` in a document never reaches this module.

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use subtle::ConstantTimeEq as _;

use super::algorithms::{HashAlgorithm, KeyFamily, SignatureAlgorithm};
use crate::error::DsigError;

/// A public key taken from a configured certificate.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: PublicKey,
    /// SHA-256 of the certificate DER, to name the key in logs and results.
    pub fingerprint_sha256: [u8; 32],
}

#[derive(Debug, Clone)]
enum PublicKey {
    Rsa(RsaKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl TrustedKey {
    /// Parse every certificate in `text`: one or more PEM blocks, or the bare base64 of
    /// one DER certificate as IdPs and metadata give it (whitespace tolerated).
    pub fn from_certificates(text: &str) -> Result<Vec<TrustedKey>, DsigError> {
        let ders = certificate_ders(text)?;
        ders.iter().map(|der| TrustedKey::from_der(der)).collect()
    }

    /// Parse one DER certificate. Validity dates are not checked: the certificate only
    /// carries the key the connector trusts.
    pub fn from_der(der: &[u8]) -> Result<TrustedKey, DsigError> {
        let (rest, certificate) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| DsigError::CertificateInvalid { detail: e.to_string() })?;
        if !rest.is_empty() {
            return Err(DsigError::CertificateInvalid { detail: "trailing bytes after the certificate".into() });
        }
        TrustedKey::from_public_key_der(certificate.public_key().raw, sha256(der))
    }

    /// A key from its DER SubjectPublicKeyInfo (for raw keys and test vectors);
    /// `fingerprint_sha256` names it in results.
    pub fn from_public_key_der(spki: &[u8], fingerprint_sha256: [u8; 32]) -> Result<TrustedKey, DsigError> {
        let key = if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) {
            PublicKey::Rsa(RsaKey::new(key))
        } else if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
            PublicKey::P256(key)
        } else if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
            PublicKey::P384(key)
        } else {
            return Err(DsigError::UnsupportedKey { detail: "only RSA, P-256 and P-384 public keys are supported".into() });
        };
        Ok(TrustedKey { key, fingerprint_sha256 })
    }

    pub fn family(&self) -> KeyFamily {
        match self.key {
            PublicKey::Rsa(_) => KeyFamily::Rsa,
            PublicKey::P256(_) | PublicKey::P384(_) => KeyFamily::Ecdsa,
        }
    }

    /// Modulus size for RSA keys, curve size for EC keys.
    pub fn bits(&self) -> usize {
        match &self.key {
            PublicKey::Rsa(key) => key.public.n_bits_precision() as usize,
            PublicKey::P256(_) => 256,
            PublicKey::P384(_) => 384,
        }
    }

    /// Check `signature` over data whose hash is `digest` (computed with `algorithm.hash`).
    pub fn verify(&self, algorithm: &SignatureAlgorithm, digest: &[u8], signature: &[u8], rsa: &dyn RsaVerifier) -> bool {
        match (&self.key, algorithm.family) {
            (PublicKey::Rsa(key), KeyFamily::Rsa) => rsa.verify_pkcs1v15(key, algorithm.hash, digest, signature),
            // XML-DSig carries ECDSA signatures as r‖s (IEEE P1363), not DER.
            (PublicKey::P256(key), KeyFamily::Ecdsa) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_prehash(digest, &sig).is_ok()),
            (PublicKey::P384(key), KeyFamily::Ecdsa) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_prehash(digest, &sig).is_ok()),
            _ => false,
        }
    }
}

/// What a configured certificate says about itself, for warnings and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    /// Validity, in Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl CertificateInfo {
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo, DsigError> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| DsigError::CertificateInvalid { detail: e.to_string() })?;
        Ok(CertificateInfo {
            subject: certificate.subject().to_string(),
            not_before: certificate.validity().not_before.timestamp(),
            not_after: certificate.validity().not_after.timestamp(),
        })
    }
}

/// RSA PKCS#1 v1.5 signature verification, behind a trait so that a measured, faster
/// backend (issue 5) can replace the default without touching the verifier.
pub trait RsaVerifier: Sync {
    /// True only if `signature` is a valid PKCS#1 v1.5 signature of `digest` (made with
    /// `hash`) under `key`. Must refuse non-canonical signatures (wrong length, s ≥ n).
    fn verify_pkcs1v15(&self, key: &RsaKey, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool;
}

/// The default backend: RustCrypto's `rsa`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCryptoRsa;

impl RsaVerifier for RustCryptoRsa {
    fn verify_pkcs1v15(&self, key: &RsaKey, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
        let key = &key.public;
        use rsa::Pkcs1v15Sign;
        let scheme = match hash {
            HashAlgorithm::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
            HashAlgorithm::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlgorithm::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlgorithm::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        signature.len() == key.size() && key.verify(scheme, digest, signature).is_ok()
    }
}

/// RSA PKCS#1 v1.5 verification on fixed-width Montgomery arithmetic (crypto-bigint
/// `Uint<LIMBS>` sized to the modulus): s^e mod n, then the expected EMSA-PKCS1-v1_5
/// encoding is *built* and compared — nothing in the decrypted block is parsed. The one
/// hand-assembled piece of public-key crypto (issue 5 allows it, measured): it must pass
/// every Wycheproof PKCS#1 v1.5 vector, and refuses non-canonical signatures (wrong
/// length, s ≥ n). Moduli other than 1024/2048/3072/4096 bits use [`RustCryptoRsa`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedWidthRsa;

impl RsaVerifier for FixedWidthRsa {
    fn verify_pkcs1v15(&self, key: &RsaKey, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
        let Some(fixed) = &key.fixed else {
            return RustCryptoRsa.verify_pkcs1v15(key, hash, digest, signature);
        };
        let size = key.public.size();
        if signature.len() != size {
            return false;
        }
        let Some(expected) = emsa_pkcs1_v15(hash, digest, size) else { return false };
        let decrypted = match &fixed.params {
            FixedParams::W1024(params) => public_op(params, fixed.exponent, signature),
            FixedParams::W2048(params) => public_op(params, fixed.exponent, signature),
            FixedParams::W3072(params) => public_op(params, fixed.exponent, signature),
            FixedParams::W4096(params) => public_op(params, fixed.exponent, signature),
        };
        decrypted.is_some_and(|em| bool::from(em.as_slice().ct_eq(&expected)))
    }
}

/// An RSA public key, with the Montgomery parameters of the fixed-width backend computed
/// once when the key is loaded (moduli of 1024/2048/3072/4096 bits, exponent < 2^64).
#[derive(Debug, Clone)]
pub struct RsaKey {
    public: rsa::RsaPublicKey,
    fixed: Option<FixedKey>,
}

#[derive(Debug, Clone)]
struct FixedKey {
    exponent: u64,
    params: FixedParams,
}

#[derive(Debug, Clone)]
enum FixedParams {
    W1024(Box<FixedMontyParams<{ U1024::LIMBS }>>),
    W2048(Box<FixedMontyParams<{ U2048::LIMBS }>>),
    W3072(Box<FixedMontyParams<{ U3072::LIMBS }>>),
    W4096(Box<FixedMontyParams<{ U4096::LIMBS }>>),
}

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, Uint, U1024, U2048, U3072, U4096, U64};

impl RsaKey {
    pub fn new(public: rsa::RsaPublicKey) -> RsaKey {
        let fixed = Self::prepare_fixed(&public);
        RsaKey { public, fixed }
    }

    pub fn public(&self) -> &rsa::RsaPublicKey {
        &self.public
    }

    fn prepare_fixed(public: &rsa::RsaPublicKey) -> Option<FixedKey> {
        let size = public.size();
        let exponent = public.e().to_be_bytes_trimmed_vartime();
        if exponent.len() > 8 {
            return None;
        }
        let exponent = u64::from_be_bytes(left_pad(&exponent, 8).try_into().ok()?);
        let modulus = left_pad(&public.n().as_ref().to_be_bytes_trimmed_vartime(), size);
        fn params<const LIMBS: usize>(modulus: &[u8]) -> Option<Box<FixedMontyParams<LIMBS>>> {
            let n = Option::<Odd<Uint<LIMBS>>>::from(Odd::new(Uint::<LIMBS>::from_be_slice(modulus)))?;
            Some(Box::new(FixedMontyParams::new_vartime(n)))
        }
        let params = match size * 8 {
            1024 => FixedParams::W1024(params(&modulus)?),
            2048 => FixedParams::W2048(params(&modulus)?),
            3072 => FixedParams::W3072(params(&modulus)?),
            4096 => FixedParams::W4096(params(&modulus)?),
            _ => return None,
        };
        Some(FixedKey { exponent, params })
    }
}

/// s^e mod n for a canonical s (< n); None when the signature is out of range.
fn public_op<const LIMBS: usize>(params: &FixedMontyParams<LIMBS>, exponent: u64, signature: &[u8]) -> Option<Vec<u8>> {
    let s = Uint::<LIMBS>::from_be_slice(signature);
    if s >= *params.modulus().as_ref() {
        return None;
    }
    let m = FixedMontyForm::new(&s, params).pow_vartime(&U64::from_u64(exponent)).retrieve();
    Some(m.to_be_bytes().as_ref().to_vec())
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF…FF 00 || DigestInfo(hash, digest).
fn emsa_pkcs1_v15(hash: HashAlgorithm, digest: &[u8], size: usize) -> Option<Vec<u8>> {
    const SHA1: &[u8] = &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14];
    const SHA256: &[u8] = &[0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
    const SHA384: &[u8] = &[0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30];
    const SHA512: &[u8] = &[0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40];
    let (prefix, length) = match hash {
        HashAlgorithm::Sha1 => (SHA1, 20),
        HashAlgorithm::Sha256 => (SHA256, 32),
        HashAlgorithm::Sha384 => (SHA384, 48),
        HashAlgorithm::Sha512 => (SHA512, 64),
    };
    let t_len = prefix.len() + length;
    if digest.len() != length || size < t_len + 11 {
        return None;
    }
    let mut em = Vec::with_capacity(size);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(size - t_len - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(digest);
    Some(em)
}

fn left_pad(bytes: &[u8], size: usize) -> Vec<u8> {
    let bytes = &bytes[bytes.len().saturating_sub(size)..];
    let mut out = vec![0u8; size - bytes.len()];
    out.extend_from_slice(bytes);
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// The DER certificates in `text`: PEM blocks, or the bare base64 of one certificate.
pub fn certificate_ders(text: &str) -> Result<Vec<Vec<u8>>, DsigError> {
    let decode = |b64: &str| -> Result<Vec<u8>, DsigError> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| DsigError::CertificateInvalid { detail: format!("base64: {e}") })
    };
    if !text.contains(PEM_BEGIN) {
        if text.trim().is_empty() {
            return Err(DsigError::NoTrustedKeys);
        }
        return Ok(vec![decode(text)?]);
    }
    let mut ders = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let body = &rest[start + PEM_BEGIN.len()..];
        let end = body
            .find(PEM_END)
            .ok_or_else(|| DsigError::CertificateInvalid { detail: "PEM block without END line".into() })?;
        ders.push(decode(&body[..end])?);
        rest = &body[end + PEM_END.len()..];
    }
    Ok(ders)
}
