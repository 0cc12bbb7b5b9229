//! A Protobuf schema as a registry gives it, compiled into descriptors.
//!
//! A registry answers a Protobuf schema in one of two forms: `.proto` source text (what
//! Confluent's registry answers for a schema registered as text) or the base64 of a serialized
//! `FileDescriptorProto` (what confluent-kafka's Python serializer registers, and what Apicurio
//! then answers). References (the schema's imports) come the same two ways, each under the
//! import path the schema uses. Text is compiled by protox; descriptors are taken as they are;
//! the well-known `google/protobuf/*.proto` files are built in (the serializers do not register
//! them as references).

use std::collections::HashMap;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor, MessageDescriptor};
use prost_types::FileDescriptorProto;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{MessageIndexes, ProtobufError};

/// The name the main schema is compiled under when the registry gives it as text (the
/// registry names only the references). Chosen so that no import path collides with it.
const MAIN_TEXT_NAME: &str = "kbatch-registry-schema.proto";

/// A compiled Protobuf schema: the file the registry's schema is, with its imports.
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    file: FileDescriptor,
}

/// The registry's files by import path; protox asks it for each import.
struct RegistryFiles(HashMap<String, File>);

impl FileResolver for RegistryFiles {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

impl ProtoSchema {
    /// Compiles `schema` (text or base64 descriptor) with its `references`: `(import path,
    /// schema)` pairs, each schema itself text or base64, as the registry lists them.
    pub fn parse<N, S>(
        schema: &str,
        references: impl IntoIterator<Item = (N, S)>,
    ) -> Result<Self, ProtobufError>
    where
        N: AsRef<str>,
        S: AsRef<str>,
    {
        let mut files = HashMap::new();
        for (name, text) in references {
            let name = name.as_ref();
            let file = to_file(Some(name), text.as_ref())?;
            files.insert(name.to_owned(), file);
        }
        let main = to_file(None, schema)?;
        let main_name = main.name().to_owned();
        files.insert(main_name.clone(), main);

        let mut resolver = ChainFileResolver::new();
        resolver.add(RegistryFiles(files));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler
            .open_file(&main_name)
            .map_err(|err| ProtobufError::Schema {
                name: shown_name(&main_name),
                reason: err.to_string(),
            })?;
        let pool: DescriptorPool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(&main_name)
            .ok_or_else(|| ProtobufError::Schema {
                name: shown_name(&main_name),
                reason: "the compiled set lacks the file itself".to_owned(),
            })?;
        Ok(ProtoSchema { file })
    }

    /// The schema's own file (its imports are reachable from it).
    pub fn file(&self) -> &FileDescriptor {
        &self.file
    }

    /// A message type of the schema or its imports by full name (`package.Outer.Inner`).
    pub fn message_by_name(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.file.parent_pool().get_message_by_name(full_name)
    }

    /// The message type the index path names: `[i]` is the i-th top-level message in
    /// declaration order, `[i, j]` the j-th nested type of that one, and so on.
    pub fn message(&self, indexes: &MessageIndexes) -> Result<MessageDescriptor, ProtobufError> {
        let mut path = indexes.as_slice().iter();
        let not_found = |count: usize, within: &str| ProtobufError::NoMessage {
            indexes: indexes.to_string(),
            within: within.to_owned(),
            count,
        };
        let first = *path.next().ok_or_else(|| not_found(0, "the file"))? as usize;
        let mut message = self
            .file
            .messages()
            .nth(first)
            .ok_or_else(|| not_found(self.file.messages().len(), "the file"))?;
        for &index in path {
            let nested = message.child_messages().nth(index as usize);
            message = match nested {
                Some(nested) => nested,
                None => {
                    return Err(not_found(
                        message.child_messages().len(),
                        message.full_name(),
                    ))
                }
            };
        }
        Ok(message)
    }

    /// Reads the message-index list at the start of `value` (the bytes after the 5-byte
    /// prefix) and returns the message type it names and the Protobuf payload after it.
    pub fn message_for<'v>(
        &self,
        value: &'v [u8],
    ) -> Result<(MessageDescriptor, &'v [u8]), ProtobufError> {
        let (indexes, offset) = MessageIndexes::read(value)?;
        Ok((self.message(&indexes)?, &value[offset..]))
    }
}

fn shown_name(name: &str) -> String {
    if name == MAIN_TEXT_NAME {
        "(the registered schema)".to_owned()
    } else {
        name.to_owned()
    }
}

/// Takes one schema string in either form. A base64 string that decodes to a
/// `FileDescriptorProto` is a descriptor; anything else is `.proto` text (source text always
/// holds a space, `;` or `"`, none of which is base64).
fn to_file(name: Option<&str>, text: &str) -> Result<File, ProtobufError> {
    let shown = name.map_or_else(|| shown_name(MAIN_TEXT_NAME), str::to_owned);
    if let Some(mut descriptor) = as_descriptor(text) {
        match name {
            // Imports are resolved by the path the importer names, whatever the descriptor
            // calls itself.
            Some(name) => descriptor.name = Some(name.to_owned()),
            None if descriptor.name().is_empty() => {
                descriptor.name = Some(MAIN_TEXT_NAME.to_owned())
            }
            None => {}
        }
        return Ok(File::from_file_descriptor_proto(descriptor));
    }
    File::from_source(name.unwrap_or(MAIN_TEXT_NAME), text).map_err(|err| ProtobufError::Schema {
        name: shown,
        reason: err.to_string(),
    })
}

fn as_descriptor(text: &str) -> Option<FileDescriptorProto> {
    let text = text.trim();
    let base64_only = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if !base64_only {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    FileDescriptorProto::decode(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"
        syntax = "proto3";
        package shop;
        import "common.proto";
        message Header { string id = 1; }
        message Order {
          message Line { string sku = 1; }
          map<string, int32> counts = 1;
          message Note { string text = 1; }
          common.Money total = 2;
          repeated Line lines = 3;
        }
    "#;
    const COMMON: &str = r#"syntax = "proto3"; package common; message Money { int64 cents = 1; }"#;

    fn names(schema: &ProtoSchema, cases: &[(&[u32], &str)]) {
        for &(indexes, expected) in cases {
            let indexes = MessageIndexes::new(indexes.to_vec()).unwrap();
            assert_eq!(schema.message(&indexes).unwrap().full_name(), expected);
        }
    }

    const PATHS: &[(&[u32], &str)] = &[
        (&[0], "shop.Header"),
        (&[1], "shop.Order"),
        (&[1, 0], "shop.Order.Line"),
        // The map's entry type is a nested type too, as in every serializer's numbering.
        (&[1, 1], "shop.Order.CountsEntry"),
        (&[1, 2], "shop.Order.Note"),
    ];

    #[test]
    fn text_with_a_text_reference() {
        let schema = ProtoSchema::parse(ORDERS, [("common.proto", COMMON)]).unwrap();
        names(&schema, PATHS);
    }

    fn base64_of(text: &str, name: &str, deps: &[(&str, &str)]) -> String {
        let schema = ProtoSchema::parse(text, deps.iter().copied()).unwrap();
        let mut proto = schema.file().file_descriptor_proto().clone();
        proto.name = Some(name.to_owned());
        base64::engine::general_purpose::STANDARD.encode(proto.encode_to_vec())
    }

    #[test]
    fn base64_descriptors_in_every_combination() {
        let no_refs: [(&str, &str); 0] = [];
        let common64 = base64_of(COMMON, "common.proto", &[]);
        let orders64 = base64_of(ORDERS, "orders.proto", &[("common.proto", COMMON)]);
        for (main, reference) in [
            (orders64.as_str(), COMMON),
            (orders64.as_str(), common64.as_str()),
            (ORDERS, common64.as_str()),
        ] {
            let schema = ProtoSchema::parse(main, [("common.proto", reference)]).unwrap();
            names(&schema, PATHS);
            let total = schema
                .message(&MessageIndexes::new(vec![1]).unwrap())
                .unwrap()
                .get_field_by_name("total")
                .unwrap();
            assert_eq!(
                total.kind().as_message().unwrap().full_name(),
                "common.Money"
            );
        }
        // Wrapped in whitespace, as some clients send it.
        let padded = format!("\n{common64}\n");
        assert!(ProtoSchema::parse(&padded, no_refs).is_ok());
    }

    #[test]
    fn well_known_imports_are_built_in() {
        let text = r#"syntax = "proto3"; import "google/protobuf/timestamp.proto";
            message E { google.protobuf.Timestamp at = 1; }"#;
        let no_refs: [(&str, &str); 0] = [];
        let schema = ProtoSchema::parse(text, no_refs).unwrap();
        let message = schema.message(&MessageIndexes::first()).unwrap();
        let at = message.get_field_by_name("at").unwrap();
        assert_eq!(
            at.kind().as_message().unwrap().full_name(),
            "google.protobuf.Timestamp"
        );
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let no_refs: [(&str, &str); 0] = [];
        let cases: Vec<(Result<ProtoSchema, ProtobufError>, &str)> = vec![
            (ProtoSchema::parse(ORDERS, no_refs), "common.proto"),
            (
                ProtoSchema::parse("message {", no_refs),
                "(the registered schema)",
            ),
            (
                ProtoSchema::parse(
                    ORDERS,
                    [("common.proto", "message Money { int64 cents = 1 }")],
                ),
                "common.proto",
            ),
        ];
        for (result, expected) in cases {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected), "{err} (expected {expected:?})");
        }
        let schema = ProtoSchema::parse(ORDERS, [("common.proto", COMMON)]).unwrap();
        for (indexes, expected) in [
            (
                vec![2],
                "message index [2] names no message type: the file has 2",
            ),
            (vec![1, 3], "shop.Order has 3"),
            (vec![0, 0], "shop.Header has 0"),
        ] {
            let err = schema
                .message(&MessageIndexes::new(indexes).unwrap())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err} (expected {expected:?})");
        }
    }

    #[test]
    fn message_for_splits_the_index_list_from_the_payload() {
        let schema = ProtoSchema::parse(ORDERS, [("common.proto", COMMON)]).unwrap();
        let (message, payload) = schema.message_for(&[0x04, 0x02, 0x04, 0x0a, 0x00]).unwrap();
        assert_eq!(message.full_name(), "shop.Order.Note");
        assert_eq!(payload, &[0x0a, 0x00]);
        let (message, payload) = schema.message_for(&[0x00]).unwrap();
        assert_eq!(message.full_name(), "shop.Header");
        assert!(payload.is_empty());
    }
}
