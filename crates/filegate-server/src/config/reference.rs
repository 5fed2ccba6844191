//! `docs/configuration.md`, generated from the config structs: their doc comments (through
//! their JSON schema) say what each key means, `Config::default()` what it is by default.
//! A test keeps the file equal to what this generates.

use serde_json::{Map, Value};

use super::Config;

/// One key of the reference.
struct Row {
    key: String,
    env: String,
    default: String,
    meaning: String,
}

/// A top-level group of keys: the loose ones, or one `[section]`.
struct Section {
    name: Option<String>,
    about: String,
    /// What the tables nested in the section are (`rate_limit.anonymous`), one line each.
    nested: Vec<String>,
    rows: Vec<Row>,
}

const HEADER: &str = "# Configuration reference

<!-- Generated from the config structs in crates/filegate-server/src/config.rs and
     config/sections.rs (their doc comments and defaults); do not edit. Regenerate with:
     UPDATE_DOCS=1 cargo test -p filegate-server --lib generated_docs -->

Defaults, then one TOML file (`--config`), then `FILEGATE_*` environment variables (nested
keys joined by `__`: `FILEGATE_WORKERS__CONCURRENCY=4`), then the command-line flags.
Unknown keys are refused, and every value is checked before the server starts: all the bad
ones are reported together, each with its key.
";

/// The whole reference, as Markdown.
pub fn reference_markdown() -> String {
    let mut out = String::from(HEADER);
    for section in sections() {
        out.push('\n');
        match &section.name {
            Some(name) => out.push_str(&format!("## `[{name}]`\n\n")),
            None => out.push_str("## Top level\n\n"),
        }
        if !section.about.is_empty() {
            out.push_str(&section.about);
            out.push_str("\n\n");
        }
        for line in &section.nested {
            out.push_str(&format!("- {line}\n"));
        }
        if !section.nested.is_empty() {
            out.push('\n');
        }
        out.push_str("| key | env | default | meaning |\n|---|---|---|---|\n");
        for row in &section.rows {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                row.key, row.env, row.default, row.meaning
            ));
        }
    }
    out
}

/// Keys the reference would list without a meaning: each must get a doc comment.
pub fn undocumented_keys() -> Vec<String> {
    sections()
        .into_iter()
        .flat_map(|s| s.rows)
        .filter(|r| r.meaning.is_empty())
        .map(|r| r.key)
        .collect()
}

fn sections() -> Vec<Section> {
    let schema = schemars::schema_for!(Config);
    let root = schema.as_value();
    // Serializing plain structs cannot fail; an empty reference would fail its test.
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let walker = Walker {
        defs: root.get("$defs").and_then(Value::as_object),
    };
    walker.sections(root, &defaults)
}

/// Reads the schema, resolving `$ref`s into its `$defs`.
struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl<'a> Walker<'a> {
    fn sections(&self, root: &'a Value, defaults: &Value) -> Vec<Section> {
        let mut top = Section {
            name: None,
            about: String::new(),
            nested: Vec::new(),
            rows: Vec::new(),
        };
        let mut sections = Vec::new();
        for (name, property) in properties(root) {
            let default = defaults.get(name);
            if self.is_group(property) {
                let mut section = Section {
                    name: Some(name.clone()),
                    about: self.about(property),
                    nested: Vec::new(),
                    rows: Vec::new(),
                };
                self.rows(property, name, default, &mut section);
                sections.push(section);
            } else {
                top.rows.push(self.row(property, name, default));
            }
        }
        sections.insert(0, top);
        sections
    }

    /// The rows of a section (or a map of sections, like `triggers.NAME`), nested keys
    /// included.
    fn rows(&self, schema: &'a Value, prefix: &str, defaults: Option<&Value>, section: &mut Section) {
        let resolved = self.resolve(schema);
        if let Some(entry) = self.map_entry(resolved) {
            // A map of sections: no defaults but each key's own.
            return self.rows(entry, &format!("{prefix}.NAME"), None, section);
        }
        for (name, property) in properties(resolved) {
            let key = format!("{prefix}.{name}");
            let default = defaults.and_then(|d| d.get(name)).or_else(|| property.get("default"));
            if self.is_group(property) {
                section.nested.push(format!("`{key}`: {}", self.about(property)));
                self.rows(property, &key, default, section);
            } else {
                section.rows.push(self.row(property, &key, default));
            }
        }
    }

    fn row(&self, schema: &Value, key: &str, default: Option<&Value>) -> Row {
        let resolved = self.resolve(schema);
        // A map of plain values (a trigger's headers) is only written in the file.
        let env = if resolved.get("additionalProperties").is_some_and(Value::is_object) {
            "—".to_owned()
        } else {
            format!("`FILEGATE_{}`", key.to_ascii_uppercase().replace('.', "__"))
        };
        Row {
            key: key.to_owned(),
            env,
            default: default.map_or_else(|| "unset".to_owned(), render),
            meaning: one_line(schema.get("description").or_else(|| resolved.get("description"))),
        }
    }

    /// A section's own text: the field's doc comment, else its struct's.
    fn about(&self, schema: &Value) -> String {
        one_line(
            schema
                .get("description")
                .or_else(|| self.resolve(schema).get("description")),
        )
    }

    /// Whether the value is a table of keys (a section, or a map of sections) rather than a
    /// single setting.
    fn is_group(&self, schema: &'a Value) -> bool {
        let resolved = self.resolve(schema);
        resolved.get("properties").is_some() || self.map_entry(resolved).is_some()
    }

    /// For a map whose values are sections (`triggers`), the schema of one value.
    fn map_entry(&self, schema: &'a Value) -> Option<&'a Value> {
        let entry = self.resolve(schema.get("additionalProperties")?);
        entry.get("properties").is_some().then_some(entry)
    }

    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let target = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| self.defs?.get(name));
        target.unwrap_or(schema)
    }
}

fn properties(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// A default as it would be written in the TOML file.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "unset".to_owned(),
        Value::String(s) if s.is_empty() => "—".to_owned(),
        other => format!("`{other}`"),
    }
}

/// A doc comment on one line, safe in a table cell.
fn one_line(text: Option<&Value>) -> String {
    let text = text.and_then(Value::as_str).unwrap_or_default();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
