//! Protobuf messages as Arrow columns, typed as Spark's `from_protobuf` types them.
//!
//! | Protobuf | Arrow |
//! | --- | --- |
//! | message | struct, fields in declaration order |
//! | field with presence (message, proto3 `optional`, proto2 `optional`, oneof member) | nullable |
//! | proto3 scalar without presence | not null, the proto3 default when absent |
//! | `int32`, `sint32`, `sfixed32` | int32 |
//! | `uint32`, `fixed32` | int32, the same 32 bits (≥ 2^31 reads negative, as in Spark) |
//! | `int64`, `sint64`, `sfixed64` | int64 |
//! | `uint64`, `fixed64` | int64, the same 64 bits (≥ 2^63 reads negative, as in Spark) |
//! | `float`, `double`, `bool` | float32, float64, boolean |
//! | `string`, `bytes` | utf8, binary |
//! | enum | utf8, the value's name (the number as text for a number the enum lacks) |
//! | `repeated T` | list (item `element`, not null) |
//! | `map<K, V>` | map (`entries` of `key`, `value`, both not null), entries in key order |
//! | `google.protobuf.Timestamp` | timestamp(µs, UTC) |
//! | `google.protobuf.Duration` | duration(µs) |
//!
//! A recursive message type has no Arrow type (Spark refuses it too by default).

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, DurationMicrosecondBuilder, Float32Builder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage as _, Value,
};

use super::ProtobufError;

const TIMESTAMP: &str = "google.protobuf.Timestamp";
const DURATION: &str = "google.protobuf.Duration";

/// Arrow's list item name as Spark writes it (Spark compares nested names).
const LIST_ITEM: &str = "element";

/// The payload bytes one decoder takes before it asks for `finish`: Arrow's 32-bit offsets
/// bound a batch, and every item or byte of output comes from at least one byte of input.
pub const MAX_BATCH_PAYLOAD: usize = 256 << 20;

/// Decodes one payload (the bytes after the message-index list) as `message`.
pub fn decode(
    message: &MessageDescriptor,
    payload: &[u8],
) -> Result<DynamicMessage, ProtobufError> {
    DynamicMessage::decode(message.clone(), payload).map_err(|err| ProtobufError::Decode {
        message: message.full_name().to_owned(),
        reason: err.to_string(),
    })
}

/// The Arrow type of a message (a struct), as the module documentation tabulates it.
pub fn arrow_type(message: &MessageDescriptor) -> Result<DataType, ProtobufError> {
    Ok(DataType::Struct(arrow_fields(message)?))
}

/// The fields of a message's Arrow struct.
pub fn arrow_fields(message: &MessageDescriptor) -> Result<Fields, ProtobufError> {
    match build_column(&Kind::Message(message.clone()), &mut Vec::new())? {
        Column::Struct(s) => Ok(s.fields),
        _ => unreachable!("a plain message builds a struct column"),
    }
}

/// Fields in the order the schema declares them (descriptors iterate by number).
pub(super) fn fields_in_declaration_order(message: &MessageDescriptor) -> Vec<FieldDescriptor> {
    message
        .descriptor_proto()
        .field
        .iter()
        .filter_map(|f| message.get_field(f.number() as u32))
        .collect()
}

/// Decodes Protobuf payloads of one message type into one Arrow struct column.
///
/// `append` is all or nothing: a payload that does not decode leaves the columns as they
/// were, so the caller may `append_null` in its place (or stop).
pub struct ProtoDecoder {
    message: MessageDescriptor,
    root: StructColumn,
    /// Whether any column holds a time (whose conversion can overflow and is checked first).
    has_time: bool,
    payload_bytes: usize,
}

impl std::fmt::Debug for ProtoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtoDecoder")
            .field("message", &self.message.full_name())
            .field("rows", &self.root.len)
            .finish()
    }
}

impl ProtoDecoder {
    /// A decoder for `message`; fails for a message type with no Arrow type (recursive).
    pub fn new(message: MessageDescriptor) -> Result<Self, ProtobufError> {
        let Column::Struct(root) = build_column(&Kind::Message(message.clone()), &mut Vec::new())?
        else {
            unreachable!("a plain message builds a struct column")
        };
        let has_time = root.has_time();
        Ok(ProtoDecoder {
            message,
            root,
            has_time,
            payload_bytes: 0,
        })
    }

    /// The message type this decoder reads.
    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    /// The Arrow type of the column `finish` returns.
    pub fn data_type(&self) -> DataType {
        DataType::Struct(self.root.fields.clone())
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.root.len
    }

    /// Whether no row was appended since the last `finish`.
    pub fn is_empty(&self) -> bool {
        self.root.len == 0
    }

    /// Payload bytes appended since the last `finish` (callers flush on it).
    pub fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }

    /// Decodes one payload (the bytes after the message-index list) and appends it as a row.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), ProtobufError> {
        let total = self.payload_bytes.saturating_add(payload.len());
        if total > MAX_BATCH_PAYLOAD && !self.is_empty() {
            return Err(ProtobufError::BatchFull {
                bytes: self.payload_bytes,
                limit: MAX_BATCH_PAYLOAD,
            });
        }
        let message = decode(&self.message, payload)?;
        self.append_message(&message)?;
        self.payload_bytes = total;
        Ok(())
    }

    /// Appends an already decoded message of this decoder's type (for a caller that also
    /// renders it as JSON): the type from the same compiled schema, not only the same name.
    /// All or nothing, as `append`; not counted in `payload_bytes`.
    pub fn append_message(&mut self, message: &DynamicMessage) -> Result<(), ProtobufError> {
        if message.descriptor() != self.message {
            return Err(ProtobufError::Decode {
                message: self.message.full_name().to_owned(),
                reason: format!("a {} was given instead", message.descriptor().full_name()),
            });
        }
        if self.has_time {
            self.root.check_times(message)?;
        }
        self.root.append_message(message);
        Ok(())
    }

    /// Appends a null row (for a value that is not there or did not decode).
    pub fn append_null(&mut self) {
        self.root.append_null();
    }

    /// The rows appended so far as one struct column; the decoder starts a new batch.
    pub fn finish(&mut self) -> StructArray {
        self.payload_bytes = 0;
        self.root.finish()
    }
}

enum Column {
    Bool(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Enum(StringBuilder, EnumDescriptor),
    Timestamp(TimestampMicrosecondBuilder),
    Duration(DurationMicrosecondBuilder),
    Struct(StructColumn),
    List(Box<ListColumn>),
    Map(Box<MapColumn>),
}

struct StructColumn {
    fields: Fields,
    children: Vec<Child>,
    validity: NullBufferBuilder,
    len: usize,
}

struct Child {
    field: FieldDescriptor,
    nullable: bool,
    column: Column,
}

struct ListColumn {
    item: FieldRef,
    items: Column,
    offsets: Vec<i32>,
}

struct MapColumn {
    entries: FieldRef,
    key_fields: Fields,
    keys: Column,
    values: Column,
    offsets: Vec<i32>,
}

fn build_column(kind: &Kind, stack: &mut Vec<String>) -> Result<Column, ProtobufError> {
    Ok(match kind {
        Kind::Bool => Column::Bool(BooleanBuilder::new()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            Column::Int32(Int32Builder::new())
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            Column::Int64(Int64Builder::new())
        }
        Kind::Float => Column::Float32(Float32Builder::new()),
        Kind::Double => Column::Float64(Float64Builder::new()),
        Kind::String => Column::Utf8(StringBuilder::new()),
        Kind::Bytes => Column::Binary(BinaryBuilder::new()),
        Kind::Enum(e) => Column::Enum(StringBuilder::new(), e.clone()),
        Kind::Message(m) if m.full_name() == TIMESTAMP => {
            Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
        }
        Kind::Message(m) if m.full_name() == DURATION => {
            Column::Duration(DurationMicrosecondBuilder::new())
        }
        Kind::Message(m) => {
            if stack.iter().any(|name| name == m.full_name()) {
                return Err(ProtobufError::Recursive {
                    message: m.full_name().to_owned(),
                    path: stack.join(" > "),
                });
            }
            stack.push(m.full_name().to_owned());
            let mut children = Vec::new();
            let mut fields = Vec::new();
            for field in fields_in_declaration_order(m) {
                let column = field_column(&field, stack)?;
                let nullable = field.supports_presence();
                fields.push(Field::new(field.name(), column.data_type(), nullable));
                children.push(Child {
                    field,
                    nullable,
                    column,
                });
            }
            stack.pop();
            Column::Struct(StructColumn {
                fields: fields.into(),
                children,
                validity: NullBufferBuilder::new(0),
                len: 0,
            })
        }
    })
}

fn field_column(field: &FieldDescriptor, stack: &mut Vec<String>) -> Result<Column, ProtobufError> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        let keys = build_column(&entry.map_entry_key_field().kind(), stack)?;
        let values = build_column(&entry.map_entry_value_field().kind(), stack)?;
        let key_fields = Fields::from(vec![
            Field::new("key", keys.data_type(), false),
            Field::new("value", values.data_type(), false),
        ]);
        Ok(Column::Map(Box::new(MapColumn {
            entries: Arc::new(Field::new(
                "entries",
                DataType::Struct(key_fields.clone()),
                false,
            )),
            key_fields,
            keys,
            values,
            offsets: vec![0],
        })))
    } else if field.is_list() {
        let items = build_column(&field.kind(), stack)?;
        Ok(Column::List(Box::new(ListColumn {
            item: Arc::new(Field::new(LIST_ITEM, items.data_type(), false)),
            items,
            offsets: vec![0],
        })))
    } else {
        build_column(&field.kind(), stack)
    }
}

/// Offsets grow with the items appended; `MAX_BATCH_PAYLOAD` keeps them far below `i32::MAX`.
fn next_offset(offsets: &[i32], added: usize) -> i32 {
    let last = *offsets.last().unwrap_or(&0);
    i32::try_from(added)
        .ok()
        .and_then(|added| last.checked_add(added))
        .expect("a batch's items stay under i32::MAX (MAX_BATCH_PAYLOAD)")
}

fn timestamp_micros(message: &DynamicMessage, what: &str) -> Result<i64, ProtobufError> {
    let seconds = match message.get_field_by_number(1).as_deref() {
        Some(Value::I64(s)) => *s,
        _ => 0,
    };
    let nanos = match message.get_field_by_number(2).as_deref() {
        Some(Value::I32(n)) => *n,
        _ => 0,
    };
    seconds
        .checked_mul(1_000_000)
        .and_then(|us| us.checked_add(i64::from(nanos / 1000)))
        .ok_or_else(|| ProtobufError::Decode {
            message: message.descriptor().full_name().to_owned(),
            reason: format!("{what} of {seconds} s and {nanos} ns is out of range in microseconds"),
        })
}

impl Column {
    fn data_type(&self) -> DataType {
        match self {
            Column::Bool(_) => DataType::Boolean,
            Column::Int32(_) => DataType::Int32,
            Column::Int64(_) => DataType::Int64,
            Column::Float32(_) => DataType::Float32,
            Column::Float64(_) => DataType::Float64,
            Column::Utf8(_) | Column::Enum(..) => DataType::Utf8,
            Column::Binary(_) => DataType::Binary,
            Column::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Column::Duration(_) => DataType::Duration(TimeUnit::Microsecond),
            Column::Struct(s) => DataType::Struct(s.fields.clone()),
            Column::List(l) => DataType::List(l.item.clone()),
            Column::Map(m) => DataType::Map(m.entries.clone(), false),
        }
    }

    fn has_time(&self) -> bool {
        match self {
            Column::Timestamp(_) | Column::Duration(_) => true,
            Column::Struct(s) => s.has_time(),
            Column::List(l) => l.items.has_time(),
            Column::Map(m) => m.values.has_time(),
            _ => false,
        }
    }

    /// Fails for a time that does not fit in microseconds, before anything is appended.
    fn check_times(&self, value: &Value) -> Result<(), ProtobufError> {
        match (self, value) {
            (Column::Timestamp(_), Value::Message(m)) => {
                timestamp_micros(m, "a timestamp").map(drop)
            }
            (Column::Duration(_), Value::Message(m)) => timestamp_micros(m, "a duration").map(drop),
            (Column::Struct(s), Value::Message(m)) if s.has_time() => s.check_times(m),
            (Column::List(l), Value::List(items)) if l.items.has_time() => {
                items.iter().try_for_each(|item| l.items.check_times(item))
            }
            (Column::Map(m), Value::Map(entries)) if m.values.has_time() => {
                entries.values().try_for_each(|v| m.values.check_times(v))
            }
            _ => Ok(()),
        }
    }

    fn append(&mut self, value: &Value) {
        match (self, value) {
            (Column::Bool(b), Value::Bool(v)) => b.append_value(*v),
            (Column::Int32(b), Value::I32(v)) => b.append_value(*v),
            (Column::Int32(b), Value::U32(v)) => b.append_value(*v as i32),
            (Column::Int64(b), Value::I64(v)) => b.append_value(*v),
            (Column::Int64(b), Value::U64(v)) => b.append_value(*v as i64),
            (Column::Float32(b), Value::F32(v)) => b.append_value(*v),
            (Column::Float64(b), Value::F64(v)) => b.append_value(*v),
            (Column::Utf8(b), Value::String(v)) => b.append_value(v),
            (Column::Binary(b), Value::Bytes(v)) => b.append_value(v),
            (Column::Enum(b, e), Value::EnumNumber(n)) => match e.get_value(*n) {
                Some(symbol) => b.append_value(symbol.name()),
                None => b.append_value(n.to_string()),
            },
            (Column::Timestamp(b), Value::Message(m)) => {
                b.append_value(timestamp_micros(m, "").unwrap_or_default())
            }
            (Column::Duration(b), Value::Message(m)) => {
                b.append_value(timestamp_micros(m, "").unwrap_or_default())
            }
            (Column::Struct(s), Value::Message(m)) => s.append_message(m),
            (Column::List(l), Value::List(items)) => {
                for item in items {
                    l.items.append(item);
                }
                let next = next_offset(&l.offsets, items.len());
                l.offsets.push(next);
            }
            (Column::Map(m), Value::Map(entries)) => {
                // Deterministic output: entries in key order (the wire order is lost in the
                // decoded map, and a later duplicate key has replaced the earlier one).
                let mut sorted: Vec<(&MapKey, &Value)> = entries.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (key, value) in sorted {
                    m.keys.append_key(key);
                    m.values.append(value);
                }
                let next = next_offset(&m.offsets, entries.len());
                m.offsets.push(next);
            }
            (column, value) => {
                // A decoded message's values always match their descriptors' kinds.
                debug_assert!(
                    false,
                    "value {value:?} in a {:?} column",
                    column.data_type()
                );
                column.append_default();
            }
        }
    }

    fn append_key(&mut self, key: &MapKey) {
        match (self, key) {
            (Column::Bool(b), MapKey::Bool(v)) => b.append_value(*v),
            (Column::Int32(b), MapKey::I32(v)) => b.append_value(*v),
            (Column::Int32(b), MapKey::U32(v)) => b.append_value(*v as i32),
            (Column::Int64(b), MapKey::I64(v)) => b.append_value(*v),
            (Column::Int64(b), MapKey::U64(v)) => b.append_value(*v as i64),
            (Column::Utf8(b), MapKey::String(v)) => b.append_value(v),
            (column, key) => {
                debug_assert!(false, "key {key:?} in a {:?} column", column.data_type());
                column.append_default();
            }
        }
    }

    /// A field with presence that is absent.
    fn append_null(&mut self) {
        match self {
            Column::Bool(b) => b.append_null(),
            Column::Int32(b) => b.append_null(),
            Column::Int64(b) => b.append_null(),
            Column::Float32(b) => b.append_null(),
            Column::Float64(b) => b.append_null(),
            Column::Utf8(b) | Column::Enum(b, _) => b.append_null(),
            Column::Binary(b) => b.append_null(),
            Column::Timestamp(b) => b.append_null(),
            Column::Duration(b) => b.append_null(),
            Column::Struct(s) => s.append_null(),
            // Repeated fields have no presence: absent is empty.
            Column::List(_) | Column::Map(_) => self.append_default(),
        }
    }

    /// A not-null slot under a null parent (never shown, but every child needs a slot).
    fn append_default(&mut self) {
        match self {
            Column::Bool(b) => b.append_value(false),
            Column::Int32(b) => b.append_value(0),
            Column::Int64(b) => b.append_value(0),
            Column::Float32(b) => b.append_value(0.0),
            Column::Float64(b) => b.append_value(0.0),
            Column::Utf8(b) | Column::Enum(b, _) => b.append_value(""),
            Column::Binary(b) => b.append_value(b""),
            Column::Timestamp(b) => b.append_value(0),
            Column::Duration(b) => b.append_value(0),
            Column::Struct(s) => s.append_default(),
            Column::List(l) => l.offsets.push(*l.offsets.last().unwrap_or(&0)),
            Column::Map(m) => m.offsets.push(*m.offsets.last().unwrap_or(&0)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int32(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float32(b) => Arc::new(b.finish()),
            Column::Float64(b) => Arc::new(b.finish()),
            Column::Utf8(b) | Column::Enum(b, _) => Arc::new(b.finish()),
            Column::Binary(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Duration(b) => Arc::new(b.finish()),
            Column::Struct(s) => Arc::new(s.finish()),
            Column::List(l) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
                    &mut l.offsets,
                    vec![0],
                )));
                let items = l.items.finish();
                Arc::new(ListArray::new(l.item.clone(), offsets, items, None))
            }
            Column::Map(m) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
                    &mut m.offsets,
                    vec![0],
                )));
                let entries = StructArray::new(
                    m.key_fields.clone(),
                    vec![m.keys.finish(), m.values.finish()],
                    None,
                );
                Arc::new(MapArray::new(
                    m.entries.clone(),
                    offsets,
                    entries,
                    None,
                    false,
                ))
            }
        }
    }
}

impl StructColumn {
    fn has_time(&self) -> bool {
        self.children.iter().any(|c| c.column.has_time())
    }

    fn check_times(&self, message: &DynamicMessage) -> Result<(), ProtobufError> {
        for child in &self.children {
            if child.column.has_time() && message.has_field(&child.field) {
                child.column.check_times(&message.get_field(&child.field))?;
            }
        }
        Ok(())
    }

    fn append_message(&mut self, message: &DynamicMessage) {
        for child in &mut self.children {
            if child.nullable && !message.has_field(&child.field) {
                child.column.append_null();
            } else {
                child.column.append(&message.get_field(&child.field));
            }
        }
        self.validity.append_non_null();
        self.len += 1;
    }

    fn append_null(&mut self) {
        for child in &mut self.children {
            if child.nullable {
                child.column.append_null();
            } else {
                child.column.append_default();
            }
        }
        self.validity.append_null();
        self.len += 1;
    }

    fn append_default(&mut self) {
        for child in &mut self.children {
            child.column.append_default();
        }
        self.validity.append_non_null();
        self.len += 1;
    }

    fn finish(&mut self) -> StructArray {
        let nulls = self.validity.finish();
        let len = std::mem::take(&mut self.len);
        if self.children.is_empty() {
            return StructArray::new_empty_fields(len, nulls);
        }
        let arrays: Vec<ArrayRef> = self
            .children
            .iter_mut()
            .map(|c| c.column.finish())
            .collect();
        debug_assert!(arrays.iter().all(|a| a.len() == len));
        StructArray::new(self.fields.clone(), arrays, nulls)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray as _;
    use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
    use prost::Message as _;

    use super::super::{MessageIndexes, ProtoSchema};
    use super::*;

    const KINDS: &str = r#"
        syntax = "proto3";
        package t;
        import "google/protobuf/timestamp.proto";
        import "google/protobuf/duration.proto";
        message Inner { int32 a = 1; }
        message All {
          enum E { ZERO = 0; ONE = 1; }
          int32 i32 = 1; sint32 s32 = 2; sfixed32 sf32 = 3; uint32 u32 = 4; fixed32 f32 = 5;
          int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8; uint64 u64 = 9; fixed64 f64 = 10;
          float fl = 11; double db = 12; bool b = 13; string s = 14; bytes by = 15; E e = 16;
          optional int64 opt = 17;
          Inner inner = 18;
          repeated Inner inners = 19;
          repeated string strs = 20;
          map<int32, Inner> by_id = 21;
          google.protobuf.Timestamp at = 22;
          google.protobuf.Duration took = 23;
          oneof choice { string left = 24; int32 right = 25; }
          Empty nothing = 26;
          // Declared out of number order: columns follow the declaration.
          int32 last = 2000;
          int32 before_last = 1000;
        }
        message Empty {}
        message Node { int32 v = 1; repeated Node children = 2; }
        message Outer { Inner2 x = 1; }
        message Inner2 { Outer back = 1; }
    "#;

    fn schema() -> ProtoSchema {
        let none: [(&str, &str); 0] = [];
        ProtoSchema::parse(KINDS, none).unwrap()
    }

    fn message(name: &str) -> MessageDescriptor {
        schema().message_by_name(name).unwrap()
    }

    #[test]
    fn the_type_table() {
        let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
        let inner = DataType::Struct(vec![f("a", DataType::Int32, false)].into());
        let list = |t: DataType| DataType::List(Arc::new(f("element", t, false)));
        let entries = Fields::from(vec![
            f("key", DataType::Int32, false),
            f("value", inner.clone(), false),
        ]);
        let expected = DataType::Struct(Fields::from(vec![
            f("i32", DataType::Int32, false),
            f("s32", DataType::Int32, false),
            f("sf32", DataType::Int32, false),
            f("u32", DataType::Int32, false),
            f("f32", DataType::Int32, false),
            f("i64", DataType::Int64, false),
            f("s64", DataType::Int64, false),
            f("sf64", DataType::Int64, false),
            f("u64", DataType::Int64, false),
            f("f64", DataType::Int64, false),
            f("fl", DataType::Float32, false),
            f("db", DataType::Float64, false),
            f("b", DataType::Boolean, false),
            f("s", DataType::Utf8, false),
            f("by", DataType::Binary, false),
            f("e", DataType::Utf8, false),
            f("opt", DataType::Int64, true),
            f("inner", inner.clone(), true),
            f("inners", list(inner.clone()), false),
            f("strs", list(DataType::Utf8), false),
            f(
                "by_id",
                DataType::Map(
                    Arc::new(f("entries", DataType::Struct(entries), false)),
                    false,
                ),
                false,
            ),
            f(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            f("took", DataType::Duration(TimeUnit::Microsecond), true),
            f("left", DataType::Utf8, true),
            f("right", DataType::Int32, true),
            f("nothing", DataType::Struct(Fields::empty()), true),
            f("last", DataType::Int32, false),
            f("before_last", DataType::Int32, false),
        ]));
        let all = message("t.All");
        assert_eq!(arrow_type(&all).unwrap(), expected);
        assert_eq!(ProtoDecoder::new(all).unwrap().data_type(), expected);
    }

    #[test]
    fn recursive_types_are_refused_by_name() {
        for (name, expected) in [
            ("t.Node", "t.Node contains itself (t.Node > t.Node)"),
            (
                "t.Outer",
                "t.Outer contains itself (t.Outer > t.Inner2 > t.Outer)",
            ),
        ] {
            let err = ProtoDecoder::new(message(name)).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    fn encode(message: &DynamicMessage) -> Vec<u8> {
        message.encode_to_vec()
    }

    #[test]
    fn rows_values_nulls_and_refused_payloads() {
        let all = message("t.All");
        let mut decoder = ProtoDecoder::new(all.clone()).unwrap();

        let mut full = DynamicMessage::new(all.clone());
        full.set_field_by_name("u64", Value::U64(u64::MAX));
        full.set_field_by_name("u32", Value::U32(u32::MAX));
        full.set_field_by_name("e", Value::EnumNumber(1));
        full.set_field_by_name("opt", Value::I64(0));
        let mut by_id = std::collections::HashMap::new();
        for k in [5, -3, 1] {
            let mut inner = DynamicMessage::new(message("t.Inner"));
            inner.set_field_by_name("a", Value::I32(k * 10));
            by_id.insert(MapKey::I32(k), Value::Message(inner));
        }
        full.set_field_by_name("by_id", Value::Map(by_id));
        let mut at = DynamicMessage::new(message("google.protobuf.Timestamp"));
        at.set_field_by_name("seconds", Value::I64(-1));
        at.set_field_by_name("nanos", Value::I32(999_999_999));
        full.set_field_by_name("at", Value::Message(at));
        full.set_field_by_name(
            "nothing",
            Value::Message(DynamicMessage::new(message("t.Empty"))),
        );
        decoder.append(&encode(&full)).unwrap();

        // An enum number the schema does not know.
        let mut unknown = DynamicMessage::new(all.clone());
        unknown.set_field_by_name("e", Value::EnumNumber(7));
        decoder.append(&encode(&unknown)).unwrap();

        decoder.append_null();

        // Refused payloads leave every column as it was.
        let err = decoder.append(&[0x0a, 0x05, 0x01]).unwrap_err().to_string();
        assert!(
            err.contains("does not decode as Protobuf message t.All"),
            "{err}"
        );
        let mut far = DynamicMessage::new(all.clone());
        let mut at = DynamicMessage::new(message("google.protobuf.Timestamp"));
        at.set_field_by_name("seconds", Value::I64(i64::MAX / 10));
        far.set_field_by_name("at", Value::Message(at));
        let err = decoder.append(&encode(&far)).unwrap_err().to_string();
        assert!(err.contains("out of range in microseconds"), "{err}");

        decoder.append(&[]).unwrap(); // the empty message: all defaults
        assert_eq!(decoder.len(), 4);

        let batch = decoder.finish();
        assert_eq!(decoder.len(), 0);
        assert_eq!(batch.len(), 4);
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        let u64s = col("u64");
        assert_eq!(u64s.as_primitive::<Int64Type>().values(), &[-1, 0, 0, 0]);
        assert_eq!(col("u32").as_primitive::<Int32Type>().value(0), -1);
        let e = col("e");
        let e = e.as_string::<i32>();
        assert_eq!([e.value(0), e.value(1), e.value(3)], ["ONE", "7", "ZERO"]);
        let opt = col("opt");
        assert_eq!(opt.null_count(), 3);
        assert!(opt.is_valid(0), "an optional set to its default is present");
        assert_eq!(
            batch.nulls().map(|n| n.iter().collect::<Vec<_>>()),
            Some(vec![true, true, false, true])
        );
        let by_id = col("by_id");
        let map = by_id.as_map();
        assert_eq!(map.value_offsets(), &[0, 3, 3, 3, 3]);
        assert_eq!(map.keys().as_primitive::<Int32Type>().values(), &[-3, 1, 5]);
        let values = map
            .values()
            .as_struct()
            .column(0)
            .as_primitive::<Int32Type>()
            .clone();
        assert_eq!(values.values(), &[-30, 10, 50]);
        let at = col("at");
        let at = at.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(at.value(0), -1);
        assert_eq!(at.null_count(), 3);
        let nothing = col("nothing");
        assert_eq!(
            (0..4).map(|i| nothing.is_valid(i)).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        // Under the null row, children hold slots too.
        assert!(batch.columns().iter().all(|c| c.len() == 4));
    }

    #[test]
    fn decoders_are_reused_across_batches() {
        let schema = schema();
        let inner = schema.message(&MessageIndexes::first()).unwrap();
        assert_eq!(inner.full_name(), "t.Inner");
        let mut decoder = ProtoDecoder::new(inner).unwrap();
        for batch in 0..3 {
            for i in 0..=batch {
                decoder.append(&[0x08, i as u8]).unwrap();
            }
            let array = decoder.finish();
            let a = array.column(0).as_primitive::<Int32Type>().clone();
            assert_eq!(a.values().to_vec(), (0..=batch).collect::<Vec<i32>>());
            assert_eq!(decoder.payload_bytes(), 0);
        }
        let other = DynamicMessage::new(schema.message_by_name("t.All").unwrap());
        let err = decoder.append_message(&other).unwrap_err().to_string();
        assert!(err.contains("a t.All was given instead"), "{err}");
        // The same name from another compilation is another type (it may differ in shape).
        let elsewhere = DynamicMessage::new(message("t.Inner"));
        let err = decoder.append_message(&elsewhere).unwrap_err().to_string();
        assert!(err.contains("a t.Inner was given instead"), "{err}");
        let mut inner = DynamicMessage::new(schema.message_by_name("t.Inner").unwrap());
        inner.set_field_by_name("a", Value::I32(9));
        decoder.append_message(&inner).unwrap();
        assert_eq!(decoder.finish().len(), 1);
    }
}
