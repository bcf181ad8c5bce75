//! Every algorithm URI the verifier accepts, as named constants, and the refusals worth
//! a specific message. Anything not listed here is refused.

use sha2::Digest as _;

use crate::c14n::Sink;
use crate::error::DsigError;

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
pub const ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";

/// A hash function used for a digest or inside a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// The `DigestMethod` named by `uri`, honouring the SHA-1 policy.
    pub fn from_digest_uri(uri: &str, allow_sha1: bool) -> Result<Self, DsigError> {
        match uri {
            SHA256 => Ok(HashAlgorithm::Sha256),
            SHA384 => Ok(HashAlgorithm::Sha384),
            SHA512 => Ok(HashAlgorithm::Sha512),
            SHA1 if allow_sha1 => Ok(HashAlgorithm::Sha1),
            SHA1 => Err(DsigError::Sha1NotAllowed { algorithm: "DigestMethod sha1".into() }),
            _ => Err(DsigError::DigestAlgorithmUnsupported { algorithm: uri.to_string() }),
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.put(bytes);
        hasher.finish()
    }
}

/// A running hash that canonical bytes can be streamed into.
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl Sink for Hasher {
    fn put(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }
}

/// The key family a signature method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    Ecdsa,
}

/// A `SignatureMethod` the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureAlgorithm {
    pub uri: &'static str,
    pub family: KeyFamily,
    pub hash: HashAlgorithm,
}

pub const RSA_PKCS1_SHA1: SignatureAlgorithm = SignatureAlgorithm { uri: RSA_SHA1, family: KeyFamily::Rsa, hash: HashAlgorithm::Sha1 };
pub const RSA_PKCS1_SHA256: SignatureAlgorithm = SignatureAlgorithm { uri: RSA_SHA256, family: KeyFamily::Rsa, hash: HashAlgorithm::Sha256 };
pub const RSA_PKCS1_SHA384: SignatureAlgorithm = SignatureAlgorithm { uri: RSA_SHA384, family: KeyFamily::Rsa, hash: HashAlgorithm::Sha384 };
pub const RSA_PKCS1_SHA512: SignatureAlgorithm = SignatureAlgorithm { uri: RSA_SHA512, family: KeyFamily::Rsa, hash: HashAlgorithm::Sha512 };
pub const ECDSA_P1363_SHA256: SignatureAlgorithm = SignatureAlgorithm { uri: ECDSA_SHA256, family: KeyFamily::Ecdsa, hash: HashAlgorithm::Sha256 };
pub const ECDSA_P1363_SHA384: SignatureAlgorithm = SignatureAlgorithm { uri: ECDSA_SHA384, family: KeyFamily::Ecdsa, hash: HashAlgorithm::Sha384 };
pub const ECDSA_P1363_SHA512: SignatureAlgorithm = SignatureAlgorithm { uri: ECDSA_SHA512, family: KeyFamily::Ecdsa, hash: HashAlgorithm::Sha512 };

impl SignatureAlgorithm {
    pub fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self, DsigError> {
        let algorithm = match uri {
            RSA_SHA256 => RSA_PKCS1_SHA256,
            RSA_SHA384 => RSA_PKCS1_SHA384,
            RSA_SHA512 => RSA_PKCS1_SHA512,
            ECDSA_SHA256 => ECDSA_P1363_SHA256,
            ECDSA_SHA384 => ECDSA_P1363_SHA384,
            ECDSA_SHA512 => ECDSA_P1363_SHA512,
            RSA_SHA1 if allow_sha1 => RSA_PKCS1_SHA1,
            RSA_SHA1 => return Err(DsigError::Sha1NotAllowed { algorithm: "SignatureMethod rsa-sha1".into() }),
            // HMAC would make anyone holding the shared secret an IdP; DSA and ECDSA-SHA1
            // are obsolete. All are refused like any unknown method.
            _ => return Err(DsigError::SignatureAlgorithmUnsupported { algorithm: uri.to_string() }),
        };
        Ok(algorithm)
    }
}

/// A `Transform` the verifier accepts. Everything else (XPath, XSLT, base64,
/// XPointer, decryption transforms) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    EnvelopedSignature,
    Canonicalize(crate::c14n::Method),
}

impl Transform {
    pub fn from_uri(uri: &str) -> Result<Self, DsigError> {
        if uri == ENVELOPED_SIGNATURE {
            return Ok(Transform::EnvelopedSignature);
        }
        crate::c14n::Method::from_uri(uri)
            .map(Transform::Canonicalize)
            .ok_or_else(|| DsigError::TransformForbidden { algorithm: uri.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(HashAlgorithm::from_digest_uri(SHA1, false).is_err());
        assert_eq!(HashAlgorithm::from_digest_uri(SHA1, true), Ok(HashAlgorithm::Sha1));
        assert_eq!(
            SignatureAlgorithm::from_uri("http://www.w3.org/2000/09/xmldsig#hmac-sha1", true).unwrap_err().code(),
            "dsig.signature_algorithm_unsupported"
        );
        assert_eq!(SignatureAlgorithm::from_uri(RSA_SHA1, false).unwrap_err().code(), "dsig.sha1_not_allowed");
        assert_eq!(
            Transform::from_uri("http://www.w3.org/TR/1999/REC-xpath-19991116").unwrap_err().code(),
            "dsig.transform_forbidden"
        );
    }

    #[test]
    fn digests() {
        assert_eq!(HashAlgorithm::Sha256.digest(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(HashAlgorithm::Sha1.digest(b"abc")[..4], [0xa9, 0x99, 0x3e, 0x36]);
    }
}
