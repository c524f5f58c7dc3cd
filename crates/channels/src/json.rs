//! Lenient accessors over `serde_json::Value`.
//!
//! Platform payloads are read field by field instead of through strict structs: a missing or
//! oddly typed field degrades one value to `None` instead of failing the whole event, and nothing
//! here can panic.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Follows `path` through nested objects.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(*key))
}

pub(crate) fn str_at(value: &Value, path: &[&str]) -> Option<String> {
    at(value, path)?.as_str().map(str::to_owned)
}

/// An identifier the platform may send as a string or a number (Graph app ids, sticker ids).
pub(crate) fn id_at(value: &Value, path: &[&str]) -> Option<String> {
    match at(value, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn i64_at(value: &Value, path: &[&str]) -> Option<i64> {
    at(value, path)?.as_i64()
}

pub(crate) fn u64_at(value: &Value, path: &[&str]) -> Option<u64> {
    at(value, path)?.as_u64()
}

pub(crate) fn f64_at(value: &Value, path: &[&str]) -> Option<f64> {
    at(value, path)?.as_f64()
}

pub(crate) fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Lowercase hex SHA-256 of `value` serialised with object keys sorted at every level.
///
/// Sorting makes the digest independent of whether serde_json's `preserve_order` feature is
/// enabled somewhere in the build, so the same item always gets the same digest.
pub(crate) fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical(value).to_string().as_bytes()))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    sorted.insert(key.clone(), canonical(v));
                }
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digest_ignores_key_order_but_not_content() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":[3,{"q":1,"p":2}]}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":[3,{"p":2,"q":1}],"y":2},"b":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(
            digest(&a),
            digest(&json!({"b":2,"a":{"y":2,"x":[3,{"q":1,"p":2}]}}))
        );
        assert_eq!(digest(&a).len(), 64);
    }

    #[test]
    fn accessors_tolerate_wrong_shapes() {
        let v = json!({"a": {"n": 5, "s": "x", "f": 1.5}, "arr": 3});
        assert_eq!(id_at(&v, &["a", "n"]).as_deref(), Some("5"));
        assert_eq!(id_at(&v, &["a", "s"]).as_deref(), Some("x"));
        assert_eq!(str_at(&v, &["a", "n"]), None);
        assert_eq!(i64_at(&v, &["a", "s", "deeper"]), None);
        assert_eq!(f64_at(&v, &["a", "f"]), Some(1.5));
        assert!(array_at(&v, &["arr"]).is_empty());
        assert_eq!(at(&json!([1]), &["a"]), None);
    }
}
