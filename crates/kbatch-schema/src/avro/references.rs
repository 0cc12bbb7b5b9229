//! Avro schema references: a registered schema may use a named type (record, enum, fixed)
//! that another subject defines, listing it in `references` (name = the type's full name).
//! `arrow-avro` parses one self-contained schema, so each referenced type is put in place
//! at its first use, where Avro's parser would meet it (document order, depth first); later
//! uses keep the name, which is then defined. Written here because neither `arrow-avro` nor
//! another well-kept crate takes a set of named schemas to parse against.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// `schema` with each type of `named` (full name → that type's schema text, itself already
/// self-contained) defined in place at its first use. A name neither defined nor given stays
/// as it is (the Avro parser then names it).
pub(crate) fn inline(schema: &str, named: &HashMap<String, String>) -> Result<String, String> {
    let mut root: Value =
        serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let mut parsed = HashMap::new();
    for (name, text) in named {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the referenced schema {name:?} is not JSON: {e}"))?;
        parsed.insert(name.clone(), v);
    }
    let mut walk = Walk {
        named: &parsed,
        defined: HashSet::new(),
    };
    walk.schema(&mut root, "");
    Ok(root.to_string())
}

struct Walk<'a> {
    named: &'a HashMap<String, Value>,
    defined: HashSet<String>,
}

/// A name's full name in `namespace` (a name with a dot is already full).
fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

impl Walk<'_> {
    fn schema(&mut self, v: &mut Value, namespace: &str) {
        match v {
            Value::String(name) => {
                if PRIMITIVES.contains(&name.as_str()) {
                    return;
                }
                let full = full_name(name, namespace);
                if self.defined.contains(&full) || self.defined.contains(name.as_str()) {
                    return;
                }
                let found = self
                    .named
                    .get(&full)
                    .or_else(|| self.named.get(name.as_str()))
                    .cloned();
                if let Some(mut definition) = found {
                    // The definition's own names are in its own namespace (its full name's).
                    self.schema(&mut definition, "");
                    *v = definition;
                }
            }
            Value::Array(union) => {
                for branch in union {
                    self.schema(branch, namespace);
                }
            }
            Value::Object(o) => {
                let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "record" | "error" | "enum" | "fixed" => {
                        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                        let own_ns = if name.contains('.') {
                            name.rsplit_once('.').map_or("", |(ns, _)| ns).to_string()
                        } else {
                            o.get("namespace")
                                .and_then(Value::as_str)
                                .unwrap_or(namespace)
                                .to_string()
                        };
                        self.defined.insert(full_name(name, &own_ns));
                        if let Some(Value::Array(fields)) = o.get_mut("fields") {
                            for f in fields {
                                if let Some(t) = f.get_mut("type") {
                                    self.schema(t, &own_ns);
                                }
                            }
                        }
                    }
                    "array" => {
                        if let Some(items) = o.get_mut("items") {
                            self.schema(items, namespace);
                        }
                    }
                    "map" => {
                        if let Some(values) = o.get_mut("values") {
                            self.schema(values, namespace);
                        }
                    }
                    _ => {
                        // `{"type": <schema>}` (a type wrapped with attributes).
                        if let Some(t) = o.get_mut("type") {
                            if !t.is_string() || !PRIMITIVES.contains(&t.as_str().unwrap_or("")) {
                                self.schema(t, namespace);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect()
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"acme","fields":[{"name":"city","type":"string"}]}"#;
    const KIND: &str = r#"{"type":"enum","name":"acme.Kind","symbols":["A","B"]}"#;

    #[test]
    fn references_are_defined_at_their_first_use_only() {
        // (schema, references, the self-contained schema)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let table: &[Case] = &[
            // Full name, used twice: defined at the first use, named at the second.
            (
                r#"{"type":"record","name":"Order","fields":[{"name":"from","type":"acme.Address"},{"name":"to","type":"acme.Address"}]}"#,
                &[("acme.Address", ADDRESS)],
                &format!(
                    r#"{{"type":"record","name":"Order","fields":[{{"name":"from","type":{ADDRESS}}},{{"name":"to","type":"acme.Address"}}]}}"#
                ),
            ),
            // A short name in the referring record's namespace; inside a union, an array, a map.
            (
                r#"{"type":"record","name":"Order","namespace":"acme","fields":[{"name":"a","type":["null","Address"]},{"name":"k","type":{"type":"array","items":"Kind"}},{"name":"m","type":{"type":"map","values":"acme.Kind"}}]}"#,
                &[("acme.Address", ADDRESS), ("acme.Kind", KIND)],
                &format!(
                    r#"{{"type":"record","name":"Order","namespace":"acme","fields":[{{"name":"a","type":["null",{ADDRESS}]}},{{"name":"k","type":{{"type":"array","items":{KIND}}}}},{{"name":"m","type":{{"type":"map","values":"acme.Kind"}}}}]}}"#
                ),
            ),
            // Defined in the schema itself: a reference of the same name is not needed.
            (
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"fixed","name":"acme.Kind","size":2}},{"name":"b","type":"acme.Kind"}]}"#,
                &[("acme.Kind", KIND)],
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"fixed","name":"acme.Kind","size":2}},{"name":"b","type":"acme.Kind"}]}"#,
            ),
            // An unknown name and the primitives stay as they are.
            (
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"acme.Nope"},{"name":"b","type":"long"},{"name":"c","type":{"type":"string","logicalType":"uuid"}}]}"#,
                &[("acme.Kind", KIND)],
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"acme.Nope"},{"name":"b","type":"long"},{"name":"c","type":{"type":"string","logicalType":"uuid"}}]}"#,
            ),
        ];
        for (schema, refs, want) in table {
            let got = inline(schema, &named(refs)).unwrap();
            assert_eq!(json(&got), json(want), "{schema}");
        }
    }

    #[test]
    fn a_reference_that_refers_to_another_is_given_whole() {
        // The caller inlines a referenced schema's own references first; a type that both
        // use is then defined once, inside the first.
        let line = r#"{"type":"record","name":"acme.Line","fields":[{"name":"at","type":"acme.Address"}]}"#;
        let line_whole = inline(line, &named(&[("acme.Address", ADDRESS)])).unwrap();
        let order = r#"{"type":"record","name":"Order","fields":[{"name":"line","type":"acme.Line"},{"name":"home","type":"acme.Address"}]}"#;
        let got = inline(
            order,
            &named(&[("acme.Line", &line_whole), ("acme.Address", ADDRESS)]),
        )
        .unwrap();
        let v = json(&got);
        assert_eq!(v["fields"][0]["type"]["fields"][0]["type"], json(ADDRESS));
        assert_eq!(v["fields"][1]["type"], json(r#""acme.Address""#));
    }

    #[test]
    fn text_that_is_not_json_is_an_error_naming_it() {
        let e = inline("{", &HashMap::new()).unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = inline(r#""long""#, &named(&[("acme.X", "nope")])).unwrap_err();
        assert!(e.contains("acme.X"), "{e}");
    }
}
