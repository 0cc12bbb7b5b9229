//! Avro decoding speed on the bytes a real serializer wrote: `arrow-avro`'s own decoder alone
//! (Confluent-framed mode, the writer schemas in its `SchemaStore`) next to kbatch's
//! [`AvroDecoder`] (the prefix split per value, one reader schema, Spark's types) on the same
//! framed values. The numbers `make bench-registry` reports as "arrow-avro alone".
//!
//! ```text
//! avro_alone VALUES SCHEMAS [ROUNDS]
//! ```
//! VALUES: the framed values, each as a little-endian u32 length and the bytes (what
//! `benches/python/bench_registry.py` wrote as the serializer produced them). SCHEMAS: JSON
//! `{"subject": S, "schemas": [{"id": N, "schema": TEXT}, ...]}`, oldest first; the last is
//! the reader schema. Prints one JSON object: rows, value bytes, and seconds (median of the
//! rounds) and rows/s and GB/s of each decoder.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::Array;
use arrow_avro::reader::ReaderBuilder;
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use kbatch_schema::avro::{AvroDecoder, Role, SchemaSource};
use kbatch_schema::{OnUndecodable, RegistrySchema, SchemaError, SchemaType};

const BATCH: usize = 8192;

#[derive(Debug)]
struct Schemas {
    subject: String,
    by_id: HashMap<u32, Arc<RegistrySchema>>,
    newest: u32,
}

impl SchemaSource for Schemas {
    fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        self.by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| SchemaError::UnknownId {
                id,
                url: "file".into(),
            })
    }
    fn latest(&self, subject: &str, _: u32) -> Result<Option<Arc<RegistrySchema>>, SchemaError> {
        Ok((subject == self.subject).then(|| self.by_id[&self.newest].clone()))
    }
    fn subjects_of(&self, _: u32) -> Result<Vec<String>, SchemaError> {
        Ok(vec![self.subject.clone()])
    }
    fn version(
        &self,
        subject: &str,
        _: i64,
        needed_by: u32,
    ) -> Result<Arc<RegistrySchema>, SchemaError> {
        Err(SchemaError::BadSchema {
            id: needed_by,
            reason: format!("the bench's schemas have no references ({subject})"),
        })
    }
}

fn read_values(path: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        out.push(bytes[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
}

fn read_schemas(path: &str) -> Schemas {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).expect("schemas JSON");
    let mut by_id = HashMap::new();
    let mut newest = 0;
    for s in v["schemas"].as_array().expect("schemas") {
        let id = s["id"].as_u64().expect("id") as u32;
        let schema = s["schema"].as_str().expect("schema").to_string();
        by_id.insert(
            id,
            Arc::new(RegistrySchema {
                id,
                schema_type: SchemaType::Avro,
                schema,
                references: Vec::new(),
            }),
        );
        newest = id;
    }
    Schemas {
        subject: v["subject"].as_str().expect("subject").to_string(),
        by_id,
        newest,
    }
}

/// `arrow-avro` alone: one framed decoder over every value, batches of [`BATCH`] rows.
fn arrow_avro_alone(values: &[Vec<u8>], schemas: &Schemas) -> usize {
    let mut store = SchemaStore::new_with_type(FingerprintAlgorithm::Id);
    let mut ids: Vec<_> = schemas.by_id.keys().copied().collect();
    ids.sort();
    for id in &ids {
        store
            .set(
                Fingerprint::Id(*id),
                AvroSchema::new(schemas.by_id[id].schema.clone()),
            )
            .expect("schema");
    }
    let reader = AvroSchema::new(schemas.by_id[&schemas.newest].schema.clone());
    let mut decoder = ReaderBuilder::new()
        .with_reader_schema(reader)
        .with_writer_schema_store(store)
        .with_batch_size(BATCH)
        .build_decoder()
        .expect("decoder");
    let mut rows = 0;
    let mut flush = |d: &mut arrow_avro::reader::Decoder| {
        if let Some(b) = d.flush().expect("flush") {
            rows += b.num_rows();
        }
    };
    for v in values {
        let mut at = 0;
        while at < v.len() {
            let n = decoder.decode(&v[at..]).expect("decode");
            at += n;
            if n == 0 || decoder.batch_is_full() {
                flush(&mut decoder);
            }
        }
    }
    flush(&mut decoder);
    rows
}

/// kbatch's decoder: the values in chunks of [`BATCH`], as a read hands them over.
fn kbatch_decoder(values: &[Vec<u8>], schemas: &Arc<Schemas>) -> usize {
    let decoder = AvroDecoder::new(schemas.clone(), OnUndecodable::Fail, Role::Value);
    let topic = schemas.subject.trim_end_matches("-value");
    let mut rows = 0;
    for chunk in values.chunks(BATCH) {
        let refs: Vec<Option<&[u8]>> = chunk.iter().map(|v| Some(v.as_slice())).collect();
        let d = decoder
            .decode(topic, &refs)
            .unwrap_or_else(|e| panic!("row {}: {}", e.row, e.error));
        rows += d.array.len();
    }
    rows
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, values, schemas, rest @ ..] = args.as_slice() else {
        eprintln!("usage: avro_alone VALUES SCHEMAS [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = rest.first().map_or(3, |r| r.parse().expect("ROUNDS"));
    let values = read_values(values);
    let schemas = Arc::new(read_schemas(schemas));
    let bytes: usize = values.iter().map(Vec::len).sum();
    let (mut alone, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        assert_eq!(arrow_avro_alone(&values, &schemas), values.len());
        alone.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert_eq!(kbatch_decoder(&values, &schemas), values.len());
        ours.push(t.elapsed().as_secs_f64());
    }
    let (alone, ours) = (median(alone), median(ours));
    let rate = |s: f64| (values.len() as f64 / s, bytes as f64 / s / 1e9);
    let (ar, ag) = rate(alone);
    let (kr, kg) = rate(ours);
    println!(
        "{}",
        serde_json::json!({
            "rows": values.len(), "bytes": bytes, "rounds": rounds,
            "arrow_avro_s": alone, "arrow_avro_rows_per_s": ar, "arrow_avro_gb_per_s": ag,
            "kbatch_s": ours, "kbatch_rows_per_s": kr, "kbatch_gb_per_s": kg,
        })
    );
}
