//! Rules that hold for the whole API, written into its OpenAPI document in one place instead of
//! on every route, so the document says exactly what the gateway does (a fuzzer holds it to
//! that: `scripts/api-fuzz.sh`):
//!
//! - every problem answer is `application/problem+json`;
//! - every `/api` route may answer `429` (rate limits) and `503` (a backend's breaker is open,
//!   or the limiter fails closed); one with a body or parameters may answer `400` (unreadable
//!   JSON, an unknown parameter) and `422` (values not acceptable); one with a body `413`;
//! - every free-text string a client sends, in a body or a parameter, follows the one text
//!   rule (answers may quote what was refused, so they are not held to it): no control
//!   characters but tab, line feed and carriage return
//!   ([`shop_kernel::validation::forbidden_character`]).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

/// The JSON Schema form of the text rule: anything but the control characters (Unicode
/// category Cc) other than `\t`, `\n` and `\r`.
pub const TEXT_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

const PROBLEM: &str = "application/problem+json";

/// The document with the rules applied.
pub fn apply(document: OpenApi) -> OpenApi {
    let mut value = match serde_json::to_value(&document) {
        Ok(value) => value,
        Err(err) => {
            tracing::error!(%err, "the OpenAPI document cannot be rewritten; serving it as is");
            return document;
        }
    };
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(operations) = item.as_object_mut() else {
                continue;
            };
            for operation in operations.values_mut() {
                if let Some(content) = operation
                    .pointer_mut("/requestBody/content")
                    .and_then(Value::as_object_mut)
                {
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            text_rule(schema);
                        }
                    }
                }
                common_responses(path, operation);
                problem_content_type(operation);
                if let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                {
                    for parameter in parameters {
                        if let Some(schema) = parameter.get_mut("schema") {
                            text_rule(schema);
                        }
                    }
                }
            }
        }
    }
    // Only what clients send: an answer may quote what was refused, control characters and all.
    let sent = request_schemas(&value);
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if sent.contains(name) {
                text_rule(schema);
            }
        }
    }
    match serde_json::from_value(value) {
        Ok(rewritten) => rewritten,
        Err(err) => {
            tracing::error!(%err, "the rewritten OpenAPI document does not parse; serving it as is");
            document
        }
    }
}

/// The names of the component schemas a request body refers to, directly or through others.
fn request_schemas(document: &Value) -> BTreeSet<String> {
    fn refs(schema: &Value, found: &mut Vec<String>) {
        match schema {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref")
                    && let Some(name) = reference.strip_prefix("#/components/schemas/")
                {
                    found.push(name.to_owned());
                }
                object.values().for_each(|nested| refs(nested, found));
            }
            Value::Array(items) => items.iter().for_each(|nested| refs(nested, found)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for operation in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|o| o.values())
        {
            if let Some(body) = operation.get("requestBody") {
                refs(body, &mut pending);
            }
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone())
            && let Some(schema) = document.pointer(&format!("/components/schemas/{name}"))
        {
            refs(schema, &mut pending);
        }
    }
    seen
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM: { "schema": { "$ref": "#/components/schemas/ProblemDoc" } } }
    })
}

fn common_responses(path: &str, operation: &mut Value) {
    if !path.starts_with("/api/") {
        return;
    }
    let has_body = operation.get("requestBody").is_some();
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status)
            .or_insert_with(|| problem(description));
    };
    if has_body || has_parameters {
        add(
            "400",
            "The request cannot be read: malformed JSON, a wrong content type, an unknown field or parameter (problem+json)",
        );
    }
    if has_body || has_parameters {
        add(
            "422",
            "Values that are not acceptable; `errors` names each field (problem+json)",
        );
    }
    if has_body {
        add("413", "The body is larger than the limit (problem+json)");
    }
    add("429", "Rate limited; see Retry-After (problem+json)");
    add(
        "503",
        "A backend is unavailable just now; see Retry-After (problem+json)",
    );
}

fn problem_content_type(operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for response in responses.values_mut() {
        let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        let is_problem = content
            .get("application/json")
            .and_then(|media| media.pointer("/schema/$ref"))
            .and_then(Value::as_str)
            .is_some_and(|reference| reference.ends_with("/ProblemDoc"));
        if is_problem && let Some(media) = content.remove("application/json") {
            content.insert(PROBLEM.to_owned(), media);
        }
    }
}

fn is_string(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "string"),
        _ => false,
    }
}

/// Adds [`TEXT_PATTERN`] to every free-text string in `schema`: one without a format, an
/// enumeration or a pattern of its own.
fn text_rule(schema: &mut Value) {
    let Value::Object(object) = schema else {
        return;
    };
    let free_text = is_string(object)
        && !["format", "enum", "const", "pattern"]
            .iter()
            .any(|key| object.contains_key(*key));
    if free_text {
        object.insert("pattern".to_owned(), Value::String(TEXT_PATTERN.to_owned()));
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(text_rule);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(nested) = object.get_mut(key) {
            text_rule(nested);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(list)) = object.get_mut(key) {
            list.iter_mut().for_each(text_rule);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rewritten() -> Value {
        serde_json::to_value(super::super::openapi_document()).unwrap()
    }

    #[test]
    fn the_text_pattern_accepts_exactly_what_the_text_rule_accepts() {
        let pattern = regex::Regex::new(TEXT_PATTERN).unwrap();
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(
                pattern.is_match(&text),
                shop_kernel::validation::forbidden_character(&text).is_none(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn problems_are_problem_json_and_common_refusals_are_documented() {
        let document = rewritten();
        let place = &document["paths"]["/api/v1/orders"]["post"]["responses"];
        for status in ["400", "413", "422", "429", "503"] {
            assert!(
                place[status]["content"][PROBLEM].is_object(),
                "{status}: {}",
                place[status]
            );
            assert!(place[status]["content"]["application/json"].is_null());
        }
        let me = &document["paths"]["/api/v1/me"]["get"]["responses"];
        assert!(me["400"].is_null(), "no body, no parameters: no 400");
        assert!(me["429"].is_object());
    }

    #[test]
    fn every_free_text_string_carries_the_text_rule() {
        let document = rewritten();
        let cancel = &document["components"]["schemas"]["CancelRequest"]["properties"];
        assert_eq!(cancel["reason"]["pattern"], TEXT_PATTERN);
        // A field with a pattern of its own keeps it (it excludes control characters too).
        let register = &document["components"]["schemas"]["RegisterRequest"]["properties"];
        assert_ne!(register["name"]["pattern"], TEXT_PATTERN);
        assert!(register["name"]["pattern"].is_string());
        // Answers are not held to it: a problem may quote what was refused.
        let problem = &document["components"]["schemas"]["ProblemDoc"]["properties"];
        assert!(problem["detail"]["pattern"].is_null());
        let list = document["paths"]["/api/v1/products"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let q = list.iter().find(|p| p["name"] == "q").unwrap();
        assert_eq!(q["schema"]["pattern"], TEXT_PATTERN);
    }
}
