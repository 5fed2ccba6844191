//! `docs/http-reference.md`: the OpenAPI document the server serves at `/openapi.json`, as
//! one page: an index of the routes, then each route (who may call it, its parameters, its
//! request body, its answers) under its tag, then each schema with its fields. It reads the
//! document as JSON, as any client of `/openapi.json` would.

use serde_json::Value;

use super::links::slug;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

const HEADER: &str = "# HTTP reference

<!-- Generated from the OpenAPI document the server serves at /openapi.json (the utoipa
     annotations in crates/filegate-server/src/http/); do not edit. Regenerate with:
     UPDATE_DOCS=1 cargo test -p filegate-server --lib generated_docs -->

Every route of the HTTP API as `/openapi.json` describes it: who may call it, its
parameters, its request body and its answers; then every schema. How the routes fit
together, with examples and the role each one needs, is in [api.md](api.md); every error
`code` is in [errors.md](errors.md).
";

/// One route: its tag, method, path and OpenAPI operation.
struct Route<'a> {
    tag: &'a str,
    method: &'a str,
    path: &'a str,
    operation: &'a Value,
}

impl Route<'_> {
    fn title(&self) -> String {
        format!("`{} {}`", self.method.to_uppercase(), self.path)
    }
}

pub fn markdown(doc: &Value) -> String {
    let routes = routes(doc);
    let mut out = format!("{HEADER}\n## Routes\n\n| route | what it does |\n|---|---|\n");
    for route in &routes {
        let summary = text(&route.operation["summary"]);
        out += &format!(
            "| [{}](#{}) | {} |\n",
            route.title(),
            slug(&route.title()),
            cell(&summary)
        );
    }
    for tag in tags(doc, &routes) {
        out += &format!("\n## {tag}\n");
        if let Some(description) = doc["tags"].as_array().into_iter().flatten().find(|t| t["name"] == tag) {
            let description = text(&description["description"]);
            if !description.is_empty() {
                out += &format!("\n{}.\n", capitalized(&description));
            }
        }
        for route in routes.iter().filter(|r| r.tag == tag) {
            out += &operation(doc, route);
        }
    }
    out += "\n## Schemas\n";
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        out += &format!("\n### `{name}`\n{}", schema_body(schema));
    }
    out
}

/// Every operation, by tag (in the document's order of tags), then path, then method.
fn routes(doc: &Value) -> Vec<Route<'_>> {
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0].as_str().unwrap_or("other");
                routes.push(Route {
                    tag,
                    method,
                    path,
                    operation,
                });
            }
        }
    }
    let tags = tags(doc, &routes);
    routes.sort_by_key(|r| tags.iter().position(|t| *t == r.tag));
    routes
}

/// The tags the document lists, in its order, then any other tag a route carries.
fn tags<'a>(doc: &'a Value, routes: &[Route<'a>]) -> Vec<&'a str> {
    let mut tags: Vec<&str> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for route in routes {
        if !tags.contains(&route.tag) {
            tags.push(route.tag);
        }
    }
    tags.retain(|t| routes.iter().any(|r| r.tag == *t));
    tags
}

fn operation(doc: &Value, route: &Route) -> String {
    let op = route.operation;
    let mut out = format!("\n### {}\n\n{}\n", route.title(), text(&op["summary"]));
    let description = text(&op["description"]);
    if !description.is_empty() {
        out += &format!("\n{description}\n");
    }
    out += &format!("\nWho may call it: {}.\n", who(doc, op));
    if let Some(parameters) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out += "\n| parameter | in | type | required | description |\n|---|---|---|---|---|\n";
        for p in parameters {
            out += &format!(
                "| `{}` | {} | {} | {} | {} |\n",
                text(&p["name"]),
                text(&p["in"]),
                cell(&type_of(&p["schema"])),
                if p["required"] == true { "yes" } else { "no" },
                cell(&text(&p["description"])),
            );
        }
    }
    if let Some(body) = op.get("requestBody") {
        out += &format!("\nRequest body: {}.\n", content(&body["content"]));
    }
    out += "\n| answer | description | body |\n|---|---|---|\n";
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        let body = content(&response["content"]);
        out += &format!(
            "| {status} | {} | {} |\n",
            cell(&text(&response["description"])),
            cell(&body)
        );
    }
    out
}

/// Who may call an operation, from its `security` (or the document's).
fn who(doc: &Value, op: &Value) -> &'static str {
    let requirements = op.get("security").unwrap_or(&doc["security"]);
    let requirements = requirements.as_array().map(Vec::as_slice).unwrap_or_default();
    let anonymous = requirements.iter().any(|r| r.as_object().is_some_and(|r| r.is_empty()));
    match (requirements.is_empty(), anonymous) {
        (true, _) => "anyone, without credentials",
        (false, true) => "anyone, or a caller with `Authorization: Bearer <JWT or API key>`",
        (false, false) => "a caller with `Authorization: Bearer <JWT or API key>`",
    }
}

/// `application/json` [`Schema`](#schema), one per media type, or `none`.
fn content(content: &Value) -> String {
    let parts: Vec<String> = content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media, c)| match c.get("schema") {
            Some(schema) => format!("`{media}` {}", type_of(schema)),
            None => format!("`{media}`"),
        })
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// What a schema says after its heading: its description, then its fields, its variants or
/// its values.
fn schema_body(schema: &Value) -> String {
    let mut out = String::new();
    let description = text(&schema["description"]);
    if !description.is_empty() {
        out += &format!("\n{description}\n");
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            if part.get("$ref").is_some() {
                out += &format!("\nEvery field of {}, and:\n", type_of(part));
            } else {
                out += &fields(part);
            }
        }
    } else if let Some(variants) = schema["oneOf"].as_array() {
        out += "\nOne of:\n";
        for (i, variant) in variants.iter().enumerate() {
            if variant.get("properties").is_some() {
                out += &format!("\n{}. {}\n{}", i + 1, text(&variant["description"]), fields(variant));
            } else {
                out += &format!("\n{}. {}\n", i + 1, type_of(variant));
            }
        }
    } else if schema.get("properties").is_some() {
        out += &fields(schema);
    } else {
        out += &format!("\n{}.\n", capitalized(&type_of(schema)));
    }
    out
}

fn fields(schema: &Value) -> String {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = String::from("\n| field | type | required | description |\n|---|---|---|---|\n");
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        out += &format!(
            "| `{name}` | {} | {} | {} |\n",
            cell(&type_of(field)),
            if required.contains(&name.as_str()) { "yes" } else { "no" },
            cell(&text(&field["description"])),
        );
    }
    out
}

/// A schema in a few words: a link to a named one, `string or null`, `array of …`, the
/// values of an enum.
fn type_of(schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return format!("[`{name}`](#{})", slug(name));
    }
    for (key, joiner) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(list) = schema[key].as_array() {
            return list.iter().map(type_of).collect::<Vec<_>>().join(joiner);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return "any".to_owned();
    }
    let named = types.iter().map(|t| match *t {
        "array" => format!("array of {}", type_of(&schema["items"])),
        "object" if schema["additionalProperties"].is_object() => {
            format!("map of {}", type_of(&schema["additionalProperties"]))
        }
        other => other.to_owned(),
    });
    named.collect::<Vec<_>>().join(" or ")
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().trim().to_owned()
}

/// Text fit for a table cell: on one line, its `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
