//! The reader-schema rule and decoding across versions and chunks, over a table of schemas
//! instead of a registry (the end-to-end tests use a real one).

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;

use super::*;

const V1: &str = r#"{"type":"record","name":"E","fields":[{"name":"a","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"E","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":"x"}]}"#;
/// Cannot be read as V2: V2's `a` has no default and is not here.
const OTHER: &str = r#"{"type":"record","name":"E","fields":[{"name":"c","type":"string"}]}"#;

/// Schemas by id, and subjects with their versions' ids, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Table {
    schemas: HashMap<u32, Arc<RegistrySchema>>,
    subjects: Vec<(&'static str, Vec<u32>)>,
}

impl Table {
    pub(crate) fn with(self, id: u32, text: &str) -> Self {
        self.with_typed(id, SchemaType::Avro, text, Vec::new())
    }
    /// A schema of any type, with references.
    pub(crate) fn with_typed(
        mut self,
        id: u32,
        schema_type: SchemaType,
        text: &str,
        references: Vec<crate::registry::Reference>,
    ) -> Self {
        let s = RegistrySchema {
            id,
            schema_type,
            schema: text.to_string(),
            references,
        };
        self.schemas.insert(id, Arc::new(s));
        self
    }
    pub(crate) fn subject(mut self, name: &'static str, ids: &[u32]) -> Self {
        self.subjects.push((name, ids.to_vec()));
        self
    }
}

impl SchemaSource for Table {
    fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        self.schemas
            .get(&id)
            .cloned()
            .ok_or_else(|| SchemaError::UnknownId {
                id,
                url: "table".into(),
            })
    }
    fn latest(&self, subject: &str, _: u32) -> Result<Option<Arc<RegistrySchema>>, SchemaError> {
        let found = self.subjects.iter().find(|(s, _)| *s == subject);
        match found.and_then(|(_, ids)| ids.last()) {
            Some(id) => self.schema(*id).map(Some),
            None => Ok(None),
        }
    }
    fn subjects_of(&self, id: u32) -> Result<Vec<String>, SchemaError> {
        Ok(self
            .subjects
            .iter()
            .filter(|(_, ids)| ids.contains(&id))
            .map(|(s, _)| s.to_string())
            .collect())
    }
    fn version(
        &self,
        subject: &str,
        version: i64,
        needed_by: u32,
    ) -> Result<Arc<RegistrySchema>, SchemaError> {
        let found = self.subjects.iter().find(|(s, _)| *s == subject);
        let id = found
            .and_then(|(_, ids)| ids.get(usize::try_from(version).ok()?.checked_sub(1)?))
            .ok_or_else(|| SchemaError::BadSchema {
                id: needed_by,
                reason: format!("no {subject} version {version}"),
            })?;
        self.schema(*id)
    }
}

#[test]
fn the_reader_is_the_latest_version_of_the_topics_subject_else_of_the_ids() {
    let table = Table::default()
        .with(1, V1)
        .with(2, V2)
        .with(5, V1)
        .with(6, V2)
        .with(7, V1)
        .with(8, V1)
        .with(9, V1)
        .subject("t-value", &[1, 2])
        .subject("k-key", &[9, 6])
        .subject("events", &[5, 6])
        .subject("a", &[7])
        .subject("b", &[7, 2]);
    // (topic, role, first id) -> reader id
    let cases = [
        ("t", Role::Value, 1, 2),
        ("t", Role::Value, 7, 2),
        ("t", Role::Key, 1, 2),
        ("k", Role::Key, 8, 6),
        ("k", Role::Value, 8, 8),
        ("x", Role::Value, 5, 6),
        ("x", Role::Value, 7, 7),
        ("x", Role::Value, 8, 8),
    ];
    for (topic, role, first, want) in cases {
        let got = choose_reader(&table, topic, role, first).unwrap();
        assert_eq!(got.id, want, "{topic} {role:?} first {first}");
    }
    let e = choose_reader(&table, "x", Role::Value, 404).unwrap_err();
    assert!(matches!(e, SchemaError::UnknownId { id: 404, .. }), "{e}");
}

fn zigzag(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A Confluent-framed record of V1 (`b: None`) or V2.
fn framed(id: u32, a: i64, b: Option<&str>) -> Vec<u8> {
    let mut out = vec![0];
    out.extend(id.to_be_bytes());
    zigzag(&mut out, a);
    if let Some(b) = b {
        zigzag(&mut out, b.len() as i64);
        out.extend(b.as_bytes());
    }
    out
}

fn decoder(table: Table, on_undecodable: OnUndecodable) -> AvroDecoder {
    AvroDecoder::new(Arc::new(table), on_undecodable, Role::Value)
}

fn versions() -> Table {
    Table::default()
        .with(1, V1)
        .with(2, V2)
        .with(3, OTHER)
        .subject("t-value", &[1, 2])
}

/// Rows of a decoded `{a, b}` column.
fn rows(array: &dyn Array) -> Vec<Option<(i64, String)>> {
    let s = array.as_struct();
    let a = s.column_by_name("a").unwrap().as_primitive::<Int64Type>();
    let b = s.column_by_name("b").unwrap().as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| (a.value(i), b.value(i).to_string())))
        .collect()
}

/// A chunk of only v1 values already has v2's field (its default), and every chunk of the
/// run has one type, so chunks concatenate; the field metadata arrow-avro sets per version
/// is gone.
#[test]
fn every_chunk_is_read_with_the_newest_version_as_one_type() {
    let d = decoder(versions(), OnUndecodable::Fail);
    let v1 = [framed(1, 10, None), framed(1, 11, None)];
    let mixed = [framed(2, 12, Some("y")), framed(1, 13, None)];
    let first = d
        .decode("t", &[Some(&v1[0][..]), None, Some(&v1[1][..])])
        .unwrap();
    let second = d
        .decode("t", &[Some(&mixed[0][..]), Some(&mixed[1][..])])
        .unwrap();
    let empty = d.decode("t", &[None]).unwrap();
    assert_eq!(
        (first.reader_id, second.reader_id, empty.reader_id),
        (Some(2), Some(2), Some(2))
    );
    let x = |a: i64| Some((a, "x".to_string()));
    assert_eq!(rows(first.array.as_ref()), [x(10), None, x(11)]);
    assert_eq!(
        rows(second.array.as_ref()),
        [Some((12, "y".to_string())), x(13)]
    );
    assert_eq!(rows(empty.array.as_ref()), [None]);
    let parts = [
        first.array.as_ref(),
        second.array.as_ref(),
        empty.array.as_ref(),
    ];
    let all = arrow_select::concat::concat(&parts).unwrap();
    assert_eq!(all.len(), 6);
    let DataType::Struct(fields) = all.data_type() else {
        panic!("{}", all.data_type())
    };
    assert!(fields.iter().all(|f| f.metadata().is_empty()), "{fields:?}");
}

#[test]
fn a_version_that_cannot_be_read_as_the_reader_names_both_ids() {
    let d = decoder(versions(), OnUndecodable::Null);
    let mut c = vec![0, 0, 0, 0, 3];
    zigzag(&mut c, 1);
    c.push(b'z');
    let ok = framed(1, 1, None);
    let e = d.decode("t", &[Some(&ok[..]), Some(&c[..])]).unwrap_err();
    assert_eq!(e.row, 1);
    let text = e.error.to_string();
    assert!(
        text.contains("schema id 3") && text.contains("schema id 2"),
        "{text}"
    );
}

#[test]
fn values_that_are_not_framed_fail_or_become_null() {
    let ok = framed(2, 5, Some("q"));
    let values = [Some(&ok[..]), Some(&b"{\"a\":1}"[..]), Some(&[0, 0][..])];
    let e = decoder(versions(), OnUndecodable::Fail)
        .decode("t", &values)
        .unwrap_err();
    assert_eq!(e.row, 1);
    assert!(e.error.to_string().contains("not framed"), "{}", e.error);
    let d = decoder(versions(), OnUndecodable::Null)
        .decode("t", &values)
        .unwrap();
    assert_eq!(d.undecodable, 2);
    assert_eq!(rows(d.array.as_ref()), [Some((5, "q".into())), None, None]);
}

/// A body its schema does not read (truncated): an error, or null and counted.
#[test]
fn a_body_that_does_not_decode_fails_or_becomes_null() {
    let ok = framed(1, 7, None);
    let mut cut = framed(2, 8, Some("long text"));
    cut.truncate(cut.len() - 3);
    let values = [Some(&ok[..]), Some(&cut[..])];
    let d = one_undecodable(&values, 1);
    assert_eq!(rows(d.array.as_ref()), [Some((7, "x".into())), None]);
}

/// A projected decoder reads only the named top-level fields, from every version (a v1
/// value gets v2's default for a kept field v1 lacks); a projection naming no field of a
/// record still decodes (its first field kept), and a schema that is not a record is read whole.
#[test]
fn a_projection_decodes_only_the_named_fields() {
    let d = decoder(versions(), OnUndecodable::Fail).project(vec!["b".into()]);
    let (v1, v2) = (framed(1, 7, None), framed(2, 8, Some("yz")));
    let got = d.decode("t", &[Some(&v1), Some(&v2)]).unwrap();
    let s = got.array.as_struct();
    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["b"]);
    let b = s.column(0).as_string::<i32>();
    assert_eq!((b.value(0), b.value(1)), ("x", "yz"));

    let d = decoder(versions(), OnUndecodable::Fail).project(vec!["a".into()]);
    let got = d.decode("t", &[Some(&v2), Some(&v1)]).unwrap();
    let a = got
        .array
        .as_struct()
        .column(0)
        .as_primitive::<Int64Type>()
        .clone();
    assert_eq!(a.values().to_vec(), [8, 7]);

    // Naming no field of the record: its first field is kept, so the column still builds.
    let d = decoder(versions(), OnUndecodable::Fail).project(vec!["zz".into()]);
    let got = d.decode("t", &[Some(&v1), Some(&v2)]).unwrap();
    let names: Vec<&str> = got
        .array
        .as_struct()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(got.array.len(), 2);

    assert_eq!(project(r#""string""#, &["a".into()]), None);
    let kept: serde_json::Value =
        serde_json::from_str(&project(V2, &["b".into()]).unwrap()).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        r#"{"type":"record","name":"E","fields":[{"name":"b","type":"string","default":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(kept, want);
}

/// A string that is not UTF-8 decodes but fails as its column is built: that value alone is
/// named (the values before it in its run are fine), and under `--on-undecodable null` it
/// alone is null.
#[test]
fn a_string_that_is_not_utf8_is_named_alone() {
    let ok = |a| framed(2, a, Some("fine"));
    let mut bad = framed(2, 3, Some("ab"));
    let n = bad.len();
    bad[n - 1] = 0xff;
    let (v0, v1, v3) = (ok(0), ok(1), ok(4));
    let values = [Some(&v0[..]), Some(&v1[..]), Some(&bad[..]), Some(&v3[..])];
    let d = one_undecodable(&values, 2);
    let fine = |a| Some((a, "fine".to_string()));
    assert_eq!(rows(d.array.as_ref()), [fine(0), fine(1), None, fine(4)]);
}

/// `values` hold one value of writer 2 that does not decode, at `row`: the read fails naming
/// that row and id, and under `--on-undecodable null` that value alone is null (returned).
fn one_undecodable(values: &[Option<&[u8]>], row: usize) -> Decoded {
    let e = decoder(versions(), OnUndecodable::Fail)
        .decode("t", values)
        .unwrap_err();
    assert_eq!(e.row, row, "{}", e.error);
    assert!(
        matches!(e.error, SchemaError::Decode { id: 2, .. }),
        "{}",
        e.error
    );
    let d = decoder(versions(), OnUndecodable::Null)
        .decode("t", values)
        .unwrap();
    assert_eq!(d.undecodable, 1);
    d
}
