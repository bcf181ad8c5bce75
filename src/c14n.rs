//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0, with and without
//! comments, of an element subtree in its document context or of a whole document.
//!
//! The output goes to a [`Sink`], so a digest can be computed without building the
//! canonical bytes in memory. One element may be excluded with its subtree: that is the
//! enveloped-signature transform.
//!
//! The walk is a flat loop over the arena's id range (no recursion), tracking two stacks:
//! the namespace bindings in scope, and the declarations already rendered on the output
//! path, which decide what each start tag must (re)declare.

use crate::xml::{Document, Element, NodeId, NodeRef, XML_NS};

pub const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const C14N_10_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Where canonical bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Which canonicalization, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Method {
    pub exclusive: bool,
    pub with_comments: bool,
    /// Exclusive only: the `InclusiveNamespaces PrefixList` (`#default` for the default
    /// namespace), treated by the inclusive rules.
    pub inclusive_prefixes: Vec<String>,
}

impl Method {
    /// The method named by an algorithm URI, if it is one of the four supported.
    pub fn from_uri(uri: &str) -> Option<Method> {
        let (exclusive, with_comments) = match uri {
            C14N_10 => (false, false),
            C14N_10_WITH_COMMENTS => (false, true),
            EXC_C14N => (true, false),
            EXC_C14N_WITH_COMMENTS => (true, true),
            _ => return None,
        };
        Some(Method { exclusive, with_comments, inclusive_prefixes: Vec::new() })
    }
}

/// Canonicalize `apex` and its subtree, minus `exclude` (and its subtree) if given.
pub fn canonicalize_element(apex: Element<'_>, method: &Method, exclude: Option<NodeId>, out: &mut impl Sink) {
    Walk::new(apex.document(), method, exclude, out).subtree(apex, true);
}

/// Canonicalize a whole document, including comments and PIs outside the root element.
pub fn canonicalize_document(doc: &Document, method: &Method, exclude: Option<NodeId>, out: &mut impl Sink) {
    let mut walk = Walk::new(doc, method, exclude, out);
    let mut after_root = false;
    for node in doc.top_level() {
        match node {
            NodeRef::Element(root) => {
                walk.subtree(root, false);
                after_root = true;
            }
            NodeRef::Comment(_) | NodeRef::Pi { .. } => {
                if matches!(node, NodeRef::Comment(_)) && !method.with_comments {
                    continue;
                }
                if after_root {
                    walk.out.put(b"\n");
                }
                walk.leaf(node);
                if !after_root {
                    walk.out.put(b"\n");
                }
            }
            NodeRef::Text(_) => {} // Whitespace outside the root is not part of the output.
        }
    }
}

/// Convenience: canonical bytes of an element.
pub fn element_to_vec(apex: Element<'_>, method: &Method, exclude: Option<NodeId>) -> Vec<u8> {
    let mut out = Vec::new();
    canonicalize_element(apex, method, exclude, &mut out);
    out
}

struct Walk<'d, 'm, S: Sink> {
    doc: &'d Document,
    method: &'m Method,
    exclude: Option<NodeId>,
    out: &'m mut S,
    /// (prefix, uri) bindings in scope; "" is the default namespace, uri "" means none.
    scope: Vec<(&'d str, &'d str)>,
    /// (prefix, uri) declarations rendered by output ancestors.
    rendered: Vec<(&'d str, &'d str)>,
}

impl<'d, 'm, S: Sink> Walk<'d, 'm, S> {
    fn new(doc: &'d Document, method: &'m Method, exclude: Option<NodeId>, out: &'m mut S) -> Self {
        Walk { doc, method, exclude, out, scope: Vec::new(), rendered: Vec::new() }
    }

    /// `in_context`: the apex's ancestors are outside the node-set but their namespace
    /// bindings (and, for inclusive C14N, their xml:* attributes) still apply.
    fn subtree(&mut self, apex: Element<'d>, in_context: bool) {
        self.scope.clear();
        self.rendered.clear();
        if in_context {
            let ancestors: Vec<Element<'d>> = apex.ancestors().collect();
            for ancestor in ancestors.iter().rev() {
                self.push_scope(*ancestor);
            }
        }
        let end = self.doc.subtree_end(apex.id());
        // Open elements: (subtree end, element, scope length before, rendered length before).
        let mut open: Vec<(NodeId, Element<'d>, usize, usize)> = Vec::new();
        let mut i = apex.id();
        while i < end {
            while let Some(&(top_end, element, scope_len, rendered_len)) = open.last() {
                if i < top_end {
                    break;
                }
                self.end_tag(element, scope_len, rendered_len);
                open.pop();
            }
            let node = self.doc.node(i);
            if let NodeRef::Element(element) = node {
                let subtree_end = self.doc.subtree_end(i);
                if Some(i) == self.exclude {
                    i = subtree_end;
                    continue;
                }
                let marks = (self.scope.len(), self.rendered.len());
                self.start_tag(element, i == apex.id() && in_context, i == apex.id());
                open.push((subtree_end, element, marks.0, marks.1));
            } else {
                self.leaf(node);
            }
            i = NodeId(i.0 + 1);
        }
        while let Some((_, element, scope_len, rendered_len)) = open.pop() {
            self.end_tag(element, scope_len, rendered_len);
        }
    }

    fn push_scope(&mut self, element: Element<'d>) {
        for decl in element.declarations() {
            if decl.prefix() != Some("xml") {
                self.scope.push((decl.prefix().unwrap_or(""), decl.uri()));
            }
        }
    }

    fn in_scope(&self, prefix: &str) -> Option<&'d str> {
        self.scope.iter().rev().find(|(p, _)| *p == prefix).map(|(_, uri)| *uri)
    }

    fn rendered_value(&self, prefix: &str) -> Option<&'d str> {
        self.rendered.iter().rev().find(|(p, _)| *p == prefix).map(|(_, uri)| *uri)
    }

    /// Namespace declarations this start tag must carry, sorted by prefix.
    fn declarations_to_render(&self, element: Element<'d>, is_apex: bool) -> Vec<(&'d str, &'d str)> {
        let mut candidates: Vec<&'d str> = Vec::new();
        if self.method.exclusive {
            candidates.push(element.prefix().unwrap_or(""));
            for attribute in element.attributes() {
                if let Some(prefix) = attribute.prefix() {
                    candidates.push(prefix);
                }
            }
            for listed in &self.method.inclusive_prefixes {
                let prefix = if listed == "#default" { "" } else { listed.as_str() };
                if let Some((p, _)) = self.scope.iter().rev().find(|(p, _)| *p == prefix) {
                    candidates.push(p);
                }
            }
        } else if is_apex {
            candidates.extend(self.scope.iter().map(|(p, _)| *p));
        } else {
            candidates.extend(element.declarations().iter().map(|d| d.prefix().unwrap_or("")));
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut render = Vec::new();
        for prefix in candidates {
            if prefix == "xml" {
                continue;
            }
            let uri = self.in_scope(prefix).unwrap_or("");
            let already = self.rendered_value(prefix);
            let needed = if uri.is_empty() {
                // Only the default namespace can be empty: emit xmlns="" solely to undo a
                // non-empty default rendered above.
                prefix.is_empty() && already.is_some_and(|u| !u.is_empty())
            } else {
                already != Some(uri)
            };
            if needed {
                render.push((prefix, uri));
            }
        }
        render
    }

    fn start_tag(&mut self, element: Element<'d>, inherit_xml_attributes: bool, is_apex: bool) {
        self.push_scope(element);
        let declarations = self.declarations_to_render(element, is_apex);

        self.out.put(b"<");
        put_qname(self.out, element.prefix(), element.local_name());
        for &(prefix, uri) in &declarations {
            if prefix.is_empty() {
                self.out.put(b" xmlns=\"");
            } else {
                self.out.put(b" xmlns:");
                self.out.put(prefix.as_bytes());
                self.out.put(b"=\"");
            }
            escape_attribute(self.out, uri);
            self.out.put(b"\"");
        }
        self.rendered.extend(declarations);

        // (namespace URI, local name, prefix, value), sorted with no-namespace first.
        let mut attributes: Vec<(&'d str, &'d str, Option<&'d str>, &'d str)> = element
            .attributes()
            .map(|a| (a.namespace().unwrap_or(""), a.local_name(), a.prefix(), a.value()))
            .collect();
        if inherit_xml_attributes && !self.method.exclusive {
            // Inclusive C14N of a document subset: xml:* attributes of ancestors apply to
            // the apex, the nearest ancestor winning.
            for ancestor in element.ancestors() {
                for a in ancestor.attributes() {
                    if a.namespace() == Some(XML_NS)
                        && !attributes.iter().any(|(ns, local, _, _)| *ns == XML_NS && *local == a.local_name())
                    {
                        attributes.push((XML_NS, a.local_name(), a.prefix(), a.value()));
                    }
                }
            }
        }
        attributes.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, local, prefix, value) in attributes {
            self.out.put(b" ");
            put_qname(self.out, prefix, local);
            self.out.put(b"=\"");
            escape_attribute(self.out, value);
            self.out.put(b"\"");
        }
        self.out.put(b">");
    }

    fn end_tag(&mut self, element: Element<'d>, scope_len: usize, rendered_len: usize) {
        self.out.put(b"</");
        put_qname(self.out, element.prefix(), element.local_name());
        self.out.put(b">");
        self.scope.truncate(scope_len);
        self.rendered.truncate(rendered_len);
    }

    fn leaf(&mut self, node: NodeRef<'d>) {
        match node {
            NodeRef::Text(text) => escape_text(self.out, text),
            NodeRef::Comment(comment) => {
                if self.method.with_comments {
                    self.out.put(b"<!--");
                    self.out.put(comment.as_bytes());
                    self.out.put(b"-->");
                }
            }
            NodeRef::Pi { target, data } => {
                self.out.put(b"<?");
                self.out.put(target.as_bytes());
                if !data.is_empty() {
                    self.out.put(b" ");
                    self.out.put(data.as_bytes());
                }
                self.out.put(b"?>");
            }
            NodeRef::Element(_) => {}
        }
    }
}

fn put_qname(out: &mut impl Sink, prefix: Option<&str>, local: &str) {
    if let Some(prefix) = prefix {
        out.put(prefix.as_bytes());
        out.put(b":");
    }
    out.put(local.as_bytes());
}

fn escape_text(out: &mut impl Sink, text: &str) {
    escape_with(out, text, |b| match b {
        b'&' => Some(b"&amp;".as_slice()),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attribute(out: &mut impl Sink, value: &str) {
    escape_with(out, value, |b| match b {
        b'&' => Some(b"&amp;".as_slice()),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Writes `text`, replacing the bytes `replacement` names; runs in between go out whole.
fn escape_with(out: &mut impl Sink, text: &str, replacement: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(escaped) = replacement(b) {
            if start < i {
                out.put(&bytes[start..i]);
            }
            out.put(escaped);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.put(&bytes[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Limits;

    fn doc(s: &str) -> Document {
        Document::parse(s.as_bytes(), &Limits::default()).unwrap()
    }

    fn c14n_doc(s: &str, method: &Method) -> String {
        let mut out = Vec::new();
        canonicalize_document(&doc(s), method, None, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn inclusive() -> Method {
        Method::default()
    }

    fn exclusive() -> Method {
        Method { exclusive: true, ..Method::default() }
    }

    #[test]
    fn empty_elements_attributes_and_escapes() {
        assert_eq!(
            c14n_doc("<a b='2' a='1&#xA;&amp;&quot;&lt;>'>x &amp; &lt;y&gt;&#xD;<c/></a>", &inclusive()),
            "<a a=\"1&#xA;&amp;&quot;&lt;>\" b=\"2\">x &amp; &lt;y&gt;&#xD;<c></c></a>"
        );
    }

    #[test]
    fn attributes_sort_by_namespace_uri_then_local_name() {
        let s = "<a xmlns:z='urn:a' xmlns:b='urn:b' b:x='1' z:y='2' c='3'/>";
        assert_eq!(
            c14n_doc(s, &inclusive()),
            "<a xmlns:b=\"urn:b\" xmlns:z=\"urn:a\" c=\"3\" z:y=\"2\" b:x=\"1\"></a>"
        );
    }

    #[test]
    fn comments_and_pis_around_root() {
        let s = "<?xml version='1.0'?>\n<?p d?><!--c1-->\n<a><!--in--><?q?></a><!--c2-->";
        let with = Method { with_comments: true, ..inclusive() };
        assert_eq!(c14n_doc(s, &with), "<?p d?>\n<!--c1-->\n<a><!--in--><?q?></a>\n<!--c2-->");
        assert_eq!(c14n_doc(s, &inclusive()), "<?p d?>\n<a><?q?></a>");
    }

    #[test]
    fn superfluous_declarations_are_dropped() {
        let s = "<a xmlns='urn:x' xmlns:p='urn:p'><b xmlns='urn:x' xmlns:p='urn:p'><c xmlns=''/></b></a>";
        assert_eq!(
            c14n_doc(s, &inclusive()),
            "<a xmlns=\"urn:x\" xmlns:p=\"urn:p\"><b><c xmlns=\"\"></c></b></a>"
        );
        assert_eq!(c14n_doc("<a xmlns=''><b/></a>", &inclusive()), "<a><b></b></a>");
    }

    #[test]
    fn exclusive_renders_only_visibly_used_prefixes() {
        let s = "<a xmlns:p='urn:p' xmlns:q='urn:q'><p:b q:x='1'><c/></p:b></a>";
        let d = doc(s);
        let b = d.root().child_elements().next().unwrap();
        let out = element_to_vec(b, &exclusive(), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<p:b xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" q:x=\"1\"><c></c></p:b>"
        );
        let out = element_to_vec(b, &inclusive(), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<p:b xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" q:x=\"1\"><c></c></p:b>"
        );
    }

    #[test]
    fn inclusive_subset_inherits_namespaces_and_xml_attributes() {
        let s = "<a xmlns='urn:d' xmlns:u='urn:unused' xml:lang='en'><b><c/></b></a>";
        let d = doc(s);
        let b = d.root().child_elements().next().unwrap();
        assert_eq!(
            String::from_utf8(element_to_vec(b, &inclusive(), None)).unwrap(),
            "<b xmlns=\"urn:d\" xmlns:u=\"urn:unused\" xml:lang=\"en\"><c></c></b>"
        );
        assert_eq!(
            String::from_utf8(element_to_vec(b, &exclusive(), None)).unwrap(),
            "<b xmlns=\"urn:d\"><c></c></b>"
        );
    }

    #[test]
    fn exclusive_inclusive_prefix_list() {
        let s = "<a xmlns:p='urn:p' xmlns='urn:d'><x:b xmlns:x='urn:x'/></a>";
        let d = doc(s);
        let b = d.root().child_elements().next().unwrap();
        let method = Method { inclusive_prefixes: vec!["p".into(), "#default".into()], ..exclusive() };
        assert_eq!(
            String::from_utf8(element_to_vec(b, &method, None)).unwrap(),
            "<x:b xmlns=\"urn:d\" xmlns:p=\"urn:p\" xmlns:x=\"urn:x\"></x:b>"
        );
    }

    #[test]
    fn excluded_subtree_is_skipped() {
        let s = "<a><s><t/></s><b/></a>";
        let d = doc(s);
        let s_el = d.root().child_elements().next().unwrap();
        assert_eq!(
            String::from_utf8(element_to_vec(d.root(), &exclusive(), Some(s_el.id()))).unwrap(),
            "<a><b></b></a>"
        );
    }
}
