#!/usr/bin/env python3
"""End-to-end sign-in (issue 4) and Single Logout (issue 6) tests: a browser, the real
SimpleSAMLphp IdP, and one saml-edge target behind a base URL.

    SP_BASE=http://127.0.0.1:8787 python3 -m unittest -v tests/e2e/test_signin.py

(`scripts/e2e [native]` starts the IdP and the target, then runs this.)

The suite only speaks HTTP to SP_BASE (and to the IdP through
scripts/simplesamlphp/login.py), so the same file runs unchanged against the native dev
server, a Cloudflare Worker (wrangler/workerd) and a Spin component: no logs, no
timings, no files of the target are read, and nothing depends on how a host spells its
headers. Each "browser" is one cookie jar; redirects are never followed automatically,
every hop is asserted and followed by hand.

Needs the two kv-seed connectors registered at the IdP for SP_BASE (scripts/dev-idp
does it): `simplesamlphp` (alice, example.com, IdP-initiated allowed) and
`simplesamlphp-signed` (bob, example.org, signed AuthnRequests, no IdP-initiated).
Python 3 standard library, plus PyJWT with cryptography for the JWKS test.
"""

import base64
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

SP_BASE = os.environ.get("SP_BASE", "http://127.0.0.1:8787").rstrip("/")
IDP_BASE = os.environ.get("IDP_BASE", "http://127.0.0.1:8080").rstrip("/")
IDP_SSO = IDP_BASE + "/saml2/idp/SSOService.php"
IDP_SLO = IDP_BASE + "/saml2/idp/SingleLogoutService.php"
IDP_METADATA = IDP_BASE + "/saml2/idp/metadata.php"
LOGIN_PY = Path(__file__).resolve().parents[2] / "scripts" / "simplesamlphp" / "login.py"
ADD_SP = Path(__file__).resolve().parents[2] / "scripts" / "simplesamlphp" / "add-sp.sh"
KEYS = Path(__file__).resolve().parents[2] / "tests" / "keys"
SSP_STATE = os.environ.get("SSP_STATE", "target/simplesamlphp-state")
ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN", "")
# Worker only (wrangler dev --test-scheduled): runs the Cron Trigger handler.
SCHEDULED_URL = os.environ.get("SCHEDULED_URL", "")
TIMEOUT = 15  # seconds, per HTTP request

PLAIN = "simplesamlphp"  # unsigned requests, allowIdpInitiated, example.com
SIGNED = "simplesamlphp-signed"  # signed requests, no IdP-initiated, example.org
PASSWORDS = {"alice": "alice-pass", "bob": "bob-pass"}
ALICE_NAME = "Zoë O'Brien & <Co>"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SESSION_COOKIE = "saml_edge_session"
TRACKING_PREFIX = "saml_req_"

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JSON_ACCEPT = "application/json"

# Return URLs a browser could be tricked into leaving the origin with. Values as the
# service receives them (after query decoding); they are percent-encoded when sent.
REDIRECT_TRICKS = [
    "//evil.test",
    "///evil.test",
    "/\\evil.test",
    "\\\\evil.test",
    "/%5cevil.test",
    "/%5Cevil.test",
    "/%2f%2fevil.test",
    "javascript:alert(1)",
    "https://evil.test/",
    SP_BASE + ".evil.test/",
    "https://user@evil.test",
    SP_BASE + "@evil.test/",
    "/\t/evil.test",
    "/\n/evil.test",
    "/\r/evil.test",
    "data:text/html,x",
]

# Proxies from the environment must not capture loopback traffic (PyJWKClient and
# login.py use urllib's defaults).
for _var in ("no_proxy", "NO_PROXY"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    for _url in (SP_BASE, IDP_BASE):
        _host = urllib.parse.urlsplit(_url).hostname
        if _host and _host not in _hosts:
            _hosts.append(_host)
    os.environ[_var] = ",".join(_hosts)

NOTES = []  # printed after the run (e.g. which code the cross-connector case produced)


def acs_url(connector):
    return f"{SP_BASE}/api/authn/saml/{connector}"


def sign_in_url(connector, return_to=None):
    url = f"{SP_BASE}/api/authn/saml/{connector}/sign-in"
    return url if return_to is None else url + "?return_to=" + q(return_to)


def slo_url(connector):
    return acs_url(connector) + "/slo"


def entity_id(connector):
    return acs_url(connector) + "/metadata"


def q(value):
    """Percent-encode a query value completely (`/`, `%`, `\\`, controls included)."""
    return urllib.parse.quote(value, safe="")


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def query(url):
    """Query parameters of a URL as a dict (each parameter once)."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    names = [n for n, _ in pairs]
    assert len(names) == len(set(names)), f"repeated query parameter in {url}"
    return dict(pairs)


def idp_initiated_url(connector, relay_state=None):
    url = f"{IDP_SSO}?spentityid={q(entity_id(connector))}"
    return url if relay_state is None else url + "&RelayState=" + q(relay_state)


def parse_set_cookie(line):
    first, *attrs = [p.strip() for p in line.split(";")]
    name, _, value = first.partition("=")
    parsed = {}
    for attr in attrs:
        key, _, val = attr.partition("=")
        parsed[key.strip().lower()] = val.strip()
    return name.strip(), value.strip(), parsed


class Reply:
    """One HTTP response, whatever its status."""

    def __init__(self, method, url, status, headers, body):
        self.method, self.url, self.status, self.headers, self.body = method, url, status, headers, body

    def header(self, name):
        return self.headers.get(name)

    @property
    def media_type(self):
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def location(self):
        """The Location header resolved against the request URL (absolute), or None."""
        loc = self.header("location")
        return None if loc is None else urllib.parse.urljoin(self.url, loc)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def set_cookie(self, name):
        """(value, attributes) of the Set-Cookie for `name` in this response, or None."""
        for line in self.headers.get_all("set-cookie") or []:
            n, value, attrs = parse_set_cookie(line)
            if n == name:
                return value, attrs
        return None

    def error_code(self):
        """The stable error code, from the JSON body or from the HTML page."""
        if self.media_type == "application/json":
            return self.json().get("error", {}).get("code")
        m = re.search(r"<code>([a-z_]+\.[a-z_.]+)</code>", self.text)
        return m.group(1) if m else None

    def describe(self):
        loc = self.header("location")
        return (f"{self.method} {self.url} -> {self.status} {self.media_type or '-'}"
                + (f", Location: {loc}" if loc else "")
                + (f"\n{self.text[:600]}" if self.body else ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Every 3xx comes back to the test as it is."""

    def http_error_302(self, req, fp, code, msg, headers):
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class Browser:
    """One browser profile: a cookie jar, no automatic redirects, no proxies."""

    def __init__(self):
        self.jar = http.cookiejar.MozillaCookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        )

    def request(self, method, url, form=None, accept=BROWSER_ACCEPT, headers=None):
        data = None
        hdrs = {"Accept": accept, "User-Agent": "saml-edge-e2e"}
        if form is not None:
            data = urllib.parse.urlencode(form).encode("ascii")
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with self.opener.open(req, timeout=TIMEOUT) as resp:
                return Reply(method, url, resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:  # 3xx (not followed), 4xx, 5xx
            with e:
                return Reply(method, url, e.code, e.headers, e.read())

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, form, **kw):
        return self.request("POST", url, form=form, **kw)

    def follow(self, reply, **kw):
        return self.get(reply.location, **kw)

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    def import_cookies(self, path):
        """Add the cookies login.py saved (the IdP session) to this browser."""
        self.jar.load(path, ignore_discard=True, ignore_expires=True)

    def cookie_names(self, prefix=""):
        return sorted(c.name for c in self.jar if c.name.startswith(prefix))


class IdpRefused(Exception):
    pass


def idp_login(url, user, cookies=None):
    """Sign in at the IdP's login form (scripts/simplesamlphp/login.py); returns the
    auto-POST form: {"action", "SAMLResponse", "RelayState"}. With `cookies`, the IdP
    session's cookies are saved to that file."""
    extra = ["--cookies", cookies] if cookies else []
    proc = subprocess.run(
        [sys.executable, str(LOGIN_PY), "--url", url, "--user", user, "--password", PASSWORDS[user], *extra],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        raise IdpRefused(proc.stderr.strip() or f"login.py exited {proc.returncode}")
    return json.loads(proc.stdout)


def acs_form(form):
    fields = {"SAMLResponse": form["SAMLResponse"]}
    if form.get("RelayState") is not None:
        fields["RelayState"] = form["RelayState"]
    return fields


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []  # [{"action", "method", "inputs": {name: type}, "values": {name: value}}]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "inputs": {}, "values": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = (a.get("type") or "text").lower()
            self.forms[-1]["values"][a["name"]] = a.get("value") or ""


def setUpModule():
    probe = Browser()
    for what, url in (("saml-edge target (SP_BASE)", SP_BASE + "/.well-known/jwks.json"), ("SimpleSAMLphp IdP", IDP_METADATA)):
        try:
            reply = probe.get(url)
        except OSError as e:
            raise RuntimeError(f"{what} does not answer at {url}: {e} (scripts/e2e starts both)") from None
        if reply.status != 200:
            raise RuntimeError(f"{what} at {url} answered {reply.status}, not 200")


def tearDownModule():
    if NOTES:
        sys.stderr.write("\nnotes:\n" + "".join(f"  {n}\n" for n in NOTES))


class SignInCase(unittest.TestCase):
    maxDiff = None

    # --- helpers: each asserts its hops ----------------------------------------------

    def login(self, url, user, cookies=None):
        try:
            return idp_login(url, user, cookies)
        except IdpRefused as e:
            self.fail(f"IdP login as {user} at {url} failed:\n{e}")

    def assert_error(self, reply, status, code, as_json=True):
        """A refusal: `status`, the stable `code`, JSON (Accept: application/json) or an
        HTML page carrying the code."""
        self.assertEqual(reply.status, status, reply.describe())
        self.assertIsNone(reply.header("location"), reply.describe())
        if as_json:
            self.assertEqual(reply.media_type, "application/json", reply.describe())
            body = reply.json()
            self.assertEqual(body.get("error", {}).get("code"), code, reply.describe())
            self.assertTrue(body["error"].get("message"), reply.describe())
        else:
            self.assertEqual(reply.media_type, "text/html", reply.describe())
            self.assertIn(code, reply.text, reply.describe())

    def assert_redirect_refused(self, reply, as_json=True):
        if 300 <= reply.status < 400:
            self.assertEqual(origin(reply.location or ""), origin(SP_BASE), "OPEN REDIRECT: " + reply.describe())
        self.assert_error(reply, 400, "redirect.not_allowed", as_json=as_json)

    def start_sign_in(self, browser, url, signed=False):
        """GET a connector's sign-in URL: 302 to the IdP's SSO endpoint with an
        AuthnRequest, and the tracking cookie for its RelayState. Returns (IdP URL,
        RelayState)."""
        reply = browser.get(url)
        self.assertEqual(reply.status, 302, reply.describe())
        idp_url = reply.location
        self.assertTrue(idp_url.startswith(IDP_SSO + "?"), reply.describe())
        params = query(idp_url)
        self.assertTrue(params.get("SAMLRequest"), idp_url)
        relay_state = params.get("RelayState")
        self.assertTrue(relay_state, idp_url)
        if signed:
            self.assertEqual(params.get("SigAlg"), RSA_SHA256, idp_url)
            self.assertTrue(params.get("Signature"), idp_url)
            base64.b64decode(params["Signature"], validate=True)
        else:
            self.assertNotIn("Signature", params, idp_url)
            self.assertNotIn("SigAlg", params, idp_url)
        tracking = TRACKING_PREFIX + relay_state
        set_cookie = reply.set_cookie(tracking)
        self.assertIsNotNone(set_cookie, f"no tracking cookie {tracking}: " + reply.describe())
        self.assertIn("httponly", set_cookie[1], set_cookie)
        self.assertIsNotNone(browser.cookie(tracking), f"tracking cookie {tracking} not kept by the browser")
        return idp_url, relay_state

    def finish_sign_in(self, browser, form, connector, relay_state, return_url):
        """POST the IdP's form to the ACS: 303 to `return_url`, session cookie set,
        tracking cookie cleared."""
        self.assertEqual(form["action"], acs_url(connector))
        self.assertEqual(form["RelayState"], relay_state)
        reply = browser.post(form["action"], acs_form(form))
        self.assertEqual(reply.status, 303, reply.describe())
        self.assertEqual(reply.location, return_url, reply.describe())
        set_cookie = reply.set_cookie(SESSION_COOKIE)
        self.assertIsNotNone(set_cookie, "no session cookie: " + reply.describe())
        attrs = set_cookie[1]
        self.assertIn("httponly", attrs, set_cookie)
        self.assertEqual(attrs.get("samesite", "").lower(), "lax", set_cookie)
        self.assertEqual(attrs.get("path"), "/", set_cookie)
        self.assertTrue(browser.cookie(SESSION_COOKIE))
        self.assertEqual(browser.cookie_names(TRACKING_PREFIX), [], "tracking cookie not cleared")
        return reply

    def sign_in(self, browser, connector, user, return_to="/welcome"):
        """A complete SP-initiated sign-in; returns the form that was POSTed to the ACS."""
        idp_url, relay_state = self.start_sign_in(browser, sign_in_url(connector, return_to), signed=connector == SIGNED)
        form = self.login(idp_url, user)
        self.finish_sign_in(browser, form, connector, relay_state, SP_BASE + return_to)
        return form

    def assert_session(self, browser, email, name, connector):
        reply = browser.get(SP_BASE + "/api/session", accept=JSON_ACCEPT)
        self.assertEqual(reply.status, 200, reply.describe())
        self.assertEqual(reply.media_type, "application/json", reply.describe())
        claims = reply.json()
        self.assertEqual(claims.get("sub"), email, claims)
        self.assertEqual(claims.get("email"), email, claims)
        self.assertEqual(claims.get("name"), name, claims)
        self.assertEqual(claims.get("connector"), connector, claims)
        self.assertEqual(claims.get("iss"), SP_BASE, claims)
        self.assertEqual(claims.get("aud"), SP_BASE, claims)
        return claims

    # --- SP-initiated ----------------------------------------------------------------

    def test_sp_initiated_via_discovery(self):
        browser = Browser()
        reply = browser.get(SP_BASE + "/sign-in?email=" + q("alice@example.com") + "&return_to=" + q("/welcome"))
        self.assertEqual(reply.status, 302, reply.describe())
        connector_sign_in = reply.location
        self.assertEqual(connector_sign_in.split("?")[0], sign_in_url(PLAIN), reply.describe())
        self.assertEqual(query(connector_sign_in).get("return_to"), "/welcome")

        idp_url, relay_state = self.start_sign_in(browser, connector_sign_in)
        form = self.login(idp_url, "alice")
        self.finish_sign_in(browser, form, PLAIN, relay_state, SP_BASE + "/welcome")
        claims = self.assert_session(browser, "alice@example.com", ALICE_NAME, PLAIN)
        self.assertGreater(claims["exp"], claims["iat"])

        reply = browser.get(SP_BASE + "/sign-out?local=1")  # here only; Single Logout is tested below
        self.assertEqual(reply.status, 303, reply.describe())
        self.assertEqual(origin(reply.location), origin(SP_BASE), reply.describe())
        self.assertIsNotNone(reply.set_cookie(SESSION_COOKIE), "sign-out does not clear the cookie: " + reply.describe())
        self.assertIsNone(browser.cookie(SESSION_COOKIE), "session cookie still in the browser after sign-out")

        reply = browser.get(SP_BASE + "/api/session", accept=JSON_ACCEPT)
        self.assert_error(reply, 401, "session.missing")

    def test_sp_initiated_signed_authn_request(self):
        browser = Browser()
        reply = browser.get(SP_BASE + "/sign-in?email=" + q("bob@example.org"))
        self.assertEqual(reply.status, 302, reply.describe())
        self.assertEqual(reply.location, sign_in_url(SIGNED), reply.describe())
        idp_url, relay_state = self.start_sign_in(browser, reply.location, signed=True)

        with self.subTest("the IdP validates the signature: a tampered one is refused"):
            # Only the Signature value changes; the signed octets stay as they are.
            sig = bytearray(base64.b64decode(query(idp_url)["Signature"]))
            sig[len(sig) // 2] ^= 0x01
            base, raw_query = idp_url.split("?", 1)
            tampered = base + "?" + "&".join(
                "Signature=" + q(base64.b64encode(bytes(sig)).decode("ascii")) if p.startswith("Signature=") else p
                for p in raw_query.split("&"))
            self.assertNotEqual(tampered, idp_url)
            with self.assertRaises(IdpRefused) as refused:
                idp_login(tampered, "bob")
            self.assertIn("signature", str(refused.exception).lower())

        form = self.login(idp_url, "bob")  # validateAuthnRequest: the IdP checks our signature
        self.finish_sign_in(browser, form, SIGNED, relay_state, SP_BASE + "/")
        self.assert_session(browser, "bob@example.org", "Bob", SIGNED)

    def test_discovery_by_connector(self):
        browser = Browser()
        reply = browser.get(SP_BASE + "/sign-in?connector=" + PLAIN)
        self.assertEqual(reply.status, 302, reply.describe())
        self.assertEqual(reply.location, sign_in_url(PLAIN), reply.describe())
        idp_url, relay_state = self.start_sign_in(browser, reply.location)
        form = self.login(idp_url, "alice")
        self.finish_sign_in(browser, form, PLAIN, relay_state, SP_BASE + "/")
        self.assert_session(browser, "alice@example.com", ALICE_NAME, PLAIN)

    def test_discovery_form(self):
        reply = Browser().get(SP_BASE + "/sign-in")
        self.assertEqual(reply.status, 200, reply.describe())
        self.assertEqual(reply.media_type, "text/html", reply.describe())
        parser = _FormParser()
        parser.feed(reply.text)
        forms = [f for f in parser.forms if "email" in f["inputs"]]
        self.assertEqual(len(forms), 1, reply.describe())
        self.assertEqual(forms[0]["method"], "get")
        self.assertEqual(urllib.parse.urljoin(reply.url, forms[0]["action"]), SP_BASE + "/sign-in")

    def test_discovery_unknown_domain(self):
        reply = Browser().get(SP_BASE + "/sign-in?email=" + q("carol@unknown.test"), accept=JSON_ACCEPT)
        self.assert_error(reply, 404, "discovery.unknown_domain")

    # --- IdP-initiated ---------------------------------------------------------------

    def test_idp_initiated(self):
        form = self.login(idp_initiated_url(PLAIN, "/after"), "alice")
        self.assertEqual(form["action"], acs_url(PLAIN))
        self.assertEqual(form["RelayState"], "/after")
        browser = Browser()  # no tracking cookie: nothing was requested
        reply = browser.post(form["action"], acs_form(form))
        self.assertEqual(reply.status, 303, reply.describe())
        self.assertEqual(reply.location, SP_BASE + "/after")
        self.assertTrue(browser.cookie(SESSION_COOKIE), reply.describe())
        self.assert_session(browser, "alice@example.com", ALICE_NAME, PLAIN)

    def test_idp_initiated_refused_when_not_allowed(self):
        form = self.login(idp_initiated_url(SIGNED, "/after"), "bob")
        self.assertEqual(form["action"], acs_url(SIGNED))
        browser = Browser()
        reply = browser.post(form["action"], acs_form(form), accept=JSON_ACCEPT)
        self.assert_error(reply, 403, "saml.unsolicited")
        self.assertIsNone(browser.cookie(SESSION_COOKIE))

    # --- replay and cross-connector --------------------------------------------------

    def test_replay(self):
        first = Browser()
        form = self.sign_in(first, PLAIN, "alice")
        with self.subTest("in a new browser (no cookies)"):
            other = Browser()
            reply = other.post(acs_url(PLAIN), acs_form(form), accept=JSON_ACCEPT)
            self.assert_error(reply, 403, "saml.in_response_to_unexpected")
            self.assertIsNone(other.cookie(SESSION_COOKIE))
        with self.subTest("again in the same browser (tracking cookie cleared)"):
            session_before = first.cookie(SESSION_COOKIE)
            reply = first.post(acs_url(PLAIN), acs_form(form), accept=JSON_ACCEPT)
            self.assert_error(reply, 403, "saml.in_response_to_unexpected")
            self.assertIsNone(reply.set_cookie(SESSION_COOKIE), "a refused replay must not touch the session")
            self.assertEqual(first.cookie(SESSION_COOKIE), session_before)

    def test_cross_connector(self):
        allowed = {"saml.destination_mismatch", "saml.audience_mismatch", "saml.in_response_to_unexpected"}
        with self.subTest("SP-initiated response for A, posted to B's ACS by the browser that asked A"):
            browser = Browser()
            idp_url, _ = self.start_sign_in(browser, sign_in_url(PLAIN, "/x"))
            form = self.login(idp_url, "alice")
            self.assertEqual(form["action"], acs_url(PLAIN))
            reply = browser.post(acs_url(SIGNED), acs_form(form), accept=JSON_ACCEPT)
            self.assertTrue(400 <= reply.status < 500, reply.describe())
            self.assertEqual(reply.media_type, "application/json", reply.describe())
            code = reply.error_code()
            self.assertIn(code, allowed, reply.describe())
            self.assertIsNone(browser.cookie(SESSION_COOKIE))
            NOTES.append(f"cross-connector, SP-initiated response for {PLAIN} at {SIGNED}'s ACS: {reply.status} {code}")
        with self.subTest("IdP-initiated response for A, posted to B's ACS"):
            form = self.login(idp_initiated_url(PLAIN, "/x"), "alice")
            browser = Browser()
            reply = browser.post(acs_url(SIGNED), acs_form(form), accept=JSON_ACCEPT)
            self.assertTrue(400 <= reply.status < 500, reply.describe())
            code = reply.error_code()
            self.assertIn(code, allowed | {"saml.unsolicited"}, reply.describe())
            self.assertIsNone(browser.cookie(SESSION_COOKIE))
            NOTES.append(f"cross-connector, IdP-initiated response for {PLAIN} at {SIGNED}'s ACS: {reply.status} {code}")

    # --- open redirects --------------------------------------------------------------

    def test_open_redirect_connector_sign_in(self):
        for trick in REDIRECT_TRICKS:
            with self.subTest(return_to=trick):
                browser = Browser()
                reply = browser.get(sign_in_url(PLAIN, trick), accept=JSON_ACCEPT)
                self.assert_redirect_refused(reply)
                self.assertEqual(browser.cookie_names(TRACKING_PREFIX), [])

    def test_open_redirect_through_discovery(self):
        for trick in REDIRECT_TRICKS:
            with self.subTest(return_to=trick):
                browser = Browser()
                reply = browser.get(SP_BASE + "/sign-in?email=" + q("alice@example.com") + "&return_to=" + q(trick), accept=JSON_ACCEPT)
                if reply.status != 302:  # refusing right away is fine too
                    self.assert_redirect_refused(reply)
                    continue
                self.assertEqual(reply.location.split("?")[0], sign_in_url(PLAIN), "discovery may only send to the connector: " + reply.describe())
                self.assertEqual(query(reply.location).get("return_to"), trick, reply.describe())
                reply = browser.follow(reply, accept=JSON_ACCEPT)
                self.assert_redirect_refused(reply)

    def test_open_redirect_idp_initiated_relay_state(self):
        for trick in REDIRECT_TRICKS:
            with self.subTest(RelayState=trick):
                form = self.login(idp_initiated_url(PLAIN, trick), "alice")
                # The IdP hands the RelayState back as it got it (an HTML parser, unlike
                # a browser, keeps a CR in an attribute value).
                self.assertEqual(form["RelayState"], trick)
                browser = Browser()
                reply = browser.post(form["action"], acs_form(form), accept=JSON_ACCEPT)
                self.assert_redirect_refused(reply)
                self.assertIsNone(browser.cookie(SESSION_COOKIE), "no session when the redirect is refused")

    def test_open_redirect_sign_out(self):
        for trick in REDIRECT_TRICKS:
            with self.subTest(post_logout_redirect_uri=trick):
                reply = Browser().get(SP_BASE + "/sign-out?post_logout_redirect_uri=" + q(trick), accept=JSON_ACCEPT)
                self.assert_redirect_refused(reply)

    def test_refused_redirect_page(self):
        # What a person sees: without Accept: application/json, an HTML page with the code.
        for url in (SP_BASE + "/sign-out?post_logout_redirect_uri=" + q("https://evil.test/"),
                    sign_in_url(PLAIN, "https://evil.test/")):
            with self.subTest(url=url):
                self.assert_redirect_refused(Browser().get(url), as_json=False)

    # --- session JWT -----------------------------------------------------------------

    def test_session_jwt_verifies_with_jwks(self):
        import jwt  # PyJWT, with cryptography for EdDSA

        browser = Browser()
        self.sign_in(browser, PLAIN, "alice")
        token = browser.cookie(SESSION_COOKIE)
        jwks = jwt.PyJWKClient(SP_BASE + "/.well-known/jwks.json")
        key = jwks.get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=SP_BASE, issuer=SP_BASE)
        self.assertEqual(claims["sub"], "alice@example.com")
        self.assertEqual(claims["email"], "alice@example.com")
        self.assertEqual(claims["name"], ALICE_NAME)
        self.assertEqual(claims["connector"], PLAIN)
        self.assertLess(claims["iat"], claims["exp"])

        header, payload, signature = token.split(".")
        for part, index in (("payload", 1), ("signature", 2)):
            with self.subTest(changed=part):
                segments = [header, payload, signature]
                seg = segments[index]
                i = len(seg) // 2  # a middle character: all six bits are data
                segments[index] = seg[:i] + ("A" if seg[i] != "A" else "B") + seg[i + 1:]
                tampered = ".".join(segments)
                with self.assertRaises(jwt.PyJWTError):
                    jwt.decode(tampered, key, algorithms=["EdDSA"], audience=SP_BASE, issuer=SP_BASE)
                reply = Browser().get(SP_BASE + "/api/session", accept=JSON_ACCEPT,
                                      headers={"Cookie": f"{SESSION_COOKIE}={tampered}"})
                self.assertEqual(reply.status, 401, reply.describe())
                self.assertTrue((reply.error_code() or "").startswith("session."), reply.describe())

    # --- errors and metadata ---------------------------------------------------------

    def test_acs_garbage_json(self):
        reply = Browser().post(acs_url(PLAIN), {"SAMLResponse": "!!not base64, not XML!!"}, accept=JSON_ACCEPT)
        self.assert_error(reply, 400, "saml.response_encoding")

    def test_acs_garbage_html(self):
        reply = Browser().post(acs_url(PLAIN), {"SAMLResponse": "!!not base64, not XML!!"})
        self.assert_error(reply, 400, "saml.response_encoding", as_json=False)

    def test_unknown_connector(self):
        browser = Browser()
        for what, reply in (
            ("sign-in", lambda: browser.get(sign_in_url("no-such-connector"), accept=JSON_ACCEPT)),
            ("metadata", lambda: browser.get(entity_id("no-such-connector"), accept=JSON_ACCEPT)),
            ("acs", lambda: browser.post(acs_url("no-such-connector"), {"SAMLResponse": base64.b64encode(b"<x/>").decode()}, accept=JSON_ACCEPT)),
        ):
            with self.subTest(what):
                self.assert_error(reply(), 404, "connector.not_found")

    def test_metadata(self):
        reply = Browser().get(entity_id(PLAIN))
        self.assertEqual(reply.status, 200, reply.describe())
        self.assertIn("xml", reply.media_type, reply.describe())
        md = "urn:oasis:names:tc:SAML:2.0:metadata"
        root = ET.fromstring(reply.body)
        self.assertEqual(root.tag, f"{{{md}}}EntityDescriptor")
        self.assertEqual(root.get("entityID"), entity_id(PLAIN))
        acs = root.findall(f"{{{md}}}SPSSODescriptor/{{{md}}}AssertionConsumerService")
        self.assertEqual([(a.get("Binding"), a.get("Location")) for a in acs],
                         [("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", acs_url(PLAIN))])

    # --- Single Logout (issue 6) --------------------------------------------------------
    # The browser carries the IdP session (its cookies from login.py) so that the IdP can
    # end it and tell every SP. `simplesamlphp` gets the IdP's logout messages by
    # HTTP-Redirect; `simplesamlphp-signed` signs its own and gets the IdP's LogoutResponse
    # by HTTP-POST (scripts/dev-idp).

    def sign_in_with_idp_session(self, browser, connector, user):
        idp_url, relay_state = self.start_sign_in(browser, sign_in_url(connector, "/welcome"), signed=connector == SIGNED)
        with tempfile.TemporaryDirectory() as tmp:
            jar = os.path.join(tmp, "idp-cookies.txt")
            form = self.login(idp_url, user, cookies=jar)
            browser.import_cookies(jar)
        self.finish_sign_in(browser, form, connector, relay_state, SP_BASE + "/welcome")
        token = browser.cookie(SESSION_COOKIE)
        self.assertTrue(token)
        return token

    def assert_signed_out(self, browser, token):
        """No session in the browser, and any copy of the old token is revoked."""
        self.assertIsNone(browser.cookie(SESSION_COOKIE), "session cookie not cleared")
        self.assert_error(browser.get(SP_BASE + "/api/session", accept=JSON_ACCEPT), 401, "session.missing")
        copy = Browser().get(SP_BASE + "/api/session", accept=JSON_ACCEPT, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        self.assert_error(copy, 401, "session.revoked")

    def assert_idp_session_ended(self, browser, connector):
        """A new sign-in has to log in at the IdP again."""
        idp_url, _ = self.start_sign_in(browser, sign_in_url(connector), signed=connector == SIGNED)
        reply = browser.get(idp_url)
        self.assertEqual(reply.status, 302, reply.describe())
        self.assertIn("loginuserpass", reply.location or "", "the IdP session is still alive: " + reply.describe())

    def through_idp(self, browser, reply):
        """Follow the IdP's own redirects (e.g. resumelogout.php) until it sends the
        browser elsewhere or shows a page."""
        for _ in range(5):
            if not (reply.status in (301, 302, 303) and (reply.location or "").startswith(IDP_BASE)):
                return reply
            reply = browser.follow(reply)
        self.fail("the IdP kept redirecting to itself: " + reply.describe())

    def saml_form(self, reply, field, action):
        """The fields of the page's one auto-POST form carrying `field` to `action`."""
        parser = _FormParser()
        parser.feed(reply.text)
        forms = [f for f in parser.forms if field in f["values"]]
        self.assertEqual(len(forms), 1, reply.describe())
        self.assertEqual(forms[0]["action"], action, reply.describe())
        return forms[0]["values"]

    def start_sp_logout(self, browser, signed):
        reply = browser.get(SP_BASE + "/sign-out?post_logout_redirect_uri=" + q("/bye"))
        self.assertEqual(reply.status, 302, reply.describe())
        self.assertTrue(reply.location.startswith(IDP_SLO + "?"), reply.describe())
        params = query(reply.location)
        self.assertTrue(params.get("SAMLRequest") and params.get("RelayState"), reply.location)
        self.assertEqual("Signature" in params, signed, reply.location)
        self.assertIsNone(browser.cookie(SESSION_COOKIE), "signed out here before the IdP is asked")
        return reply

    def assert_query_signed_redirect(self, reply, destination, message):
        """The IdP's logout message by HTTP-Redirect to `destination`, query-signed."""
        self.assertEqual(reply.status, 302, reply.describe())
        self.assertTrue(reply.location.startswith(destination + "?"), reply.describe())
        params = query(reply.location)
        self.assertIn(message, params)
        self.assertEqual(params.get("SigAlg"), RSA_SHA256, f"the IdP signs its {message}")

    def test_slo_sp_initiated_redirect_binding(self):
        browser = Browser()
        token = self.sign_in_with_idp_session(browser, PLAIN, "alice")
        at_idp = self.through_idp(browser, browser.follow(self.start_sp_logout(browser, signed=False)))
        self.assert_query_signed_redirect(at_idp, slo_url(PLAIN), "SAMLResponse")
        back = browser.follow(at_idp)
        self.assertEqual(back.status, 303, back.describe())
        self.assertEqual(back.location, SP_BASE + "/bye")
        self.assertEqual(browser.cookie_names(TRACKING_PREFIX), [], "tracking cookie not cleared")
        self.assert_signed_out(browser, token)
        self.assert_idp_session_ended(browser, PLAIN)

    def test_slo_sp_initiated_post_binding_signed_request(self):
        browser = Browser()
        token = self.sign_in_with_idp_session(browser, SIGNED, "bob")
        at_idp = self.through_idp(browser, browser.follow(self.start_sp_logout(browser, signed=True)))
        # The IdP checked our signature (validate.logout) and answers with an auto-POST form.
        self.assertEqual(at_idp.status, 200, at_idp.describe())
        form = self.saml_form(at_idp, "SAMLResponse", slo_url(SIGNED))
        self.assertIn(b"Signature", base64.b64decode(form["SAMLResponse"]), "XML-signed LogoutResponse")
        back = browser.post(slo_url(SIGNED), form)
        self.assertEqual(back.status, 303, back.describe())
        self.assertEqual(back.location, SP_BASE + "/bye")
        self.assert_signed_out(browser, token)
        self.assert_idp_session_ended(browser, SIGNED)

    def idp_initiated_logout(self, connector, user):
        browser = Browser()
        token = self.sign_in_with_idp_session(browser, connector, user)
        reply = self.through_idp(browser, browser.get(IDP_SLO + "?ReturnTo=" + q(SP_BASE + "/logged-out")))
        if connector == SIGNED:
            # Its SLO endpoint is registered with HTTP-POST: an auto-POST form carrying
            # the XML-signed LogoutRequest.
            self.assertEqual(reply.status, 200, reply.describe())
            form = self.saml_form(reply, "SAMLRequest", slo_url(connector))
            self.assertIn(b"Signature", base64.b64decode(form["SAMLRequest"]), "XML-signed LogoutRequest")
            answer = browser.post(slo_url(connector), form)
        else:
            self.assert_query_signed_redirect(reply, slo_url(connector), "SAMLRequest")
            answer = browser.follow(reply)
        self.assertEqual(answer.status, 302, answer.describe())
        self.assertTrue(answer.location.startswith(IDP_SLO + "?SAMLResponse="), answer.describe())
        self.assertEqual("Signature" in query(answer.location), connector == SIGNED, answer.location)
        self.assert_signed_out(browser, token)
        # The IdP takes our LogoutResponse (checking its signature for the signed
        # connector) and finishes at ReturnTo.
        reply = self.through_idp(browser, browser.follow(answer))
        self.assertIn(reply.status, (302, 303), reply.describe())
        self.assertEqual(reply.location, SP_BASE + "/logged-out", reply.describe())
        self.assert_idp_session_ended(browser, connector)

    def test_slo_idp_initiated(self):
        self.idp_initiated_logout(PLAIN, "alice")

    def test_slo_idp_initiated_signed_answer(self):
        self.idp_initiated_logout(SIGNED, "bob")

    def test_slo_forged_logout_request(self):
        reply = Browser().get(slo_url(PLAIN) + "?SAMLRequest=" + q(base64.b64encode(b"not deflate").decode()), accept=JSON_ACCEPT)
        self.assert_error(reply, 400, "saml.message_encoding")

    # --- connectors by metadata URL, through the admin API (issue 7) ---------------------

    def admin(self, method, path, body=None, token=None, content_type="application/json"):
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(SP_BASE + path, data=data, headers={"Accept": JSON_ACCEPT, **headers}, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                return Reply(method, SP_BASE + path, resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            with e:
                return Reply(method, SP_BASE + path, e.code, e.headers, e.read())

    def test_admin_api_refuses_missing_and_wrong_tokens(self):
        self.assertTrue(ADMIN_TOKEN, "scripts/e2e sets ADMIN_TOKEN for the target and the suite")
        for token in (None, "wrong-" + ADMIN_TOKEN, ADMIN_TOKEN[:-1]):
            with self.subTest(token=token and token[:8]):
                self.assert_error(self.admin("GET", "/api/admin/connectors", token=token), 401, "admin.unauthorized")
        self.assert_error(self.admin("PUT", "/api/admin/connectors/evil", {"idpMetadataUrl": IDP_METADATA}, token="nope"), 401, "admin.unauthorized")
        self.assertEqual(self.admin("GET", "/api/admin/connectors/evil", token=ADMIN_TOKEN).status, 404, "nothing was created")

    def test_connector_from_metadata_url_signs_in(self):
        """A connector created through the admin API from SimpleSAMLphp's metadata URL
        signs a user in; the scheduled refresh keeps it; deleting it ends sign-in."""
        connector = "ssp-by-url"
        base = acs_url(connector)
        sp = {"entityId": base + "/metadata", "acs": base, "signAssertion": True, "signResponse": True}
        subprocess.run(["bash", str(ADD_SP), SSP_STATE, json.dumps(sp)], check=True, timeout=30)
        created = self.admin("PUT", f"/api/admin/connectors/{connector}", {"idpMetadataUrl": IDP_METADATA}, token=ADMIN_TOKEN)
        self.assertIn(created.status, (200, 201), created.describe())
        self.assertEqual(created.json()["idpEntityId"], IDP_METADATA, created.describe())
        self.assertEqual(created.json()["entityID"], base + "/metadata")
        try:
            browser = Browser()
            idp_url, relay_state = self.start_sign_in(browser, sign_in_url(connector, "/welcome"))
            form = self.login(idp_url, "alice")
            self.finish_sign_in(browser, form, connector, relay_state, SP_BASE + "/welcome")
            self.assert_session(browser, "alice@example.com", ALICE_NAME, connector)

            # The scheduled refresh (the Worker's Cron Trigger itself where the target has one).
            if SCHEDULED_URL:
                reply = Browser().get(SCHEDULED_URL)
                self.assertEqual(reply.status, 200, reply.describe())
            refreshed = self.admin("POST", "/api/admin/refresh", token=ADMIN_TOKEN)
            self.assertEqual(refreshed.status, 200, refreshed.describe())
            mine = [r for r in refreshed.json()["refreshed"] if r["connector"] == connector]
            self.assertEqual(mine and mine[0]["ok"], True, refreshed.describe())
            health = self.admin("GET", "/api/admin/health", token=ADMIN_TOKEN)
            self.assertEqual(health.status, 200, health.describe())
            entry = [c for c in health.json()["connectors"] if c["id"] == connector][0]
            self.assertEqual(entry["warnings"], [], health.describe())
            self.assertEqual(entry["metadata"]["url"], IDP_METADATA)
            self.assertIsNone(entry["metadata"]["lastError"])
            browser = Browser()
            idp_url, relay_state = self.start_sign_in(browser, sign_in_url(connector, "/again"))
            self.finish_sign_in(browser, self.login(idp_url, "alice"), connector, relay_state, SP_BASE + "/again")
        finally:
            deleted = self.admin("DELETE", f"/api/admin/connectors/{connector}", token=ADMIN_TOKEN)
            self.assertEqual(deleted.status, 204, deleted.describe())
        self.assert_error(Browser().get(sign_in_url(connector), accept=JSON_ACCEPT), 404, "connector.not_found")

    def test_encrypted_name_id_sign_in_and_idp_logout(self):
        """The IdP encrypts the NameID (nameid.encryption) in its assertion and in its
        LogoutRequest: a connector with encPrivateKey, made through the admin API, signs
        alice in, and the IdP's logout ends that session."""
        connector = "ssp-encrypted-id"
        base = acs_url(connector)
        sp = {"entityId": base + "/metadata", "acs": base, "signAssertion": True, "encryptNameId": True,
              "certificate": (KEYS / "sp-enc-rsa2048.crt").read_text(), "slo": slo_url(connector), "sloBinding": "redirect"}
        subprocess.run(["bash", str(ADD_SP), SSP_STATE, json.dumps(sp)], check=True, timeout=30)
        body = {"idpMetadataUrl": IDP_METADATA, "encPrivateKey": (KEYS / "sp-enc-rsa2048.key").read_text()}
        created = self.admin("PUT", f"/api/admin/connectors/{connector}", body, token=ADMIN_TOKEN)
        self.assertIn(created.status, (200, 201), created.describe())
        try:
            browser = Browser()
            idp_url, relay_state = self.start_sign_in(browser, sign_in_url(connector, "/welcome"))
            with tempfile.TemporaryDirectory() as tmp:
                jar = os.path.join(tmp, "idp-cookies.txt")
                form = self.login(idp_url, "alice", cookies=jar)
                browser.import_cookies(jar)
            posted = base64.b64decode(form["SAMLResponse"])
            self.assertIn(b"EncryptedID", posted)
            self.assertNotIn(b"alice@example.com</saml:NameID>", posted, "the NameID travels encrypted")
            self.finish_sign_in(browser, form, connector, relay_state, SP_BASE + "/welcome")
            token = browser.cookie(SESSION_COOKIE)
            self.assert_session(browser, "alice@example.com", ALICE_NAME, connector)

            reply = self.through_idp(browser, browser.get(IDP_SLO + "?ReturnTo=" + q(SP_BASE + "/logged-out")))
            self.assert_query_signed_redirect(reply, slo_url(connector), "SAMLRequest")
            request = zlib.decompress(base64.b64decode(query(reply.location)["SAMLRequest"]), -15)
            self.assertIn(b"EncryptedID", request, "the IdP's LogoutRequest names alice by EncryptedID")
            answer = browser.follow(reply)
            self.assertEqual(answer.status, 302, answer.describe())
            self.assertTrue(answer.location.startswith(IDP_SLO + "?SAMLResponse="), answer.describe())
            self.assert_signed_out(browser, token)
        finally:
            deleted = self.admin("DELETE", f"/api/admin/connectors/{connector}", token=ADMIN_TOKEN)
            self.assertEqual(deleted.status, 204, deleted.describe())

    def test_admin_refuses_internal_metadata_urls(self):
        for url in ("http://idp.example.test/metadata", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/md"):
            with self.subTest(url=url):
                reply = self.admin("PUT", "/api/admin/connectors/ssrf", {"idpMetadataUrl": url}, token=ADMIN_TOKEN)
                self.assert_error(reply, 422, "config.invalid")
        self.assertEqual(self.admin("GET", "/api/admin/connectors/ssrf", token=ADMIN_TOKEN).status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
