#!/usr/bin/env bash
# Registers one SP with the test IdP of STATE_DIR: adds the JSON object to
# STATE_DIR/sps.json, replacing any entry with the same entityId. Takes effect on the
# next request (no restart). The file is locked during the update and replaced
# atomically, so concurrent add-sp.sh calls and IdP requests are safe.
#
#   scripts/simplesamlphp/add-sp.sh STATE_DIR '{"entityId": "...", "acs": "...", ...}'
#
# Fields: entityId, acs (required); signAssertion (default true), signResponse (false),
# signatureAlgorithm (rsa-sha256 URI), validateAuthnRequest (false), encryptAssertion
# (false), encryptNameId (false), certificate (PEM or base64; required by the three
# previous), slo, sloBinding (redirect|post). See README.md.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 STATE_DIR JSON_OBJECT" >&2; exit 2; }
[ -d "$1" ] || { echo "no such STATE_DIR: $1" >&2; exit 1; }
command -v php >/dev/null || { echo "php not found; run $(dirname "$0")/install.sh" >&2; exit 1; }

# shellcheck disable=SC2016 # PHP code, not shell
php -r '
$file = $argv[1] . "/sps.json";
$fail = function ($msg) { fwrite(STDERR, "add-sp: $msg\n"); exit(1); };
$sp = json_decode($argv[2], true);
if (!is_array($sp) || ($sp !== [] && array_keys($sp) === range(0, count($sp) - 1))) {
    $fail("JSON_OBJECT must be a JSON object" . (json_last_error() ? " (" . json_last_error_msg() . ")" : ""));
}
$known = ["entityId", "acs", "signAssertion", "signResponse", "signatureAlgorithm",
          "validateAuthnRequest", "certificate", "encryptAssertion", "encryptNameId", "slo", "sloBinding"];
foreach (array_keys($sp) as $k) {
    if (!in_array($k, $known, true)) { $fail("unknown field \"$k\" (known: " . implode(", ", $known) . ")"); }
}
foreach (["entityId", "acs"] as $k) {
    if (!is_string($sp[$k] ?? null) || $sp[$k] === "") { $fail("\"$k\" must be a non-empty string"); }
}
foreach (["signAssertion", "signResponse", "validateAuthnRequest", "encryptAssertion", "encryptNameId"] as $k) {
    if (array_key_exists($k, $sp) && !is_bool($sp[$k])) { $fail("\"$k\" must be true or false"); }
}
foreach (["signatureAlgorithm", "certificate", "slo", "sloBinding"] as $k) {
    if (array_key_exists($k, $sp) && !is_string($sp[$k]) && $sp[$k] !== null) { $fail("\"$k\" must be a string"); }
}
$algorithms = ["http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
               "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"];
if (isset($sp["signatureAlgorithm"]) && !in_array($sp["signatureAlgorithm"], $algorithms, true)) {
    $fail("\"signatureAlgorithm\" must be one of: " . implode(" ", $algorithms));
}
if ((($sp["validateAuthnRequest"] ?? false) || ($sp["encryptAssertion"] ?? false) || ($sp["encryptNameId"] ?? false)) && empty($sp["certificate"])) {
    $fail("validateAuthnRequest/encryptAssertion/encryptNameId need \"certificate\"");
}

$lock = fopen($file . ".lock", "c");
if ($lock === false || !flock($lock, LOCK_EX)) { $fail("cannot lock $file.lock"); }
$list = [];
if (file_exists($file)) {
    $list = json_decode((string) file_get_contents($file), true);
    if (!is_array($list)) { $fail("$file is not a JSON list"); }
}
$list = array_values(array_filter($list, function ($e) use ($sp) {
    return !is_array($e) || ($e["entityId"] ?? null) !== $sp["entityId"];
}));
$list[] = $sp;
$tmp = $file . ".tmp." . getmypid();
$json = json_encode($list, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n";
if (file_put_contents($tmp, $json) === false || !rename($tmp, $file)) { $fail("cannot write $file"); }
flock($lock, LOCK_UN);
' "$1" "$2"
