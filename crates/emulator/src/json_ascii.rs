//! Serialises JSON the way Meta's webhook sender does: non-ASCII characters as
//! `\uXXXX` (surrogate pairs above the BMP) and `/` as `\/`.
//!
//! This matters for fidelity, not looks: a receiver that verifies the
//! signature over re-serialised JSON instead of the raw bytes produces
//! different bytes for such payloads and fails, exactly as it would in
//! production.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

struct MetaFormatter;

impl Formatter for MetaFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() && c != '/' {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            if c == '/' {
                writer.write_all(b"\\/")?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{u:04x}")?;
                }
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

pub(crate) fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, MetaFormatter);
    // Serialising a serde_json::Value into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_meta() {
        let v = serde_json::json!({"t": "héllo 😀 a/b \"q\""});
        let s = String::from_utf8(super::to_vec(&v)).expect("ascii");
        assert_eq!(s, r#"{"t":"h\u00e9llo \ud83d\ude00 a\/b \"q\""}"#);
        let back: serde_json::Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(back, v);
    }
}
