//! Differential tests of the canonicalizer against libxml2.
//!
//! A deterministic generator (xorshift PRNG, constant seed) writes well-formed documents
//! full of the constructs canonicalization has to get right; each one is canonicalized
//! by us and by the reference implementations, and the bytes must be equal:
//!
//! * `whole_documents_match_xmllint`: `xmllint --c14n` (inclusive C14N 1.0 with comments)
//!   and `xmllint --exc-c14n` (exclusive, with comments) of the whole document against
//!   [`canonicalize_document`].
//! * `subtrees_and_signed_info_match_xmlsec1`: element subtrees in their document context,
//!   which xmllint cannot do. An `Id` is put on a nested element and an HMAC signature
//!   template is added, either as the root's last child or (the SAML shape) inside the
//!   target itself, where every element Reference starts with enveloped-signature.
//!   `xmlsec1 --sign --store-references --store-signatures --print-debug` then prints
//!   the exact pre-digest octets of each Reference (bare-name `#Id` and
//!   `#xpointer(id(..))`, inclusive and exclusive, with and without comments, with
//!   `InclusiveNamespaces PrefixList`, and `URI=""` + enveloped-signature) and of the
//!   canonical SignedInfo, which are compared with [`canonicalize_element`] /
//!   [`canonicalize_document`]. The SHA-1 that xmlsec1 prints for each Reference is
//!   checked against the printed octets, so the framing is sound.
//!
//! Generator restriction forced by libxml2 (not by the spec): namespace URIs are
//! absolute, ASCII and contain no `&`, `<` or `"` (libxml2 rejects non-URIs and writes
//! namespace values unescaped in C14N output).
//!
//! Any generated document that either side rejects is reported as a failure too.
//! Work files go to `$TMPDIR/saml-edge-c14n-<pid>/`; they are removed after a passing run
//! unless `SAML_EDGE_C14N_KEEP` is set, and kept after a failing one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use saml_edge::c14n::{canonicalize_document, canonicalize_element, Method};
use saml_edge::xml::{Document, Element, Limits};
use sha1::{Digest, Sha1};

/// Documents generated for the xmllint comparison (each is checked in two modes).
const DOCS: usize = 1200;
/// Every `SUBTREE_EVERY`-th document that has a target element also goes through xmlsec1.
const SUBTREE_EVERY: usize = 2;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const WORKERS: usize = 2;
/// How many failures are printed in full.
const SHOW: usize = 5;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N_WC: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_WC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const TARGET_ID: &str = "target";

// ---------------------------------------------------------------------------------------
// PRNG

struct Rng(u64);

impl Rng {
    fn for_index(salt: u64, index: usize) -> Rng {
        let mut state = SEED ^ salt ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        if state == 0 {
            state = SEED;
        }
        let mut rng = Rng(state);
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    /// xorshift64*.
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 16) % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn one(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generator

/// Namespace URIs as written (raw) and as they read after reference decoding.
const URIS: &[(&str, &str)] = &[
    ("urn:a", "urn:a"),
    ("urn:b", "urn:b"),
    ("urn:&#x61;", "urn:a"), // the same URI as urn:a once decoded
    ("urn:x:y", "urn:x:y"),
    ("http://example.com/ns", "http://example.com/ns"),
    ("HTTP://EXAMPLE.COM/NS", "HTTP://EXAMPLE.COM/NS"), // a different namespace (case)
    ("http://example.org/", "http://example.org/"),
    ("https://a.example/p?q=1", "https://a.example/p?q=1"),
    ("http://example.com/a#frag", "http://example.com/a#frag"),
    ("urn:oasis:names:tc:SAML:2.0:assertion", "urn:oasis:names:tc:SAML:2.0:assertion"),
    ("http://www.w3.org/2000/09/xmldsig#", "http://www.w3.org/2000/09/xmldsig#"),
    ("urn:%C3%A9", "urn:%C3%A9"),
];
const PREFIXES: &[&str] = &["p", "q", "r", "ns", "a", "ds", "saml", "pé"];
const ELEMENT_NAMES: &[&str] = &["a", "b", "c", "item", "Assertion", "x-y", "x.y", "_u", "é", "日本", "n1", "Z"];
const ATTRIBUTE_NAMES: &[&str] = &["a", "b", "c", "id", "x", "y", "lang", "space", "z-1", "é", "B", "_"];
const TAG_SPACE: &[&str] = &[" ", " ", " ", " ", "  ", "\t", "\n", "\r\n", " \n\t"];

const TEXT_PIECES: &[&str] = &[
    "hello", "a b", "word", "  ", "\t", "\n", "\r\n", "\r\n", "\r", "&amp;", "&lt;", "&gt;", ">", "\"",
    "'", "&quot;", "&apos;", "&#xD;", "&#13;", "&#xA;", "&#10;", "&#9;", "&#x9;", "&#xE9;", "&#233;",
    "&#x1F600;", "&#128512;", "&#x3C;", "&#60;", "&#38;", "&#x26;", "é", "日本語", "😀", "\u{85}",
    "\u{2028}", "x]]&gt;y", "[a]b", "&#x5D;&#x5D;&gt;", "&#x20;", "&#xFFFD;", "&#x10FFFF;", "\u{FEFF}",
    "&#x7F;", "=", "?", "&#x000E9;", "&#0065;",
];
const CHAR_REFS: &[&str] = &[
    "&#xD;", "&#13;", "&#xA;", "&#x9;", "&#xE9;", "&#233;", "&#x1F600;", "&#128512;", "&#x3C;", "&#62;",
    "&#x26;", "&#x22;", "&#39;", "&#x20AC;", "&#8364;", "&#x10000;", "&#65;",
];
const ATTRIBUTE_PIECES: &[&str] = &[
    "v", "a b", " ", "  x  ", "\t", "\n", "\r\n", "\r", "&amp;", "&lt;", ">", "&gt;", "&quot;", "&apos;",
    "\"", "'", "&#x9;", "&#9;", "&#xA;", "&#10;", "&#xD;", "&#13;", "&#xE9;", "&#x1F600;", "&#128512;",
    "é", "😀", "&#x3C;", "&#38;", "&#x22;", "&#39;", "&#x20;", "=", "urn:x", "日本",
];
const COMMENT_PIECES: &[&str] = &[
    "c", " comment ", "-", "a-b", "<", ">", "&", "&amp;", "\r\n", "\n", "\t", "é", "😀", "]]>", "'\"", "<a/>",
];
const PI_TARGETS: &[&str] = &["pi", "target", "x-y", "php_", "a.b", "é"];
const PI_PIECES: &[&str] = &["d", "a=\"1\"", "b='2'", " ", "&amp;", "<", ">", "?", "\r\n", "\t", "é", "😀", "--", "  "];
const CDATA_PIECES: &[&str] = &["x", "<b>", "&amp;", "&", ">", "]]", "] ]>", "]", "\r\n", "\r", "\t", "é", "😀", "<!-- no -->", " "];

/// Features the generator reports, to assert that the corpus really covers them.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Feature {
    Rebind,
    Superfluous,
    DefaultNs,
    Undeclare,
    XmlnsXml,
    SameLocalTwoPrefixes,
    XmlLang,
    XmlSpace,
    Cdata,
    CommentInside,
    PiInside,
    MiscBefore,
    MiscAfter,
    XmlDecl,
    Bom,
    CharRef,
    Crlf,
    WhitespaceText,
    EmptyElement,
    Deep,
}
const FEATURES: &[(Feature, &str)] = &[
    (Feature::Rebind, "prefix rebound to another URI"),
    (Feature::Superfluous, "identical (superfluous) redeclaration"),
    (Feature::DefaultNs, "default namespace"),
    (Feature::Undeclare, "xmlns=\"\""),
    (Feature::XmlnsXml, "xmlns:xml declaration"),
    (Feature::SameLocalTwoPrefixes, "same local name under two prefixes"),
    (Feature::XmlLang, "xml:lang"),
    (Feature::XmlSpace, "xml:space"),
    (Feature::Cdata, "CDATA section"),
    (Feature::CommentInside, "comment inside the root"),
    (Feature::PiInside, "PI inside the root"),
    (Feature::MiscBefore, "comment/PI before the root"),
    (Feature::MiscAfter, "comment/PI after the root"),
    (Feature::XmlDecl, "XML declaration"),
    (Feature::Bom, "byte order mark"),
    (Feature::CharRef, "character references"),
    (Feature::Crlf, "literal CRLF"),
    (Feature::WhitespaceText, "whitespace-only text"),
    (Feature::EmptyElement, "empty-element tag"),
    (Feature::Deep, "nesting deeper than 35"),
];

struct Generated {
    index: usize,
    text: String,
    /// Byte offset of the root's end tag (`None` when the root is an empty-element tag).
    root_close: Option<usize>,
    has_target: bool,
    /// Byte offset just after the target's start tag (`None` for an empty-element tag).
    target_open_end: Option<usize>,
    features: u32,
    depth: usize,
}

struct Gen {
    rng: Rng,
    out: String,
    /// (prefix, decoded URI) bindings in scope; prefix "" is the default namespace.
    scope: Vec<(&'static str, &'static str)>,
    elements: usize,
    max_depth: usize,
    deep: bool,
    deepest: usize,
    want_target: bool,
    has_target: bool,
    root_close: Option<usize>,
    target_open_end: Option<usize>,
    features: u32,
}

impl Gen {
    fn mark(&mut self, feature: Feature) {
        self.features |= 1 << feature as u32;
    }

    fn lookup(&self, prefix: &str) -> Option<&'static str> {
        self.scope.iter().rev().find(|(p, _)| *p == prefix).map(|(_, u)| *u)
    }

    /// Distinct prefixes in scope (including "" when a default namespace binding exists).
    fn prefixes_in_scope(&self) -> Vec<&'static str> {
        let mut prefixes: Vec<&'static str> = self.scope.iter().map(|(p, _)| *p).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        prefixes
    }

    fn space(&mut self) -> &'static str {
        let s = *self.rng.pick(TAG_SPACE);
        if s.contains('\r') {
            self.mark(Feature::Crlf);
        }
        s
    }

    /// `Eq` (XML 1.0 allows whitespace around `=`): usually a bare `=`.
    fn eq(&mut self) -> &'static str {
        if self.rng.chance(90) { "=" } else { self.rng.one(&[" = ", "\t=", "=\n", "\r\n= "]) }
    }

    /// `=` and the quoted value.
    fn quoted(&mut self, value: &str) -> String {
        let eq = self.eq();
        let q = if self.rng.chance(70) { '"' } else { '\'' };
        format!("{eq}{q}{value}{q}")
    }

    /// `=` and a quoted value made of random pieces.
    fn attribute_value(&mut self) -> String {
        let eq = self.eq();
        let q = if self.rng.chance(65) { '"' } else { '\'' };
        let mut value = String::new();
        for _ in 0..self.rng.below(6) {
            let piece = *self.rng.pick(ATTRIBUTE_PIECES);
            let piece = match piece {
                "\"" if q == '"' => "&quot;",
                "'" if q == '\'' => "&apos;",
                other => other,
            };
            if piece.starts_with("&#") {
                self.mark(Feature::CharRef);
            }
            if piece == "\r\n" {
                self.mark(Feature::Crlf);
            }
            value.push_str(piece);
        }
        format!("{eq}{q}{value}{q}")
    }

    fn text(&mut self) {
        for _ in 0..1 + self.rng.below(6) {
            let piece = *self.rng.pick(TEXT_PIECES);
            if piece.starts_with("&#") {
                self.mark(Feature::CharRef);
            }
            if piece == "\r\n" {
                self.mark(Feature::Crlf);
            }
            self.out.push_str(piece);
        }
    }

    fn comment(&mut self) {
        let mut body = String::new();
        for _ in 0..self.rng.below(5) {
            body.push_str(self.rng.one(COMMENT_PIECES));
        }
        while body.contains("--") {
            body = body.replace("--", "-x-");
        }
        if body.ends_with('-') {
            body.push('x');
        }
        write!(self.out, "<!--{body}-->").unwrap();
    }

    fn pi(&mut self) {
        let target = *self.rng.pick(PI_TARGETS);
        let mut data = String::new();
        for _ in 0..self.rng.below(5) {
            data.push_str(self.rng.one(PI_PIECES));
        }
        while data.contains("?>") {
            data = data.replace("?>", "? >");
        }
        if data.is_empty() {
            // `<?pi?>` or `<?pi ?>`: no data either way.
            let space = if self.rng.chance(30) { " " } else { "" };
            write!(self.out, "<?{target}{space}?>").unwrap();
        } else {
            let space = self.rng.one(&[" ", " ", "   ", "\t", "\n", "\r\n"]);
            write!(self.out, "<?{target}{space}{data}?>").unwrap();
        }
    }

    fn cdata(&mut self) {
        let mut body = String::new();
        for _ in 0..self.rng.below(6) {
            body.push_str(self.rng.one(CDATA_PIECES));
        }
        while body.contains("]]>") {
            body = body.replace("]]>", "]] >");
        }
        write!(self.out, "<![CDATA[{body}]]>").unwrap();
        self.mark(Feature::Cdata);
    }

    fn leaf(&mut self) {
        match self.rng.below(12) {
            0..=4 => self.text(),
            5 => {
                let ws = self.rng.one(&["\n", "  ", "\n\t\t", "\r\n  ", "\t", " \r\n"]);
                self.out.push_str(ws);
                self.mark(Feature::WhitespaceText);
            }
            6 | 7 => {
                self.comment();
                self.mark(Feature::CommentInside);
            }
            8 => {
                self.pi();
                self.mark(Feature::PiInside);
            }
            9 | 10 => self.cdata(),
            _ => {
                for _ in 0..1 + self.rng.below(3) {
                    let r = *self.rng.pick(CHAR_REFS);
                    self.out.push_str(r);
                }
                self.mark(Feature::CharRef);
            }
        }
    }

    /// Comments, PIs and whitespace outside the root.
    fn misc(&mut self) -> bool {
        let mut any = false;
        for _ in 0..self.rng.below(4) {
            if self.rng.chance(50) {
                let ws = self.rng.one(&["\n", "\r\n", " ", "\t", "\n\n"]);
                self.out.push_str(ws);
            }
            if self.rng.chance(55) {
                self.comment();
            } else {
                self.pi();
            }
            any = true;
        }
        if self.rng.chance(50) {
            self.out.push_str(self.rng.one(&["\n", "\r\n", " "]));
        }
        any
    }

    fn declarations(&mut self, items: &mut Vec<String>) {
        let mut declared: Vec<&'static str> = Vec::new();
        let count = *self.rng.pick(&[0, 0, 0, 1, 1, 1, 2, 2, 3, 4]);
        for _ in 0..count {
            let (prefix, raw, uri): (&'static str, &'static str, &'static str) = match self.rng.below(20) {
                0..=7 => {
                    let (raw, uri) = *self.rng.pick(URIS);
                    (*self.rng.pick(PREFIXES), raw, uri)
                }
                8..=10 => {
                    let (raw, uri) = *self.rng.pick(URIS);
                    ("", raw, uri)
                }
                11 | 12 => ("", "", ""),
                13..=15 => {
                    // Identical redeclaration of what is in scope (superfluous).
                    let prefixes = self.prefixes_in_scope();
                    if prefixes.is_empty() {
                        continue;
                    }
                    let prefix = *self.rng.pick(&prefixes);
                    let uri = self.lookup(prefix).unwrap_or("");
                    self.mark(Feature::Superfluous);
                    (prefix, uri, uri)
                }
                16..=18 => {
                    // Rebind an in-scope prefix (or the default namespace) to another URI.
                    let prefixes = self.prefixes_in_scope();
                    if prefixes.is_empty() {
                        continue;
                    }
                    let prefix = *self.rng.pick(&prefixes);
                    let current = self.lookup(prefix).unwrap_or("");
                    let (raw, uri) = *self.rng.pick(URIS);
                    if uri == current {
                        continue;
                    }
                    self.mark(Feature::Rebind);
                    (prefix, raw, uri)
                }
                _ => {
                    if self.rng.chance(50) {
                        continue;
                    }
                    ("xml", XML_NS, XML_NS)
                }
            };
            if declared.contains(&prefix) {
                continue;
            }
            declared.push(prefix);
            let value = self.quoted(raw);
            match prefix {
                "" => {
                    self.mark(if uri.is_empty() { Feature::Undeclare } else { Feature::DefaultNs });
                    items.push(format!("xmlns{value}"));
                }
                "xml" => {
                    self.mark(Feature::XmlnsXml);
                    items.push(format!("xmlns:xml{value}"));
                    continue; // The xml prefix is bound by definition; nothing changes.
                }
                p => items.push(format!("xmlns:{p}{value}")),
            }
            self.scope.push((prefix, uri));
        }
    }

    fn attributes(&mut self, items: &mut Vec<String>, is_target: bool) {
        // Expanded names already used on this element: (namespace URI, local name).
        let mut used: Vec<(&'static str, &'static str)> = Vec::new();
        let bound: Vec<&'static str> = self.prefixes_in_scope().into_iter().filter(|p| !p.is_empty()).collect();
        let count = *self.rng.pick(&[0, 0, 1, 1, 2, 2, 3, 4, 5, 6]);
        for _ in 0..count {
            let mut new: Vec<(&'static str, &'static str, &'static str)> = Vec::new(); // (prefix, uri, local)
            match self.rng.below(12) {
                0..=4 => new.push(("", "", *self.rng.pick(ATTRIBUTE_NAMES))),
                5..=7 if !bound.is_empty() => {
                    let prefix = *self.rng.pick(&bound);
                    new.push((prefix, self.lookup(prefix).unwrap(), *self.rng.pick(ATTRIBUTE_NAMES)));
                }
                8 => new.push(("xml", XML_NS, "lang")),
                9 => new.push(("xml", XML_NS, "space")),
                10 | 11 => {
                    // The same local name under two prefixes bound to different URIs.
                    let local = *self.rng.pick(ATTRIBUTE_NAMES);
                    let mut pairs = Vec::new();
                    for &p1 in &bound {
                        for &p2 in &bound {
                            if p1 < p2 && self.lookup(p1) != self.lookup(p2) {
                                pairs.push((p1, p2));
                            }
                        }
                    }
                    if pairs.is_empty() {
                        continue;
                    }
                    let (p1, p2) = *self.rng.pick(&pairs);
                    new.push((p1, self.lookup(p1).unwrap(), local));
                    new.push((p2, self.lookup(p2).unwrap(), local));
                }
                _ => continue,
            }
            if new.iter().any(|(_, uri, local)| used.contains(&(*uri, *local))) {
                continue;
            }
            if new.len() == 2 {
                self.mark(Feature::SameLocalTwoPrefixes);
            }
            for (prefix, uri, local) in new {
                used.push((uri, local));
                let value = match (prefix, local) {
                    ("xml", "lang") => {
                        self.mark(Feature::XmlLang);
                        {
                            let v = self.rng.one(&["en", "fr-CA", "", "de-1996"]);
                            self.quoted(v)
                        }
                    }
                    ("xml", "space") => {
                        self.mark(Feature::XmlSpace);
                        {
                            let v = self.rng.one(&["preserve", "default"]);
                            self.quoted(v)
                        }
                    }
                    _ => self.attribute_value(),
                };
                if prefix.is_empty() {
                    items.push(format!("{local}{value}"));
                } else {
                    items.push(format!("{prefix}:{local}{value}"));
                }
            }
        }
        if is_target {
            let value = self.quoted(TARGET_ID);
            items.push(format!("Id{value}"));
        }
    }

    fn element(&mut self, depth: usize) {
        self.elements += 1;
        self.deepest = self.deepest.max(depth);
        let scope_mark = self.scope.len();
        let is_target = self.want_target
            && !self.has_target
            && depth >= 2
            && self.rng.chance(if depth == 2 { 25 } else { 40 });
        self.has_target |= is_target;

        let mut items = Vec::new();
        self.declarations(&mut items);
        let bound: Vec<&'static str> = self.prefixes_in_scope().into_iter().filter(|p| !p.is_empty()).collect();
        let local = *self.rng.pick(ELEMENT_NAMES);
        let qname = if !bound.is_empty() && self.rng.chance(55) {
            format!("{}:{local}", self.rng.pick(&bound))
        } else {
            local.to_string()
        };
        self.attributes(&mut items, is_target);
        self.rng.shuffle(&mut items);

        self.out.push('<');
        self.out.push_str(&qname);
        for item in &items {
            let space = self.space();
            self.out.push_str(space);
            self.out.push_str(item);
        }
        if self.rng.chance(15) {
            let space = self.space();
            self.out.push_str(space);
        }

        let can_nest = depth < self.max_depth && self.elements < 300;
        // Children as a plan: true = element, false = leaf.
        let mut plan: Vec<bool> = Vec::new();
        if self.deep {
            if can_nest {
                plan.push(true);
            }
            let leaves = self.rng.below(3);
            plan.extend(std::iter::repeat_n(false, leaves));
        } else {
            let n = if depth == 1 { 1 + self.rng.below(6) } else { self.rng.below(6) };
            for _ in 0..n {
                plan.push(can_nest && self.rng.chance(45));
            }
            if depth == 1 && can_nest && !plan.contains(&true) && self.rng.chance(90) {
                plan.push(true);
            }
        }
        self.rng.shuffle(&mut plan);

        if plan.is_empty() && self.rng.chance(60) {
            self.out.push_str("/>");
            self.mark(Feature::EmptyElement);
        } else {
            self.out.push('>');
            if is_target {
                self.target_open_end = Some(self.out.len());
            }
            for is_element in plan {
                if is_element {
                    self.element(depth + 1);
                } else {
                    self.leaf();
                }
            }
            if depth == 1 {
                self.root_close = Some(self.out.len());
            }
            self.out.push_str("</");
            self.out.push_str(&qname);
            if self.rng.chance(10) {
                let space = self.space();
                self.out.push_str(space);
            }
            self.out.push('>');
        }
        self.scope.truncate(scope_mark);
    }
}

fn generate(index: usize) -> Generated {
    let mut rng = Rng::for_index(0, index);
    let deep = rng.chance(8);
    let max_depth = if deep { 30 + rng.below(14) } else { 1 + rng.below(8) };
    let mut g = Gen {
        rng,
        out: String::new(),
        scope: Vec::new(),
        elements: 0,
        max_depth,
        deep,
        deepest: 0,
        want_target: true,
        has_target: false,
        root_close: None,
        target_open_end: None,
        features: 0,
    };
    if g.rng.chance(3) {
        g.out.push('\u{FEFF}');
        g.mark(Feature::Bom);
    }
    if g.rng.chance(40) {
        let decl = *g.rng.pick(&[
            "<?xml version=\"1.0\"?>",
            "<?xml version='1.0' encoding='UTF-8'?>",
            "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>",
            "<?xml version=\"1.0\" standalone='no'?>",
            "<?xml  version = \"1.0\"\tencoding=\"UTF-8\" ?>",
        ]);
        g.out.push_str(decl);
        g.mark(Feature::XmlDecl);
    }
    if g.misc() {
        g.mark(Feature::MiscBefore);
    }
    g.element(1);
    if g.misc() {
        g.mark(Feature::MiscAfter);
    }
    if g.deepest > 35 {
        g.mark(Feature::Deep);
    }
    Generated {
        index,
        text: g.out,
        root_close: g.root_close,
        target_open_end: g.target_open_end,
        has_target: g.has_target,
        features: g.features,
        depth: g.deepest,
    }
}

// ---------------------------------------------------------------------------------------
// Running the tools and comparing

struct Failure {
    index: usize,
    what: String,
    input: String,
    ours: Vec<u8>,
    theirs: Vec<u8>,
}

#[derive(Default)]
struct Outcome {
    compared: usize,
    failures: Vec<Failure>,
}

fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => format!("\"{}\"", s.escape_debug()),
        Err(_) => format!("(not UTF-8) {}", String::from_utf8_lossy(bytes).escape_debug()),
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

fn report(kind: &str, outcome: &Outcome, minimum: usize) {
    eprintln!("{kind}: {} comparisons, {} failures", outcome.compared, outcome.failures.len());
    if !outcome.failures.is_empty() {
        let mut message = format!("{kind}: {} of {} comparisons failed\n", outcome.failures.len(), outcome.compared);
        for f in outcome.failures.iter().take(40) {
            let _ = writeln!(message, "  doc #{}: {}", f.index, f.what);
        }
        if outcome.failures.len() > 40 {
            let _ = writeln!(message, "  ... and {} more", outcome.failures.len() - 40);
        }
        for f in outcome.failures.iter().take(SHOW) {
            let at = first_difference(&f.ours, &f.theirs);
            let _ = write!(
                message,
                "\n=== doc #{}: {}\ninput:  {}\nours:   {}\ntheirs: {}\nfirst difference at byte {at}\n",
                f.index,
                f.what,
                f.input.escape_debug(),
                show(&f.ours),
                show(&f.theirs),
            );
        }
        panic!("{message}");
    }
    assert!(outcome.compared >= minimum, "{kind}: only {} comparisons (want >= {minimum})", outcome.compared);
}

/// Panics with install instructions when a required tool is missing.
fn require_tool(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(_) => {}
        Err(e) => panic!(
            "`{tool}` is required by this differential test but could not be run ({e}); \
             run scripts/install-test-deps.sh (Debian: apt-get install libxml2-utils xmlsec1)"
        ),
    }
}

fn work_dir(sub: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saml-edge-c14n-{}", std::process::id())).join(sub);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn remove_work_dir(dir: &Path) {
    if std::env::var_os("SAML_EDGE_C14N_KEEP").is_some() {
        eprintln!("keeping {}", dir.display());
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent); // only succeeds once empty
    }
}

fn parse(text: &[u8]) -> Result<Document, String> {
    Document::parse(text, &Limits::default()).map_err(|e| format!("{e} [{}]", e.code()))
}

/// Runs `job` on every item with `WORKERS` threads and merges the outcomes.
fn in_parallel<T: Sync>(items: &[T], job: impl Fn(&T, &mut Outcome) + Sync) -> Outcome {
    let mut total = Outcome::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let job = &job;
                s.spawn(move || {
                    let mut outcome = Outcome::default();
                    for item in items.iter().skip(w).step_by(WORKERS) {
                        job(item, &mut outcome);
                    }
                    outcome
                })
            })
            .collect();
        for handle in handles {
            let outcome = handle.join().expect("worker panicked");
            total.compared += outcome.compared;
            total.failures.extend(outcome.failures);
        }
    });
    total.failures.sort_by_key(|f| f.index);
    total
}

fn generate_all() -> Vec<Generated> {
    let docs: Vec<Generated> = (0..DOCS).map(generate).collect();
    // The corpus must really contain what it is meant to cover.
    for &(feature, name) in FEATURES {
        let n = docs.iter().filter(|d| d.features & (1 << feature as u32) != 0).count();
        assert!(n >= 5, "generator coverage: only {n} documents with {name}");
    }
    let deepest = docs.iter().map(|d| d.depth).max().unwrap_or(0);
    assert!(deepest >= 38, "generator coverage: deepest nesting is only {deepest}");
    docs
}

#[test]
fn whole_documents_match_xmllint() {
    require_tool("xmllint");
    let dir = work_dir("xmllint");
    let docs = generate_all();
    let started = std::time::Instant::now();
    let outcome = in_parallel(&docs, |doc, outcome| {
        let path = dir.join(format!("doc-{:04}.xml", doc.index));
        std::fs::write(&path, &doc.text).expect("write generated document");
        let ours = parse(doc.text.as_bytes());
        for (flag, exclusive) in [("--c14n", false), ("--exc-c14n", true)] {
            let run = Command::new("xmllint").arg(flag).arg(&path).output().expect("run xmllint");
            let theirs = run.stdout;
            let fail = |what: String, ours: Vec<u8>, theirs: Vec<u8>| Failure {
                index: doc.index,
                what: format!("{flag}: {what}"),
                input: doc.text.clone(),
                ours,
                theirs,
            };
            if !run.status.success() {
                let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
                outcome.failures.push(fail(format!("xmllint rejected the generated document: {stderr}"), Vec::new(), theirs));
                continue;
            }
            outcome.compared += 1;
            let document = match &ours {
                Ok(document) => document,
                Err(e) => {
                    outcome.failures.push(fail(format!("our parser rejected a document xmllint accepts: {e}"), Vec::new(), theirs));
                    continue;
                }
            };
            let method = Method { exclusive, with_comments: true, inclusive_prefixes: Vec::new() };
            let mut mine = Vec::new();
            canonicalize_document(document, &method, None, &mut mine);
            if mine != theirs {
                outcome.failures.push(fail(format!("canonical bytes differ ({method:?})"), mine, theirs));
            }
        }
    });
    eprintln!("xmllint differential: {} documents in {:.1?}", docs.len(), started.elapsed());
    report("xmllint differential", &outcome, 2 * 1000);
    remove_work_dir(&dir);
}

// ---------------------------------------------------------------------------------------
// Subtrees and SignedInfo through xmlsec1

/// One Reference in the signature template, and how we compute the same octets.
struct RefSpec {
    xml: String,
    whole_document: bool,
    exclude_signature: bool,
    method: Method,
}

fn prefix_list(rng: &mut Rng) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let p = if rng.chance(25) { "#default" } else { rng.pick(PREFIXES) };
        if !list.iter().any(|q| q == p) {
            list.push(p.to_string());
        }
    }
    list
}

fn transform_xml(ds: &str, algorithm: &str, prefixes: Option<&[String]>) -> String {
    match prefixes {
        None => format!("<{ds}Transform Algorithm=\"{algorithm}\"/>"),
        Some(list) => format!(
            "<{ds}Transform Algorithm=\"{algorithm}\"><ec:InclusiveNamespaces xmlns:ec=\"{EXC_NS}\" PrefixList=\"{}\"/></{ds}Transform>",
            list.join(" ")
        ),
    }
}

/// The signature template to append to the root, and the References it contains.
/// With `enveloped`, the signature goes inside the signed element (the SAML shape), so every
/// element Reference starts with the enveloped-signature transform.
fn signature_template(rng: &mut Rng, enveloped: bool) -> (String, Vec<RefSpec>) {
    let (ds, declare) = if rng.chance(50) { ("", format!("xmlns=\"{DSIG_NS}\"")) } else { ("ds:", format!("xmlns:ds=\"{DSIG_NS}\"")) };
    let bare = format!("#{TARGET_ID}");
    let xpointer = format!("#xpointer(id('{TARGET_ID}'))");
    let method = |exclusive: bool, with_comments: bool, prefixes: &[String]| Method {
        exclusive,
        with_comments,
        inclusive_prefixes: prefixes.to_vec(),
    };
    let list1 = prefix_list(rng);
    let list2 = prefix_list(rng);
    // (uri, transforms, whole document?, our method)
    let references: Vec<(String, Vec<String>, bool, Method)> = vec![
        (bare.clone(), vec![transform_xml(ds, EXC, None)], false, method(true, false, &[])),
        (bare.clone(), vec![transform_xml(ds, C14N, None)], false, method(false, false, &[])),
        (bare.clone(), vec![], false, method(false, false, &[])), // implicit inclusive C14N
        // A bare-name reference drops comments even under #WithComments.
        (bare.clone(), vec![transform_xml(ds, EXC_WC, None)], false, method(true, false, &[])),
        (xpointer.clone(), vec![transform_xml(ds, EXC_WC, None)], false, method(true, true, &[])),
        (xpointer.clone(), vec![transform_xml(ds, C14N_WC, None)], false, method(false, true, &[])),
        (xpointer.clone(), vec![transform_xml(ds, EXC, None)], false, method(true, false, &[])),
        (bare.clone(), vec![transform_xml(ds, EXC, Some(&list1))], false, method(true, false, &list1)),
        (xpointer.clone(), vec![transform_xml(ds, EXC_WC, Some(&list2))], false, method(true, true, &list2)),
        (
            String::new(),
            vec![transform_xml(ds, ENVELOPED, None), transform_xml(ds, EXC, None)],
            true,
            method(true, false, &[]),
        ),
        (String::new(), vec![transform_xml(ds, ENVELOPED, None)], true, method(false, false, &[])),
    ];

    let c14n_method = match rng.below(5) {
        0 => format!("<{ds}CanonicalizationMethod Algorithm=\"{C14N}\"/>"),
        1 => format!("<{ds}CanonicalizationMethod Algorithm=\"{C14N_WC}\"/>"),
        2 => format!("<{ds}CanonicalizationMethod Algorithm=\"{EXC}\"/>"),
        3 => format!(
            "<{ds}CanonicalizationMethod Algorithm=\"{EXC}\"><ec:InclusiveNamespaces xmlns:ec=\"{EXC_NS}\" PrefixList=\"{}\"/></{ds}CanonicalizationMethod>",
            prefix_list(rng).join(" ")
        ),
        _ => format!("<{ds}CanonicalizationMethod Algorithm=\"{EXC_WC}\"/>"),
    };
    let mut xml = format!(
        "<{ds}Signature {declare}><{ds}SignedInfo>{c14n_method}<{ds}SignatureMethod Algorithm=\"{DSIG_NS}hmac-sha1\"/>"
    );
    let mut specs = Vec::new();
    for (uri, mut transforms, whole_document, method) in references {
        if enveloped && !whole_document {
            transforms.insert(0, transform_xml(ds, ENVELOPED, None));
        }
        let transforms = if transforms.is_empty() {
            String::new()
        } else {
            format!("<{ds}Transforms>{}</{ds}Transforms>", transforms.concat())
        };
        let reference = format!(
            "<{ds}Reference URI=\"{uri}\">{transforms}<{ds}DigestMethod Algorithm=\"{DSIG_NS}sha1\"/><{ds}DigestValue></{ds}DigestValue></{ds}Reference>"
        );
        xml.push_str(&reference);
        specs.push(RefSpec { xml: reference, whole_document, exclude_signature: whole_document || enveloped, method });
    }
    write!(xml, "</{ds}SignedInfo><{ds}SignatureValue/></{ds}Signature>").unwrap();
    (xml, specs)
}

/// The byte blocks xmlsec1 --print-debug frames with `== {name} - start buffer:\n` and
/// `\n== {name} - end buffer\n`, in order.
fn debug_blocks<'a>(output: &'a [u8], name: &str) -> Vec<&'a [u8]> {
    let start = format!("== {name} - start buffer:\n");
    let end = format!("\n== {name} - end buffer\n");
    let mut blocks = Vec::new();
    let mut rest = output;
    while let Some(i) = find(rest, start.as_bytes()) {
        let body = &rest[i + start.len()..];
        let Some(j) = find(body, end.as_bytes()) else { break };
        blocks.push(&body[..j]);
        rest = &body[j + end.len()..];
    }
    blocks
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn by_id<'d>(doc: &'d Document, id: &str) -> Option<Element<'d>> {
    doc.elements().find(|e| e.attribute("Id") == Some(id))
}

fn subtree_check(doc: &Generated, dir: &Path, key: &Path, outcome: &mut Outcome) {
    let Some(root_close) = doc.root_close else { return };
    let mut rng = Rng::for_index(0x5167, doc.index);
    // Half of the time (when the target has content) the signature is enveloped in the target.
    let inside = doc.target_open_end.filter(|_| rng.chance(50));
    let (signature, specs) = signature_template(&mut rng, inside.is_some());
    let at = inside.unwrap_or(root_close);
    let text = format!("{}{}{}", &doc.text[..at], signature, &doc.text[at..]);
    let fail = |what: String, ours: Vec<u8>, theirs: Vec<u8>| Failure {
        index: doc.index,
        what,
        input: text.clone(),
        ours,
        theirs,
    };

    let ours_doc = match parse(text.as_bytes()) {
        Ok(d) => d,
        Err(e) => {
            outcome.failures.push(fail(format!("our parser rejected the signature template document: {e}"), vec![], vec![]));
            return;
        }
    };
    let Some(target) = by_id(&ours_doc, TARGET_ID) else {
        outcome.failures.push(fail("no element with Id=target (generator bug)".into(), vec![], vec![]));
        return;
    };
    let id_node = match target.namespace() {
        Some(ns) => format!("{ns}:{}", target.local_name()),
        None => target.local_name().to_string(),
    };
    let template = dir.join(format!("template-{:04}.xml", doc.index));
    let signed = dir.join(format!("signed-{:04}.xml", doc.index));
    std::fs::write(&template, &text).expect("write template");
    let run = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--hmackey")
        .arg(key)
        .args(["--store-references", "--store-signatures", "--print-debug"])
        .arg("--id-attr:Id")
        .arg(&id_node)
        .arg("--output")
        .arg(&signed)
        .arg(&template)
        .output()
        .expect("run xmlsec1");
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        outcome.failures.push(fail(format!("xmlsec1 failed to sign (Id on {id_node}): {stderr}"), vec![], vec![]));
        return;
    }
    let predigest = debug_blocks(&run.stdout, "PreDigest data");
    let results = debug_blocks(&run.stdout, "Result");
    if predigest.len() != specs.len() || results.len() < specs.len() {
        outcome.failures.push(fail(
            format!("xmlsec1 printed {} PreDigest and {} Result blocks for {} References", predigest.len(), results.len(), specs.len()),
            vec![],
            run.stdout.clone(),
        ));
        return;
    }
    let signature_id = ours_doc.elements().find(|e| e.is(DSIG_NS, "Signature")).map(|e| e.id());
    for (i, (spec, theirs)) in specs.iter().zip(&predigest).enumerate() {
        // The digest xmlsec1 computed must be the SHA-1 of the octets it printed.
        let digest = BASE64.encode(Sha1::digest(theirs));
        if results[i].trim_ascii() != digest.as_bytes() {
            outcome.failures.push(fail(
                format!("xmlsec1 output framing: Reference {i} digest {} is not SHA-1 of the printed octets", show(results[i])),
                vec![],
                theirs.to_vec(),
            ));
            continue;
        }
        outcome.compared += 1;
        let exclude = if spec.exclude_signature { signature_id } else { None };
        let mut mine = Vec::new();
        if spec.whole_document {
            canonicalize_document(&ours_doc, &spec.method, exclude, &mut mine);
        } else {
            canonicalize_element(target, &spec.method, exclude, &mut mine);
        }
        if mine != *theirs {
            outcome.failures.push(fail(
                format!("Reference {i} {} -> {:?} differs", spec.xml, spec.method),
                mine,
                theirs.to_vec(),
            ));
        }
    }

    // SignedInfo, canonicalized in context, as xmlsec1 signed it.
    let presigned = debug_blocks(&run.stdout, "PreSigned data");
    let signed_text = std::fs::read(&signed).expect("read signed document");
    let signed_doc = match parse(&signed_text) {
        Ok(d) => d,
        Err(e) => {
            outcome.failures.push(fail(format!("our parser rejected xmlsec1's signed output: {e}"), vec![], signed_text));
            return;
        }
    };
    let Some(signed_info) = signed_doc.elements().find(|e| e.is(DSIG_NS, "SignedInfo")) else {
        outcome.failures.push(fail("no SignedInfo in xmlsec1's output".into(), vec![], signed_text));
        return;
    };
    let c14n_method = signed_info.children_named(DSIG_NS, "CanonicalizationMethod").next().expect("CanonicalizationMethod");
    let mut method = Method::from_uri(c14n_method.attribute("Algorithm").unwrap_or("")).expect("known algorithm");
    if let Some(inclusive) = c14n_method.children_named(EXC_NS, "InclusiveNamespaces").next() {
        method.inclusive_prefixes = inclusive.attribute("PrefixList").unwrap_or("").split_ascii_whitespace().map(String::from).collect();
    }
    let [theirs] = presigned.as_slice() else {
        outcome.failures.push(fail(format!("xmlsec1 printed {} PreSigned blocks", presigned.len()), vec![], run.stdout.clone()));
        return;
    };
    outcome.compared += 1;
    let mut mine = Vec::new();
    canonicalize_element(signed_info, &method, None, &mut mine);
    if mine != *theirs {
        outcome.failures.push(Failure {
            index: doc.index,
            what: format!("SignedInfo ({method:?}) differs"),
            input: String::from_utf8_lossy(&signed_text).into_owned(),
            ours: mine,
            theirs: theirs.to_vec(),
        });
    }
}

#[test]
fn subtrees_and_signed_info_match_xmlsec1() {
    require_tool("xmlsec1");
    let dir = work_dir("xmlsec1");
    let key = dir.join("hmac.key");
    std::fs::write(&key, b"test").expect("write HMAC key");
    let docs: Vec<Generated> = generate_all()
        .into_iter()
        .filter(|d| d.has_target && d.root_close.is_some())
        .enumerate()
        .filter(|(i, _)| i % SUBTREE_EVERY == 0)
        .map(|(_, d)| d)
        .collect();
    let started = std::time::Instant::now();
    let outcome = in_parallel(&docs, |doc, outcome| subtree_check(doc, &dir, &key, outcome));
    eprintln!("xmlsec1 differential: {} documents in {:.1?}", docs.len(), started.elapsed());
    report("xmlsec1 subtree/SignedInfo differential", &outcome, docs.len() * 12);
    assert!(docs.len() >= 200, "only {} documents with a target element", docs.len());
    remove_work_dir(&dir);
}
