//! Values written through a Schema Registry, decoded without I/O: Protobuf (the message-index
//! list after the Confluent prefix, schemas as the registry gives them, Arrow columns typed as
//! Spark's `from_protobuf` types them, natural JSON) and JSON Schema (the JSON after the prefix).
//! The registry client and Avro decoding are not in this crate yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod json_schema;
pub mod protobuf;
