//! Strict XML: bytes → an immutable, namespace-resolved tree.
//!
//! The tree is an arena in document order (preorder). Every node records where its
//! subtree ends, so a subtree is the contiguous id range `id..end`: canonicalization and
//! "is this node inside that element" are loops and comparisons, never recursion.
//!
//! This module knows nothing about signatures.

mod reader;
mod text;

pub use reader::Limits;

use crate::error::XmlError;

/// The namespace bound to the `xml` prefix by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Index of a node in its document's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

const NO_PARENT: u32 = u32::MAX;

#[derive(Debug)]
struct Node {
    parent: u32,
    /// One past the last node of this node's subtree.
    end: u32,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Element(ElementData),
    Text(Box<str>),
    Comment(Box<str>),
    Pi { target: Box<str>, data: Box<str> },
}

#[derive(Debug)]
struct ElementData {
    prefix: Option<Box<str>>,
    local: Box<str>,
    /// Index into `Document::namespaces`; `None` for no namespace.
    namespace: Option<u32>,
    attributes: std::ops::Range<u32>,
    declarations: std::ops::Range<u32>,
}

/// An attribute after namespace resolution (namespace declarations are kept apart).
#[derive(Debug)]
pub struct Attribute {
    prefix: Option<Box<str>>,
    local: Box<str>,
    namespace: Option<u32>,
    value: Box<str>,
}

/// A namespace declaration as written on an element (`xmlns="…"` or `xmlns:p="…"`).
#[derive(Debug)]
pub struct NamespaceDecl {
    prefix: Option<Box<str>>,
    uri: Box<str>,
}

impl NamespaceDecl {
    /// `None` for the default namespace.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }
    /// Empty for `xmlns=""` (undeclaring the default namespace).
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

/// A parsed document. Immutable once built.
#[derive(Debug)]
pub struct Document {
    nodes: Vec<Node>,
    attributes: Vec<Attribute>,
    declarations: Vec<NamespaceDecl>,
    namespaces: Vec<Box<str>>,
    root: NodeId,
}

impl Document {
    /// Parse `input` strictly (see [`Limits`] for the bounds applied).
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        reader::parse(input, limits)
    }

    /// The document element.
    pub fn root(&self) -> Element<'_> {
        Element { doc: self, id: self.root }
    }

    /// Every node at the top level (comments and PIs around the root, and the root), in order.
    pub fn top_level(&self) -> impl Iterator<Item = NodeRef<'_>> + '_ {
        Siblings { doc: self, next: 0, end: self.nodes.len() as u32 }
    }

    pub fn element(&self, id: NodeId) -> Option<Element<'_>> {
        match self.nodes.get(id.index())?.kind {
            NodeKind::Element(_) => Some(Element { doc: self, id }),
            _ => None,
        }
    }

    /// All elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = Element<'_>> + '_ {
        (0..self.nodes.len() as u32).filter_map(move |i| self.element(NodeId(i)))
    }

    /// Number of nodes (elements, texts, comments, PIs).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn namespace(&self, index: Option<u32>) -> Option<&str> {
        index.and_then(|i| self.namespaces.get(i as usize)).map(|s| &**s)
    }

    fn data(&self, id: NodeId) -> &ElementData {
        match &self.nodes[id.index()].kind {
            NodeKind::Element(e) => e,
            // Element handles are only ever made for element nodes.
            _ => unreachable!("Element handle on a non-element node"),
        }
    }

    pub(crate) fn subtree_end(&self, id: NodeId) -> NodeId {
        NodeId(self.nodes[id.index()].end)
    }

    pub(crate) fn node(&self, id: NodeId) -> NodeRef<'_> {
        match &self.nodes[id.index()].kind {
            NodeKind::Element(_) => NodeRef::Element(Element { doc: self, id }),
            NodeKind::Text(t) => NodeRef::Text(t),
            NodeKind::Comment(c) => NodeRef::Comment(c),
            NodeKind::Pi { target, data } => NodeRef::Pi { target, data },
        }
    }
}

/// A view of one node.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'d> {
    Element(Element<'d>),
    Text(&'d str),
    Comment(&'d str),
    Pi { target: &'d str, data: &'d str },
}

/// A handle to an element of a [`Document`].
///
/// Navigation goes down (children, descendants) but not up: code that was handed a
/// verified element cannot wander outside what the signature covered.
#[derive(Clone, Copy)]
pub struct Element<'d> {
    doc: &'d Document,
    id: NodeId,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}> (node {})", self.qualified_name(), self.id.0)
    }
}

impl PartialEq for Element<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.id == other.id
    }
}
impl Eq for Element<'_> {}

impl<'d> Element<'d> {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn document(&self) -> &'d Document {
        self.doc
    }

    pub fn local_name(&self) -> &'d str {
        &self.doc.data(self.id).local
    }

    pub fn prefix(&self) -> Option<&'d str> {
        self.doc.data(self.id).prefix.as_deref()
    }

    /// `prefix:local` as written.
    pub fn qualified_name(&self) -> String {
        match self.prefix() {
            Some(p) => format!("{p}:{}", self.local_name()),
            None => self.local_name().to_string(),
        }
    }

    pub fn namespace(&self) -> Option<&'d str> {
        self.doc.namespace(self.doc.data(self.id).namespace)
    }

    /// True when this element is `{namespace}local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.local_name() == local && self.namespace() == Some(namespace)
    }

    /// Attributes in document order (namespace declarations excluded).
    pub fn attributes(&self) -> impl Iterator<Item = AttributeRef<'d>> + 'd {
        let doc = self.doc;
        let range = doc.data(self.id).attributes.clone();
        doc.attributes[range.start as usize..range.end as usize]
            .iter()
            .map(move |attribute| AttributeRef { doc, attribute })
    }

    /// The value of the attribute `local` in no namespace (how SAML writes its attributes).
    pub fn attribute(&self, local: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.namespace().is_none() && a.local_name() == local)
            .map(|a| a.value())
    }

    pub fn attribute_ns(&self, namespace: &str, local: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.namespace() == Some(namespace) && a.local_name() == local)
            .map(|a| a.value())
    }

    /// Namespace declarations written on this element, in document order.
    pub fn declarations(&self) -> &'d [NamespaceDecl] {
        let range = self.doc.data(self.id).declarations.clone();
        &self.doc.declarations[range.start as usize..range.end as usize]
    }

    /// Direct children of any kind.
    pub fn children(&self) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        Siblings { doc: self.doc, next: self.id.0 + 1, end: self.doc.nodes[self.id.index()].end }
    }

    /// Direct child elements.
    pub fn child_elements(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        self.children().filter_map(|n| match n {
            NodeRef::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Direct child elements named `{namespace}local`.
    pub fn children_named<'a>(
        &self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = Element<'d>> + 'a
    where
        'd: 'a,
    {
        self.child_elements().filter(move |e| e.is(namespace, local))
    }

    /// All descendant elements (not including self), in document order.
    pub fn descendants(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        let doc = self.doc;
        (self.id.0 + 1..doc.nodes[self.id.index()].end).filter_map(move |i| doc.element(NodeId(i)))
    }

    /// The whole text content: every descendant text node joined, comments and
    /// processing instructions skipped. A comment inside a value can therefore never
    /// truncate it (`user@evil.test<!---->.example.com` reads as the full address).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for i in self.id.0 + 1..self.doc.nodes[self.id.index()].end {
            if let NodeKind::Text(t) = &self.doc.nodes[i as usize].kind {
                out.push_str(t);
            }
        }
        out
    }

    /// True if `other` is this element or lies inside it.
    pub fn contains(&self, other: NodeId) -> bool {
        other.0 >= self.id.0 && other.0 < self.doc.nodes[self.id.index()].end
    }

    /// The parent element. Crate-private on purpose: verified views must not climb out.
    pub(crate) fn parent(&self) -> Option<Element<'d>> {
        match self.doc.nodes[self.id.index()].parent {
            NO_PARENT => None,
            p => self.doc.element(NodeId(p)),
        }
    }

    /// Ancestors from the parent up to the root.
    pub(crate) fn ancestors(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        std::iter::successors(self.parent(), |e| e.parent())
    }
}

/// A resolved attribute.
#[derive(Clone, Copy)]
pub struct AttributeRef<'d> {
    doc: &'d Document,
    attribute: &'d Attribute,
}

impl<'d> AttributeRef<'d> {
    pub fn prefix(&self) -> Option<&'d str> {
        self.attribute.prefix.as_deref()
    }
    pub fn local_name(&self) -> &'d str {
        &self.attribute.local
    }
    pub fn namespace(&self) -> Option<&'d str> {
        self.doc.namespace(self.attribute.namespace)
    }
    /// The normalized, entity-decoded value.
    pub fn value(&self) -> &'d str {
        &self.attribute.value
    }
}

struct Siblings<'d> {
    doc: &'d Document,
    next: u32,
    end: u32,
}

impl<'d> Iterator for Siblings<'d> {
    type Item = NodeRef<'d>;
    fn next(&mut self) -> Option<NodeRef<'d>> {
        if self.next >= self.end {
            return None;
        }
        let id = NodeId(self.next);
        self.next = self.doc.nodes[id.index()].end;
        Some(self.doc.node(id))
    }
}

/// Is this the XML whitespace set (space, tab, LF, CR)?
pub fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}
