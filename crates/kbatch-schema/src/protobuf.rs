//! Protobuf values behind the Confluent prefix: the message-index list, schemas as a registry
//! gives them (`.proto` text or a base64 `FileDescriptorProto`, with references), and the
//! decoding of payloads to Arrow ([`ProtoDecoder`]) and to natural JSON ([`NaturalJson`]).
//!
//! Roles: [`MessageIndexes`] reads which message type of the file a value is;
//! [`ProtoSchema`] compiles the registry's schema (protox) and selects that type;
//! [`ProtoDecoder`] decodes many payloads of one type into one Arrow struct column, typed by
//! [`arrow_type`]. Nothing here does I/O: the registry client hands the schema strings in.

mod arrow;
mod column;
mod index;
mod json;
mod schema;

pub use self::arrow::{arrow_fields, arrow_type, decode, ProtoDecoder, MAX_BATCH_PAYLOAD};
pub use self::column::{root_message, ProtobufColumn};
pub use self::index::MessageIndexes;
pub use self::json::NaturalJson;
pub use self::schema::ProtoSchema;
pub use prost_reflect::{DynamicMessage, MessageDescriptor};

/// What went wrong reading a Protobuf value or schema.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The message-index list after the 5-byte prefix is corrupt.
    #[error("bad Protobuf message-index list: {0}")]
    IndexList(String),
    /// A schema (the registered one or a reference) does not parse or compile.
    #[error("the Protobuf schema {name} does not compile: {reason}")]
    Schema {
        /// The reference's import path, or "(the registered schema)".
        name: String,
        /// The compiler's message.
        reason: String,
    },
    /// The index list names a message type the schema does not have.
    #[error("message index {indexes} names no message type: {within} has {count}")]
    NoMessage {
        /// The index list, as `[1, 0]`.
        indexes: String,
        /// "the file", or the message whose nested types ran out.
        within: String,
        /// How many (nested) message types there are.
        count: usize,
    },
    /// A recursive message type, which has no Arrow type.
    #[error(
        "the Protobuf message {message} contains itself ({path} > {message}); \
         a recursive type has no Arrow column type (read it as raw bytes or JSON)"
    )]
    Recursive {
        /// The type that recurs.
        message: String,
        /// The chain of types from the top.
        path: String,
    },
    /// The payload is not a valid encoding of the message type.
    #[error("the value does not decode as Protobuf message {message}: {reason}")]
    Decode {
        /// The message type's full name.
        message: String,
        /// What the decoder found.
        reason: String,
    },
    /// The decoder holds as many payload bytes as one Arrow batch takes.
    #[error("a Protobuf batch holds {bytes} bytes of values (limit {limit}); finish it first")]
    BatchFull {
        /// Payload bytes appended since the last finish.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

#[cfg(test)]
mod tests;
