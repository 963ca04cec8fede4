//! The dispatcher: holds the registered tools, offers their specs, and turns a model's
//! raw call (name + JSON text) into a tool call. Every way a call can be malformed
//! becomes an error output the model can act on; nothing here panics.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::tool::json_kind;
use crate::tools::{Bash, BashOutput, BashStop, EditFile, Glob, Grep, Jobs, ReadFile, WriteFile};
use crate::{Jail, Tool, ToolConfig, ToolOutput, ToolSpec};

/// The set of tools a session can call, keyed by name.
#[derive(Clone, Default)]
pub struct ToolBox {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl ToolBox {
    /// An empty tool box.
    pub fn new() -> ToolBox {
        ToolBox::default()
    }

    /// The six standard tools, all jailed to `jail`.
    pub fn standard(jail: Arc<Jail>, config: ToolConfig) -> ToolBox {
        let config = Arc::new(config);
        let mut toolbox = ToolBox::new();
        toolbox.register(Arc::new(ReadFile::new(jail.clone(), config.clone())));
        toolbox.register(Arc::new(WriteFile::new(jail.clone())));
        toolbox.register(Arc::new(EditFile::new(jail.clone())));
        let jobs = Arc::new(Jobs::default());
        toolbox.register(Arc::new(Bash::new(
            jail.clone(),
            config.clone(),
            jobs.clone(),
        )));
        toolbox.register(Arc::new(BashOutput::new(jobs.clone(), config.clone())));
        toolbox.register(Arc::new(BashStop::new(jobs, config.clone())));
        toolbox.register(Arc::new(Glob::new(jail.clone(), config.clone())));
        toolbox.register(Arc::new(Grep::new(jail, config)));
        toolbox
    }

    /// Adds `tool`, replacing any tool of the same name.
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.spec().name, tool);
    }

    /// The specs of the tools named in `allowed` (all tools when it is empty), sorted
    /// by name. Names in `allowed` that are not registered are ignored.
    pub fn specs(&self, allowed: &[String]) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .filter(|(name, _)| allowed.is_empty() || allowed.contains(name))
            .map(|(_, tool)| tool.spec())
            .collect()
    }

    /// Calls tool `name` with `raw_arguments` (JSON text; empty means `{}`).
    pub fn call(&self, name: &str, raw_arguments: &str) -> ToolOutput {
        let Some(tool) = self.tools.get(name) else {
            let available: Vec<&str> = self.tools.keys().map(String::as_str).collect();
            return ToolOutput::error(format!(
                "unknown tool {name:?}; available tools: {}",
                available.join(", ")
            ));
        };
        let spec = tool.spec();
        let args = match parse_arguments(raw_arguments) {
            Ok(args) => args,
            Err(parse_error) => {
                return ToolOutput::error(format!(
                    "arguments for {name:?} are not valid JSON ({parse_error}); send one JSON object with {}",
                    describe_parameters(&spec.parameters)
                ));
            }
        };
        if let Err(problem) = check_against_schema(&args, &spec.parameters) {
            return ToolOutput::error(format!(
                "invalid arguments for {name:?}: {problem}; expected {}",
                describe_parameters(&spec.parameters)
            ));
        }
        // A tool registered by someone else may panic; the session must survive it.
        catch_unwind(AssertUnwindSafe(|| tool.call(&args))).unwrap_or_else(|payload| {
            let reason = payload
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown reason".to_owned());
            tracing::error!(tool = name, %reason, "tool panicked");
            ToolOutput::error(format!(
                "tool {name:?} failed internally ({reason}); try a different approach"
            ))
        })
    }
}

impl std::fmt::Debug for ToolBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolBox")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_arguments(raw: &str) -> Result<Value, serde_json::Error> {
    if raw.trim().is_empty() {
        Ok(Value::Object(Map::new()))
    } else {
        serde_json::from_str(raw)
    }
}

/// Checks the parts of a JSON Schema that tools rely on: an object, its `required`
/// fields present, and present fields of the declared `type`.
fn check_against_schema(args: &Value, schema: &Value) -> Result<(), String> {
    let Some(object) = args.as_object() else {
        return Err(format!(
            "expected a JSON object of named parameters, got {}",
            json_kind(args)
        ));
    };
    let missing: Vec<&str> = required(schema)
        .filter(|field| !object.contains_key(*field))
        .collect();
    if !missing.is_empty() {
        let fields: Vec<String> = missing.iter().map(|field| format!("{field:?}")).collect();
        return Err(format!("missing required field {}", fields.join(", ")));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (field, value) in object {
        let Some(property) = properties.and_then(|p| p.get(field)) else {
            if closed {
                return Err(format!("unknown field {field:?}"));
            }
            continue;
        };
        // Models often send null for an optional parameter they mean to leave out.
        let optional = !required(schema).any(|name| name == field);
        let Some(expected) = property.get("type") else {
            continue;
        };
        if !(optional && value.is_null() || type_matches(value, expected)) {
            return Err(format!(
                "field {field:?} must be {}, got {}",
                type_names(expected),
                json_kind(value)
            ));
        }
    }
    Ok(())
}

fn required(schema: &Value) -> impl Iterator<Item = &str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn type_matches(value: &Value, expected: &Value) -> bool {
    let matches_one = |name: &str| match name {
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => json_kind(value) == other,
    };
    match expected {
        Value::String(name) => matches_one(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(matches_one),
        _ => true,
    }
}

fn type_names(expected: &Value) -> String {
    match expected {
        Value::Array(names) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            format!("one of {}", names.join(", "))
        }
        other => {
            let name = other.as_str().unwrap_or("value");
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {name}")
        }
    }
}

/// "required parameters: path; optional: offset, limit" — told to the model whenever
/// a call's arguments cannot be used.
fn describe_parameters(schema: &Value) -> String {
    let required: Vec<&str> = required(schema).collect();
    let optional: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys())
        .map(String::as_str)
        .filter(|name| !required.contains(name))
        .collect();
    let required = if required.is_empty() {
        "no required parameters".to_owned()
    } else {
        format!("required parameters: {}", required.join(", "))
    };
    if optional.is_empty() {
        required
    } else {
        format!("{required}; optional: {}", optional.join(", "))
    }
}
