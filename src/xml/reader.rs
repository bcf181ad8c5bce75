//! The strict reader: quick-xml events → the arena tree, refusing whatever a SAML
//! message has no business containing (DTDs, custom entities, other encodings, several
//! roots) and anything over the limits.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::text::{check_characters, decode_attribute_value, decode_reference, normalize_line_ends};
use super::{Attribute, Document, ElementData, NamespaceDecl, Node, NodeId, NodeKind, NO_PARENT, XML_NS};
use crate::error::XmlError;

const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Bounds on what one document may cost. The defaults fit any real SAML message with a
/// wide margin (a Response with hundreds of attribute values is a few hundred elements).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting (the root is depth 1).
    pub max_depth: usize,
    pub max_elements: usize,
    /// Attributes plus namespace declarations on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 1 << 20, max_depth: 64, max_elements: 20_000, max_attributes: 64 }
    }
}

pub(super) fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge { bytes: input.len(), limit: limits.max_bytes });
    }
    let text = std::str::from_utf8(input)
        .map_err(|e| XmlError::NotUtf8 { offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_characters(text)?;
    // XML 1.0 §2.11: line ends are normalized before parsing, everywhere.
    let text = normalize_line_ends(text);
    Builder::new(limits).run(&text)
}

struct Builder<'l> {
    limits: &'l Limits,
    doc: Document,
    /// Open elements, innermost last.
    open: Vec<NodeId>,
    /// In-scope bindings: (prefix, namespace index or None for `xmlns=""`), innermost last.
    scope: Vec<(Option<Box<str>>, Option<u32>)>,
    /// How many bindings each open element pushed.
    scope_marks: Vec<usize>,
    pending_text: String,
    /// Namespace URI → index in `doc.namespaces`, so interning stays O(1).
    namespace_index: std::collections::HashMap<Box<str>, u32>,
    elements: usize,
    root_seen: bool,
    root_closed: bool,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Builder {
            limits,
            doc: Document {
                nodes: Vec::new(),
                attributes: Vec::new(),
                declarations: Vec::new(),
                namespaces: Vec::new(),
                root: NodeId(0),
            },
            open: Vec::new(),
            scope: Vec::new(),
            scope_marks: Vec::new(),
            pending_text: String::new(),
            namespace_index: std::collections::HashMap::new(),
            elements: 0,
            root_seen: false,
            root_closed: false,
        }
    }

    fn run(mut self, text: &str) -> Result<Document, XmlError> {
        let mut reader = Reader::from_str(text);
        {
            let config = reader.config_mut();
            config.check_end_names = true;
            config.check_comments = true;
            config.expand_empty_elements = false;
            config.allow_unmatched_ends = false;
        }
        let mut first_event = true;
        loop {
            let offset = reader.buffer_position();
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                offset: reader.error_position(),
                detail: e.to_string(),
            })?;
            let was_first = std::mem::replace(&mut first_event, false);
            match event {
                Event::Decl(decl) => {
                    if !was_first || offset != 0 {
                        return Err(malformed(offset, "XML declaration is only allowed at the very start"));
                    }
                    let version = decl.version().map_err(|e| malformed(offset, &e.to_string()))?;
                    if version != "1.0" {
                        return Err(XmlError::UnsupportedVersion { version: version.into_owned() });
                    }
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(|e| malformed(offset, &e.to_string()))?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::UnsupportedEncoding { encoding: encoding.into_owned() });
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::DoctypeForbidden),
                Event::Start(start) => {
                    self.flush_text()?;
                    self.start_element(&start, offset, false)?;
                }
                Event::Empty(start) => {
                    self.flush_text()?;
                    self.start_element(&start, offset, true)?;
                }
                Event::End(_) => {
                    self.flush_text()?;
                    self.end_element();
                }
                Event::Text(t) => self.text(&t, offset)?,
                Event::CData(c) => self.text(&c, offset)?,
                Event::GeneralRef(r) => {
                    let decoded = decode_reference(&r)?;
                    self.text(decoded.encode_utf8(&mut [0; 4]), offset)?;
                }
                Event::Comment(c) => {
                    self.flush_text()?;
                    self.push_leaf(NodeKind::Comment(Box::from(&*c)));
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    let target = pi.target();
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(malformed(offset, "processing instruction target 'xml' is reserved"));
                    }
                    check_name(target)?;
                    // The PI's data starts after the whitespace that follows the target.
                    let data = pi.content().trim_start_matches([' ', '\t', '\n']);
                    self.push_leaf(NodeKind::Pi { target: Box::from(target), data: Box::from(data) });
                }
                Event::Eof => break,
            }
        }
        self.flush_text()?;
        if !self.open.is_empty() {
            return Err(malformed(text.len() as u64, "the document ends inside an element"));
        }
        if !self.root_seen {
            return Err(XmlError::NoRoot);
        }
        Ok(self.doc)
    }

    fn text(&mut self, t: &str, offset: u64) -> Result<(), XmlError> {
        if self.open.is_empty() {
            if !super::is_xml_whitespace(t) {
                return Err(if t.contains('&') || !t.trim().is_empty() {
                    XmlError::TextOutsideRoot
                } else {
                    malformed(offset, "unexpected content")
                });
            }
            return Ok(());
        }
        if t.contains(']') && t.contains("]]>") {
            return Err(malformed(offset, "']]>' is not allowed in text"));
        }
        self.pending_text.push_str(t);
        Ok(())
    }

    /// Adjacent text, character references and CDATA sections form one text node.
    fn flush_text(&mut self) -> Result<(), XmlError> {
        if !self.pending_text.is_empty() {
            let text = std::mem::take(&mut self.pending_text);
            self.push_leaf(NodeKind::Text(text.into_boxed_str()));
        }
        Ok(())
    }

    fn push_leaf(&mut self, kind: NodeKind) {
        let id = self.doc.nodes.len() as u32;
        let parent = self.open.last().map_or(NO_PARENT, |p| p.0);
        self.doc.nodes.push(Node { parent, end: id + 1, kind });
    }

    fn end_element(&mut self) {
        if let Some(id) = self.open.pop() {
            let end = self.doc.nodes.len() as u32;
            self.doc.nodes[id.0 as usize].end = end;
            let mark = self.scope_marks.pop().unwrap_or(0);
            self.scope.truncate(self.scope.len() - mark);
            if self.open.is_empty() {
                self.root_closed = true;
            }
        }
    }

    fn start_element(&mut self, start: &BytesStart<'_>, offset: u64, empty: bool) -> Result<(), XmlError> {
        if self.open.is_empty() && (self.root_seen || self.root_closed) {
            return Err(XmlError::MultipleRoots);
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep { limit: self.limits.max_depth });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::TooManyElements { limit: self.limits.max_elements });
        }
        let qname = start.name();
        let name: &str = qname.as_ref();
        let (prefix, local) = split_qname(name)?;

        // Read raw attributes; split namespace declarations from ordinary attributes.
        let mut raw_attributes: Vec<(&str, Cow<'_, str>)> = Vec::new();
        let mut declarations: Vec<NamespaceDecl> = Vec::new();
        let mut attributes = start.attributes();
        attributes.with_checks(true);
        for attribute in attributes {
            let attribute = attribute.map_err(|e| match e {
                quick_xml::events::attributes::AttrError::Duplicated(..) => {
                    XmlError::DuplicateAttribute { name: "(same name twice)".into() }
                }
                other => malformed(offset, &other.to_string()),
            })?;
            if raw_attributes.len() + declarations.len() >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    element: name.to_string(),
                    limit: self.limits.max_attributes,
                });
            }
            let key: &str = attribute.key.0;
            let value = decode_attribute_value(&attribute.value)?;
            if key == "xmlns" {
                declarations.push(NamespaceDecl { prefix: None, uri: value.into() });
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                check_ncname(p, key)?;
                declarations.push(NamespaceDecl { prefix: Some(p.into()), uri: value.into() });
            } else {
                raw_attributes.push((key, Cow::Owned(value)));
            }
        }

        // Bind this element's declarations.
        let mut pushed = 0;
        for decl in &declarations {
            check_declaration(decl)?;
            if decl.prefix.as_deref() == Some("xml") {
                continue; // Declaring xml to its own namespace changes nothing.
            }
            let ns = if decl.uri.is_empty() { None } else { Some(self.intern(&decl.uri)) };
            self.scope.push((decl.prefix.clone(), ns));
            pushed += 1;
        }

        let namespace = match prefix {
            Some(p) => Some(self.resolve(p)?),
            None => self.resolve_default(),
        };

        let attributes_start = self.doc.attributes.len() as u32;
        for (key, value) in raw_attributes {
            let (a_prefix, a_local) = split_qname(key)?;
            let a_namespace = match a_prefix {
                Some(p) => Some(self.resolve(p)?),
                None => None, // Unprefixed attributes are in no namespace.
            };
            let duplicate = self.doc.attributes[attributes_start as usize..]
                .iter()
                .any(|a| &*a.local == a_local && a.namespace == a_namespace);
            if duplicate {
                return Err(XmlError::DuplicateAttribute { name: key.to_string() });
            }
            self.doc.attributes.push(Attribute {
                prefix: a_prefix.map(Box::from),
                local: a_local.into(),
                namespace: a_namespace,
                value: value.into_owned().into_boxed_str(),
            });
        }
        let attributes_end = self.doc.attributes.len() as u32;
        let declarations_start = self.doc.declarations.len() as u32;
        self.doc.declarations.extend(declarations);
        let declarations_end = self.doc.declarations.len() as u32;

        let id = self.doc.nodes.len() as u32;
        let parent = self.open.last().map_or(NO_PARENT, |p| p.0);
        self.doc.nodes.push(Node {
            parent,
            end: id + 1,
            kind: NodeKind::Element(ElementData {
                prefix: prefix.map(Box::from),
                local: local.into(),
                namespace,
                attributes: attributes_start..attributes_end,
                declarations: declarations_start..declarations_end,
            }),
        });
        if self.open.is_empty() {
            self.doc.root = NodeId(id);
            self.root_seen = true;
        }
        self.open.push(NodeId(id));
        self.scope_marks.push(pushed);
        if empty {
            self.end_element();
        }
        Ok(())
    }

    fn intern(&mut self, uri: &str) -> u32 {
        if let Some(&i) = self.namespace_index.get(uri) {
            return i;
        }
        let i = self.doc.namespaces.len() as u32;
        self.doc.namespaces.push(uri.into());
        self.namespace_index.insert(uri.into(), i);
        i
    }

    fn resolve(&mut self, prefix: &str) -> Result<u32, XmlError> {
        if prefix == "xml" {
            return Ok(self.intern(XML_NS));
        }
        if prefix == "xmlns" {
            return Err(XmlError::InvalidNamespace { detail: "the prefix xmlns cannot be used on names".into() });
        }
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == Some(prefix))
            .and_then(|(_, ns)| *ns)
            .ok_or_else(|| XmlError::UndeclaredPrefix { prefix: prefix.to_string() })
    }

    fn resolve_default(&self) -> Option<u32> {
        self.scope.iter().rev().find(|(p, _)| p.is_none()).and_then(|(_, ns)| *ns)
    }
}

fn malformed(offset: u64, detail: &str) -> XmlError {
    XmlError::Malformed { offset, detail: detail.to_string() }
}

fn check_declaration(decl: &NamespaceDecl) -> Result<(), XmlError> {
    let invalid = |detail: &str| Err(XmlError::InvalidNamespace { detail: detail.to_string() });
    match decl.prefix.as_deref() {
        Some("xmlns") => invalid("the prefix xmlns cannot be declared"),
        Some("xml") if &*decl.uri != XML_NS => invalid("the prefix xml cannot be rebound"),
        Some(_) if decl.uri.is_empty() => invalid("a prefix cannot be undeclared (xmlns:p=\"\") in XML 1.0"),
        Some(p) if p != "xml" && &*decl.uri == XML_NS => invalid("only the prefix xml may name the XML namespace"),
        _ if &*decl.uri == XMLNS_NS => invalid("the xmlns namespace cannot be declared"),
        None if &*decl.uri == XML_NS => invalid("the XML namespace cannot be the default namespace"),
        _ => Ok(()),
    }
}

fn split_qname(name: &str) -> Result<(Option<&str>, &str), XmlError> {
    match name.split_once(':') {
        None => {
            check_ncname(name, name)?;
            Ok((None, name))
        }
        Some((prefix, local)) => {
            check_ncname(prefix, name)?;
            check_ncname(local, name)?;
            Ok((Some(prefix), local))
        }
    }
}

fn check_name(name: &str) -> Result<(), XmlError> {
    match name.split(':').all(is_ncname) {
        true => Ok(()),
        false => Err(XmlError::InvalidName { name: name.to_string() }),
    }
}

fn check_ncname(part: &str, whole: &str) -> Result<(), XmlError> {
    match is_ncname(part) {
        true => Ok(()),
        false => Err(XmlError::InvalidName { name: whole.to_string() }),
    }
}

/// NCName per XML 1.0 (fifth edition) `NameStartChar` / `NameChar`, minus the colon.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(|c| is_name_start_char(c) || is_name_char_extra(c))
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char_extra(c: char) -> bool {
    matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NodeRef;

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s.as_bytes(), &Limits::default())
    }

    fn code(s: &str) -> &'static str {
        match parse(s) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn decodes_predefined_entities_and_char_refs_exactly() {
        let doc = parse("<a x='1 &amp; &lt;2&#x9;'>a &amp; b &#65;&#x42;<![CDATA[<c>]]></a>").unwrap();
        assert_eq!(doc.root().text(), "a & b AB<c>");
        assert_eq!(doc.root().attribute("x"), Some("1 & <2\t"));
    }

    #[test]
    fn whole_text_survives_comment_injection() {
        let doc = parse("<NameID>user@evil.test<!---->.example.com</NameID>").unwrap();
        assert_eq!(doc.root().text(), "user@evil.test.example.com");
    }

    #[test]
    fn refuses_doctype_and_entities() {
        assert_eq!(code("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"), "xml.doctype_forbidden");
        assert_eq!(code("<a>&x;</a>"), "xml.undefined_entity");
        assert_eq!(code("<a b='&x;'/>"), "xml.undefined_entity");
        assert_eq!(code("<a>&#0;</a>"), "xml.invalid_char_ref");
        assert_eq!(code("<a>&#xD800;</a>"), "xml.invalid_char_ref");
    }

    #[test]
    fn refuses_structure_problems() {
        assert_eq!(code("<a/><b/>"), "xml.multiple_roots");
        assert_eq!(code(""), "xml.no_root");
        assert_eq!(code("text<a/>"), "xml.text_outside_root");
        assert_eq!(code("<a><b></a>"), "xml.malformed");
        assert_eq!(code("<a>"), "xml.malformed");
        assert_eq!(code("<p:a/>"), "xml.undeclared_prefix");
        assert_eq!(code("<a x='1' x='2'/>"), "xml.duplicate_attribute");
        assert_eq!(code("<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>"), "xml.duplicate_attribute");
        assert_eq!(code("<a xmlns:p=''/>"), "xml.invalid_namespace");
        assert_eq!(code("<?xml version='1.0' encoding='ISO-8859-1'?><a/>"), "xml.unsupported_encoding");
        assert_eq!(code("<?xml version='1.1'?><a/>"), "xml.unsupported_version");
        assert_eq!(code("<a>\u{1}</a>"), "xml.invalid_char");
        assert_eq!(code("<a b='<'/>"), "xml.malformed");
    }

    #[test]
    fn names_follow_xml_10_fifth_edition() {
        assert_eq!(code("<e\u{301}/>"), "ok");
        assert_eq!(code("<a\u{203F}b/>"), "ok");
        assert_eq!(code("<\u{e9}t\u{e9} x\u{b7}y='1'/>"), "ok");
        assert_eq!(code("<1a/>"), "xml.invalid_name");
        assert_eq!(code("<a x:='1'/>"), "xml.invalid_name");
        assert_eq!(code("<-a/>"), "xml.invalid_name");
    }

    #[test]
    fn enforces_limits() {
        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        assert_eq!(code(&deep), "xml.too_deep");
        let big = format!("<a>{}</a>", "x".repeat(5_000_000));
        assert_eq!(code(&big), "xml.too_large");
        let many = format!("<a>{}</a>", "<b/>".repeat(30_000));
        assert_eq!(code(&many), "xml.too_many_elements");
        let attrs: String = (0..100).map(|i| format!(" a{i}='x'")).collect();
        assert_eq!(code(&format!("<a{attrs}/>")), "xml.too_many_attributes");
    }

    #[test]
    fn normalizes_line_ends_and_attribute_whitespace() {
        let doc = parse("<a x='1\r\n2\t3&#xA;'>l1\r\nl2\rl3&#xD;</a>").unwrap();
        assert_eq!(doc.root().attribute("x"), Some("1 2 3\n"));
        assert_eq!(doc.root().text(), "l1\nl2\nl3\r");
    }

    #[test]
    fn resolves_namespaces() {
        let doc = parse("<p:a xmlns:p='urn:p' xmlns='urn:d'><b p:x='1' y='2'/></p:a>").unwrap();
        let root = doc.root();
        assert!(root.is("urn:p", "a"));
        let b = root.child_elements().next().unwrap();
        assert!(b.is("urn:d", "b"));
        assert_eq!(b.attribute_ns("urn:p", "x"), Some("1"));
        assert_eq!(b.attribute("y"), Some("2"));
        assert_eq!(b.parent(), Some(root));
        assert!(matches!(root.children().next(), Some(NodeRef::Element(_))));
    }
}
