//! Character-level rules: allowed characters, line-end normalization, references.
//! Written here rather than taken from quick-xml so that exactly the five predefined
//! entities and valid character references are accepted, and nothing else.

use std::borrow::Cow;

use crate::error::XmlError;

/// XML 1.0 `Char`: refuse C0 controls other than TAB/LF/CR, and U+FFFE/U+FFFF.
/// (Surrogates cannot occur in a Rust `str`.)
pub(super) fn check_characters(text: &str) -> Result<(), XmlError> {
    for (offset, c) in text.char_indices() {
        if !is_xml_char(c) {
            return Err(XmlError::InvalidChar { offset });
        }
    }
    Ok(())
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// CRLF and lone CR become LF (XML 1.0 §2.11).
pub(super) fn normalize_line_ends(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Decodes the name of a reference as quick-xml reports it (`amp`, `#65`, `#x41`).
pub(super) fn decode_reference(name: &str) -> Result<char, XmlError> {
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ if name.starts_with('#') => {
            let number = match name.strip_prefix("#x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok().filter(|_| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())),
                None => {
                    let dec = &name[1..];
                    dec.parse::<u32>().ok().filter(|_| !dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit()))
                }
            };
            number
                .and_then(char::from_u32)
                .filter(|c| is_xml_char(*c))
                .ok_or_else(|| XmlError::InvalidCharRef { reference: name.to_string() })
        }
        _ => Err(XmlError::UndefinedEntity { name: name.to_string() }),
    }
}

/// Attribute-value normalization for CDATA attributes (no DTD means every attribute is
/// CDATA): literal TAB/LF become spaces, then references are decoded, so `&#xA;` keeps
/// its newline while a literal newline does not.
pub(super) fn decode_attribute_value(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\n']) {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'&' => {
                let after = &rest[i + 1..];
                let end = after.find(';').ok_or_else(|| XmlError::Malformed {
                    offset: 0,
                    detail: "unterminated reference in attribute value".into(),
                })?;
                out.push(decode_reference(&after[..end])?);
                rest = &after[end + 1..];
                continue;
            }
            b'<' => {
                return Err(XmlError::Malformed { offset: 0, detail: "'<' in an attribute value".into() })
            }
            _ => out.push(' '),
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(decode_reference("#x41"), Ok('A'));
        assert_eq!(decode_reference("#65"), Ok('A'));
        assert!(decode_reference("#x").is_err());
        assert!(decode_reference("#x+41").is_err());
        assert!(decode_reference("#1114112").is_err());
        assert!(decode_reference("#xFFFE").is_err());
        assert_eq!(decode_reference("nbsp").unwrap_err().code(), "xml.undefined_entity");
    }

    #[test]
    fn attribute_values() {
        assert_eq!(decode_attribute_value("a\tb\nc&#9;&#10;&amp;").unwrap(), "a b c\t\n&");
        assert!(decode_attribute_value("a&amp").is_err());
    }
}
