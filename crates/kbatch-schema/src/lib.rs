//! Values written through a Schema Registry: the Confluent framing (magic byte 0, a
//! big-endian 4-byte schema id, and for Protobuf the message-index list), the registry client
//! that fetches each schema once per id, and the decoders that turn Avro, Protobuf and JSON
//! Schema values into Arrow columns and into natural JSON.
//!
//! The one path: framed values are decoded into an Arrow column typed by the schema
//! ([`ColumnDecoder`]: [`avro::AvroDecoder`], [`protobuf::ProtobufColumn`],
//! [`json_schema::JsonSchemaColumn`]), as Spark's `from_avro` / `from_protobuf` type them;
//! JSON for `dump` is rendered from that column's rows ([`ColumnDecoder::write_json`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod avro;
pub mod framing;
mod http;
pub mod json;
pub mod json_schema;
mod normalize;
pub mod protobuf;
pub mod registry;

use std::time::Duration;

use arrow_schema::{DataType, Field};

pub use avro::{Decoded, RowError};
pub use framing::NotFramed;
pub use registry::{Registry, RegistryConfig, RegistrySchema, SchemaType};

/// The value formats a read can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueFormat {
    /// The bytes as they are (today's behaviour).
    #[default]
    Raw,
    /// Confluent-framed Avro.
    Avro,
    /// Confluent-framed Protobuf (with the message-index list).
    Protobuf,
    /// Confluent-framed JSON Schema (JSON text after the prefix).
    JsonSchema,
}

impl ValueFormat {
    /// Every format, in the order the help lists them.
    pub const ALL: [ValueFormat; 4] = [
        ValueFormat::Raw,
        ValueFormat::Avro,
        ValueFormat::Protobuf,
        ValueFormat::JsonSchema,
    ];

    /// The name `--value-format` and `value_format=` take (and the export manifest records).
    pub fn name(self) -> &'static str {
        match self {
            ValueFormat::Raw => "raw",
            ValueFormat::Avro => "avro",
            ValueFormat::Protobuf => "protobuf",
            ValueFormat::JsonSchema => "json-schema",
        }
    }
}

impl std::str::FromStr for ValueFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ValueFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format {s:?} (raw, avro, protobuf or json-schema)"))
    }
}

/// What to do with a value that cannot be decoded (not framed, or a body that does not decode
/// with its schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUndecodable {
    /// Fail the read, naming the record.
    #[default]
    Fail,
    /// Make the value null and count it.
    Null,
}

impl std::str::FromStr for OnUndecodable {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fail" => Ok(OnUndecodable::Fail),
            "null" => Ok(OnUndecodable::Null),
            _ => Err(format!("unknown choice {s:?} (fail or null)")),
        }
    }
}

/// Why a value or a schema could not be used. The caller adds the topic, partition and offset.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The value is not in the Confluent wire format.
    #[error(transparent)]
    NotFramed(#[from] NotFramed),
    /// The registry does not know the id.
    #[error("schema id {id}: not found in the registry at {url}")]
    UnknownId {
        /// The id.
        id: u32,
        /// The registry that answered (credentials redacted).
        url: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error("schema id {id}: the registry at {url} refused the request (HTTP {status}); check schema.registry.basic.auth.user.info or schema.registry.bearer.auth.token")]
    Refused {
        /// The id.
        id: u32,
        /// The registry (credentials redacted).
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// No registry answered within the budget.
    #[error("schema id {id}: no registry answered within {waited:?} ({rounds} rounds over every schema.registry.url); last: {last}")]
    Unreachable {
        /// The id.
        id: u32,
        /// Time spent.
        waited: Duration,
        /// Rounds tried.
        rounds: u32,
        /// The last failure.
        last: String,
    },
    /// The schema is unusable (does not parse, wrong type).
    #[error("schema id {id}: {reason}")]
    BadSchema {
        /// The id.
        id: u32,
        /// Why.
        reason: String,
    },
    /// A writer schema cannot be read as the reader schema.
    #[error("schema id {writer} cannot be read as schema id {reader} (the newest in the range): {reason}")]
    Incompatible {
        /// The writer schema's id.
        writer: u32,
        /// The reader schema's id.
        reader: u32,
        /// Why.
        reason: String,
    },
    /// A Protobuf value of another message type than the column's (one type per column).
    #[error("schema id {id}: the value is a {message}, but this run reads the column as {column} (from schema id {reader}); a topic whose values are of several message types cannot be one column: read them apart (raw) or write one type per topic")]
    OtherMessage {
        /// The value's schema id.
        id: u32,
        /// The value's message type (full name).
        message: String,
        /// The column's message type (full name).
        column: String,
        /// The reader schema's id.
        reader: u32,
    },
    /// The body does not decode with its schema.
    #[error("schema id {id}: the value does not decode: {reason}")]
    Decode {
        /// The writer schema's id.
        id: u32,
        /// Why.
        reason: String,
    },
    /// A registry key has a bad value.
    #[error("{key}: {reason}")]
    Config {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The runtime for registry requests could not start.
    #[error("cannot start the registry client's runtime: {0}")]
    Runtime(String),
    /// Arrow refused a column built from decoded values (a bug or an unsupported type).
    #[error("{0}")]
    Arrow(String),
}

impl SchemaError {
    /// What kind of failure this is, as a read's errors are classed: a registry that does
    /// not answer is a service that failed ([`kbatch_reader::ErrorKind::Broker`]), refused
    /// credentials are [`kbatch_reader::ErrorKind::Auth`], a bad key is usage, and the rest
    /// (values or schemas that do not decode) are data.
    pub fn kind(&self) -> kbatch_reader::ErrorKind {
        use kbatch_reader::ErrorKind;
        match self {
            SchemaError::Unreachable { .. } => ErrorKind::Broker,
            SchemaError::Refused { .. } => ErrorKind::Auth,
            SchemaError::Config { .. } => ErrorKind::Usage,
            _ => ErrorKind::Data,
        }
    }
}

/// How a read decodes keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    /// `--key-format`.
    pub key: ValueFormat,
    /// `--value-format`.
    pub value: ValueFormat,
    /// `--on-undecodable`.
    pub on_undecodable: OnUndecodable,
}

/// The decoder of one column (keys or values) in one of the registry formats, all with one
/// contract: [`ColumnDecoder::decode`] turns a topic's values into one Arrow column whose type
/// is fixed per topic for the run; not-framed and undecodable values follow
/// [`OnUndecodable`]; errors name the schema id and the row, the caller adds topic,
/// partition and offset. [`ColumnDecoder::prepare`] tells the type before any value is read
/// when the registry alone fixes it.
#[derive(Debug)]
pub enum ColumnDecoder {
    /// `avro`.
    Avro(avro::AvroDecoder),
    /// `protobuf`.
    Protobuf(protobuf::ProtobufColumn),
    /// `json-schema`.
    JsonSchema(json_schema::JsonSchemaColumn),
}

impl ColumnDecoder {
    /// The decoder of `format` (`None` for `raw`).
    pub fn new(
        format: ValueFormat,
        registry: std::sync::Arc<dyn avro::SchemaSource>,
        on_undecodable: OnUndecodable,
        role: avro::Role,
    ) -> Option<ColumnDecoder> {
        Some(match format {
            ValueFormat::Raw => return None,
            ValueFormat::Avro => {
                ColumnDecoder::Avro(avro::AvroDecoder::new(registry, on_undecodable, role))
            }
            ValueFormat::Protobuf => ColumnDecoder::Protobuf(protobuf::ProtobufColumn::new(
                registry,
                on_undecodable,
                role,
            )),
            ValueFormat::JsonSchema => ColumnDecoder::JsonSchema(
                json_schema::JsonSchemaColumn::new(registry, on_undecodable, role),
            ),
        })
    }

    /// The format decoded.
    pub fn format(&self) -> ValueFormat {
        match self {
            ColumnDecoder::Avro(_) => ValueFormat::Avro,
            ColumnDecoder::Protobuf(_) => ValueFormat::Protobuf,
            ColumnDecoder::JsonSchema(_) => ValueFormat::JsonSchema,
        }
    }

    /// Decode `values` of `topic` (`None`: a null value) into one column, in input order.
    pub fn decode(&self, topic: &str, values: &[Option<&[u8]>]) -> Result<Decoded, RowError> {
        match self {
            ColumnDecoder::Avro(d) => d.decode(topic, values),
            ColumnDecoder::Protobuf(d) => d.decode(topic, values),
            ColumnDecoder::JsonSchema(d) => d.decode(topic, values),
        }
    }

    /// The Arrow type of `topic`'s column when the registry fixes it before any value is
    /// read (the subject `{topic}-key` / `{topic}-value` exists); `None` when the first framed
    /// value will.
    pub fn prepare(&self, topic: &str) -> Result<Option<DataType>, SchemaError> {
        match self {
            ColumnDecoder::Avro(d) => d.prepare(topic),
            ColumnDecoder::Protobuf(d) => d.prepare(topic),
            ColumnDecoder::JsonSchema(d) => d.prepare(topic),
        }
    }

    /// The field of a decoded column `name` of type `data_type`: nullable; a JSON Schema
    /// column carries Arrow's canonical `arrow.json` extension name (its text is JSON).
    pub fn field(&self, name: &str, data_type: DataType) -> Field {
        let field = Field::new(name, data_type, true);
        match self {
            ColumnDecoder::JsonSchema(_) => json::as_json_field(field),
            _ => field,
        }
    }

    /// Append row `row` of a column this decoder made as natural JSON to `out` (a JSON
    /// Schema value as its own JSON text).
    pub fn write_json(
        &self,
        out: &mut Vec<u8>,
        array: &dyn arrow_array::Array,
        row: usize,
    ) -> Result<(), json::Unsupported> {
        match self {
            ColumnDecoder::JsonSchema(_) => json::write_json_text(out, array, row),
            _ => json::write_row(out, array, row),
        }
    }
}

/// The decoders a read needs (none for `raw`), sharing one registry client and its cache.
#[derive(Debug, Default)]
pub struct Decoders {
    /// For keys.
    pub key: Option<ColumnDecoder>,
    /// For values.
    pub value: Option<ColumnDecoder>,
}

impl Decoders {
    /// The decoders for `formats`, fetching from the registry `registry` (the checked
    /// `schema.registry.*` keys, [`kbatch_reader::ClientConfig::schema_registry`]), each fetch
    /// within `timeout`. A registry format without a registry is a [`SchemaError::Config`] error.
    pub fn new(
        formats: Formats,
        registry: Option<&kbatch_reader::SchemaRegistryConfig>,
        timeout: Duration,
    ) -> Result<Decoders, SchemaError> {
        if formats.key == ValueFormat::Raw && formats.value == ValueFormat::Raw {
            return Ok(Decoders::default());
        }
        let keys = registry.cloned().ok_or_else(|| SchemaError::Config {
            key: "schema.registry.url".into(),
            reason: "a registry format (avro, protobuf, json-schema) needs the registry's URL: set schema.registry.url (-X schema.registry.url=http://HOST:PORT, or config=)".into(),
        })?;
        let registry: std::sync::Arc<dyn avro::SchemaSource> =
            std::sync::Arc::new(Registry::new(RegistryConfig { keys, timeout })?);
        let make = |f: ValueFormat, role: avro::Role| {
            ColumnDecoder::new(f, registry.clone(), formats.on_undecodable, role)
        };
        Ok(Decoders {
            key: make(formats.key, avro::Role::Key),
            value: make(formats.value, avro::Role::Value),
        })
    }

    /// Whether any column is decoded.
    pub fn any(&self) -> bool {
        self.key.is_some() || self.value.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_their_names_only() {
        let table: &[(&str, Option<ValueFormat>)] = &[
            ("raw", Some(ValueFormat::Raw)),
            ("avro", Some(ValueFormat::Avro)),
            ("protobuf", Some(ValueFormat::Protobuf)),
            ("json-schema", Some(ValueFormat::JsonSchema)),
            ("json", None),
            ("Protobuf", None),
            ("", None),
        ];
        for &(text, want) in table {
            let got = text.parse::<ValueFormat>();
            assert_eq!(got.as_ref().ok().copied(), want, "{text:?}");
            if let Ok(f) = got {
                assert_eq!(f.name(), text);
            } else {
                let e = got.unwrap_err();
                assert!(e.contains("raw, avro, protobuf or json-schema"), "{e}");
            }
        }
    }
}
