//! The Avro field reader (`kbatch_schema::avro::Walker`) against the decoder's path, on
//! generated schemas (three versions of a subject: a field added with a default, one dropped,
//! an int promoted to long; nested records, enums, unions, arrays, maps, logical types) and
//! generated values (nulls, unicode, long strings, and values cut short, grown or with a byte
//! changed): wherever the reader answers, its answer is the decoded column's; and a job's
//! report is the same with the reader as without it.

use std::collections::HashMap;
use std::sync::Arc;

use kbatch_engine::{Job, PartitionSpec, PartitionStats};
use kbatch_records::testenc::{Batch, Rec};
use kbatch_schema::avro::{AvroDecoder, Field, Role, SchemaSource, Walk};
use kbatch_schema::{ColumnDecoder, OnUndecodable, RegistrySchema, SchemaError, SchemaType};

use crate::extract::paths::Val;
use crate::extract::Invalid;
use crate::top::framed::{decode_framed, is_object, Resolved};
use crate::top::{Path, TopJob, TopSpec};

/// xorshift64*: the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A generated Avro type.
#[derive(Debug, Clone)]
enum G {
    Str,
    Int,
    Long,
    Bool,
    Double,
    Float,
    Bytes,
    Fixed(usize),
    Date,
    Enum(&'static str, &'static [&'static str]),
    NullOr(Box<G>),
    Rec(&'static str, Vec<(&'static str, G)>),
    Arr(Box<G>),
    Map(Box<G>),
    /// `["int", "string", "null"]`.
    Union3,
}

impl G {
    fn schema(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            G::Str => json!("string"),
            G::Int => json!("int"),
            G::Long => json!("long"),
            G::Bool => json!("boolean"),
            G::Double => json!("double"),
            G::Float => json!("float"),
            G::Bytes => json!("bytes"),
            G::Fixed(n) => json!({"type": "fixed", "name": format!("F{n}"), "size": n}),
            G::Date => json!({"type": "int", "logicalType": "date"}),
            G::Enum(name, symbols) => json!({"type": "enum", "name": name, "symbols": symbols}),
            G::NullOr(t) => json!(["null", t.schema()]),
            G::Rec(name, fields) => json!({
                "type": "record",
                "name": name,
                "fields": fields
                    .iter()
                    .map(|(n, t)| json!({"name": n, "type": t.schema()}))
                    .collect::<Vec<_>>(),
            }),
            G::Arr(t) => json!({"type": "array", "items": t.schema()}),
            G::Map(t) => json!({"type": "map", "values": t.schema()}),
            G::Union3 => json!(["int", "string", "null"]),
        }
    }

    /// A random value of this type, Avro-encoded.
    fn encode(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        match self {
            G::Str => {
                const TEXTS: &[&str] = &["Books", "", "é", "中文", "😀x", "Toys & Games", "a\"b"];
                let s = if rng.chance(10) {
                    "ab".repeat(150 + rng.below(200))
                } else {
                    TEXTS[rng.below(TEXTS.len())].to_string()
                };
                long(out, s.len() as i64);
                out.extend_from_slice(s.as_bytes());
            }
            G::Int | G::Date => long(out, i64::from(rng.next() as i32) >> rng.below(31)),
            G::Long => long(out, (rng.next() as i64) >> rng.below(63)),
            G::Bool => out.push(rng.below(2) as u8),
            G::Double => out.extend_from_slice(&(rng.next() as f64 / 7.0).to_le_bytes()),
            G::Float => out.extend_from_slice(&(rng.next() as f32 / 7.0).to_le_bytes()),
            G::Bytes => {
                let n = rng.below(5);
                long(out, n as i64);
                out.extend((0..n).map(|_| rng.next() as u8));
            }
            G::Fixed(n) => out.extend((0..*n).map(|_| rng.next() as u8)),
            G::Enum(_, symbols) => long(out, rng.below(symbols.len()) as i64),
            G::NullOr(t) => {
                if rng.chance(30) {
                    long(out, 0);
                } else {
                    long(out, 1);
                    t.encode(rng, out);
                }
            }
            G::Rec(_, fields) => fields.iter().for_each(|(_, t)| t.encode(rng, out)),
            G::Arr(t) | G::Map(t) => {
                let keyed = matches!(self, G::Map(_));
                for _ in 0..rng.below(3) {
                    let n = 1 + rng.below(3);
                    let mut block = Vec::new();
                    for k in 0..n {
                        if keyed {
                            let key = format!("k{}", k % 2);
                            long(&mut block, key.len() as i64);
                            block.extend_from_slice(key.as_bytes());
                        }
                        t.encode(rng, &mut block);
                    }
                    if rng.chance(50) {
                        long(out, -(n as i64));
                        long(out, block.len() as i64);
                    } else {
                        long(out, n as i64);
                    }
                    out.extend_from_slice(&block);
                }
                long(out, 0);
            }
            G::Union3 => match rng.below(3) {
                0 => {
                    long(out, 0);
                    G::Int.encode(rng, out);
                }
                1 => {
                    long(out, 1);
                    G::Str.encode(rng, out);
                }
                _ => long(out, 2),
            },
        }
    }
}

fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

const KIND: G = G::Enum("Kind", &["A", "B", "C"]);

/// The fields a generated subject draws from (each the same type in every version, except
/// `n`: int in the first, long after).
fn pool(rng: &mut Rng) -> Vec<(&'static str, G)> {
    let product = match rng.below(6) {
        0 => G::NullOr(Box::new(G::Str)),
        1 => G::Enum("Product", &["Pen", "Ink", "Paper"]),
        2 => G::Int,
        3 => G::Bool,
        _ => G::Str,
    };
    let page = G::Rec(
        "Page",
        vec![("category", G::Str), ("views", G::Int), ("kind", KIND)],
    );
    vec![
        ("category", G::Str),
        ("product", product),
        ("page", G::NullOr(Box::new(page))),
        ("tags", G::Arr(Box::new(G::Str))),
        ("attrs", G::Map(Box::new(G::Long))),
        ("price", G::Double),
        ("ratio", G::Float),
        ("blob", G::Bytes),
        ("code", G::Fixed(4)),
        ("any", G::Union3),
        ("day", G::Date),
        ("ok", G::Bool),
        ("n", G::Int),
    ]
}

/// Three versions of one subject's record: v1 a random subset of the pool (category always)
/// in random order; v2 adds `added` with a default and promotes `n` to long; v3 (the reader)
/// drops one of v2's fields.
fn versions(rng: &mut Rng) -> [Vec<(&'static str, G)>; 3] {
    let mut v1: Vec<(&str, G)> = pool(rng)
        .into_iter()
        .filter(|(n, _)| *n == "category" || rng.chance(70))
        .collect();
    for i in (1..v1.len()).rev() {
        v1.swap(i, rng.below(i + 1));
    }
    let mut v2 = v1.clone();
    for f in &mut v2 {
        if f.0 == "n" {
            f.1 = G::Long;
        }
    }
    v2.push(("added", G::Str));
    let mut v3 = v2.clone();
    let drop = 1 + rng.below(v3.len() - 1);
    if v3[drop].0 != "category" {
        v3.remove(drop);
    }
    [v1, v2, v3]
}

fn record_schema(fields: &[(&'static str, G)]) -> String {
    let fs: Vec<serde_json::Value> = fields
        .iter()
        .map(|(n, t)| {
            let mut f = serde_json::json!({"name": n, "type": t.schema()});
            if *n == "added" {
                f["default"] = "dflt".into();
            }
            f
        })
        .collect();
    serde_json::json!({"type": "record", "name": "Event", "namespace": "t", "fields": fs})
        .to_string()
}

/// Schemas by id; the subject `t-value` has them all, the last the latest.
#[derive(Debug)]
struct Table(HashMap<u32, Arc<RegistrySchema>>);

impl SchemaSource for Table {
    fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        self.0.get(&id).cloned().ok_or(SchemaError::UnknownId {
            id,
            url: "table".into(),
        })
    }
    fn latest(&self, subject: &str, _: u32) -> Result<Option<Arc<RegistrySchema>>, SchemaError> {
        Ok((subject == "t-value")
            .then(|| self.0.keys().max().and_then(|id| self.0.get(id).cloned()))
            .flatten())
    }
    fn subjects_of(&self, _: u32) -> Result<Vec<String>, SchemaError> {
        Ok(vec!["t-value".into()])
    }
    fn version(&self, _: &str, _: i64, needed_by: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        self.schema(needed_by)
    }
}

fn table(schemas: &[String]) -> Arc<Table> {
    Arc::new(Table(
        schemas
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let id = i as u32 + 1;
                let rs = RegistrySchema {
                    id,
                    schema_type: SchemaType::Avro,
                    schema: s.clone(),
                    references: Vec::new(),
                };
                (id, Arc::new(rs))
            })
            .collect(),
    ))
}

fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A value as a path shows it: `s:` a string, `n:` a number, else the `Val`'s name.
fn show(v: &Val<'_>) -> String {
    match v {
        Val::Str(s) => format!("s:{}", String::from_utf8_lossy(s)),
        Val::Num(n) => format!("n:{}", String::from_utf8_lossy(n)),
        Val::Bool(b) => format!("b:{b}"),
        other => format!("{other:?}"),
    }
}

fn show_field(f: &Field<'_>) -> String {
    match f {
        Field::Str(s) => format!("s:{}", String::from_utf8_lossy(s)),
        Field::Int(n) => format!("n:{n}"),
        Field::Bool(b) => format!("b:{b}"),
        Field::Missing => "Missing".into(),
        Field::Blocked => "Blocked".into(),
        Field::Null => "Null".into(),
        Field::Object => "Object".into(),
        Field::Array => "Array".into(),
    }
}

/// Values of writer `g`: random ones, and some cut short, grown by a byte or with a byte
/// changed.
fn bodies(rng: &mut Rng, g: &[(&'static str, G)], n: usize) -> Vec<Vec<u8>> {
    let rec = G::Rec("Event", g.to_vec());
    (0..n)
        .map(|_| {
            let mut b = Vec::new();
            rec.encode(rng, &mut b);
            match rng.below(10) {
                0 if !b.is_empty() => {
                    let cut = rng.below(b.len());
                    b.truncate(cut);
                }
                1 => b.push(rng.next() as u8),
                2 if !b.is_empty() => {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                _ => {}
            }
            b
        })
        .collect()
}

const PATH_SETS: &[&[&str]] = &[
    &["category", "product"],
    &[
        "category",
        "page.category",
        "page.views",
        "page.kind",
        "page.nope",
        "category.x",
        "nope",
    ],
    &["tags", "attrs", "ok", "n", "added", "product", "page"],
    &["category", "any"],
    &["day"],
];

#[test]
fn the_field_reader_answers_as_the_decoded_column() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut walked, mut declined, mut total) = (0usize, 0usize, 0usize);
    for _ in 0..40 {
        let vs = versions(&mut rng);
        let schemas: Vec<String> = vs.iter().map(|v| record_schema(v)).collect();
        let source = table(&schemas);
        for set in PATH_SETS {
            let paths: Vec<Path> = set.iter().map(|p| Path::parse(p).unwrap()).collect();
            let names: Vec<Vec<String>> = set
                .iter()
                .map(|p| p.split('.').map(str::to_string).collect())
                .collect();
            let mut firsts: Vec<String> = names.iter().map(|n| n[0].clone()).collect();
            firsts.dedup();
            let none_in_reader = !firsts.iter().any(|f| vs[2].iter().any(|(n, _)| n == f));
            // (No field of the reader on any path is a case too: the projection keeps the
            // record's first field, and every path is missing.)
            let decoder = ColumnDecoder::Avro(
                AvroDecoder::new(source.clone(), OnUndecodable::Fail, Role::Value).project(firsts),
            );
            let ColumnDecoder::Avro(avro) = &decoder else {
                unreachable!()
            };
            for (k, g) in vs.iter().enumerate() {
                let id = k as u32 + 1;
                let values: Vec<Vec<u8>> = bodies(&mut rng, g, 60)
                    .iter()
                    .map(|b| framed(id, b))
                    .collect();
                let refs: Vec<Option<&[u8]>> = values.iter().map(|v| Some(v.as_slice())).collect();
                let decoded = decode_framed(&decoder, "t", &refs).expect("only per-value errors");
                let walker = match avro.walker("t", id, &names) {
                    Walk::Ready(w) => Some(w),
                    Walk::Unsupported => None,
                    Walk::NotYet => panic!("the writer was decoded"),
                };
                // What the walker leaves to the decoder, by path set: floats, logical types
                // and general unions; and `n` and `added` from v1 (a promotion, a default).
                let expect_walker = match *set {
                    ["category", "any"] if g.iter().any(|f| f.0 == "any") => false,
                    ["day"]
                        if g.iter().any(|f| f.0 == "day") && vs[2].iter().any(|f| f.0 == "day") =>
                    {
                        false
                    }
                    ["tags", ..] if k == 0 => false,
                    // No path in the reader: the projection keeps the record's first field,
                    // whatever its type.
                    _ if none_in_reader => false,
                    _ => true,
                };
                if expect_walker && walker.is_none() && !set.contains(&"product") {
                    panic!("no walker for {set:?} on {}", schemas[k]);
                }
                let Some(walker) = walker else { continue };
                for (row, v) in values.iter().enumerate() {
                    total += 1;
                    let mut out = Vec::new();
                    if !walker.read(&v[5..], &mut out) {
                        declined += 1;
                        continue;
                    }
                    walked += 1;
                    let (seg, r) = decoded.place[row].unwrap_or_else(|| {
                        panic!(
                            "walked a value the decoder rejects: {v:?} of {}",
                            schemas[k]
                        )
                    });
                    let segment = decoded.segments[seg].as_ref();
                    assert!(is_object(segment) && !segment.is_null(r));
                    for (i, p) in paths.iter().enumerate() {
                        let mut arena = Vec::new();
                        let want = Resolved::new(segment, &p.steps)
                            .get(r, &mut arena)
                            .map(|f| show(&f.val(&arena)));
                        let want = want.unwrap_or_else(|why: Invalid| why.as_str().to_string());
                        assert_eq!(
                            show_field(&out[i]),
                            want,
                            "path {} of {v:?}, writer {}, reader {}",
                            p.name,
                            schemas[k],
                            schemas[2]
                        );
                    }
                }
            }
        }
    }
    // The reader answered for most values, and declined some (the changed ones).
    assert!(walked > total / 2, "walked {walked} of {total}");
    assert!(declined > 0, "declined none of {total}");
}

/// Framed records fed in chunks of `chunk` records (`None` a tombstone).
/// The report, and whether a field reader served the run.
fn run_chunks(
    job: &TopJob,
    values: &[Option<Vec<u8>>],
    chunk: usize,
) -> (crate::top::TopReport, bool) {
    let specs = vec![PartitionSpec {
        topic: Arc::from("t"),
        partition: 0,
        start: 0,
        end: values.len() as i64,
    }];
    let mut job = job.clone();
    job.bind(&specs);
    let mut p = job.partial();
    for (c, part) in values.chunks(chunk).enumerate() {
        let base = (c * chunk) as i64;
        let recs: Vec<Rec> = part
            .iter()
            .enumerate()
            .map(|(i, v)| Rec {
                offset_delta: i as i32,
                ts_delta: 0,
                key: None,
                value: v.clone(),
                headers: Vec::new(),
            })
            .collect();
        let batch = Batch::plain(base, &recs).encode();
        let mut d = kbatch_records::Decoder::new(1 << 20);
        let bytes = kbatch_records::Chunk {
            bytes: &batch,
            start: 0,
            end: i64::MAX,
            isolation: kbatch_records::Isolation::ReadCommitted,
            aborted: &[],
        };
        d.decode(&bytes, |x| job.update(&mut p, 0, x))
            .expect("decodes");
        job.chunk_done(&mut p).expect("chunk");
    }
    let stats = vec![PartitionStats {
        records: values.len() as u64,
        decoded: values.len() as i64,
        ..PartitionStats::empty(Arc::from("t"), 0, 0, values.len() as i64)
    }];
    let walked = p.walkers.iter().any(|w| w.2.is_some());
    (job.finish(p, &stats).expect("a report"), walked)
}

#[test]
fn a_jobs_report_is_the_same_with_the_field_reader() {
    let mut rng = Rng(42);
    for _ in 0..12 {
        let vs = versions(&mut rng);
        let schemas: Vec<String> = vs.iter().map(|v| record_schema(v)).collect();
        let source = table(&schemas);
        // Records of every version interleaved, with tombstones and unframed values.
        let mut values = Vec::new();
        for _ in 0..300 {
            let k = rng.below(3);
            let b = &bodies(&mut rng, &vs[k], 1)[0];
            values.push(match rng.below(40) {
                0 => None,
                1 => Some(b"{\"category\":\"x\"}".to_vec()),
                _ => Some(framed(k as u32 + 1, b)),
            });
        }
        let decoder = || {
            ColumnDecoder::Avro(AvroDecoder::new(
                source.clone(),
                OnUndecodable::Fail,
                Role::Value,
            ))
        };
        let spec =
            |g: &str, i: &str| TopSpec::parse_at(g, i, None, &[], None, Some("all"), 0).unwrap();
        let mut jobs = vec![
            TopJob::trending(10, false, decoder()),
            TopJob::new(spec("category", "product"))
                .unwrap()
                .with_decoder(decoder()),
        ];
        if vs[2].iter().any(|(n, _)| *n == "page") {
            jobs.push(
                TopJob::new(spec("page.kind", "page.category"))
                    .unwrap()
                    .with_decoder(decoder()),
            );
        }
        for job in jobs {
            let mut without = job.clone();
            without.walk_paths = None;
            for chunk in [1, 7, 64] {
                let (with, walked) = run_chunks(&job, &values, chunk);
                assert!(walked, "the field reader served the run");
                let (reference, _) = run_chunks(&without, &values, chunk);
                assert_eq!(
                    format!("{with:?}"),
                    format!("{reference:?}"),
                    "chunks of {chunk}, {:?}",
                    job.spec()
                );
            }
        }
    }
}
