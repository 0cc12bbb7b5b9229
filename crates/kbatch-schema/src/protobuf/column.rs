//! Confluent-framed Protobuf values of one run to one Arrow column, with schemas from the
//! registry: the registry-facing side of [`ProtoDecoder`], with [`crate::avro::AvroDecoder`]'s
//! contract (`decode`, `prepare`).
//!
//! **The reader descriptor.** A topic's keys (or values) are one message type for the whole
//! run, read with one descriptor: the schema is chosen as Avro's reader is
//! ([`choose_reader`]: the latest version of `{topic}-key` / `{topic}-value`, ...), and the
//! message type in it is the one the first value's message-index list names (looked up by
//! full name in the reader schema, since indexes may shift between versions). Before any
//! value is read ([`ProtobufColumn::prepare`]) the message type is the file's only top-level
//! message that no other message of the file uses as a field ([`root_message`]); a file with
//! several such messages has no type until the first value. Every value, whatever version
//! wrote it, is decoded with that descriptor: Protobuf's wire format is read across versions
//! by field number (fields the reader lacks are skipped, fields the writer lacks take their
//! defaults). A value whose index list names another message type is an error naming both:
//! one column has one type.
//!
//! Each schema id is compiled once for the run (protox), its references (imports registered
//! as other subjects) fetched from the registry by subject and version, recursively.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use prost_reflect::{Kind, MessageDescriptor};

use super::{MessageIndexes, ProtoDecoder, ProtoSchema, ProtobufError};
use crate::avro::{choose_reader, Decoded, Role, RowError, SchemaSource};
use crate::framing;
use crate::registry::{RegistrySchema, SchemaType};
use crate::{OnUndecodable, SchemaError};

/// References deeper than this are refused (a cycle in the registry would never end).
const MAX_REFERENCE_DEPTH: usize = 32;

/// The message type a run reads for one topic, and its column type.
#[derive(Debug)]
struct Reader {
    /// The reader schema's id.
    id: u32,
    message: MessageDescriptor,
    data_type: DataType,
}

/// Decodes Confluent-framed Protobuf values for one run (shared by its workers).
#[derive(Debug)]
pub struct ProtobufColumn {
    registry: Arc<dyn SchemaSource>,
    on_undecodable: OnUndecodable,
    role: Role,
    /// Per topic, chosen once for the run.
    readers: Mutex<HashMap<String, Arc<Reader>>>,
    /// Compiled schemas by id.
    compiled: Mutex<HashMap<u32, Arc<ProtoSchema>>>,
}

fn row_err(row: usize, error: SchemaError) -> RowError {
    RowError { row, error }
}

fn bad_schema(id: u32, e: ProtobufError) -> SchemaError {
    SchemaError::BadSchema {
        id,
        reason: e.to_string(),
    }
}

/// The message type of `schema`'s file that a column of it has when no value says: its only
/// top-level message, else its only top-level message that no message of the file uses as
/// a field type; `None` when that is not one message.
pub fn root_message(schema: &ProtoSchema) -> Option<MessageDescriptor> {
    let top: Vec<MessageDescriptor> = schema.file().messages().collect();
    if let [only] = top.as_slice() {
        return Some(only.clone());
    }
    let mut used = BTreeSet::new();
    let mut stack = top.clone();
    while let Some(m) = stack.pop() {
        for f in m.fields() {
            if let Kind::Message(t) = f.kind() {
                used.insert(t.full_name().to_owned());
            }
        }
        stack.extend(m.child_messages());
    }
    let mut roots = top.into_iter().filter(|m| !used.contains(m.full_name()));
    match (roots.next(), roots.next()) {
        (Some(root), None) => Some(root),
        _ => None,
    }
}

/// A framed value split down to its payload.
struct Parsed<'v> {
    id: u32,
    payload: &'v [u8],
}

impl ProtobufColumn {
    /// A decoder of `role` fetching schemas from `registry`.
    pub fn new(
        registry: Arc<dyn SchemaSource>,
        on_undecodable: OnUndecodable,
        role: Role,
    ) -> ProtobufColumn {
        ProtobufColumn {
            registry,
            on_undecodable,
            role,
            readers: Mutex::new(HashMap::new()),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// Schema `id` compiled, with its references.
    fn compiled(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError> {
        let s = self.registry.schema(id)?;
        self.compile(&s)
    }

    fn compile(&self, s: &RegistrySchema) -> Result<Arc<ProtoSchema>, SchemaError> {
        let mut compiled = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = compiled.get(&s.id) {
            return Ok(c.clone());
        }
        if let Some(e) = s.not_of(SchemaType::Protobuf) {
            return Err(e);
        }
        let mut files: Vec<(String, String)> = Vec::new();
        self.references(s, s.id, 0, &mut files)?;
        let schema =
            Arc::new(ProtoSchema::parse(&s.schema, files).map_err(|e| bad_schema(s.id, e))?);
        compiled.insert(s.id, schema.clone());
        Ok(schema)
    }

    /// The references of `s`, and theirs, as `(import path, schema)`.
    fn references(
        &self,
        s: &RegistrySchema,
        needed_by: u32,
        depth: usize,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), SchemaError> {
        if depth > MAX_REFERENCE_DEPTH {
            return Err(SchemaError::BadSchema {
                id: needed_by,
                reason: format!("references nested deeper than {MAX_REFERENCE_DEPTH} (a cycle?)"),
            });
        }
        for r in &s.references {
            if out.iter().any(|(name, _)| *name == r.name) {
                continue;
            }
            let referred = self.registry.version(&r.subject, r.version, needed_by)?;
            out.push((r.name.clone(), referred.schema.clone()));
            self.references(&referred, needed_by, depth + 1, out)?;
        }
        Ok(())
    }

    /// The Arrow type of `topic`'s column when it can be known before any value is read:
    /// the latest version of `{topic}-key` / `{topic}-value` and its [`root_message`].
    /// `None` when that subject does not exist or its root is not one message: the type is
    /// then known at the first framed value.
    pub fn prepare(&self, topic: &str) -> Result<Option<DataType>, SchemaError> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = readers.get(topic) {
            return Ok(Some(r.data_type.clone()));
        }
        let Some(chosen) = self.registry.latest(&self.role.subject(topic), 0)? else {
            return Ok(None);
        };
        let schema = self.compile(&chosen)?;
        let Some(message) = root_message(&schema) else {
            return Ok(None);
        };
        let reader = Self::keep_reader(&mut readers, topic, chosen.id, message)?;
        Ok(Some(reader.data_type.clone()))
    }

    fn keep_reader(
        readers: &mut HashMap<String, Arc<Reader>>,
        topic: &str,
        id: u32,
        message: MessageDescriptor,
    ) -> Result<Arc<Reader>, SchemaError> {
        let data_type = super::arrow_type(&message).map_err(|e| bad_schema(id, e))?;
        let reader = Arc::new(Reader {
            id,
            message,
            data_type,
        });
        readers.insert(topic.to_owned(), reader.clone());
        Ok(reader)
    }

    /// The reader of `topic`, chosen on first use from the first value (`writer`'s message
    /// `name`).
    fn reader(&self, topic: &str, writer: u32, name: &str) -> Result<Arc<Reader>, SchemaError> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = readers.get(topic) {
            return Ok(r.clone());
        }
        let chosen = choose_reader(&*self.registry, topic, self.role, writer)?;
        let schema = self.compile(&chosen)?;
        let message = schema
            .message_by_name(name)
            .ok_or_else(|| SchemaError::Incompatible {
                writer,
                reader: chosen.id,
                reason: format!("the reader schema has no message type {name}"),
            })?;
        Self::keep_reader(&mut readers, topic, chosen.id, message)
    }

    fn undecodable(&self, row: usize, e: SchemaError) -> Result<(), RowError> {
        match self.on_undecodable {
            OnUndecodable::Fail => Err(row_err(row, e)),
            OnUndecodable::Null => Ok(()),
        }
    }

    /// Decode `values` of `topic` (`None`: a null value) into one column, in input order.
    pub fn decode(&self, topic: &str, values: &[Option<&[u8]>]) -> Result<Decoded, RowError> {
        // The (writer id, index list) pairs seen in this call, each checked once against the
        // column's message type; nearly always one.
        let mut kinds: Vec<(u32, MessageIndexes)> = Vec::new();
        let mut indexes = MessageIndexes::first();
        let mut parsed: Vec<Option<Parsed<'_>>> = Vec::with_capacity(values.len());
        let mut undecodable = 0u64;
        let mut reader: Option<Arc<Reader>> = None;
        for (row, v) in values.iter().enumerate() {
            parsed.push(None);
            let Some(v) = v else { continue };
            let f = match framing::split(v) {
                Ok(f) => f,
                Err(e) => {
                    self.undecodable(row, e.into())?;
                    undecodable += 1;
                    continue;
                }
            };
            let decode_err = |e: ProtobufError| SchemaError::Decode {
                id: f.id,
                reason: e.to_string(),
            };
            let offset = match indexes.read_into(f.body) {
                Ok(offset) => offset,
                Err(e) => {
                    self.undecodable(row, decode_err(e))?;
                    undecodable += 1;
                    continue;
                }
            };
            let seen = kinds
                .iter()
                .any(|(id, known)| *id == f.id && *known == indexes);
            if !seen {
                // A registry or schema failure is the run's, whatever --on-undecodable says.
                let writer = self.compiled(f.id).map_err(|e| row_err(row, e))?;
                let name = match writer.message(&indexes) {
                    Ok(m) => m.full_name().to_owned(),
                    Err(e) => {
                        self.undecodable(row, decode_err(e))?;
                        undecodable += 1;
                        continue;
                    }
                };
                let r = match &reader {
                    Some(r) => r.clone(),
                    None => {
                        let r = self
                            .reader(topic, f.id, &name)
                            .map_err(|e| row_err(row, e))?;
                        reader = Some(r.clone());
                        r
                    }
                };
                if r.message.full_name() != name {
                    return Err(row_err(
                        row,
                        SchemaError::OtherMessage {
                            id: f.id,
                            message: name,
                            column: r.message.full_name().to_owned(),
                            reader: r.id,
                        },
                    ));
                }
                kinds.push((f.id, indexes.clone()));
            }
            parsed[row] = Some(Parsed {
                id: f.id,
                payload: &f.body[offset..],
            });
        }
        let reader = match reader {
            Some(r) => r,
            None => {
                let known = self
                    .readers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(topic)
                    .cloned();
                let Some(r) = known else {
                    return Ok(Decoded {
                        array: arrow_array::new_null_array(&DataType::Null, values.len()),
                        undecodable,
                        reader_id: None,
                    });
                };
                r
            }
        };
        let mut decoder = ProtoDecoder::new(reader.message.clone())
            .map_err(|e| row_err(0, bad_schema(reader.id, e)))?;
        let mut parts: Vec<ArrayRef> = Vec::new();
        for (row, p) in parsed.iter().enumerate() {
            let Some(p) = p else {
                decoder.append_null();
                continue;
            };
            let mut outcome = decoder.append(p.payload);
            if let Err(ProtobufError::BatchFull { .. }) = outcome {
                parts.push(Arc::new(decoder.finish()));
                outcome = decoder.append(p.payload);
            }
            if let Err(e) = outcome {
                self.undecodable(
                    row,
                    SchemaError::Decode {
                        id: p.id,
                        reason: e.to_string(),
                    },
                )?;
                undecodable += 1;
                decoder.append_null();
            }
        }
        parts.push(Arc::new(decoder.finish()));
        let array = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrow_select::concat::concat(&refs)
                .map_err(|e| row_err(0, SchemaError::Arrow(e.to_string())))?
        };
        Ok(Decoded {
            array,
            undecodable,
            reader_id: Some(reader.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    use super::*;
    use crate::avro::tests::Table;
    use crate::registry::Reference;

    const COMMON: &str = r#"syntax = "proto3"; package common; message Money { int64 cents = 1; }"#;
    const V1: &str = r#"syntax = "proto3"; package shop; import "common.proto";
        message Header { string id = 1; }
        message Order { Header header = 1; common.Money total = 2; }"#;
    /// V1 with a field added.
    const V2: &str = r#"syntax = "proto3"; package shop; import "common.proto";
        message Header { string id = 1; }
        message Order { Header header = 1; common.Money total = 2; string note = 3; }"#;
    const TWO_ROOTS: &str =
        r#"syntax = "proto3"; message A { int64 a = 1; } message B { string b = 1; }"#;

    fn common_ref() -> Vec<Reference> {
        vec![Reference {
            name: "common.proto".into(),
            subject: "common.proto".into(),
            version: 1,
        }]
    }

    fn table() -> Arc<Table> {
        Arc::new(
            Table::default()
                .with_typed(1, SchemaType::Protobuf, COMMON, Vec::new())
                .with_typed(2, SchemaType::Protobuf, V1, common_ref())
                .with_typed(3, SchemaType::Protobuf, V2, common_ref())
                .with_typed(4, SchemaType::Protobuf, TWO_ROOTS, Vec::new())
                .with(5, r#""long""#)
                .subject("common.proto", &[1])
                .subject("orders-value", &[2, 3])
                .subject("two-value", &[4])
                .subject("avro-value", &[5]),
        )
    }

    /// A framed value: prefix, index list, payload.
    fn framed(id: u32, indexes: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend(MessageIndexes::new(indexes.to_vec()).unwrap().encode());
        v.extend_from_slice(payload);
        v
    }

    /// `Order { total { cents } }` (field 2, a message holding field 1 varint).
    fn order(cents: u8) -> Vec<u8> {
        vec![0x12, 0x02, 0x08, cents]
    }

    fn column(on: OnUndecodable) -> ProtobufColumn {
        ProtobufColumn::new(table(), on, Role::Value)
    }

    fn cents(d: &Decoded) -> Vec<Option<i64>> {
        let s = d.array.as_struct();
        let total = s.column_by_name("total").unwrap().as_struct();
        let c = total
            .column_by_name("cents")
            .unwrap()
            .as_primitive::<Int64Type>();
        (0..s.len())
            .map(|i| (s.is_valid(i) && total.is_valid(i)).then(|| c.value(i)))
            .collect()
    }

    #[test]
    fn the_root_message_is_the_one_no_other_uses() {
        let no_refs: [(&str, &str); 0] = [];
        let cases: &[(&str, Option<&str>)] = &[
            (COMMON, Some("common.Money")),
            (TWO_ROOTS, None),
            (
                r#"syntax = "proto3"; message A { B b = 1; } message B { int32 x = 1; }"#,
                Some("A"),
            ),
            (
                r#"syntax = "proto3"; message A { message In { B b = 1; } } message B { int32 x = 1; }"#,
                Some("A"),
            ),
        ];
        for (text, want) in cases {
            let schema = if text.contains("common.proto") {
                ProtoSchema::parse(text, [("common.proto", COMMON)]).unwrap()
            } else {
                ProtoSchema::parse(text, no_refs).unwrap()
            };
            let got = root_message(&schema).map(|m| m.full_name().to_owned());
            assert_eq!(got.as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn older_versions_are_read_with_the_latest_descriptor() {
        let c = column(OnUndecodable::Fail);
        let prepared = c.prepare("orders").unwrap().unwrap();
        let DataType::Struct(fields) = &prepared else {
            panic!("{prepared}")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["header", "total", "note"]);
        let a = framed(2, &[1], &order(7));
        let b = framed(3, &[1], &order(9));
        let d = c.decode("orders", &[Some(&a), None, Some(&b)]).unwrap();
        assert_eq!(d.array.data_type(), &prepared);
        assert_eq!(d.reader_id, Some(3));
        assert_eq!(cents(&d), [Some(7), None, Some(9)]);
    }

    #[test]
    fn the_first_value_fixes_the_message_when_the_file_does_not() {
        let c = column(OnUndecodable::Fail);
        assert_eq!(c.prepare("two").unwrap(), None);
        let b = framed(4, &[1], &[0x0a, 0x01, b'x']);
        let d = c.decode("two", &[Some(&b)]).unwrap();
        let s = d.array.as_struct();
        assert_eq!(
            s.column_by_name("b").unwrap().as_string::<i32>().value(0),
            "x"
        );
        assert_eq!(c.prepare("two").unwrap(), Some(d.array.data_type().clone()));
        // Now a value of A in the same topic: an error naming both types.
        let a = framed(4, &[0], &[0x08, 0x01]);
        let e = c.decode("two", &[Some(&a)]).unwrap_err();
        let text = e.error.to_string();
        assert!(
            text.contains("schema id 4") && text.contains(" A") && text.contains(" B"),
            "{text}"
        );
    }

    #[test]
    fn undecodable_values_follow_the_choice_and_schema_errors_do_not() {
        let good = framed(2, &[1], &order(1));
        let not_framed = b"{\"a\":1}".to_vec();
        let bad_index = framed(2, &[5], &order(1));
        let bad_body = framed(2, &[1], &[0x12, 0x09]);
        let values = [
            Some(&good[..]),
            Some(&not_framed[..]),
            Some(&bad_index[..]),
            Some(&bad_body[..]),
        ];
        let c = column(OnUndecodable::Null);
        let d = c.decode("orders", &values).unwrap();
        assert_eq!(d.undecodable, 3);
        assert_eq!(cents(&d), [Some(1), None, None, None]);
        for (row, want) in [
            (1, "not framed"),
            (2, "message index [5]"),
            (3, "schema id 2: the value does not decode"),
        ] {
            let c = column(OnUndecodable::Fail);
            let e = c.decode("orders", &[values[0], values[row]]).unwrap_err();
            assert_eq!(e.row, 1);
            assert!(e.error.to_string().contains(want), "{}", e.error);
        }
        // An Avro schema under the Protobuf format: the run fails, naming the id.
        let avro = framed(5, &[0], &[0x02]);
        let e = column(OnUndecodable::Null)
            .decode("avro", &[Some(&avro)])
            .unwrap_err();
        assert!(
            e.error
                .to_string()
                .contains("schema id 5: the schema is Avro, not Protobuf"),
            "{}",
            e.error
        );
        let e = column(OnUndecodable::Null).prepare("avro").unwrap_err();
        assert!(e.to_string().contains("schema id 5"), "{e}");
    }
}
