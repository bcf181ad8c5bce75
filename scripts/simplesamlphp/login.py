#!/usr/bin/env python3
"""Sign in at the SimpleSAMLphp test IdP through its real login form, like a browser.

    login.py --url URL --user alice --password alice-pass

URL is either an SP-initiated SSO URL (.../saml2/idp/SSOService.php?SAMLRequest=...
[&RelayState=...&SigAlg=...&Signature=...]) or an IdP-initiated one
(.../saml2/idp/SSOService.php?spentityid=<SP entity ID>&RelayState=...).

The script follows redirects with one cookie jar, fills the login form it finds
(username, password and every other field the form carries, e.g. AuthState), submits
it, and reads the auto-POST page the IdP returns. It prints one JSON object:

    {"action": "<ACS URL>", "SAMLResponse": "<base64>", "RelayState": "<string or null>"}

With --cookies FILE, the IdP's cookies (its session) are saved to FILE afterwards
(Mozilla format), so a test browser can carry the IdP session on, e.g. for Single
Logout. On a rejected login or an IdP error page it exits 1 and writes the page's error text
to stderr. Python 3 standard library only.
"""

import argparse
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

MAX_STEPS = 6


class Form:
    def __init__(self, action, method, attrs):
        self.action = action
        self.method = method
        self.attrs = attrs
        self.inputs = []  # (name, type, value), in document order

    def field(self, name):
        for n, _, v in self.inputs:
            if n == name:
                return v
        return None

    def has_type(self, typ):
        return any(t == typ for _, t, _ in self.inputs)


class PageParser(HTMLParser):
    """Collects the forms of a page and the readable text of its main content.

    Text is taken from <div id="content"> when the page has one (SimpleSAMLphp's
    layout), from <body> otherwise; forms, scripts, styles and <pre> blocks other than
    the error tracking ID are left out, so what remains is the message to show.
    """

    SKIP = {"script", "style", "form", "head", "title", "noscript"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "param", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._stack = []  # open elements: (tag, skip, in_content, in_body)
        self.content_text = []
        self.body_text = []
        self.headings = []  # (tag, text) of <h1>-<h3> and <strong> in the content
        self._heading = None
        self._pre = 0
        self.causes = []  # "Caused by: ..." lines of SimpleSAMLphp's backtraces

    def _flags(self):
        if self._stack:
            return self._stack[-1][1:]
        return (False, False, False)

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower(), a)
            self.forms.append(self._form)
        elif tag in ("input", "button", "textarea", "select") and self._form is not None:
            name = a.get("name")
            if name:
                typ = a.get("type", "text" if tag == "input" else tag).lower()
                if typ in ("checkbox", "radio") and "checked" not in a:
                    pass  # unchecked boxes are not submitted
                elif typ in ("submit", "button", "reset", "image"):
                    pass  # only the clicked button would be submitted; none is
                else:
                    self._form.inputs.append((name, typ, a.get("value", "")))
        if tag in self.VOID:
            return
        skip, in_content, in_body = self._flags()
        skip = skip or tag in self.SKIP or (tag == "pre" and a.get("id") != "trackid")
        in_content = in_content or (tag == "div" and a.get("id") == "content")
        in_body = in_body or tag == "body"
        if tag == "pre":
            self._pre += 1
        self._stack.append((tag, skip, in_content, in_body))
        if tag in ("h1", "h2", "h3", "strong") and in_content and not skip:
            self._heading = []

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in ("h1", "h2", "h3", "strong") and self._heading is not None:
            text = " ".join(" ".join(self._heading).split())
            if text:
                self.headings.append((tag, text))
            self._heading = None
        if tag in self.VOID:
            return
        # Pop up to the matching open element (tolerates unclosed <p>, <li>, ...).
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        skip, in_content, in_body = self._flags()
        if self._pre:
            for line in data.splitlines():
                if line.startswith("Caused by:"):
                    self.causes.append(line[len("Caused by:"):].strip())
        if skip:
            return
        text = " ".join(data.split())
        if not text:
            return
        if in_content:
            self.content_text.append(text)
            if self._heading is not None:
                self._heading.append(text)
        if in_body:
            self.body_text.append(text)

    def title(self, prefer="h2"):
        """The first <prefer> heading, else the first heading, else ''."""
        for tag, text in self.headings:
            if tag == prefer:
                return text
        return self.headings[0][1] if self.headings else ""

    def message(self):
        parts = self.content_text or self.body_text
        return "\n".join(parts + ["Caused by: " + c for c in self.causes])


def parse(html):
    p = PageParser()
    p.feed(html)
    p.close()
    return p


def fail(msg, page_text=None):
    sys.stderr.write("login.py: " + msg + "\n")
    if page_text:
        text = page_text if len(page_text) <= 4000 else page_text[:4000] + "\n[...]"
        sys.stderr.write(text + "\n")
    sys.exit(1)


def without_query(url):
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(query="", fragment=""))


def fetch(opener, url, data=None, timeout=15):
    """Returns (final URL, HTTP status, decoded body); HTTP errors are pages too."""
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"User-Agent": "saml-edge-login.py"})
    try:
        with opener.open(req, timeout=timeout) as resp:
            raw = resp.read()
            charset = resp.headers.get_content_charset() or "utf-8"
            return resp.geturl(), resp.status, raw.decode(charset, "replace")
    except urllib.error.HTTPError as e:
        raw = e.read()
        charset = e.headers.get_content_charset() if e.headers else None
        return e.geturl() or url, e.code, raw.decode(charset or "utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        fail("cannot reach %s: %s" % (url, getattr(e, "reason", e)))


def login_fields(form, user, password):
    """Every field the form would submit, with the user name and password filled in."""
    user_field = None
    for name, typ, _ in form.inputs:
        if name == "username":
            user_field = name
            break
    if user_field is None:
        for name, typ, _ in form.inputs:
            if typ in ("text", "email") and not re.search(r"pass", name, re.I):
                user_field = name
                break
    fields = []
    for name, typ, value in form.inputs:
        if name == user_field:
            value = user
        elif typ == "password":
            value = password
        fields.append((name, value))
    if user_field is None:
        fields.append(("username", user))
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="SP-initiated or IdP-initiated SSO URL")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--timeout", type=float, default=15.0, help="per request, seconds")
    ap.add_argument("--cookies", help="save the IdP's cookies to this file (Mozilla format)")
    args = ap.parse_args()

    jar = http.cookiejar.MozillaCookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    url, status, html = fetch(opener, args.url, timeout=args.timeout)
    submitted = False
    for _ in range(MAX_STEPS):
        page = parse(html)

        for form in page.forms:
            if form.field("SAMLResponse") is not None:
                if args.cookies:
                    jar.save(args.cookies, ignore_discard=True, ignore_expires=True)
                print(json.dumps({
                    "action": urllib.parse.urljoin(url, form.action),
                    "SAMLResponse": form.field("SAMLResponse"),
                    "RelayState": form.field("RelayState"),
                }))
                return 0

        login = next((f for f in page.forms if f.has_type("password")), None)
        if login is None:
            fail("IdP error page (HTTP %s, %s): %s"
                 % (status, without_query(url), "; ".join([page.title("h2") or "no login form and no SAMLResponse"] + page.causes)),
                 page.message())
        if submitted:
            fail("login as %r was rejected: %s"
                 % (args.user, page.title("strong") or "the login form came back"), page.message())

        action = urllib.parse.urljoin(url, login.action or url)
        fields = login_fields(login, args.user, args.password)
        if login.method == "post":
            url, status, html = fetch(opener, action, data=fields, timeout=args.timeout)
        else:
            # As a browser does: the form data replaces the action's query.
            parts = urllib.parse.urlsplit(action)._replace(
                query=urllib.parse.urlencode(fields), fragment="")
            url, status, html = fetch(opener, urllib.parse.urlunsplit(parts),
                                      timeout=args.timeout)
        submitted = True

    fail("gave up after %d pages (last: %s)" % (MAX_STEPS, url), parse(html).message())
    return 1


if __name__ == "__main__":
    sys.exit(main())
