#!/usr/bin/env bash
# Generate signed SAML 2.0 test fixtures with the reference signer xmlsec1.
#
#   scripts/gen-fixtures.sh
#
# - Test keys/certs in tests/keys/ are created only if missing (reruns keep them).
# - Templates (unsigned, empty ds:Signature) are (re)written to tests/fixtures/templates/.
# - Signed outputs go to tests/fixtures/signed/, and every output is verified
#   with `xmlsec1 --verify` before the script succeeds.
# - If a freshly signed file differs from the existing one only in
#   SignatureValue (ECDSA is randomised) and the existing one still verifies,
#   the existing file is kept, so reruns leave the tree unchanged.
# - Encrypted assertions (XML Encryption, `xmlsec1 --encrypt`) go to
#   tests/fixtures/encrypted/; each is decrypted again with `xmlsec1 --decrypt`
#   (and its Assertion signature verified). Encryption is randomised, so an
#   existing file is kept when the new one differs only in CipherValue (and
#   DigestValue/SignatureValue) and the existing one still passes every check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYS="$ROOT/tests/keys"
TPL="$ROOT/tests/fixtures/templates"
OUT="$ROOT/tests/fixtures/signed"

command -v xmlsec1 >/dev/null || { echo "xmlsec1 not found" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }
command -v perl >/dev/null || { echo "perl not found" >&2; exit 1; }

mkdir -p "$KEYS" "$TPL" "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------
# Common values (tests depend on these exact strings)
# ---------------------------------------------------------------------------
IDP="https://idp.example.test/metadata"
SP="https://sp.example.test/saml/metadata"
ACS="https://sp.example.test/api/authn/saml/acme"
REQ_ID="_req-7f3c2a"
RESP_ID="_resp-0001"
ASSERT_ID="_assert-0001"
INSTANT="2026-01-01T00:00:00Z"
NOT_BEFORE="2025-12-31T23:59:00Z"
NOT_ON_OR_AFTER="2026-01-01T00:10:00Z"
SCD_NOT_ON_OR_AFTER="2026-01-01T00:05:00Z"
SESSION_NOT_ON_OR_AFTER="2026-01-01T08:00:00Z"
SESSION_INDEX="_session-42"
NAMEID="alice@example.com"
NAMEID_EMAIL="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
EMAIL="alice@example.com"
# displayName is: Zoë O'Brien & <Co>
DISPLAY_XML="Zoë O'Brien &amp; &lt;Co&gt;"

NS_SAML="urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP="urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS="http://www.w3.org/2000/09/xmldsig#"
NS_XS="http://www.w3.org/2001/XMLSchema"
NS_XSI="http://www.w3.org/2001/XMLSchema-instance"
NS_EC="http://www.w3.org/2001/10/xml-exc-c14n#"

C14N_EXC="http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_EXC_C="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
C14N_10="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
T_ENV="http://www.w3.org/2000/09/xmldsig#enveloped-signature"
T_XPATH="http://www.w3.org/TR/1999/REC-xpath-19991116"

RSA_SHA1="http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384="http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ECDSA_SHA256="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA384="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
HMAC_SHA256="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
SHA1="http://www.w3.org/2000/09/xmldsig#sha1"
SHA256="http://www.w3.org/2001/04/xmlenc#sha256"
SHA384="http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512="http://www.w3.org/2001/04/xmlenc#sha512"

ID_ATTRS=(--id-attr:ID "$NS_SAML:Assertion" --id-attr:ID "$NS_SAMLP:Response")
# XPath selecting which ds:Signature template xmlsec1 should fill / check.
XP_ASSERTION_SIG="//*[local-name()='Assertion' and namespace-uri()='$NS_SAML']/*[local-name()='Signature' and namespace-uri()='$NS_DS']"
XP_RESPONSE_SIG="/*[local-name()='Response' and namespace-uri()='$NS_SAMLP']/*[local-name()='Signature' and namespace-uri()='$NS_DS']"
# On verify, ignore certificates in KeyInfo: only the key given on the command line counts.
VERIFY_KEY_DATA=(--enabled-key-data "key-name,key-value,rsa,ecdsa,hmac")

# ---------------------------------------------------------------------------
# 1. Keys
# ---------------------------------------------------------------------------
gen_key() { # name kind(rsa2048|rsa1024|p256|p384) cn [keyUsage]
    local name=$1 kind=$2 cn=$3 usage=${4:-digitalSignature} key="$KEYS/$1.key" crt="$KEYS/$1.crt"
    if [[ ! -s $key ]]; then
        case $kind in
            rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null ;;
            rsa1024) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$key" 2>/dev/null ;;
            p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$key" ;;
            p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$key" ;;
        esac
        rm -f "$crt"
        echo "generated $key"
    fi
    if [[ ! -s $crt ]]; then
        # Self-signed, valid 2020-01-01 .. 2040-01-01 (20 years), so it covers both the
        # fixture instants (2026-01-01) and "now". `openssl req -x509` cannot set a past
        # start date in OpenSSL 3.0, hence `openssl ca -selfsign` with a throwaway config.
        local ca="$WORK/ca-$name"
        mkdir -p "$ca"
        : > "$ca/index.txt"
        openssl rand -hex 16 > "$ca/serial"
        cat > "$ca/ca.cnf" <<EOF
[ ca ]
default_ca = tca
[ tca ]
database = $ca/index.txt
new_certs_dir = $ca
serial = $ca/serial
default_md = sha256
policy = pol
unique_subject = no
x509_extensions = ext
[ pol ]
commonName = supplied
organizationName = optional
[ ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,$usage
subjectKeyIdentifier = hash
EOF
        openssl req -new -key "$key" -subj "/CN=$cn/O=saml-edge tests" -out "$ca/req.csr"
        openssl ca -batch -config "$ca/ca.cnf" -selfsign -keyfile "$key" -in "$ca/req.csr" \
            -startdate 20200101000000Z -enddate 20400101000000Z -notext -out "$crt" 2>"$ca/log" \
            || { cat "$ca/log" >&2; exit 1; }
        echo "generated $crt"
    fi
}
gen_key idp-rsa2048      rsa2048 "saml-edge test idp"
gen_key other-rsa2048    rsa2048 "saml-edge test attacker"
gen_key rollover-rsa2048 rsa2048 "saml-edge test idp rollover"
gen_key weak-rsa1024     rsa1024 "saml-edge test idp weak"
gen_key idp-p256         p256    "saml-edge test idp p256"
gen_key idp-p384         p384    "saml-edge test idp p384"
# SP decryption keys (XML Encryption key transport), certificates for keyEncipherment
gen_key sp-enc-rsa2048   rsa2048 "saml-edge test sp encryption"   keyEncipherment
gen_key sp-enc2-rsa2048  rsa2048 "saml-edge test sp encryption 2" keyEncipherment
if [[ ! -s $KEYS/hmac.key ]]; then
    openssl rand -out "$KEYS/hmac.key" 32
    echo "generated $KEYS/hmac.key"
fi
if [[ ! -e $KEYS/README.md ]]; then
    cat > "$KEYS/README.md" <<'EOF'
# Test keys — NOT SECRET, TEST ONLY

These keys and self-signed certificates were generated by
`scripts/gen-fixtures.sh` for the saml-edge test suite. The private keys are
committed on purpose and are therefore public. Never use them, or trust these
certificates, anywhere outside tests.

| file | purpose |
|------|---------|
| `idp-rsa2048.key/.crt` | the IdP signing key used by most fixtures |
| `rollover-rsa2048.key/.crt` | a second legitimate IdP key (key rollover tests) |
| `other-rsa2048.key/.crt` | attacker / unrelated key (must be rejected) |
| `weak-rsa1024.key/.crt` | 1024-bit RSA key (must be rejected as too weak) |
| `idp-p256.key/.crt` | ECDSA P-256 IdP key |
| `idp-p384.key/.crt` | ECDSA P-384 IdP key |
| `sp-enc-rsa2048.key/.crt` | SP decryption key: encrypted assertions are encrypted to its certificate |
| `sp-enc2-rsa2048.key/.crt` | a second SP decryption key (SP key rollover tests) |
| `hmac.key` | 32 random bytes, HMAC key (HMAC signatures must be refused) |

Delete a key pair and rerun `scripts/gen-fixtures.sh` to regenerate it
(then all fixtures signed with it change too).
EOF
fi

# ---------------------------------------------------------------------------
# 2. Template building blocks
#    DSP is the xmldsig prefix ("ds:" or "" for a default-namespace Signature).
# ---------------------------------------------------------------------------
DSP="ds:"

tf() { # algorithm [inner-xml]
    if [[ $# -gt 1 && -n $2 ]]; then
        printf '<%sTransform Algorithm="%s">%s</%sTransform>' "$DSP" "$1" "$2" "$DSP"
    else
        printf '<%sTransform Algorithm="%s"/>' "$DSP" "$1"
    fi
}
tf_env() { tf "$T_ENV"; }
tf_exc() { # [PrefixList]
    if [[ $# -gt 0 ]]; then
        tf "$C14N_EXC" "<ec:InclusiveNamespaces PrefixList=\"$1\" xmlns:ec=\"$NS_EC\"/>"
    else
        tf "$C14N_EXC"
    fi
}

# sig REF_ID SIGNATURE_METHOD DIGEST_METHOD C14N_METHOD TRANSFORMS_XML [keyinfo]
sig() {
    local ref=$1 sm=$2 dm=$3 cm=$4 tfs=$5 ki=${6:-} d=$DSP decl keyinfo=""
    if [[ -z $d ]]; then decl="xmlns=\"$NS_DS\""; else decl="xmlns:${d%:}=\"$NS_DS\""; fi
    if [[ $ki == keyinfo ]]; then
        keyinfo="<${d}KeyInfo><${d}X509Data><${d}X509Certificate/></${d}X509Data></${d}KeyInfo>"
    fi
    printf '<%sSignature %s><%sSignedInfo><%sCanonicalizationMethod Algorithm="%s"/><%sSignatureMethod Algorithm="%s"/><%sReference URI="#%s"><%sTransforms>%s</%sTransforms><%sDigestMethod Algorithm="%s"/><%sDigestValue/></%sReference></%sSignedInfo><%sSignatureValue/>%s</%sSignature>' \
        "$d" "$decl" "$d" "$d" "$cm" "$d" "$sm" "$d" "$ref" "$d" "$tfs" "$d" "$d" "$dm" "$d" "$d" "$d" "$d" "$keyinfo" "$d"
}

# Standard Assertion signature: enveloped + exc-c14n (optionally with PrefixList).
sig_std() { # REF SIGALG DIGALG [keyinfo] [prefixlist]
    local t
    if [[ -n ${5:-} ]]; then t="$(tf_env)$(tf_exc "$5")"; else t="$(tf_env)$(tf_exc)"; fi
    sig "$1" "$2" "$3" "$C14N_EXC" "$t" "${4:-}"
}

# One <Attribute> with one or more string values.
#   attr PREFIX NAME "extra attributes on Attribute" "extra attributes on AttributeValue" value...
attr() {
    local p=$1 name=$2 aattrs=$3 vattrs=$4 v
    shift 4
    printf '<%sAttribute Name="%s"%s>' "$p" "$name" "$aattrs"
    for v in "$@"; do
        printf '<%sAttributeValue%s>%s</%sAttributeValue>' "$p" "$vattrs" "$v" "$p"
    done
    printf '</%sAttribute>' "$p"
}

# Whole document. Configured through these variables (reset by `reset_doc`):
#   S        assertion-namespace prefix ("saml:", "saml2:" or "" = default ns)
#   PP       protocol prefix ("samlp:" / "saml2p:")
#   R_NS     namespace declarations on the Response
#   R_ISSUER full Response <Issuer> element
#   A_NS     namespace declarations on the Assertion
#   A_ISSUER_ATTRS extra attributes on the Assertion's Issuer
#   R_SIG / A_SIG  signature templates ("" = unsigned)
#   NAMEID_FMT / NAMEID_VAL / NAMEID_ATTRS
#   AUTHN_CLASS
#   ATTRS    inner XML of AttributeStatement
#   EXTRA_SUBJ_COMMENT / EXTRA_STMT_COMMENT  optional XML comments
#   R_ATTRS  extra attributes on the Response
reset_doc() {
    S="saml:"; PP="samlp:"
    R_NS="xmlns:samlp=\"$NS_SAMLP\" xmlns:saml=\"$NS_SAML\" xmlns:xs=\"$NS_XS\" xmlns:xsi=\"$NS_XSI\""
    R_ISSUER=""; A_NS=""; A_ISSUER_ATTRS=""; R_SIG=""; A_SIG=""; R_ATTRS=""
    NAMEID_FMT="$NAMEID_EMAIL"; NAMEID_VAL="$NAMEID"; NAMEID_ATTRS=" SPNameQualifier=\"$SP\""
    AUTHN_CLASS="urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    ATTRS=""; COMMENT_A=""; COMMENT_B=""
    DSP="ds:"
}

doc() {
    local s=$S p=$PP ri=$R_ISSUER
    [[ -n $ri ]] || ri="<${s}Issuer>$IDP</${s}Issuer>"
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<${p}Response ${R_NS} ID="$RESP_ID" Version="2.0" IssueInstant="$INSTANT" Destination="$ACS" InResponseTo="$REQ_ID"${R_ATTRS}>
  $ri${R_SIG}
  <${p}Status>
    <${p}StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>
  </${p}Status>
  <${s}Assertion${A_NS:+ $A_NS} ID="$ASSERT_ID" Version="2.0" IssueInstant="$INSTANT">
    <${s}Issuer${A_ISSUER_ATTRS}>$IDP</${s}Issuer>${A_SIG}
    <${s}Subject>
      <${s}NameID${NAMEID_ATTRS} Format="$NAMEID_FMT">$NAMEID_VAL</${s}NameID>
      <${s}SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <${s}SubjectConfirmationData NotOnOrAfter="$SCD_NOT_ON_OR_AFTER" Recipient="$ACS" InResponseTo="$REQ_ID"/>
      </${s}SubjectConfirmation>
    </${s}Subject>${COMMENT_A}
    <${s}Conditions NotBefore="$NOT_BEFORE" NotOnOrAfter="$NOT_ON_OR_AFTER">
      <${s}AudienceRestriction>
        <${s}Audience>$SP</${s}Audience>
      </${s}AudienceRestriction>
    </${s}Conditions>
    <${s}AuthnStatement AuthnInstant="$INSTANT" SessionNotOnOrAfter="$SESSION_NOT_ON_OR_AFTER" SessionIndex="$SESSION_INDEX">
      <${s}AuthnContext>
        <${s}AuthnContextClassRef>$AUTHN_CLASS</${s}AuthnContextClassRef>
      </${s}AuthnContext>
    </${s}AuthnStatement>
    <${s}AttributeStatement>${COMMENT_B}
      $ATTRS
    </${s}AttributeStatement>
  </${s}Assertion>
</${p}Response>
EOF
}

# Compact form (no inter-element whitespace), as Okta / Entra / ADFS / Google emit.
compact() { sed -e 's/^[[:space:]]*//' | tr -d '\n' | sed -e 's/?></?>\n</'; echo; }

XSTR=' xsi:type="xs:string"'
generic_attrs() { # [extra groups...]
    attr "$S" email "" "$XSTR" "$EMAIL"
    printf '\n      '
    attr "$S" displayName "" "$XSTR" "$DISPLAY_XML"
    printf '\n      '
    attr "$S" groups "" "$XSTR" admins staff "$@"
}

# ---------------------------------------------------------------------------
# 3. Signing / verifying
# ---------------------------------------------------------------------------
FIXTURES=()

key_sign_args() { # keyname
    if [[ $1 == hmac ]]; then echo "--hmackey $KEYS/hmac.key"
    else echo "--privkey-pem $KEYS/$1.key,$KEYS/$1.crt"; fi
}
key_verify_args() {
    if [[ $1 == hmac ]]; then echo "--hmackey $KEYS/hmac.key"
    else echo "--pubkey-cert-pem $KEYS/$1.crt"; fi
}

verify_one() { # file keyname xpath -> status
    # shellcheck disable=SC2046
    xmlsec1 --verify $(key_verify_args "$2") "${VERIFY_KEY_DATA[@]}" "${ID_ATTRS[@]}" \
        --node-xpath "$3" "$1" >"$WORK/verify.log" 2>&1
}

strip_sigvals() { perl -0pe 's{(SignatureValue>)[^<]*<}{$1<}g' "$1"; }

# fixture NAME KEYNAME TARGETS   (template already in $TPL/NAME.xml)
#   TARGETS: "A" = sign assertion, "R" = sign response, "AR" = assertion, then response
fixture() {
    local name=$1 key=$2 targets=$3 tpl="$TPL/$1.xml" out="$OUT/$1.xml"
    local cur="$tpl" step=0 t xp
    for t in $(echo "$targets" | fold -w1); do
        case $t in A) xp=$XP_ASSERTION_SIG ;; R) xp=$XP_RESPONSE_SIG ;; esac
        step=$((step + 1))
        # shellcheck disable=SC2046
        if ! xmlsec1 --sign $(key_sign_args "$key") "${ID_ATTRS[@]}" --node-xpath "$xp" \
                --output "$WORK/$name.$step.xml" "$cur" 2>"$WORK/sign.log"; then
            cat "$WORK/sign.log" >&2
            echo "FAIL: xmlsec1 could not sign $name ($t)" >&2
            return 1
        fi
        cur="$WORK/$name.$step.xml"
    done
    for t in $(echo "$targets" | fold -w1); do
        case $t in A) xp=$XP_ASSERTION_SIG ;; R) xp=$XP_RESPONSE_SIG ;; esac
        if ! verify_one "$cur" "$key" "$xp"; then
            cat "$WORK/verify.log" >&2
            echo "FAIL: self-check of $name ($t signature) failed" >&2
            return 1
        fi
    done
    if [[ -f $out ]] && ! cmp -s "$cur" "$out"; then
        # keep the existing file if only (randomised) signature values differ and it still verifies
        local keep=1
        [[ "$(strip_sigvals "$cur")" == "$(strip_sigvals "$out")" ]] || keep=0
        if [[ $keep == 1 ]]; then
            for t in $(echo "$targets" | fold -w1); do
                case $t in A) xp=$XP_ASSERTION_SIG ;; R) xp=$XP_RESPONSE_SIG ;; esac
                verify_one "$out" "$key" "$xp" || keep=0
            done
        fi
        [[ $keep == 1 ]] || cp "$cur" "$out"
    elif [[ ! -f $out ]]; then
        cp "$cur" "$out"
    fi
    # final self-check on the bytes actually left in the repo
    for t in $(echo "$targets" | fold -w1); do
        case $t in A) xp=$XP_ASSERTION_SIG ;; R) xp=$XP_RESPONSE_SIG ;; esac
        if ! verify_one "$out" "$key" "$xp"; then
            cat "$WORK/verify.log" >&2
            echo "FAIL: self-check of $out ($t signature) failed" >&2
            return 1
        fi
    done
    FIXTURES+=("$name")
    printf '  ok  %-40s key=%-17s signed=%s\n' "$name.xml" "$key" "$targets"
}

# must_not_verify NAME KEYNAME TARGET : negative self-check
must_not_verify() {
    local xp=$XP_ASSERTION_SIG
    [[ $3 == R ]] && xp=$XP_RESPONSE_SIG
    if verify_one "$OUT/$1.xml" "$2" "$xp"; then
        echo "FAIL: $1.xml unexpectedly verifies with $2" >&2
        return 1
    fi
    printf '  ok  %-40s does NOT verify with %s\n' "$1.xml" "$2"
}

write_tpl() { cat > "$TPL/$1.xml"; }

echo "templates -> $TPL"
echo "signed    -> $OUT"

# ---------------------------------------------------------------------------
# 4. Fixtures
# ---------------------------------------------------------------------------

# --- algorithm matrix (Assertion signed, samlp:/saml:/ds:, exc-c14n) -------
matrix() { # name key sigalg digalg
    reset_doc
    A_SIG="$(sig_std "$ASSERT_ID" "$3" "$4" keyinfo)"
    ATTRS="$(generic_attrs)"
    doc | write_tpl "$1"
    fixture "$1" "$2" A
}
matrix assertion-rsa-sha256         idp-rsa2048 "$RSA_SHA256"   "$SHA256"
matrix assertion-rsa-sha384         idp-rsa2048 "$RSA_SHA384"   "$SHA384"
matrix assertion-rsa-sha512         idp-rsa2048 "$RSA_SHA512"   "$SHA512"
matrix assertion-rsa-sha1           idp-rsa2048 "$RSA_SHA1"     "$SHA1"
matrix assertion-ecdsa-p256-sha256  idp-p256    "$ECDSA_SHA256" "$SHA256"
matrix assertion-ecdsa-p384-sha384  idp-p384    "$ECDSA_SHA384" "$SHA384"

# --- inclusive C14N 1.0 ----------------------------------------------------
reset_doc
A_SIG="$(sig "$ASSERT_ID" "$RSA_SHA256" "$SHA256" "$C14N_10" "$(tf_env)$(tf "$C14N_10")" keyinfo)"
ATTRS="$(generic_attrs)"
doc | write_tpl assertion-rsa-sha256-c14n10
fixture assertion-rsa-sha256-c14n10 idp-rsa2048 A

# --- exc-c14n WithComments + comments inside the Assertion -----------------
reset_doc
A_SIG="$(sig "$ASSERT_ID" "$RSA_SHA256" "$SHA256" "$C14N_EXC_C" "$(tf_env)$(tf "$C14N_EXC_C")" keyinfo)"
COMMENT_A=$'\n    <!-- comment between Subject and Conditions -->'
COMMENT_B=$'\n      <!-- comment at the start of the AttributeStatement -->'
ATTRS="$(attr "$S" email "" "$XSTR" "alice@<!-- comment inside a value -->example.com")
      $(attr "$S" displayName "" "$XSTR" "$DISPLAY_XML<!-- trailing comment -->")
      $(attr "$S" groups "" "$XSTR" admins staff)"
doc | write_tpl assertion-rsa-sha256-exc-comments
fixture assertion-rsa-sha256-exc-comments idp-rsa2048 A

# --- InclusiveNamespaces PrefixList ----------------------------------------
reset_doc
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo "xs xsi")"
ATTRS="$(generic_attrs)"
doc | write_tpl assertion-rsa-sha256-prefixlist
fixture assertion-rsa-sha256-prefixlist idp-rsa2048 A

# --- Response-only signature ----------------------------------------------
reset_doc
R_SIG="$(sig_std "$RESP_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(generic_attrs)"
doc | write_tpl response-rsa-sha256
fixture response-rsa-sha256 idp-rsa2048 R

# --- Response and Assertion both signed ------------------------------------
reset_doc
R_SIG="$(sig_std "$RESP_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(generic_attrs)"
doc | write_tpl both-rsa-sha256
fixture both-rsa-sha256 idp-rsa2048 AR

# --- other keys ---------------------------------------------------------------
keyfix() { # name key keyinfo?
    reset_doc
    A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" "$3")"
    ATTRS="$(generic_attrs)"
    doc | write_tpl "$1"
    fixture "$1" "$2" A
}
keyfix assertion-rollover-key     rollover-rsa2048 keyinfo
keyfix assertion-weak-rsa1024     weak-rsa1024     keyinfo
keyfix assertion-keyinfo-attacker other-rsa2048    keyinfo

# --- HMAC ------------------------------------------------------------------
reset_doc
A_SIG="$(sig_std "$ASSERT_ID" "$HMAC_SHA256" "$SHA256")"
ATTRS="$(generic_attrs)"
doc | write_tpl assertion-hmac-sha256
fixture assertion-hmac-sha256 hmac A

# --- XPath transform ---------------------------------------------------------
reset_doc
A_SIG="$(sig "$ASSERT_ID" "$RSA_SHA256" "$SHA256" "$C14N_EXC" \
    "$(tf "$T_XPATH" "<ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath>")$(tf_exc)" keyinfo)"
ATTRS="$(generic_attrs)"
doc | write_tpl assertion-xpath-transform
fixture assertion-xpath-transform idp-rsa2048 A

# --- large (~8 KB) for benchmarks ------------------------------------------
reset_doc
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
groups=()
for i in $(seq -w 1 40); do groups+=("team-$i-eng"); done
ATTRS="$(generic_attrs "${groups[@]}")
      $(attr "$S" givenName "" "$XSTR" "Zoë")
      $(attr "$S" surname "" "$XSTR" "O'Brien")
      $(attr "$S" department "" "$XSTR" "Platform Engineering / Identity &amp; Access Management")
      $(attr "$S" employeeNumber "" "$XSTR" "E-000424242")
      $(attr "$S" costCenter "" "$XSTR" "CC-7781 Research and Development, Europe Middle East and Africa region")"
doc | write_tpl assertion-rsa-sha256-large
fixture assertion-rsa-sha256-large idp-rsa2048 A

# ---------------------------------------------------------------------------
# IdP-shaped fixtures (all RSA-SHA256, idp-rsa2048)
# ---------------------------------------------------------------------------

# --- Okta: saml2p:/saml2:, Response + Assertion signed, PrefixList="xs" -----
reset_doc
S="saml2:"; PP="saml2p:"
R_NS="xmlns:saml2p=\"$NS_SAMLP\""
R_ISSUER="<saml2:Issuer xmlns:saml2=\"$NS_SAML\" Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">$IDP</saml2:Issuer>"
A_NS="xmlns:saml2=\"$NS_SAML\""
A_ISSUER_ATTRS=' Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity"'
NAMEID_ATTRS=""
R_SIG="$(sig_std "$RESP_ID" "$RSA_SHA256" "$SHA256" keyinfo xs)"
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo xs)"
OKTA_NF=' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"'
OKTA_V=" xmlns:xs=\"$NS_XS\" xmlns:xsi=\"$NS_XSI\" xsi:type=\"xs:string\""
ATTRS="$(attr saml2: email "$OKTA_NF" "$OKTA_V" "$EMAIL")$(attr saml2: displayName "$OKTA_NF" "$OKTA_V" "$DISPLAY_XML")$(attr saml2: groups "$OKTA_NF" "$OKTA_V" admins staff)"
doc | compact | write_tpl okta
fixture okta idp-rsa2048 AR

# --- Entra ID: samlp: Response, default-namespace Assertion and Signature ---
CL="http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
MS_DISPLAY="http://schemas.microsoft.com/identity/claims/displayname"
MS_GROUPS="http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
reset_doc
S=""; PP="samlp:"
R_NS="xmlns:samlp=\"$NS_SAMLP\""
R_ISSUER="<Issuer xmlns=\"$NS_SAML\">$IDP</Issuer>"
A_NS="xmlns=\"$NS_SAML\""
NAMEID_ATTRS=""
NAMEID_FMT="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_VAL="k3Jf0pQ2x8vZr7bW1mN4tY6uH9sD5gA0cE2iL8oR1eU"
DSP=""
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(attr "" "http://schemas.microsoft.com/identity/claims/tenantid" "" "" "0b5c3f7e-2d1a-4c9b-8e6f-1a2b3c4d5e6f")$(attr "" "http://schemas.microsoft.com/identity/claims/objectidentifier" "" "" "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")$(attr "" "$CL/emailaddress" "" "" "$EMAIL")$(attr "" "$CL/name" "" "" "$EMAIL")$(attr "" "$MS_DISPLAY" "" "" "$DISPLAY_XML")$(attr "" "$MS_GROUPS" "" "" admins staff)"
doc | compact | write_tpl entra
fixture entra idp-rsa2048 A

# --- ADFS: samlp: Response, default-namespace Assertion, ds: Signature -------
reset_doc
S=""; PP="samlp:"
R_NS="xmlns:samlp=\"$NS_SAMLP\""
R_ATTRS=' Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified"'
R_ISSUER="<Issuer xmlns=\"$NS_SAML\">$IDP</Issuer>"
A_NS="xmlns=\"$NS_SAML\""
NAMEID_ATTRS=""
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(attr "" "$CL/emailaddress" "" "" "$EMAIL")$(attr "" "$CL/upn" "" "" "$EMAIL")$(attr "" "$MS_DISPLAY" "" "" "$DISPLAY_XML")$(attr "" "$MS_GROUPS" "" "" admins staff)"
doc | compact | write_tpl adfs
fixture adfs idp-rsa2048 A

# --- Google Workspace: saml2p:/saml2:, Assertion signed ----------------------
reset_doc
S="saml2:"; PP="saml2p:"
R_NS="xmlns:saml2p=\"$NS_SAMLP\""
R_ISSUER="<saml2:Issuer xmlns:saml2=\"$NS_SAML\">$IDP</saml2:Issuer>"
A_NS="xmlns:saml2=\"$NS_SAML\""
NAMEID_ATTRS=""
AUTHN_CLASS="urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
G_V=" xmlns:xs=\"$NS_XS\" xmlns:xsi=\"$NS_XSI\" xsi:type=\"xs:anyType\""
ATTRS="$(attr saml2: email "" "$G_V" "$EMAIL")$(attr saml2: displayName "" "$G_V" "$DISPLAY_XML")$(attr saml2: groups "" "$G_V" admins staff)"
doc | compact | write_tpl google
fixture google idp-rsa2048 A

# --- Shibboleth IdP: saml2p:/saml2:, OID attribute names, pretty-printed ------
reset_doc
S="saml2:"; PP="saml2p:"
R_NS="xmlns:saml2p=\"$NS_SAMLP\""
R_ISSUER="<saml2:Issuer xmlns:saml2=\"$NS_SAML\">$IDP</saml2:Issuer>"
A_NS="xmlns:saml2=\"$NS_SAML\""
NAMEID_ATTRS=" NameQualifier=\"$IDP\" SPNameQualifier=\"$SP\""
A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo xs)"
SH_NF=' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"'
SH_V=" xmlns:xs=\"$NS_XS\" xmlns:xsi=\"$NS_XSI\" xsi:type=\"xs:string\""
ATTRS="$(attr saml2: urn:oid:0.9.2342.19200300.100.1.3 " FriendlyName=\"mail\"$SH_NF" "$SH_V" "$EMAIL")
      $(attr saml2: urn:oid:2.16.840.1.113730.3.1.241 " FriendlyName=\"displayName\"$SH_NF" "$SH_V" "$DISPLAY_XML")
      $(attr saml2: urn:oid:1.3.6.1.4.1.5923.1.5.1.1 " FriendlyName=\"isMemberOf\"$SH_NF" "$SH_V" admins staff)"
doc | write_tpl shibboleth
fixture shibboleth idp-rsa2048 A

# ---------------------------------------------------------------------------
# SAML profile fixtures (signed/profile/): each is the baseline
# assertion-rsa-sha256 document (Assertion signed, idp-rsa2048, RSA-SHA256,
# exc-c14n) with exactly one deviation, so that one validator check can be
# tested while the signature still verifies.
# ---------------------------------------------------------------------------
mkdir -p "$TPL/profile" "$OUT/profile" "$WORK/profile"

# deviate COUNT REGEX REPLACEMENT : stdin -> stdout, every match of the Perl
# REGEX (/s; use \K to keep a prefix) is replaced by the literal REPLACEMENT;
# fails unless the REGEX matches exactly COUNT times.
deviate() {
    N="$1" FROM="$2" TO="$3" perl -0777 -pe '
        my $n = () = /$ENV{FROM}/gs;
        die "deviate: /$ENV{FROM}/ matched $n times, expected $ENV{N}\n" unless $n == $ENV{N};
        s/$ENV{FROM}/$ENV{TO}/gs;'
}

# baseline document (= assertion-rsa-sha256)
profile_base() {
    reset_doc
    A_SIG="$(sig_std "$ASSERT_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
    ATTRS="$(generic_attrs)"
}

# --- unsolicited (IdP-initiated): no InResponseTo on Response nor SubjectConfirmationData
profile_base
doc | deviate 2 ' InResponseTo="[^"]*"' '' | write_tpl profile/idp-initiated
fixture profile/idp-initiated idp-rsa2048 A

# --- only the Response signed (like response-rsa-sha256), no Destination ----
reset_doc
R_SIG="$(sig_std "$RESP_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(generic_attrs)"
doc | deviate 1 ' Destination="[^"]*"' '' | write_tpl profile/response-signed-no-destination
fixture profile/response-signed-no-destination idp-rsa2048 R

# --- the only SubjectConfirmation is holder-of-key (SubjectConfirmationData kept)
profile_base
doc | deviate 1 'Method="urn:oasis:names:tc:SAML:2\.0:cm:bearer"' \
        'Method="urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"' | write_tpl profile/holder-of-key-only
fixture profile/holder-of-key-only idp-rsa2048 A

# --- bearer SubjectConfirmation without SubjectConfirmationData -------------
profile_base
doc | deviate 1 '<saml:SubjectConfirmation [^>]*\K>\s*<saml:SubjectConfirmationData [^>]*/>\s*</saml:SubjectConfirmation>' '/>' \
    | write_tpl profile/no-subject-confirmation-data
fixture profile/no-subject-confirmation-data idp-rsa2048 A

# --- SubjectConfirmationData also has NotBefore ------------------------------
SCD_NOT_BEFORE="2026-01-01T00:03:00Z"
profile_base
doc | deviate 1 '<saml:SubjectConfirmationData \K' "NotBefore=\"$SCD_NOT_BEFORE\" " \
    | write_tpl profile/confirmation-not-before
fixture profile/confirmation-not-before idp-rsa2048 A

# --- no Conditions ------------------------------------------------------------
profile_base
doc | deviate 1 '\n    <saml:Conditions .*?</saml:Conditions>' '' | write_tpl profile/no-conditions
fixture profile/no-conditions idp-rsa2048 A

# --- Conditions (NotBefore/NotOnOrAfter kept) without AudienceRestriction ----
profile_base
doc | deviate 1 '<saml:Conditions [^>]*\K>.*?</saml:Conditions>' '/>' | write_tpl profile/no-audience-restriction
fixture profile/no-audience-restriction idp-rsa2048 A

# --- a second AudienceRestriction that does not name us (all must hold) ------
profile_base
doc | deviate 1 '</saml:AudienceRestriction>\K' $'\n      <saml:AudienceRestriction>\n        <saml:Audience>https://other.example.test</saml:Audience>\n      </saml:AudienceRestriction>' \
    | write_tpl profile/two-audience-restrictions
fixture profile/two-audience-restrictions idp-rsa2048 A

# --- no AuthnStatement ------------------------------------------------------
profile_base
doc | deviate 1 '\n    <saml:AuthnStatement .*?</saml:AuthnStatement>' '' | write_tpl profile/no-authn-statement
fixture profile/no-authn-statement idp-rsa2048 A

# --- Subject without NameID (SubjectConfirmation kept) ----------------------
profile_base
doc | deviate 1 '\n      <saml:NameID .*?</saml:NameID>' '' | write_tpl profile/no-name-id
fixture profile/no-name-id idp-rsa2048 A

# --- EncryptedID (empty EncryptedData) instead of NameID ---------------------
profile_base
doc | deviate 1 '<saml:NameID .*?</saml:NameID>' \
        '<saml:EncryptedID><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedID>' \
    | write_tpl profile/encrypted-id
fixture profile/encrypted-id idp-rsa2048 A

# --- unparsable Conditions NotOnOrAfter -------------------------------------
profile_base
doc | deviate 1 '<saml:Conditions [^>]*NotOnOrAfter="\K[^"]*' 'tomorrow' | write_tpl profile/bad-time
fixture profile/bad-time idp-rsa2048 A

# --- IdP session already over (SessionNotOnOrAfter before the validation time) -----
profile_base
doc | deviate 1 'SessionNotOnOrAfter="\K[^"]*' '2026-01-01T00:00:30Z' | write_tpl profile/session-expired
fixture profile/session-expired idp-rsa2048 A

# --- Assertion without Issuer (ds:Signature becomes its first child) --------
profile_base
doc | deviate 1 '<saml:Assertion [^>]*>\n    \K<saml:Issuer>[^<]*</saml:Issuer>' '' | write_tpl profile/no-assertion-issuer
fixture profile/no-assertion-issuer idp-rsa2048 A

# --- NameID with an empty comment inside: the signed (comment-free) value is
#     alice@example.com.evil.test; reading only the first text node gives alice@example.com
profile_base
NAMEID_VAL="$NAMEID<!---->.evil.test"
doc | write_tpl profile/comment-in-name-id
fixture profile/comment-in-name-id idp-rsa2048 A

# --- persistent opaque NameID; the email is only in the `email` attribute ---
profile_base
NAMEID_FMT="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_VAL="8f14e45f-ceea-467f-a0e6-6b5c9d1e3a2b"
doc | write_tpl profile/nameid-persistent-attributes-only
fixture profile/nameid-persistent-attributes-only idp-rsa2048 A

# --- IdP failure: Status Responder/AuthnFailed + StatusMessage, no Assertion.
#     Unsigned: written straight to signed/profile/ (no template, nothing to sign).
reset_doc
doc | deviate 1 '<samlp:StatusCode Value="[^"]*"/>' \
        $'<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">\n      <samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/>\n    </samlp:StatusCode>\n    <samlp:StatusMessage>User cancelled</samlp:StatusMessage>' \
    | deviate 1 '\n  <saml:Assertion .*?</saml:Assertion>' '' > "$WORK/profile/status-responder.xml"
cmp -s "$WORK/profile/status-responder.xml" "$OUT/profile/status-responder.xml" \
    || cp "$WORK/profile/status-responder.xml" "$OUT/profile/status-responder.xml"
printf '  ok  %-40s unsigned (IdP error response)\n' "profile/status-responder.xml"

# ---------------------------------------------------------------------------
# 5. Negative self-checks (wrong key must not verify)
# ---------------------------------------------------------------------------
must_not_verify assertion-keyinfo-attacker idp-rsa2048 A
must_not_verify assertion-rollover-key     idp-rsa2048 A
must_not_verify assertion-rsa-sha256       other-rsa2048 A

echo "all ${#FIXTURES[@]} fixtures signed and verified by xmlsec1"

# ---------------------------------------------------------------------------
# 6. Encrypted assertions (tests/fixtures/encrypted/), issue 6
#    samlp:Response > saml:EncryptedAssertion > xenc:EncryptedData (Type Element),
#    made by `xmlsec1 --encrypt --xml-data`: xmlsec1 serialises the selected
#    saml:Assertion, encrypts it and replaces it with the filled EncryptedData
#    template. Unless said otherwise: key transport rsa-oaep-mgf1p (SHA-1),
#    EncryptedKey inside EncryptedData's KeyInfo, SP key sp-enc-rsa2048, and the
#    plaintext is the signed Assertion of signed/assertion-rsa-sha256.xml.
# ---------------------------------------------------------------------------
ENC="$ROOT/tests/fixtures/encrypted"
mkdir -p "$ENC" "$TPL/encrypted" "$WORK/enc"
ENC_FIXTURES=()

NS_XENC="http://www.w3.org/2001/04/xmlenc#"
NS_XENC11="http://www.w3.org/2009/xmlenc11#"
KT_OAEP="${NS_XENC}rsa-oaep-mgf1p"
KT_OAEP11="${NS_XENC11}rsa-oaep"
KT_RSA15="${NS_XENC}rsa-1_5"
MGF1_SHA256="${NS_XENC11}mgf1sha256"
MGF1_SHA512="${NS_XENC11}mgf1sha512"
AES_CBC() { echo "${NS_XENC}aes$1-cbc"; }     # 128|192|256
AES_GCM() { echo "${NS_XENC11}aes$1-gcm"; }

# The Assertion to encrypt: the one inside EncryptedAssertion (not a plaintext sibling).
XP_TO_ENCRYPT="//*[local-name()='EncryptedAssertion' and namespace-uri()='$NS_SAML']/*[local-name()='Assertion' and namespace-uri()='$NS_SAML']"

# xmlsec1 encrypts the bare serialisation of the node: namespace declarations of
# ancestors are NOT copied into the plaintext. So the Assertion declares what it
# uses itself (as real IdPs' output does); exc-c14n output, hence the baseline
# signature, is unchanged by that.
A_SELF_NS="xmlns:saml=\"$NS_SAML\" xmlns:xs=\"$NS_XS\" xmlns:xsi=\"$NS_XSI\""

# stdin Response -> its (only) Assertion wrapped in <saml:EncryptedAssertion>,
# with A_SELF_NS declared on the Assertion.
wrap_encrypted() {
    deviate 1 '\n  \K(?=<saml:Assertion )' $'<saml:EncryptedAssertion>\n    ' \
        | deviate 1 '<saml:EncryptedAssertion>\n    <saml:Assertion \K' "$A_SELF_NS " \
        | deviate 1 '</saml:Assertion>\K' $'\n  </saml:EncryptedAssertion>'
}

# enc_key_tmpl KEY_TRANSPORT [DIGEST] [MGF] [EncryptedKey attributes] [XML after CipherData]
enc_key_tmpl() {
    local inner="" em
    [[ -n ${2:-} ]] && inner="<ds:DigestMethod Algorithm=\"$2\"/>"
    [[ -n ${3:-} ]] && inner+="<xenc11:MGF xmlns:xenc11=\"$NS_XENC11\" Algorithm=\"$3\"/>"
    if [[ -n $inner ]]; then em="<xenc:EncryptionMethod Algorithm=\"$1\">$inner</xenc:EncryptionMethod>"
    else em="<xenc:EncryptionMethod Algorithm=\"$1\"/>"; fi
    printf '<xenc:EncryptedKey%s>%s<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>%s</xenc:EncryptedKey>' \
        "${4:-}" "$em" "${5:-}"
}
# enc_tmpl CONTENT_ALG ENCRYPTED_KEY_TEMPLATE : the xmlsec1 --encrypt template
enc_tmpl() {
    printf '<xenc:EncryptedData xmlns:xenc="%s" Type="%sElement"><xenc:EncryptionMethod Algorithm="%s"/><ds:KeyInfo xmlns:ds="%s">%s</ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>\n' \
        "$NS_XENC" "$NS_XENC" "$1" "$NS_DS" "$2"
}

# detach_key KEYINFO_XML : stdin -> stdout. Moves the EncryptedKey out of
# EncryptedData's KeyInfo to be EncryptedData's next sibling (declaring xenc/ds on
# it: they were in scope only inside EncryptedData) and fills KeyInfo with KEYINFO_XML.
detach_key() {
    KI="$1" DECL="xmlns:xenc=\"$NS_XENC\" xmlns:ds=\"$NS_DS\"" perl -0777 -pe '
        my $n = s{(<ds:KeyInfo [^>]*>)<xenc:EncryptedKey([ >].*?</xenc:EncryptedKey>)(</ds:KeyInfo>.*?</xenc:EncryptedData>)}
                 {$1$ENV{KI}$3\n    <xenc:EncryptedKey $ENV{DECL}$2}gs;
        die "detach_key: matched $n times, expected 1\n" unless $n == 1;'
}
drop_detached_key() { perl -0777 -pe 's{\n    <xenc:EncryptedKey .*?</xenc:EncryptedKey>}{}s'; }
# blank the values filled in by signing, to compare a signed doc with its template
blank_sig() { perl -0777 -pe 's{<ds:(DigestValue|SignatureValue|X509Certificate)>[^<]*</ds:\1>}{<ds:$1/>}g'; }
# blank the randomised values (for the keep-the-existing-file rule)
strip_random() { perl -0777 -pe 's{((?:CipherValue|DigestValue|SignatureValue)>)[^<]*<}{$1<}g' "$1"; }

decrypt_one() { # file out xmlsec1-key-args...
    local f=$1 o=$2
    shift 2
    xmlsec1 --decrypt "$@" --output "$o" "$f" >"$WORK/decrypt.log" 2>&1
}

# enc_check FILE NAME SPKEY DATA KIND : decrypt FILE with xmlsec1 and compare the
# result with the plaintext document DATA; verify the signature(s).
enc_check() {
    local f=$1 name=$2 spkey=$3 data=$4 kind=$5 dec="$WORK/enc/$2.dec.xml" sk="$WORK/enc/$2.session.key"
    case $kind in
        plain|xsw|sign)
            decrypt_one "$f" "$dec" --privkey-pem "$KEYS/$spkey.key" || return 1
            if [[ $kind == sign ]]; then
                # encrypt-then-sign: the Response signature covers the EncryptedAssertion
                verify_one "$f" idp-rsa2048 "$XP_RESPONSE_SIG" || return 1
                cmp -s <(blank_sig <"$dec") <(blank_sig <"$data") || { echo "decrypted $name != $data" >"$WORK/decrypt.log"; return 1; }
                # ... so it no longer verifies once the Assertion is decrypted in place
                if verify_one "$dec" idp-rsa2048 "$XP_RESPONSE_SIG"; then
                    echo "decrypted $name: Response signature still verifies" >"$WORK/decrypt.log"; return 1
                fi
                return 0
            fi
            cmp -s "$dec" "$data" || { echo "decrypted $name != $data" >"$WORK/decrypt.log"; return 1; }
            ;;
        beside)
            # xmlsec1 follows ds:RetrievalMethod to the sibling EncryptedKey (its Id registered as ID)
            decrypt_one "$f" "$dec" --privkey-pem "$KEYS/$spkey.key" \
                --id-attr:Id "$NS_XENC:EncryptedKey" || return 1
            cmp -s <(drop_detached_key <"$dec") "$data" || { echo "decrypted $name != $data" >"$WORK/decrypt.log"; return 1; }
            ;;
        keyname)
            # xmlsec1 cannot resolve CarriedKeyName inside the document, and it only
            # decrypts EncryptedData nodes: unwrap the session key with openssl
            # (RSA-OAEP, SHA-1, MGF1-SHA-1), then let xmlsec1 find it by ds:KeyName k1.
            # xmlsec1 falls back to the first key of the right size when no name
            # matches, so an all-zero decoy key is loaded first: only a working
            # KeyName lookup picks the real one.
            perl -0777 -ne 'print "$1\n" if m{<xenc:EncryptedKey .*?<xenc:CarriedKeyName>k1</xenc:CarriedKeyName>}s
                    && m{<xenc:EncryptedKey .*?<xenc:CipherValue>([^<]*)</xenc:CipherValue>}s' "$f" \
                | openssl base64 -d > "$sk.enc"
            openssl pkeyutl -decrypt -inkey "$KEYS/$spkey.key" -pkeyopt rsa_padding_mode:oaep \
                -in "$sk.enc" -out "$sk" >"$WORK/decrypt.log" 2>&1 || return 1
            head -c "$(wc -c <"$sk")" /dev/zero > "$sk.decoy"
            decrypt_one "$f" "$dec" --aeskey:decoy "$sk.decoy" --aeskey:k1 "$sk" || return 1
            cmp -s <(drop_detached_key <"$dec") "$data" || { echo "decrypted $name != $data" >"$WORK/decrypt.log"; return 1; }
            ;;
    esac
    # sign-then-encrypt: the decrypted Assertion's own signature verifies
    verify_one "$dec" idp-rsa2048 "$XP_ASSERTION_SIG" || return 1
}

# enc_fixture NAME SPKEY SESSION_KEY DATA KIND   (template already in $TPL/encrypted/NAME.xml)
#   SESSION_KEY: aes-128|aes-192|aes-256 (xmlsec1 --session-key)
#   KIND: plain   | xsw (plain, DATA has an extra plaintext Assertion)
#         beside  (EncryptedKey moved beside EncryptedData, KeyInfo = RetrievalMethod)
#         keyname (EncryptedKey beside EncryptedData with CarriedKeyName k1, KeyInfo = KeyName k1)
#         sign    (encrypt, then sign the Response with idp-rsa2048)
enc_fixture() {
    local name=$1 spkey=$2 sk=$3 data=$4 kind=$5 out="$ENC/$1.xml" cur="$WORK/enc/$1.xml"
    if ! xmlsec1 --encrypt --pubkey-cert-pem "$KEYS/$spkey.crt" --session-key "$sk" \
            --xml-data "$data" --node-xpath "$XP_TO_ENCRYPT" \
            --output "$cur.0" "$TPL/encrypted/$name.xml" 2>"$WORK/encrypt.log"; then
        cat "$WORK/encrypt.log" >&2
        echo "FAIL: xmlsec1 could not encrypt $name" >&2
        return 1
    fi
    case $kind in
        beside)  detach_key "<ds:RetrievalMethod URI=\"#_ek-0001\" Type=\"${NS_XENC}EncryptedKey\"/>" <"$cur.0" >"$cur" ;;
        keyname) detach_key "<ds:KeyName>k1</ds:KeyName>" <"$cur.0" >"$cur" ;;
        sign)
            # shellcheck disable=SC2046
            if ! xmlsec1 --sign $(key_sign_args idp-rsa2048) "${ID_ATTRS[@]}" --node-xpath "$XP_RESPONSE_SIG" \
                    --output "$cur" "$cur.0" 2>"$WORK/sign.log"; then
                cat "$WORK/sign.log" >&2
                echo "FAIL: xmlsec1 could not sign $name (R)" >&2
                return 1
            fi ;;
        *) cp "$cur.0" "$cur" ;;
    esac
    if ! enc_check "$cur" "$name" "$spkey" "$data" "$kind"; then
        cat "$WORK/decrypt.log" "$WORK/verify.log" >&2
        echo "FAIL: self-check of $name failed" >&2
        return 1
    fi
    if [[ -f $out ]] && ! cmp -s "$cur" "$out"; then
        # keep the existing file if only randomised values differ and it still passes
        if [[ "$(strip_random "$cur")" != "$(strip_random "$out")" ]] \
                || ! enc_check "$out" "$name" "$spkey" "$data" "$kind"; then
            cp "$cur" "$out"
        fi
    elif [[ ! -f $out ]]; then
        cp "$cur" "$out"
    fi
    # final self-check on the bytes actually left in the repo
    if ! enc_check "$out" "$name" "$spkey" "$data" "$kind"; then
        cat "$WORK/decrypt.log" "$WORK/verify.log" >&2
        echo "FAIL: self-check of $out failed" >&2
        return 1
    fi
    ENC_FIXTURES+=("$name")
    printf '  ok  %-40s to=%-17s %s\n' "encrypted/$name.xml" "$spkey" "$kind"
}

# must_not_decrypt NAME SPKEY : negative self-check (wrong SP key)
must_not_decrypt() {
    if decrypt_one "$ENC/$1.xml" "$WORK/enc/neg.xml" --privkey-pem "$KEYS/$2.key"; then
        echo "FAIL: encrypted/$1.xml unexpectedly decrypts with $2" >&2
        return 1
    fi
    printf '  ok  %-40s does NOT decrypt with %s\n' "encrypted/$1.xml" "$2"
}

echo "encrypted -> $ENC"

# --- plaintext documents (templates/encrypted/data-*.xml): what decryption must give back
#     sign-then-encrypt: the signed baseline, Assertion wrapped in EncryptedAssertion
DATA_SIGNED="$TPL/encrypted/data-signed-assertion.xml"
wrap_encrypted <"$OUT/assertion-rsa-sha256.xml" | write_tpl encrypted/data-signed-assertion
verify_one "$DATA_SIGNED" idp-rsa2048 "$XP_ASSERTION_SIG" \
    || { cat "$WORK/verify.log" >&2; echo "FAIL: $DATA_SIGNED does not verify" >&2; exit 1; }

#     encrypt-then-sign: unsigned Assertion, empty Response Signature template after the Issuer
DATA_ETS="$TPL/encrypted/data-encrypt-then-sign.xml"
reset_doc
R_SIG="$(sig_std "$RESP_ID" "$RSA_SHA256" "$SHA256" keyinfo)"
ATTRS="$(generic_attrs)"
doc | wrap_encrypted | write_tpl encrypted/data-encrypt-then-sign

#     wrapping attempt: an unsigned plaintext Assertion for mallory before the EncryptedAssertion
DATA_XSW="$TPL/encrypted/data-xsw.xml"
reset_doc
NAMEID_VAL="mallory@evil.test"
EMAIL="mallory@evil.test"
ATTRS="$(generic_attrs)"
EMAIL="$NAMEID"
EVIL="$(doc | perl -0777 -ne 'print $1 if m{\n(  <saml:Assertion .*?</saml:Assertion>)}s' \
    | deviate 1 ' ID="\K_assert-0001' '_assert-evil')"
deviate 1 '</samlp:Status>\K' $'\n'"$EVIL" <"$DATA_SIGNED" | write_tpl encrypted/data-xsw
verify_one "$DATA_XSW" idp-rsa2048 "$XP_ASSERTION_SIG" \
    || { cat "$WORK/verify.log" >&2; echo "FAIL: $DATA_XSW does not verify" >&2; exit 1; }

# --- algorithm matrix: rsa-oaep-mgf1p (SHA-1) x AES-CBC / AES-GCM ---------------
for bits in 128 192 256; do
    enc_tmpl "$(AES_CBC $bits)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" | write_tpl "encrypted/oaep-mgf1p-aes$bits-cbc"
    enc_fixture "oaep-mgf1p-aes$bits-cbc" sp-enc-rsa2048 "aes-$bits" "$DATA_SIGNED" plain
done
for bits in 128 192 256; do
    enc_tmpl "$(AES_GCM $bits)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" | write_tpl "encrypted/oaep-mgf1p-aes$bits-gcm"
    enc_fixture "oaep-mgf1p-aes$bits-gcm" sp-enc-rsa2048 "aes-$bits" "$DATA_SIGNED" plain
done

# --- XML Encryption 1.1 rsa-oaep (explicit digest and MGF) ----------------------
#     xmlsec1 1.2.37 does not know xmlenc11#rsa-oaep (nor xenc11:MGF), and its
#     rsa-oaep-mgf1p takes only SHA-1. So two real tools share the work: xmlsec1
#     encrypts the Assertion with a random AES key given to it by name
#     (--aeskey:k1), and `openssl pkeyutl` wraps that key with RSA-OAEP and the
#     digest and MGF1 hash the fixture names; the EncryptedKey then replaces the
#     KeyName. The self-check undoes both steps with the same tools: openssl
#     unwraps with the SP private key, xmlsec1 decrypts with the unwrapped key
#     (a zero decoy key is loaded first, so only the named key can succeed), and
#     the result must be the signed baseline, whose signature must verify.
openssl_md() { # digest or MGF URI ("" = SHA-1) -> openssl digest name
    case $1 in
        ""|"$SHA1"|*mgf1sha1) echo sha1 ;;
        "$SHA256"|*mgf1sha256) echo sha256 ;;
        "$SHA384"|*mgf1sha384) echo sha384 ;;
        "$SHA512"|*mgf1sha512) echo sha512 ;;
        *) echo "openssl_md: unknown $1" >&2; return 1 ;;
    esac
}
oaep11_check() { # FILE NAME DIGEST MGF : openssl unwrap + xmlsec1 decrypt + verify
    local f=$1 w="$WORK/enc/$2.check" md mgfmd
    md=$(openssl_md "$3") && mgfmd=$(openssl_md "$4") || return 1
    perl -0777 -ne 'print "$1\n" if m{<xenc:EncryptedKey.*?<xenc:CipherValue>([^<]*)</xenc:CipherValue>}s' "$f" \
        | openssl base64 -d > "$w.ek" || return 1
    openssl pkeyutl -decrypt -inkey "$KEYS/sp-enc-rsa2048.key" -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$mgfmd" -in "$w.ek" -out "$w.sk" >"$WORK/decrypt.log" 2>&1 || return 1
    perl -0777 -pe 's{<xenc:EncryptedKey.*?</xenc:EncryptedKey>}{<ds:KeyName>k1</ds:KeyName>}s' "$f" > "$w.named.xml"
    head -c "$(wc -c <"$w.sk")" /dev/zero > "$w.decoy"
    decrypt_one "$w.named.xml" "$w.dec" --aeskey:decoy "$w.decoy" --aeskey:k1 "$w.sk" || return 1
    cmp -s "$w.dec" "$DATA_SIGNED" || { echo "decrypted $2 != $DATA_SIGNED" >"$WORK/decrypt.log"; return 1; }
    verify_one "$w.dec" idp-rsa2048 "$XP_ASSERTION_SIG"
}
oaep11() { # NAME DIGEST MGF(""=no MGF element, MGF1-SHA-1) CONTENT_ALG KEY_BYTES
    local name=$1 out="$ENC/$1.xml" w="$WORK/enc/$1" md mgfmd
    enc_tmpl "$4" "<ds:KeyName>k1</ds:KeyName>" | write_tpl "encrypted/$name"
    if [[ -f $out ]] && oaep11_check "$out" "$name" "$2" "$3"; then
        ENC_FIXTURES+=("$name")   # randomised: an existing file that passes is kept
        printf '  ok  %-40s to=%-17s %s\n' "encrypted/$name.xml" sp-enc-rsa2048 "oaep11 (kept)"
        return 0
    fi
    md=$(openssl_md "$2") && mgfmd=$(openssl_md "$3") || return 1
    openssl rand "$5" > "$w.sk"
    xmlsec1 --encrypt --aeskey:k1 "$w.sk" --xml-data "$DATA_SIGNED" --node-xpath "$XP_TO_ENCRYPT" \
            --output "$w.0" "$TPL/encrypted/$name.xml" 2>"$WORK/encrypt.log" \
        || { cat "$WORK/encrypt.log" >&2; echo "FAIL: xmlsec1 could not encrypt $name" >&2; return 1; }
    openssl pkeyutl -encrypt -certin -inkey "$KEYS/sp-enc-rsa2048.crt" -pkeyopt rsa_padding_mode:oaep \
            -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$mgfmd" -in "$w.sk" -out "$w.ek" \
        || { echo "FAIL: openssl could not wrap the key of $name" >&2; return 1; }
    EK="$(enc_key_tmpl "$KT_OAEP11" "$2" "$3" | sed "s|<xenc:CipherValue/>|<xenc:CipherValue>$(openssl base64 -A <"$w.ek")</xenc:CipherValue>|")" \
        perl -0777 -pe 's{<ds:KeyName>k1</ds:KeyName>}{$ENV{EK}}' "$w.0" > "$w.xml"
    if ! oaep11_check "$w.xml" "$name" "$2" "$3"; then
        cat "$WORK/decrypt.log" "$WORK/verify.log" >&2
        echo "FAIL: self-check of $name failed" >&2
        return 1
    fi
    cp "$w.xml" "$out"
    ENC_FIXTURES+=("$name")
    printf '  ok  %-40s to=%-17s %s\n' "encrypted/$name.xml" sp-enc-rsa2048 "oaep11 (xmlsec1 + openssl)"
}
MGF1_SHA1="${NS_XENC11}mgf1sha1"
MGF1_SHA384="${NS_XENC11}mgf1sha384"
oaep11 oaep11-sha256-mgf1sha256-aes256-gcm "$SHA256" "$MGF1_SHA256" "$(AES_GCM 256)" 32
oaep11 oaep11-sha256-mgf1sha1-aes256-cbc   "$SHA256" ""             "$(AES_CBC 256)" 32
oaep11 oaep11-sha512-mgf1sha512-aes128-gcm "$SHA512" "$MGF1_SHA512" "$(AES_GCM 128)" 16
oaep11 oaep11-sha384-mgf1sha384-aes192-gcm "$SHA384" "$MGF1_SHA384" "$(AES_GCM 192)" 24
oaep11 oaep11-sha1-mgf1sha1-aes128-cbc     "$SHA1"   "$MGF1_SHA1"   "$(AES_CBC 128)" 16
oaep11 oaep11-sha512-mgf1sha256-aes256-cbc "$SHA512" "$MGF1_SHA256" "$(AES_CBC 256)" 32

# --- RSA PKCS#1 v1.5 key transport (to be refused by default) -------------------
enc_tmpl "$(AES_CBC 128)" "$(enc_key_tmpl "$KT_RSA15")" | write_tpl encrypted/rsa15-aes128-cbc
enc_fixture rsa15-aes128-cbc sp-enc-rsa2048 aes-128 "$DATA_SIGNED" plain

# --- EncryptedKey beside EncryptedData, found through ds:RetrievalMethod -------
enc_tmpl "$(AES_CBC 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1" "" ' Id="_ek-0001"')" \
    | write_tpl encrypted/encrypted-key-beside-data
enc_fixture encrypted-key-beside-data sp-enc-rsa2048 aes-256 "$DATA_SIGNED" beside

# --- EncryptedKey beside EncryptedData, found through KeyName = CarriedKeyName --
enc_tmpl "$(AES_CBC 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1" "" "" '<xenc:CarriedKeyName>k1</xenc:CarriedKeyName>')" \
    | write_tpl encrypted/keyname-reference
enc_fixture keyname-reference sp-enc-rsa2048 aes-256 "$DATA_SIGNED" keyname

# --- SP key rollover: encrypted to the second SP key --------------------------
enc_tmpl "$(AES_CBC 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" | write_tpl encrypted/encrypted-with-enc2
enc_fixture encrypted-with-enc2 sp-enc2-rsa2048 aes-256 "$DATA_SIGNED" plain

# --- encrypt-then-sign: unsigned Assertion encrypted, then the Response signed ---
enc_tmpl "$(AES_CBC 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" | write_tpl encrypted/encrypt-then-sign
enc_fixture encrypt-then-sign sp-enc-rsa2048 aes-256 "$DATA_ETS" sign

# --- wrapping attempt: EncryptedAssertion plus a plaintext evil Assertion ------
enc_tmpl "$(AES_CBC 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" | write_tpl encrypted/double-encrypted-xsw
enc_fixture double-encrypted-xsw sp-enc-rsa2048 aes-256 "$DATA_XSW" xsw

# --- negative self-checks (wrong SP key must not decrypt) ----------------------
must_not_decrypt encrypted-with-enc2    sp-enc-rsa2048
must_not_decrypt oaep-mgf1p-aes256-cbc  sp-enc2-rsa2048

echo "all ${#ENC_FIXTURES[@]} encrypted fixtures made by xmlsec1 --encrypt and decrypted again by xmlsec1 --decrypt"

# ---------------------------------------------------------------------------
# 7. Single Logout messages for the HTTP-POST binding (tests/fixtures/logout/),
#    issue 6: the IdP's LogoutRequest and LogoutResponse with an enveloped
#    signature on the root, as SimpleSAMLphp and ADFS send them. RSA PKCS#1 v1.5
#    is deterministic, so reruns reproduce the same bytes.
# ---------------------------------------------------------------------------
SLO_OUT="$ROOT/tests/fixtures/logout"
mkdir -p "$SLO_OUT" "$TPL/logout"
SLO_URL="$ACS/slo"
SLO_ID_ATTRS=(--id-attr:ID "$NS_SAMLP:LogoutRequest" --id-attr:ID "$NS_SAMLP:LogoutResponse")
DSP="ds:"
slo_sig() { sig "$1" "$RSA_SHA256" "$SHA256" "$C14N_EXC" "$(tf_env)$(tf_exc)"; }

# slo_fixture NAME KEY : sign $TPL/logout/NAME.xml's root signature and verify it.
slo_fixture() {
    local name=$1 key=$2 xp="/*/*[local-name()='Signature']"
    # shellcheck disable=SC2046
    xmlsec1 --sign $(key_sign_args "$key") "${SLO_ID_ATTRS[@]}" --node-xpath "$xp" \
        --output "$SLO_OUT/$name.xml" "$TPL/logout/$name.xml" 2>"$WORK/sign.log" \
        || { cat "$WORK/sign.log" >&2; echo "FAIL: xmlsec1 could not sign logout/$name" >&2; return 1; }
    # shellcheck disable=SC2046
    xmlsec1 --verify $(key_verify_args "$key") "${SLO_ID_ATTRS[@]}" --node-xpath "$xp" "$SLO_OUT/$name.xml" >"$WORK/verify.log" 2>&1 \
        || { cat "$WORK/verify.log" >&2; echo "FAIL: self-check of logout/$name failed" >&2; return 1; }
    printf '  ok  %-40s key=%s\n' "logout/$name.xml" "$key"
}

logout_request_tpl() { # ID NAMEID SESSION_INDEX_XML
    printf '<samlp:LogoutRequest xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s"><saml:Issuer>%s</saml:Issuer>%s<saml:NameID Format="%s">%s</saml:NameID>%s</samlp:LogoutRequest>\n' \
        "$NS_SAMLP" "$NS_SAML" "$1" "$INSTANT" "$SLO_URL" "$IDP" "$(slo_sig "$1")" "$NAMEID_EMAIL" "$2" "$3"
}
logout_response_tpl() { # ID IN_RESPONSE_TO STATUS
    printf '<samlp:LogoutResponse xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" InResponseTo="%s"><saml:Issuer>%s</saml:Issuer>%s<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:%s"/></samlp:Status></samlp:LogoutResponse>\n' \
        "$NS_SAMLP" "$NS_SAML" "$1" "$INSTANT" "$SLO_URL" "$2" "$IDP" "$(slo_sig "$1")" "$3"
}

logout_request_tpl _idp-logout-1 "$NAMEID" "<samlp:SessionIndex>$SESSION_INDEX</samlp:SessionIndex>" | write_tpl logout/logout-request
slo_fixture logout-request idp-rsa2048
logout_request_tpl _idp-logout-2 "$NAMEID" "" | write_tpl logout/logout-request-all-sessions
slo_fixture logout-request-all-sessions idp-rsa2048
logout_request_tpl _idp-logout-3 "$NAMEID" "<samlp:SessionIndex>$SESSION_INDEX</samlp:SessionIndex>" | write_tpl logout/logout-request-other-key
slo_fixture logout-request-other-key other-rsa2048
logout_response_tpl _idp-lr-1 _slo-req-1 Success | write_tpl logout/logout-response
slo_fixture logout-response idp-rsa2048
logout_response_tpl _idp-lr-2 _slo-req-1 Responder | write_tpl logout/logout-response-failed
slo_fixture logout-response-failed idp-rsa2048
echo "all logout fixtures signed and verified by xmlsec1"

# ---------------------------------------------------------------------------
# 8. EncryptedID (tests/fixtures/encrypted-id/): the NameID encrypted to the SP
#    (sp-enc-rsa2048; AES-256-GCM, key transport rsa-oaep-mgf1p), in a signed
#    Assertion and in a signed LogoutRequest. As IdPs do it, the NameID is encrypted
#    first and the message holding it signed after, so the signature covers the
#    ciphertext. Self-check: the signature verifies, and `xmlsec1 --decrypt` gives back
#    the plaintext document (signature values blanked). Encryption is randomised: an
#    existing file is kept when only random values differ and it passes the check.
# ---------------------------------------------------------------------------
EID_OUT="$ROOT/tests/fixtures/encrypted-id"
mkdir -p "$EID_OUT" "$TPL/encrypted-id"
XP_TO_ENCRYPT_ID="//*[local-name()='EncryptedID' and namespace-uri()='$NS_SAML']/*[local-name()='NameID' and namespace-uri()='$NS_SAML']"
XP_LOGOUT_SIG="/*/*[local-name()='Signature']"

# stdin -> stdout: the one saml:NameID wrapped in saml:EncryptedID, declaring saml: on
# the NameID itself (xmlsec1 encrypts its bare serialisation).
wrap_name_id() {
    deviate 1 '(?=<saml:NameID )' '<saml:EncryptedID>' \
        | deviate 1 '<saml:NameID \K' "xmlns:saml=\"$NS_SAML\" " \
        | deviate 1 '</saml:NameID>\K' '</saml:EncryptedID>'
}

eid_check() { # FILE PLAINTEXT SIGNATURE_XPATH
    local f=$1 data=$2 xp=$3 dec="$WORK/enc/eid.dec.xml"
    # shellcheck disable=SC2046
    xmlsec1 --verify $(key_verify_args idp-rsa2048) "${VERIFY_KEY_DATA[@]}" "${ID_ATTRS[@]}" "${SLO_ID_ATTRS[@]}" \
        --node-xpath "$xp" "$f" >"$WORK/verify.log" 2>&1 || return 1
    decrypt_one "$f" "$dec" --privkey-pem "$KEYS/sp-enc-rsa2048.key" || return 1
    # (xmlsec1 writes an XML declaration on output; the LogoutRequest template has none)
    cmp -s <(blank_sig <"$dec" | no_xml_decl) <(blank_sig <"$data" | no_xml_decl) \
        || { echo "decrypted $f != $data" >"$WORK/decrypt.log"; return 1; }
}
no_xml_decl() { perl -0777 -pe 's{\A<\?xml[^>]*\?>\n}{}'; }

eid_fixture() { # NAME SIGNATURE_XPATH   (plaintext template already in $TPL/encrypted-id/NAME.xml)
    local name=$1 xp=$2 data="$TPL/encrypted-id/$1.xml" out="$EID_OUT/$1.xml" cur="$WORK/enc/eid-$1.xml"
    enc_tmpl "$(AES_GCM 256)" "$(enc_key_tmpl "$KT_OAEP" "$SHA1")" >"$cur.tmpl"
    xmlsec1 --encrypt --pubkey-cert-pem "$KEYS/sp-enc-rsa2048.crt" --session-key aes-256 \
            --xml-data "$data" --node-xpath "$XP_TO_ENCRYPT_ID" --output "$cur.0" "$cur.tmpl" 2>"$WORK/encrypt.log" \
        || { cat "$WORK/encrypt.log" >&2; echo "FAIL: xmlsec1 could not encrypt encrypted-id/$name" >&2; return 1; }
    # shellcheck disable=SC2046
    xmlsec1 --sign $(key_sign_args idp-rsa2048) "${ID_ATTRS[@]}" "${SLO_ID_ATTRS[@]}" --node-xpath "$xp" \
            --output "$cur" "$cur.0" 2>"$WORK/sign.log" \
        || { cat "$WORK/sign.log" >&2; echo "FAIL: xmlsec1 could not sign encrypted-id/$name" >&2; return 1; }
    eid_check "$cur" "$data" "$xp" \
        || { cat "$WORK/decrypt.log" "$WORK/verify.log" >&2; echo "FAIL: self-check of encrypted-id/$name failed" >&2; return 1; }
    if ! { [[ -f $out ]] && [[ "$(strip_random "$cur")" == "$(strip_random "$out")" ]] && eid_check "$out" "$data" "$xp"; }; then
        cp "$cur" "$out"
    fi
    eid_check "$out" "$data" "$xp" \
        || { cat "$WORK/decrypt.log" "$WORK/verify.log" >&2; echo "FAIL: self-check of $out failed" >&2; return 1; }
    printf '  ok  %-40s to=%-17s signed by idp-rsa2048\n' "encrypted-id/$name.xml" sp-enc-rsa2048
}

profile_base
doc | wrap_name_id | write_tpl encrypted-id/assertion
eid_fixture assertion "$XP_ASSERTION_SIG"
profile_base
doc | wrap_name_id | deviate 1 '(?=<saml:EncryptedID>)' '<saml:NameID>mallory@evil.test</saml:NameID>' \
    | write_tpl encrypted-id/assertion-name-id-and-encrypted-id
eid_fixture assertion-name-id-and-encrypted-id "$XP_ASSERTION_SIG"
logout_request_tpl _idp-logout-eid "$NAMEID" "<samlp:SessionIndex>$SESSION_INDEX</samlp:SessionIndex>" | wrap_name_id | write_tpl encrypted-id/logout-request
eid_fixture logout-request "$XP_LOGOUT_SIG"
echo "EncryptedID fixtures encrypted and signed by xmlsec1, decrypted again by xmlsec1 --decrypt"
