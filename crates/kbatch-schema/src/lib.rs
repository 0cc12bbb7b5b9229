//! Values written through a Schema Registry: the Confluent framing (magic byte 0, a
//! big-endian 4-byte schema id, and for Protobuf the message-index list), the registry client
//! that fetches each schema once per id, and the decoders that turn Avro, Protobuf and JSON
//! Schema values into Arrow columns and into natural JSON.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod avro;
pub mod framing;
pub mod json_schema;
pub mod protobuf;
pub mod registry;
