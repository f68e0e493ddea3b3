//! What Gemini's function-declaration `Schema` accepts (the OpenAPI subset, with the rules its
//! API enforces), checked at every depth, and arbitrary JSON Schemas full of keywords it rejects.
#![allow(dead_code, reason = "shared test helpers")]

use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];
const TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

pub fn check_schema(schema: &Value, path: &str) -> Result<(), String> {
    let object = schema
        .as_object()
        .ok_or_else(|| format!("{path}: not an object"))?;
    for key in object.keys() {
        if !SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(format!("{path}: unknown key `{key}`"));
        }
    }
    let kind = match object.get("type") {
        None => None,
        Some(Value::String(kind)) if TYPES.contains(&kind.as_str()) => Some(kind.as_str()),
        Some(other) => return Err(format!("{path}.type: {other}")),
    };
    if (object.contains_key("properties") || object.contains_key("required"))
        && kind != Some("object")
    {
        return Err(format!("{path}: properties on a non-object"));
    }
    if kind == Some("array") && !object.contains_key("items") {
        return Err(format!("{path}: array without items"));
    }
    if object.contains_key("items") && kind != Some("array") {
        return Err(format!("{path}: items on a non-array"));
    }
    if let Some(values) = object.get("enum") {
        let values = values
            .as_array()
            .ok_or(format!("{path}.enum: not a list"))?;
        if !values.iter().all(Value::is_string) {
            return Err(format!("{path}.enum: not all strings"));
        }
    }
    if let Some(format) = object.get("format").and_then(Value::as_str) {
        let fine = matches!(
            (kind, format),
            (Some("string"), "enum" | "date-time")
                | (Some("integer"), "int32" | "int64")
                | (Some("number"), "float" | "double")
        );
        if !fine {
            return Err(format!("{path}.format: `{format}` on {kind:?}"));
        }
    }
    let properties = object.get("properties").map(|p| p.as_object().unwrap());
    if let Some(properties) = properties {
        if properties.is_empty() {
            return Err(format!("{path}.properties: empty"));
        }
        for (name, property) in properties {
            check_schema(property, &format!("{path}.properties[{name}]"))?;
        }
    }
    for name in object
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name
            .as_str()
            .ok_or(format!("{path}.required: not a string"))?;
        if !properties.is_some_and(|p| p.contains_key(name)) {
            return Err(format!("{path}.required: `{name}` is not a property"));
        }
    }
    if let Some(items) = object.get("items") {
        check_schema(items, &format!("{path}.items"))?;
    }
    for (k, option) in object
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_schema(option, &format!("{path}.anyOf[{k}]"))?;
    }
    Ok(())
}

pub fn check_declarations(body: &Value) {
    for tool in body["tools"].as_array().into_iter().flatten() {
        for declaration in tool["functionDeclarations"].as_array().unwrap() {
            if let Some(parameters) = declaration.get("parameters") {
                assert_eq!(parameters["type"], "object");
                check_schema(parameters, &format!("{}", declaration["name"]))
                    .unwrap_or_else(|e| panic!("{e}\n{parameters:#}"));
            }
        }
    }
    if let Some(schema) = body.pointer("/generationConfig/responseSchema") {
        check_schema(schema, "responseSchema").unwrap_or_else(|e| panic!("{e}\n{schema:#}"));
    }
}

fn schema_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "string",
            "object",
            "array",
            "integer",
            "number",
            "boolean",
            "null",
            "date-time",
            "email",
            "uri",
            "int32",
            "int64",
            "float",
            "enum",
            "#",
            "#/$defs/a",
            "#/definitions/b",
            "#/nowhere",
        ])
        .prop_map(|s| json!(s)),
        (-5i64..100).prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        Just(json!(["string", "null"])),
        Just(json!(["integer", "string"])),
        Just(json!(["array", "object", "null"])),
        Just(json!(["a", 1, null, true])),
        Just(json!(["city", "type", "missing"])),
    ]
}

const KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "const",
    "default",
    "examples",
    "example",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
    "additionalProperties",
    "patternProperties",
    "$schema",
    "$id",
    "$comment",
    "$ref",
    "readOnly",
    "deprecated",
    "strict",
    "propertyNames",
    "unevaluatedProperties",
    "if",
    "then",
    "else",
    "contentMediaType",
    "prefixItems",
    "items",
    "propertyOrdering",
];

pub fn arbitrary_schema() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::btree_map(prop::sample::select(KEYWORDS), schema_value(), 0..6)
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    leaf.prop_recursive(5, 96, 6, |inner| {
        (
            prop::collection::btree_map(prop::sample::select(KEYWORDS), schema_value(), 0..4),
            prop::collection::btree_map(
                prop::sample::select(vec!["city", "type", "format", "properties", "a", "ü"]),
                inner.clone(),
                0..4,
            ),
            prop::sample::select(vec![
                "properties",
                "items",
                "anyOf",
                "oneOf",
                "allOf",
                "$defs",
                "definitions",
                "additionalProperties",
                "not",
                "prefixItems",
            ]),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(plain, named, composite, list)| {
                let mut object: Map<String, Value> =
                    plain.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                let named: Map<String, Value> =
                    named.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                let value = match composite {
                    "properties" | "$defs" | "definitions" | "patternProperties" => {
                        Value::Object(named)
                    }
                    "anyOf" | "oneOf" | "allOf" | "prefixItems" => Value::Array(list),
                    _ => list.into_iter().next().unwrap_or(json!({})),
                };
                object.insert(composite.to_owned(), value);
                if composite == "$defs" || composite == "definitions" {
                    object.insert("$ref".into(), json!("#/$defs/city"));
                }
                Value::Object(object)
            })
    })
}
