//! JSON Schema → the OpenAPI 3.0 subset Gemini's `Schema` accepts. Gemini rejects any key it
//! does not know ("Unknown name … Cannot find field"), `properties`/`required` on non-objects,
//! `required` names that are not properties, empty `properties` on the parameters object, and
//! arrays without `items`; this rewrites a schema so none of that reaches it.

use serde_json::{Map, Value, json};

/// Keys copied as they are (after a type check where Gemini wants numbers).
const PLAIN_KEYS: &[&str] = &["title", "description", "pattern", "example", "default"];
const COUNT_KEYS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];
/// The types of Gemini's `Schema` (it has no `null`: that is `nullable`).
const TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];
/// How deep `$ref`s are followed before a recursive type is cut off.
const MAX_REF_DEPTH: usize = 6;

/// A tool's `parameters` for a function declaration, or `None` when it declares no parameters
/// (Gemini rejects an OBJECT with no properties at this level).
pub(crate) fn function_parameters(schema: &Value) -> Option<Value> {
    let mut converted = convert(schema, schema, 0);
    if converted
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
    {
        return None;
    }
    converted.insert("type".into(), json!("object"));
    converted.remove("nullable");
    converted.remove("anyOf");
    Some(Value::Object(converted))
}

/// A `responseSchema` (structured output): the same rewrite, any type allowed at the root.
pub(crate) fn response_schema(schema: &Value) -> Value {
    Value::Object(convert(schema, schema, 0))
}

fn convert(node: &Value, root: &Value, ref_depth: usize) -> Map<String, Value> {
    let Some(object) = node.as_object() else {
        return Map::new();
    };
    // `$ref` (local only): the target, with the referring node's own annotations on top.
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let mut out = match resolve(reference, root) {
            Some(target) if ref_depth < MAX_REF_DEPTH => convert(target, root, ref_depth + 1),
            _ => {
                let mut cut = Map::new();
                cut.insert("type".into(), json!("object"));
                cut
            }
        };
        for key in ["description", "title"] {
            if let Some(value) = object.get(key).filter(|v| v.is_string()) {
                out.insert(key.into(), value.clone());
            }
        }
        return out;
    }
    let mut out = Map::new();
    // `allOf`: merged into one schema (Gemini has no intersection).
    if let Some(all) = object.get("allOf").and_then(Value::as_array) {
        for part in all {
            merge(&mut out, convert(part, root, ref_depth));
        }
    }
    let mut nullable = object.get("nullable").and_then(Value::as_bool) == Some(true);
    // Types Gemini knows, in JSON Schema's spelling; `null` becomes `nullable`, unknown words go.
    let kinds: Vec<String> = match object.get("type") {
        Some(Value::String(kind)) => vec![kind.to_ascii_lowercase()],
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    nullable |= kinds.iter().any(|k| k == "null");
    let real: Vec<&String> = kinds
        .iter()
        .filter(|k| TYPES.contains(&k.as_str()))
        .collect();
    match real.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), json!(one));
        }
        // Several types: one option per type, each with the keywords that apply to it.
        many => {
            let options: Vec<Value> = many
                .iter()
                .map(|kind| {
                    let mut single = object.clone();
                    single.insert("type".into(), json!(kind));
                    single.remove("nullable");
                    Value::Object(convert(&Value::Object(single), root, ref_depth))
                })
                .collect();
            let mut union = Map::new();
            for key in ["title", "description"] {
                if let Some(value) = object.get(key).filter(|v| v.is_string()) {
                    union.insert(key.into(), value.clone());
                }
            }
            union.insert("anyOf".into(), Value::Array(options));
            if nullable {
                union.insert("nullable".into(), json!(true));
            }
            return union;
        }
    }
    // `anyOf` / `oneOf` → `anyOf`; a `null` option becomes `nullable`, and a single remaining
    // option is inlined.
    let union = object.get("anyOf").or_else(|| object.get("oneOf"));
    if let Some(options) = union.and_then(Value::as_array) {
        let mut kept = Vec::new();
        for option in options {
            let converted = convert(option, root, ref_depth);
            if option.get("type").and_then(Value::as_str) == Some("null") && converted.len() <= 1 {
                nullable = true;
            } else {
                kept.push(converted);
            }
        }
        if kept.len() == 1 {
            if let Some(only) = kept.pop() {
                merge(&mut out, only);
            }
        } else if !kept.is_empty() {
            out.insert(
                "anyOf".into(),
                Value::Array(kept.into_iter().map(Value::Object).collect()),
            );
        }
    }
    for key in PLAIN_KEYS {
        if let Some(value) = object.get(*key) {
            let fits = match *key {
                "title" | "description" | "pattern" => value.is_string(),
                _ => !value.is_null(),
            };
            if fits {
                out.insert((*key).into(), value.clone());
            }
        }
    }
    for key in COUNT_KEYS {
        if let Some(value) = object.get(*key).filter(|v| v.is_u64()) {
            out.insert((*key).into(), value.clone());
        }
    }
    // Exclusive bounds (draft 6+: numbers) become inclusive ones, slightly looser.
    for (key, exclusive) in [
        ("minimum", "exclusiveMinimum"),
        ("maximum", "exclusiveMaximum"),
    ] {
        let bound = object
            .get(key)
            .filter(|v| v.is_number())
            .or_else(|| object.get(exclusive).filter(|v| v.is_number()));
        if let Some(bound) = bound {
            out.insert(key.into(), bound.clone());
        }
    }
    let kind = out.get("type").and_then(Value::as_str).map(str::to_owned);
    enum_values(object, kind.as_deref(), &mut nullable, &mut out);
    if let Some(format) = object.get("format").and_then(Value::as_str) {
        let supported = match kind.as_deref() {
            Some("string") => matches!(format, "enum" | "date-time"),
            Some("integer") => matches!(format, "int32" | "int64"),
            Some("number") => matches!(format, "float" | "double"),
            _ => false,
        };
        if supported {
            out.insert("format".into(), json!(format));
        }
    }
    object_keywords(object, root, ref_depth, &mut out);
    array_keywords(object, root, ref_depth, &mut out);
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    out
}

/// `enum` / `const`: Gemini's enums are strings. Non-string values on a string (or untyped)
/// schema are written as strings; on a number or boolean they are dropped and listed in the
/// description instead, so the model still sees them.
fn enum_values(
    object: &Map<String, Value>,
    kind: Option<&str>,
    nullable: &mut bool,
    out: &mut Map<String, Value>,
) {
    let values: Vec<&Value> = match (object.get("enum"), object.get("const")) {
        (Some(Value::Array(values)), _) => values.iter().collect(),
        (_, Some(value)) => vec![value],
        _ => return,
    };
    *nullable |= values.iter().any(|v| v.is_null());
    let words: Vec<String> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if words.is_empty() {
        return;
    }
    match kind {
        None | Some("string") => {
            out.insert("type".into(), json!("string"));
            out.insert("enum".into(), json!(words));
        }
        Some(_) => {
            let note = format!("Allowed values: {}.", words.join(", "));
            let description = match out.get("description").and_then(Value::as_str) {
                Some(text) if !text.is_empty() => format!("{text} {note}"),
                _ => note,
            };
            out.insert("description".into(), json!(description));
        }
    }
}

fn object_keywords(
    object: &Map<String, Value>,
    root: &Value,
    ref_depth: usize,
    out: &mut Map<String, Value>,
) {
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        let converted: Map<String, Value> = properties
            .iter()
            .map(|(name, schema)| {
                (
                    name.clone(),
                    Value::Object(convert(schema, root, ref_depth)),
                )
            })
            .collect();
        let mut extra = Map::new();
        extra.insert("properties".into(), Value::Object(converted));
        merge(out, extra);
    }
    if let Some(required) = object.get("required").filter(|r| r.is_array()) {
        let mut extra = Map::new();
        extra.insert("required".into(), required.clone());
        merge(out, extra);
    }
    if out.get("type").is_none() && out.contains_key("properties") {
        out.insert("type".into(), json!("object"));
    }
    if out.get("type").and_then(Value::as_str) != Some("object") {
        // Gemini: "properties: only allowed for OBJECT type".
        out.remove("properties");
        out.remove("required");
        return;
    }
    let names: Vec<String> = match out.get("properties") {
        Some(Value::Object(properties)) => properties.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        out.remove("properties");
    }
    // Gemini: every `required` name must be one of the properties.
    let required: Vec<Value> = match out.remove("required") {
        Some(Value::Array(list)) => list
            .into_iter()
            .filter(|n| n.as_str().is_some_and(|n| names.iter().any(|m| m == n)))
            .collect(),
        _ => Vec::new(),
    };
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
}

fn array_keywords(
    object: &Map<String, Value>,
    root: &Value,
    ref_depth: usize,
    out: &mut Map<String, Value>,
) {
    if out.get("type").and_then(Value::as_str) != Some("array") {
        out.remove("items");
        return;
    }
    // Tuples (`prefixItems`, or `items` as a list) become an array of any of their types.
    let items = match (object.get("items"), object.get("prefixItems")) {
        (Some(Value::Object(_)), _) => object.get("items").map(|i| convert(i, root, ref_depth)),
        (Some(Value::Array(list)), _) | (_, Some(Value::Array(list))) => {
            let mut union = Map::new();
            let options: Vec<Value> = list
                .iter()
                .map(|i| Value::Object(convert(i, root, ref_depth)))
                .collect();
            if !options.is_empty() {
                union.insert("anyOf".into(), Value::Array(options));
            }
            Some(union)
        }
        _ => None,
    };
    // Gemini rejects an ARRAY without `items`; strings are the least surprising element.
    let earlier = match out.remove("items") {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    let items = items
        .filter(|i| !i.is_empty())
        .or(earlier.filter(|i| !i.is_empty()))
        .unwrap_or_else(|| match json!({"type": "string"}) {
            Value::Object(map) => map,
            _ => Map::new(),
        });
    out.insert("items".into(), Value::Object(items));
}

/// Merges `extra` into `out`: properties and required lists are united, other keys kept from
/// whichever came first.
fn merge(out: &mut Map<String, Value>, extra: Map<String, Value>) {
    for (key, value) in extra {
        match (key.as_str(), out.get_mut(&key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                mine.extend(theirs);
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                out.insert(key, value);
            }
        }
    }
}

/// A local reference: `#`, `#/$defs/…`, `#/definitions/…` or any JSON pointer into the root.
fn resolve<'r>(reference: &str, root: &'r Value) -> Option<&'r Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}
