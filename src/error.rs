//! One error type for the whole pipeline. Every variant has a stable machine code
//! (`xml.doctype_forbidden`, `dsig.digest_mismatch`, …) that callers, logs and tests match
//! on, and a human message that names the check that failed. Codes never change meaning;
//! new checks get new codes.

use std::fmt;

/// Any failure on the way from bytes to a verified element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Xml(XmlError),
    Dsig(DsigError),
    Saml(SamlError),
    Config(ConfigError),
}

impl Error {
    /// Stable machine code, e.g. `dsig.digest_mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Xml(e) => e.code(),
            Error::Dsig(e) => e.code(),
            Error::Saml(e) => e.code(),
            Error::Config(e) => e.code(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Xml(e) => e.fmt(f),
            Error::Dsig(e) => e.fmt(f),
            Error::Saml(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<XmlError> for Error {
    fn from(e: XmlError) -> Self {
        Error::Xml(e)
    }
}

impl From<DsigError> for Error {
    fn from(e: DsigError) -> Self {
        Error::Dsig(e)
    }
}

impl From<SamlError> for Error {
    fn from(e: SamlError) -> Self {
        Error::Saml(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

/// The document could not be read as strict, namespace-well-formed XML within limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    TooLarge { bytes: usize, limit: usize },
    TooDeep { limit: usize },
    TooManyElements { limit: usize },
    TooManyAttributes { element: String, limit: usize },
    DoctypeForbidden,
    UndefinedEntity { name: String },
    InvalidCharRef { reference: String },
    InvalidChar { offset: usize },
    NotUtf8 { offset: usize },
    UnsupportedEncoding { encoding: String },
    UnsupportedVersion { version: String },
    NoRoot,
    MultipleRoots,
    TextOutsideRoot,
    UndeclaredPrefix { prefix: String },
    InvalidNamespace { detail: String },
    InvalidName { name: String },
    DuplicateAttribute { name: String },
    Malformed { offset: u64, detail: String },
}

impl XmlError {
    pub fn code(&self) -> &'static str {
        use XmlError::*;
        match self {
            TooLarge { .. } => "xml.too_large",
            TooDeep { .. } => "xml.too_deep",
            TooManyElements { .. } => "xml.too_many_elements",
            TooManyAttributes { .. } => "xml.too_many_attributes",
            DoctypeForbidden => "xml.doctype_forbidden",
            UndefinedEntity { .. } => "xml.undefined_entity",
            InvalidCharRef { .. } => "xml.invalid_char_ref",
            InvalidChar { .. } => "xml.invalid_char",
            NotUtf8 { .. } => "xml.not_utf8",
            UnsupportedEncoding { .. } => "xml.unsupported_encoding",
            UnsupportedVersion { .. } => "xml.unsupported_version",
            NoRoot => "xml.no_root",
            MultipleRoots => "xml.multiple_roots",
            TextOutsideRoot => "xml.text_outside_root",
            UndeclaredPrefix { .. } => "xml.undeclared_prefix",
            InvalidNamespace { .. } => "xml.invalid_namespace",
            InvalidName { .. } => "xml.invalid_name",
            DuplicateAttribute { .. } => "xml.duplicate_attribute",
            Malformed { .. } => "xml.malformed",
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use XmlError::*;
        match self {
            TooLarge { bytes, limit } => {
                write!(f, "XML input is {bytes} bytes; the limit is {limit}")
            }
            TooDeep { limit } => write!(f, "XML elements are nested deeper than {limit} levels"),
            TooManyElements { limit } => write!(f, "XML has more than {limit} elements"),
            TooManyAttributes { element, limit } => {
                write!(f, "element <{element}> has more than {limit} attributes")
            }
            DoctypeForbidden => write!(f, "a DOCTYPE (DTD or entity declarations) is not allowed"),
            UndefinedEntity { name } => {
                write!(f, "entity reference &{name}; is not one of the five predefined entities")
            }
            InvalidCharRef { reference } => {
                write!(f, "character reference &{reference}; is not a valid XML character")
            }
            InvalidChar { offset } => {
                write!(f, "byte offset {offset}: character not allowed in XML 1.0")
            }
            NotUtf8 { offset } => write!(f, "input is not valid UTF-8 (byte offset {offset})"),
            UnsupportedEncoding { encoding } => {
                write!(f, "XML declaration names encoding {encoding:?}; only UTF-8 is accepted")
            }
            UnsupportedVersion { version } => {
                write!(f, "XML declaration names version {version:?}; only 1.0 is accepted")
            }
            NoRoot => write!(f, "the document has no root element"),
            MultipleRoots => write!(f, "the document has more than one root element"),
            TextOutsideRoot => write!(f, "text is not allowed outside the root element"),
            UndeclaredPrefix { prefix } => write!(f, "namespace prefix {prefix:?} is not declared"),
            InvalidNamespace { detail } => write!(f, "invalid namespace declaration: {detail}"),
            InvalidName { name } => write!(f, "{name:?} is not a valid XML qualified name"),
            DuplicateAttribute { name } => write!(f, "attribute {name:?} appears twice"),
            Malformed { offset, detail } => write!(f, "malformed XML at byte {offset}: {detail}"),
        }
    }
}

/// The XML-DSig signature is missing, not of the one accepted shape, or does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsigError {
    SignatureMissing { element: String },
    SignatureNotUnique { element: String },
    SignedInfoMissing,
    SignedInfoNotUnique,
    SignedInfoMisplaced,
    UnexpectedContent { within: &'static str, found: String },
    MissingElement { within: &'static str, name: &'static str },
    ReferenceCount { found: usize },
    ReferenceUriUnsupported { uri: String },
    ReferenceNotFound { id: String },
    ReferenceNotUnique { id: String, count: usize },
    DuplicateId { id: String },
    ReferenceNotParent { id: String },
    TransformForbidden { algorithm: String },
    TooManyTransforms { found: usize },
    EnvelopedTransformMissing,
    TransformChainInvalid { detail: &'static str },
    CanonicalizationUnsupported { algorithm: String },
    PrefixListTooLong { limit: usize },
    DigestAlgorithmUnsupported { algorithm: String },
    SignatureAlgorithmUnsupported { algorithm: String },
    Sha1NotAllowed { algorithm: String },
    ValueNotPlainText { field: &'static str },
    ValueBadBase64 { field: &'static str },
    DigestMismatch { id: String },
    SignatureInvalid,
    NoTrustedKeys,
    NoMatchingKey { algorithm: String },
    KeyTooSmall { bits: usize, min: usize },
    CertificateInvalid { detail: String },
    UnsupportedKey { detail: String },
}

impl DsigError {
    pub fn code(&self) -> &'static str {
        use DsigError::*;
        match self {
            SignatureMissing { .. } => "dsig.signature_missing",
            SignatureNotUnique { .. } => "dsig.signature_not_unique",
            SignedInfoMissing => "dsig.signed_info_missing",
            SignedInfoNotUnique => "dsig.signed_info_not_unique",
            SignedInfoMisplaced => "dsig.signed_info_misplaced",
            UnexpectedContent { .. } => "dsig.unexpected_content",
            MissingElement { .. } => "dsig.missing_element",
            ReferenceCount { .. } => "dsig.reference_count",
            ReferenceUriUnsupported { .. } => "dsig.reference_uri_unsupported",
            ReferenceNotFound { .. } => "dsig.reference_not_found",
            ReferenceNotUnique { .. } => "dsig.reference_not_unique",
            DuplicateId { .. } => "dsig.duplicate_id",
            ReferenceNotParent { .. } => "dsig.reference_not_parent",
            TransformForbidden { .. } => "dsig.transform_forbidden",
            TooManyTransforms { .. } => "dsig.too_many_transforms",
            EnvelopedTransformMissing => "dsig.enveloped_transform_missing",
            TransformChainInvalid { .. } => "dsig.transform_chain_invalid",
            CanonicalizationUnsupported { .. } => "dsig.c14n_unsupported",
            PrefixListTooLong { .. } => "dsig.prefix_list_too_long",
            DigestAlgorithmUnsupported { .. } => "dsig.digest_algorithm_unsupported",
            SignatureAlgorithmUnsupported { .. } => "dsig.signature_algorithm_unsupported",
            Sha1NotAllowed { .. } => "dsig.sha1_not_allowed",
            ValueNotPlainText { .. } => "dsig.value_not_plain_text",
            ValueBadBase64 { .. } => "dsig.value_bad_base64",
            DigestMismatch { .. } => "dsig.digest_mismatch",
            SignatureInvalid => "dsig.signature_invalid",
            NoTrustedKeys => "dsig.no_trusted_keys",
            NoMatchingKey { .. } => "dsig.no_matching_key",
            KeyTooSmall { .. } => "dsig.key_too_small",
            CertificateInvalid { .. } => "dsig.certificate_invalid",
            UnsupportedKey { .. } => "dsig.unsupported_key",
        }
    }
}

impl fmt::Display for DsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DsigError::*;
        match self {
            SignatureMissing { element } => write!(f, "<{element}> carries no ds:Signature child"),
            SignatureNotUnique { element } => {
                write!(f, "<{element}> carries more than one ds:Signature child")
            }
            SignedInfoMissing => write!(f, "ds:Signature has no ds:SignedInfo"),
            SignedInfoNotUnique => write!(f, "ds:Signature contains more than one ds:SignedInfo"),
            SignedInfoMisplaced => {
                write!(f, "ds:SignedInfo must be a direct child of ds:Signature")
            }
            UnexpectedContent { within, found } => {
                write!(f, "unexpected {found} inside {within}")
            }
            MissingElement { within, name } => write!(f, "{within} has no {name}"),
            ReferenceCount { found } => {
                write!(f, "ds:SignedInfo must hold exactly one ds:Reference, found {found}")
            }
            ReferenceUriUnsupported { uri } => write!(
                f,
                "Reference URI {uri:?} is not accepted: only a same-document \"#id\" reference is"
            ),
            ReferenceNotFound { id } => write!(f, "no element has the referenced ID {id:?}"),
            ReferenceNotUnique { id, count } => {
                write!(f, "{count} elements carry the referenced ID {id:?}; IDs must be unique")
            }
            DuplicateId { id } => write!(f, "ID {id:?} appears on more than one element"),
            ReferenceNotParent { id } => write!(
                f,
                "the Reference #{id} does not point at the element that holds the Signature \
                 (only enveloped signatures are accepted)"
            ),
            TransformForbidden { algorithm } => {
                write!(f, "transform {algorithm:?} is not on the allow-list")
            }
            TooManyTransforms { found } => {
                write!(f, "a Reference may list at most 2 transforms, found {found}")
            }
            EnvelopedTransformMissing => {
                write!(f, "the Reference lacks the enveloped-signature transform")
            }
            TransformChainInvalid { detail } => write!(f, "transform chain not accepted: {detail}"),
            CanonicalizationUnsupported { algorithm } => {
                write!(f, "canonicalization method {algorithm:?} is not supported")
            }
            DigestAlgorithmUnsupported { algorithm } => {
                write!(f, "digest method {algorithm:?} is not supported")
            }
            PrefixListTooLong { limit } => {
                write!(f, "InclusiveNamespaces PrefixList names more than {limit} prefixes (or an over-long one)")
            }
            SignatureAlgorithmUnsupported { algorithm } => {
                write!(f, "signature method {algorithm:?} is not accepted")
            }
            Sha1NotAllowed { algorithm } => write!(
                f,
                "{algorithm} uses SHA-1, which this connector does not allow (set allowSha1)"
            ),
            ValueNotPlainText { field } => write!(
                f,
                "{field} must contain only base64 text (no comments, elements or instructions)"
            ),
            ValueBadBase64 { field } => write!(f, "{field} is not valid base64"),
            DigestMismatch { id } => write!(
                f,
                "the digest of the element #{id} does not match its DigestValue: the signed content was changed"
            ),
            SignatureInvalid => {
                write!(f, "SignatureValue does not verify with any configured certificate")
            }
            NoTrustedKeys => write!(f, "no IdP signing certificate is configured"),
            NoMatchingKey { algorithm } => {
                write!(f, "no configured certificate has a key usable with {algorithm}")
            }
            KeyTooSmall { bits, min } => {
                write!(f, "the configured RSA key has {bits} bits; at least {min} are required")
            }
            CertificateInvalid { detail } => write!(f, "certificate not readable: {detail}"),
            UnsupportedKey { detail } => write!(f, "certificate key not supported: {detail}"),
        }
    }
}

/// A verified document is not an acceptable SAML Response for this connector, request and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamlError {
    ResponseEncoding { detail: String },
    NotAResponse { found: String },
    MissingAttribute { element: &'static str, attribute: &'static str },
    UnsupportedVersion { version: String },
    StatusMissing,
    StatusNotSuccess { status: String, detail: Option<String>, message: Option<String> },
    AssertionCount { found: usize },
    EncryptedAssertionUnsupported,
    AssertionNotEncrypted,
    DecryptionFailed { detail: String },
    Rsa15Refused,
    AssertionUnsigned,
    ResponseSignatureRequired,
    AssertionSignatureRequired,
    IssuerMissing { element: &'static str },
    IssuerMismatch { element: &'static str, found: String, expected: String },
    DestinationMissing,
    DestinationMismatch { found: String, expected: String, endpoint: &'static str },
    NameIdMissing,
    SubjectIdentifierAmbiguous,
    EncryptedIdUnsupported,
    BearerConfirmationMissing,
    RecipientMismatch { found: String, expected: String },
    ConfirmationExpired { not_on_or_after: String },
    ConfirmationNotYetValid { not_before: String },
    InResponseToMismatch { found: String, expected: String },
    InResponseToMissing { expected: String },
    InResponseToUnexpected { found: String },
    Unsolicited,
    ConditionsMissing,
    NotYetValid { not_before: String },
    Expired { not_on_or_after: String },
    AudienceMissing,
    AudienceMismatch { found: Vec<String>, expected: String },
    AuthnStatementMissing,
    SessionExpired { session_not_on_or_after: String },
    InvalidTime { field: &'static str, value: String },
    MessageEncoding { detail: String },
    UnexpectedMessage { expected: &'static str, found: String },
    LogoutSignatureRequired { message: &'static str },
    LogoutNameIdMissing,
    LogoutStale { issue_instant: String },
    LogoutExpired { not_on_or_after: String },
}

impl SamlError {
    pub fn code(&self) -> &'static str {
        use SamlError::*;
        match self {
            ResponseEncoding { .. } => "saml.response_encoding",
            NotAResponse { .. } => "saml.not_a_response",
            MissingAttribute { .. } => "saml.missing_attribute",
            UnsupportedVersion { .. } => "saml.version",
            StatusMissing => "saml.status_missing",
            StatusNotSuccess { .. } => "saml.status",
            AssertionCount { .. } => "saml.assertion_count",
            EncryptedAssertionUnsupported => "saml.encrypted_assertion_unsupported",
            AssertionNotEncrypted => "saml.assertion_not_encrypted",
            DecryptionFailed { .. } => "saml.decryption_failed",
            Rsa15Refused => "saml.rsa15_refused",
            AssertionUnsigned => "saml.assertion_unsigned",
            ResponseSignatureRequired => "saml.response_signature_required",
            AssertionSignatureRequired => "saml.assertion_signature_required",
            IssuerMissing { .. } => "saml.issuer_missing",
            IssuerMismatch { .. } => "saml.issuer_mismatch",
            DestinationMissing => "saml.destination_missing",
            DestinationMismatch { .. } => "saml.destination_mismatch",
            NameIdMissing => "saml.name_id_missing",
            SubjectIdentifierAmbiguous => "saml.subject_identifier_ambiguous",
            EncryptedIdUnsupported => "saml.encrypted_id_unsupported",
            BearerConfirmationMissing => "saml.bearer_confirmation_missing",
            RecipientMismatch { .. } => "saml.recipient_mismatch",
            ConfirmationExpired { .. } => "saml.confirmation_expired",
            ConfirmationNotYetValid { .. } => "saml.confirmation_not_yet_valid",
            InResponseToMismatch { .. } => "saml.in_response_to_mismatch",
            InResponseToMissing { .. } => "saml.in_response_to_missing",
            InResponseToUnexpected { .. } => "saml.in_response_to_unexpected",
            Unsolicited => "saml.unsolicited",
            ConditionsMissing => "saml.conditions_missing",
            NotYetValid { .. } => "saml.not_yet_valid",
            Expired { .. } => "saml.expired",
            AudienceMissing => "saml.audience_missing",
            AudienceMismatch { .. } => "saml.audience_mismatch",
            AuthnStatementMissing => "saml.authn_statement_missing",
            SessionExpired { .. } => "saml.session_expired",
            InvalidTime { .. } => "saml.invalid_time",
            MessageEncoding { .. } => "saml.message_encoding",
            UnexpectedMessage { .. } => "saml.unexpected_message",
            LogoutSignatureRequired { .. } => "saml.logout_signature_required",
            LogoutNameIdMissing => "saml.logout_name_id_missing",
            LogoutStale { .. } => "saml.logout_stale",
            LogoutExpired { .. } => "saml.logout_expired",
        }
    }
}

impl fmt::Display for SamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SamlError::*;
        match self {
            ResponseEncoding { detail } => write!(f, "SAMLResponse is not base64-encoded XML: {detail}"),
            NotAResponse { found } => write!(f, "expected a samlp:Response, found <{found}>"),
            MissingAttribute { element, attribute } => write!(f, "{element} has no {attribute} attribute"),
            UnsupportedVersion { version } => write!(f, "SAML Version {version:?} is not 2.0"),
            StatusMissing => write!(f, "the Response has no Status/StatusCode"),
            StatusNotSuccess { status, detail, message } => {
                write!(f, "the IdP answered {status}")?;
                if let Some(detail) = detail {
                    write!(f, " ({detail})")?;
                }
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            AssertionCount { found } => write!(f, "a Response must carry exactly one Assertion, found {found}"),
            EncryptedAssertionUnsupported => write!(f, "the Assertion is encrypted, and this connector has no decryption key (encPrivateKey)"),
            AssertionNotEncrypted => write!(f, "the connector requires an encrypted Assertion (encryptAssertion), and this one is plaintext"),
            DecryptionFailed { detail } => write!(f, "decryption failed: {detail}"),
            Rsa15Refused => write!(f, "the assertion key is wrapped with RSA-1.5 (rsa-1_5), refused unless the connector sets allowRsa15"),
            AssertionUnsigned => write!(f, "the Assertion is not covered by any signature"),
            ResponseSignatureRequired => write!(f, "the connector requires a signed Response (wantResponseSigned)"),
            AssertionSignatureRequired => write!(f, "the connector requires a signed Assertion (wantAssertionsSigned)"),
            IssuerMissing { element } => write!(f, "the {element} has no Issuer"),
            IssuerMismatch { element, found, expected } => write!(f, "{element} Issuer is {found:?}, expected {expected:?}"),
            DestinationMissing => write!(f, "a signed SAML message must name its Destination"),
            DestinationMismatch { found, expected, endpoint } => write!(f, "Destination is {found:?}, expected the {endpoint} {expected:?}"),
            NameIdMissing => write!(f, "the Assertion's Subject has no NameID"),
            SubjectIdentifierAmbiguous => write!(f, "the Subject must carry exactly one NameID or EncryptedID"),
            EncryptedIdUnsupported => write!(f, "the NameID is encrypted (EncryptedID), and this connector has no decryption key (encPrivateKey)"),
            BearerConfirmationMissing => write!(f, "the Subject has no bearer SubjectConfirmation with SubjectConfirmationData"),
            RecipientMismatch { found, expected } => write!(f, "SubjectConfirmationData Recipient is {found:?}, expected the ACS URL {expected:?}"),
            ConfirmationExpired { not_on_or_after } => write!(f, "SubjectConfirmationData expired at {not_on_or_after}"),
            ConfirmationNotYetValid { not_before } => write!(f, "SubjectConfirmationData is not valid before {not_before}"),
            InResponseToMismatch { found, expected } => write!(f, "InResponseTo is {found:?}, but this browser's request was {expected:?}"),
            InResponseToMissing { expected } => write!(f, "the response does not say it answers request {expected:?} (no InResponseTo)"),
            InResponseToUnexpected { found } => write!(f, "the response answers request {found:?}, which this browser did not send (replayed or for another session)"),
            Unsolicited => write!(f, "unsolicited (IdP-initiated) responses are not allowed for this connector (allowIdpInitiated)"),
            ConditionsMissing => write!(f, "the Assertion has no Conditions"),
            NotYetValid { not_before } => write!(f, "the Assertion is not valid before {not_before}"),
            Expired { not_on_or_after } => write!(f, "the Assertion expired at {not_on_or_after}"),
            AudienceMissing => write!(f, "the Assertion has no AudienceRestriction"),
            AudienceMismatch { found, expected } => write!(f, "the Assertion is for audience {found:?}, not this SP ({expected:?})"),
            AuthnStatementMissing => write!(f, "the Assertion has no AuthnStatement"),
            SessionExpired { session_not_on_or_after } => write!(f, "the IdP session ended at {session_not_on_or_after} (SessionNotOnOrAfter)"),
            InvalidTime { field, value } => write!(f, "{field} is not a valid UTC dateTime: {value:?}"),
            MessageEncoding { detail } => write!(f, "the SAML message is not encoded as its binding requires: {detail}"),
            UnexpectedMessage { expected, found } => write!(f, "expected a samlp:{expected}, found <{found}>"),
            LogoutSignatureRequired { message } => write!(f, "the {message} is not signed (neither a query signature nor an XML signature); logout messages must be"),
            LogoutNameIdMissing => write!(f, "the LogoutRequest must carry exactly one NameID or EncryptedID (BaseID is not supported)"),
            LogoutStale { issue_instant } => write!(f, "the logout message was issued at {issue_instant}, too far from now (replayed or a wrong clock)"),
            LogoutExpired { not_on_or_after } => write!(f, "the LogoutRequest expired at {not_on_or_after}"),
        }
    }
}

/// One problem with a connector configuration, naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A connector configuration that cannot be used; every problem is listed at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub connector: Option<String>,
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        "config.invalid"
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.connector {
            Some(id) => write!(f, "connector {id:?} is misconfigured: ")?,
            None => write!(f, "connector config is invalid: ")?,
        }
        let problems: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        write!(f, "{}", problems.join("; "))
    }
}
