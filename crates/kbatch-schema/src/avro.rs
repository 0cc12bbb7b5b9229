//! Confluent-framed Avro values to one Arrow column, with `arrow-avro`.
//!
//! **The reader schema.** Every value of a topic's keys (or values) in one run is read with
//! one reader schema, chosen before the first of them is decoded ([`choose_reader`]): the
//! latest version of the subject `{topic}-key` / `{topic}-value` (the serializers' default
//! naming), else the latest version of the one subject the first value's schema id is
//! registered under, else that id's own schema. Every writer schema is resolved to it by
//! Avro's rules (fields added with defaults, promotions, fields the reader lacks skipped); a
//! writer that cannot be resolved is an error naming both ids. So the column type is fixed for
//! the whole run, whatever the chunk: a streaming command (`dump`) and a whole read
//! (`kbatch.read`) give the same rows. The reader is the newest version *registered* when the
//! run starts, which is the newest version in the range unless the range is older than the
//! subject's last change.
//!
//! `arrow-avro` decodes each body in its unframed-datum mode (the prefix is split here, so a
//! value that is not framed or has bytes left over is caught per record), one decoder per
//! writer id; the rows are put back in input order with one `take`, and the types are then
//! made Spark's, field metadata dropped (`normalize.rs`).
//!
//! Jobs that read a few fields of every record (`top`, `trending`) can instead read them
//! straight from the Avro binary with a [`Walker`] ([`AvroDecoder::walker`], `walk.rs`) once
//! a writer id has been resolved here: the same answers as the decoded column, or it
//! declines.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{new_empty_array, new_null_array, Array, ArrayRef, StructArray, UInt32Array};
use arrow_avro::reader::{DecoderMode, ReaderBuilder};
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use arrow_schema::DataType;

use crate::framing;
use crate::registry::{Registry, RegistrySchema, SchemaType};
use crate::{OnUndecodable, SchemaError};

/// A value that could not be decoded: its index in the input, and why.
#[derive(Debug)]
pub struct RowError {
    /// Index of the value in the slice given to [`AvroDecoder::decode`].
    pub row: usize,
    /// Why.
    pub error: SchemaError,
}

/// The decoded column.
#[derive(Debug)]
pub struct Decoded {
    /// One row per input value, of the reader schema's type (a struct for a record); null for
    /// a null value and for an undecodable one under [`OnUndecodable::Null`]. Of type `Null`
    /// only when no reader schema is known yet (no value of the topic carried a schema id).
    pub array: ArrayRef,
    /// Values made null because they could not be decoded.
    pub undecodable: u64,
    /// The reader schema's id.
    pub reader_id: Option<u32>,
}

/// Whether a decoder reads record keys or values (the subject's suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Keys: subject `{topic}-key`.
    Key,
    /// Values: subject `{topic}-value`.
    Value,
}

impl Role {
    /// The subject the serializers' default naming (topic name strategy) registers under.
    pub fn subject(self, topic: &str) -> String {
        match self {
            Role::Key => format!("{topic}-key"),
            Role::Value => format!("{topic}-value"),
        }
    }
}

/// Where [`choose_reader`] and [`AvroDecoder`] look schemas up: the [`Registry`], or a
/// table in tests.
pub trait SchemaSource: std::fmt::Debug + Send + Sync {
    /// The schema with this id.
    fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError>;
    /// The latest version of a subject, `None` if there is no such subject.
    fn latest(
        &self,
        subject: &str,
        needed_by: u32,
    ) -> Result<Option<Arc<RegistrySchema>>, SchemaError>;
    /// The subjects an id is registered under.
    fn subjects_of(&self, id: u32) -> Result<Vec<String>, SchemaError>;
    /// Version `version` of `subject` (a schema reference of schema `needed_by`).
    fn version(
        &self,
        subject: &str,
        version: i64,
        needed_by: u32,
    ) -> Result<Arc<RegistrySchema>, SchemaError>;
}

impl SchemaSource for Registry {
    fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        Registry::schema(self, id)
    }
    fn latest(
        &self,
        subject: &str,
        needed_by: u32,
    ) -> Result<Option<Arc<RegistrySchema>>, SchemaError> {
        Registry::latest(self, subject, needed_by)
    }
    fn subjects_of(&self, id: u32) -> Result<Vec<String>, SchemaError> {
        Registry::subjects_of(self, id)
    }
    fn version(
        &self,
        subject: &str,
        version: i64,
        needed_by: u32,
    ) -> Result<Arc<RegistrySchema>, SchemaError> {
        Registry::version(self, subject, version, needed_by)
    }
}

/// The reader schema of `topic`'s keys or values (see the module doc), the first value
/// carrying schema id `first_id`: the latest version of `{topic}-{role}`; else the latest of
/// the one subject `first_id` is registered under; else `first_id`'s own schema.
pub fn choose_reader(
    source: &dyn SchemaSource,
    topic: &str,
    role: Role,
    first_id: u32,
) -> Result<Arc<RegistrySchema>, SchemaError> {
    if let Some(s) = source.latest(&role.subject(topic), first_id)? {
        return Ok(s);
    }
    if let [subject] = source.subjects_of(first_id)?.as_slice() {
        if let Some(s) = source.latest(subject, first_id)? {
            return Ok(s);
        }
    }
    source.schema(first_id)
}

/// A topic's reader schema and the Arrow type every decoded column of it has.
#[derive(Debug)]
struct Reader {
    id: u32,
    schema: AvroSchema,
    /// `schema`'s text (the projected one when projected).
    text: String,
    data_type: DataType,
    /// Writer schemas known to resolve to this one (a decoder of them was built), for
    /// [`AvroDecoder::walker`].
    resolved: Mutex<HashMap<u32, Arc<RegistrySchema>>>,
    /// Decoders of each writer id read as this schema, flushed and ready for reuse: building
    /// one parses and resolves both schemas, which costs as much as decoding a few thousand
    /// values. A decoder that failed is dropped (its builders are in an unknown state).
    pool: Mutex<HashMap<u32, Vec<arrow_avro::reader::Decoder>>>,
}

impl Reader {
    /// A decoder of `writer` with room for `rows` values: a pooled one, or a new one.
    fn decoder(
        &self,
        writer: &RegistrySchema,
        rows: usize,
    ) -> Result<arrow_avro::reader::Decoder, SchemaError> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(free) = pool.get_mut(&writer.id) {
            if let Some(i) = free.iter().position(|d| d.capacity() >= rows) {
                return Ok(free.swap_remove(i));
            }
        }
        drop(pool);
        // Room for at least a typical chunk, so the pooled decoder serves the next ones.
        let d = decoder_for(writer, &self.schema, self.id, rows.max(8192))?;
        self.resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(writer.id)
            .or_insert_with(|| Arc::new(writer.clone()));
        Ok(d)
    }

    /// Give a flushed decoder back.
    fn give_back(&self, writer: u32, decoder: arrow_avro::reader::Decoder) {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let free = pool.entry(writer).or_default();
        // One per worker thread is plenty; more would only hold memory.
        if free.len() < 16 {
            free.push(decoder);
        }
    }
}

/// Decodes Confluent-framed Avro values for one run (shared by its workers).
#[derive(Debug)]
pub struct AvroDecoder {
    registry: Arc<dyn SchemaSource>,
    on_undecodable: OnUndecodable,
    role: Role,
    /// Per topic, chosen once for the run.
    readers: Mutex<HashMap<String, Arc<Reader>>>,
    /// The only top-level fields a job reads ([`AvroDecoder::project`]); `None`: every field.
    projection: Option<Vec<String>>,
    /// Schemas by id with their references put in place ([`references::inline`]), made once
    /// per id for the run.
    wholes: Mutex<HashMap<u32, Arc<RegistrySchema>>>,
}

/// References deeper than this are refused (a cycle, or a registry answering nonsense).
const MAX_REFERENCE_DEPTH: usize = 32;

/// `s` made self-contained: each referenced schema (fetched by subject and version, made
/// self-contained first) defined in place at its first use.
fn whole(
    source: &dyn SchemaSource,
    s: &RegistrySchema,
    depth: usize,
) -> Result<RegistrySchema, SchemaError> {
    if s.references.is_empty() {
        return Ok(s.clone());
    }
    if depth >= MAX_REFERENCE_DEPTH {
        return Err(SchemaError::BadSchema {
            id: s.id,
            reason: format!("its references nest deeper than {MAX_REFERENCE_DEPTH} (a cycle?)"),
        });
    }
    let mut named = HashMap::new();
    for r in &s.references {
        let referenced = source.version(&r.subject, r.version, s.id)?;
        let referenced = whole(source, &referenced, depth + 1)?;
        named.insert(r.name.clone(), referenced.schema);
    }
    let schema = references::inline(&s.schema, &named)
        .map_err(|reason| SchemaError::BadSchema { id: s.id, reason })?;
    Ok(RegistrySchema {
        schema,
        references: Vec::new(),
        ..s.clone()
    })
}

fn row_err(row: usize, error: SchemaError) -> RowError {
    RowError { row, error }
}

/// A record schema (JSON text) with only the top-level fields named in `keep`, in its order;
/// `None` if it is not a record.
fn project(schema: &str, keep: &[String]) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(schema).ok()?;
    let fields = v.get_mut("fields")?.as_array_mut()?;
    let first = fields.first().cloned();
    fields.retain(|f| {
        f.get("name")
            .and_then(|n| n.as_str())
            .is_some_and(|n| keep.iter().any(|k| k == n))
    });
    // A record needs a field for Arrow to build its column: when no name is one of the
    // record's (a path the schema does not have), the first is kept, and paths find nothing.
    if fields.is_empty() {
        fields.extend(first);
    }
    Some(v.to_string())
}

/// One `arrow-avro` decoder of writer `writer` read as `reader`, for `rows` values.
fn decoder_for(
    writer: &RegistrySchema,
    reader: &AvroSchema,
    reader_id: u32,
    rows: usize,
) -> Result<arrow_avro::reader::Decoder, SchemaError> {
    let unreadable = |id: u32, e: &dyn std::fmt::Display| SchemaError::BadSchema {
        id,
        reason: format!("not an Avro schema arrow-avro reads: {e}"),
    };
    let mut store = SchemaStore::new_with_type(FingerprintAlgorithm::Id);
    store
        .set(
            Fingerprint::Id(writer.id),
            AvroSchema::new(writer.schema.clone()),
        )
        .map_err(|e| unreadable(writer.id, &e))?;
    ReaderBuilder::new()
        .with_reader_schema(reader.clone())
        .with_writer_schema_store(store)
        .with_active_fingerprint(Fingerprint::Id(writer.id))
        .with_decoder_mode(DecoderMode::UnframedDatum)
        .with_batch_size(rows.max(1))
        .build_decoder()
        .map_err(|e| {
            if writer.id == reader_id {
                unreadable(writer.id, &e)
            } else {
                SchemaError::Incompatible {
                    writer: writer.id,
                    reader: reader_id,
                    reason: e.to_string(),
                }
            }
        })
}

impl AvroDecoder {
    /// A decoder of `role` fetching schemas from `registry`.
    pub fn new(
        registry: Arc<dyn SchemaSource>,
        on_undecodable: OnUndecodable,
        role: Role,
    ) -> AvroDecoder {
        AvroDecoder {
            registry,
            on_undecodable,
            role,
            readers: Mutex::new(HashMap::new()),
            projection: None,
            wholes: Mutex::new(HashMap::new()),
        }
    }

    /// Schema `s` with its references in place, once per id for the run.
    /// (A schema of another type is given back as it is, for `RegistrySchema::not_of` to name.)
    fn whole(&self, s: Arc<RegistrySchema>) -> Result<Arc<RegistrySchema>, SchemaError> {
        if s.references.is_empty() || s.schema_type != SchemaType::Avro {
            return Ok(s);
        }
        if let Some(w) = self
            .wholes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&s.id)
        {
            return Ok(w.clone());
        }
        let w = Arc::new(whole(&*self.registry, &s, 0)?);
        self.wholes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(s.id, w.clone());
        Ok(w)
    }

    /// Decode only these top-level fields of a record (a job that reads a few paths, such as
    /// `top`): the reader schema keeps just them, so Avro schema resolution skips the other
    /// fields' bytes instead of building columns for them. A reader schema that is not a
    /// record, or whose projection does not build (a kept field naming a type defined in a
    /// dropped one), is read whole.
    pub fn project(mut self, fields: Vec<String>) -> AvroDecoder {
        self.projection = Some(fields);
        self
    }

    /// The reader of `topic`, chosen on first use with `first_id`, the schema id of the first
    /// value to decode.
    fn reader(&self, topic: &str, first_id: u32) -> Result<Arc<Reader>, SchemaError> {
        // Held while choosing, so every worker of the run gets the same reader.
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = readers.get(topic) {
            return Ok(r.clone());
        }
        let chosen = self.whole(choose_reader(&*self.registry, topic, self.role, first_id)?)?;
        Self::keep_reader(&mut readers, topic, &chosen, self.projection.as_deref())
    }

    /// The Arrow type of `topic`'s decoded column when it can be known before any value is
    /// read: the latest version of `{topic}-key` / `{topic}-value`, which [`choose_reader`]
    /// picks whatever the first value's id (so choosing it now changes nothing). `None` when
    /// that subject does not exist: the type is then known at the first framed value.
    pub fn prepare(&self, topic: &str) -> Result<Option<DataType>, SchemaError> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = readers.get(topic) {
            return Ok(Some(r.data_type.clone()));
        }
        match self.registry.latest(&self.role.subject(topic), 0)? {
            Some(chosen) => Ok(Some(
                Self::keep_reader(
                    &mut readers,
                    topic,
                    &*self.whole(chosen)?,
                    self.projection.as_deref(),
                )?
                .data_type
                .clone(),
            )),
            None => Ok(None),
        }
    }

    /// Make `chosen` the reader of `topic` for the run.
    fn keep_reader(
        readers: &mut HashMap<String, Arc<Reader>>,
        topic: &str,
        chosen: &RegistrySchema,
        projection: Option<&[String]>,
    ) -> Result<Arc<Reader>, SchemaError> {
        if let Some(e) = chosen.not_of(SchemaType::Avro) {
            return Err(e);
        }
        let projected = projection
            .and_then(|keep| project(&chosen.schema, keep))
            .map(AvroSchema::new)
            .and_then(|s| Some((decoder_for(chosen, &s, chosen.id, 1).ok()?, s)));
        let (decoder, schema) = match projected {
            Some(p) => p,
            None => {
                let schema = AvroSchema::new(chosen.schema.clone());
                (decoder_for(chosen, &schema, chosen.id, 1)?, schema)
            }
        };
        let text = schema.json_string.clone();
        let fields = decoder.schema().fields().clone();
        let empty: ArrayRef = new_empty_array(&DataType::Struct(fields));
        let data_type = crate::normalize::normalize(empty)?.data_type().clone();
        let reader = Arc::new(Reader {
            id: chosen.id,
            schema,
            text,
            data_type,
            resolved: Mutex::new(HashMap::new()),
            pool: Mutex::new(HashMap::new()),
        });
        readers.insert(topic.to_string(), reader.clone());
        Ok(reader)
    }

    /// A [`Walker`] of writer `writer`'s values of `topic` for `paths` (record field names
    /// from the top level), from what this decoder already knows — no registry request: the
    /// topic's reader and the writer resolved to it by an earlier [`AvroDecoder::decode`].
    pub fn walker(&self, topic: &str, writer: u32, paths: &[Vec<String>]) -> Walk {
        let reader = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned();
        let Some(reader) = reader else {
            return Walk::NotYet;
        };
        let schema = reader
            .resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&writer)
            .cloned();
        let Some(schema) = schema else {
            return Walk::NotYet;
        };
        match Walker::new(&schema.schema, &reader.text, paths) {
            Some(w) => Walk::Ready(Arc::new(w)),
            None => Walk::Unsupported,
        }
    }

    /// Decode `values` of `topic` (`None`: a null value) into one column, in input order.
    pub fn decode(&self, topic: &str, values: &[Option<&[u8]>]) -> Result<Decoded, RowError> {
        let mut bad = vec![false; values.len()];
        // Split every prefix; collect the ids with the first row that needs each.
        let mut first_row: BTreeMap<u32, usize> = BTreeMap::new();
        let mut first: Option<(u32, usize)> = None;
        for (row, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            match framing::split(v) {
                Ok(f) => {
                    first_row.entry(f.id).or_insert(row);
                    first.get_or_insert((f.id, row));
                }
                Err(e) => self.undecodable(&mut bad, row, e.into())?,
            }
        }
        let count_bad = |bad: &[bool]| bad.iter().filter(|b| **b).count() as u64;
        let reader = match first {
            Some((id, row)) => Some(self.reader(topic, id).map_err(|e| row_err(row, e))?),
            None => self
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(topic)
                .cloned(),
        };
        let Some(reader) = reader else {
            return Ok(Decoded {
                array: new_null_array(&DataType::Null, values.len()),
                undecodable: count_bad(&bad),
                reader_id: None,
            });
        };
        if first.is_none() {
            return Ok(Decoded {
                array: new_null_array(&reader.data_type, values.len()),
                undecodable: count_bad(&bad),
                reader_id: Some(reader.id),
            });
        }
        let mut schemas = BTreeMap::new();
        for (&id, &row) in &first_row {
            let s = self.registry.schema(id).map_err(|e| row_err(row, e))?;
            if let Some(e) = s.not_of(SchemaType::Avro) {
                return Err(row_err(row, e));
            }
            let s = self.whole(s).map_err(|e| row_err(row, e))?;
            schemas.insert(id, s);
        }
        // A body that fails leaves its decoder's builders in an unknown state: with
        // `OnUndecodable::Null` the pass starts over without that row (rare by nature).
        loop {
            if let Some(array) = self.pass(values, &mut bad, &schemas, &reader)? {
                return Ok(Decoded {
                    array,
                    undecodable: count_bad(&bad),
                    reader_id: Some(reader.id),
                });
            }
        }
    }

    fn undecodable(&self, bad: &mut [bool], row: usize, e: SchemaError) -> Result<(), RowError> {
        match self.on_undecodable {
            OnUndecodable::Fail => Err(row_err(row, e)),
            OnUndecodable::Null => {
                bad[row] = true;
                Ok(())
            }
        }
    }

    /// One decoding pass; `None` when a row turned out undecodable (and was marked).
    ///
    /// Values are decoded in input order; each run of one writer id becomes one part (the
    /// decoder is flushed when the id changes), so the parts only need concatenating — and
    /// nulls put in by one `take` when some value was null or undecodable. One writer and no
    /// null is the common case: its part is the column, nothing is copied.
    fn pass(
        &self,
        values: &[Option<&[u8]>],
        bad: &mut [bool],
        schemas: &BTreeMap<u32, Arc<RegistrySchema>>,
        reader: &Reader,
    ) -> Result<Option<ArrayRef>, RowError> {
        // Rows per writer id (the decoders' capacities) and each one's first row.
        let mut counts: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for (row, v) in values.iter().enumerate() {
            if let (Some(v), false) = (v, bad[row]) {
                if let Ok(f) = framing::split(v) {
                    counts.entry(f.id).or_insert((0, row)).0 += 1;
                }
            }
        }
        let mut decoders = BTreeMap::new();
        for (&w, &(rows, first)) in &counts {
            let decoder = reader
                .decoder(&schemas[&w], rows)
                .map_err(|e| row_err(first, e))?;
            decoders.insert(w, decoder);
        }
        let mut parts: Vec<ArrayRef> = Vec::new();
        // A part's column; `Some((row, why))` when it cannot be built: a value of the run
        // decoded but fails only as the column is made (a string that is not UTF-8), so the
        // run's values are decoded again one at a time to name the one that fails.
        let flush = |w: u32,
                     dec: &mut arrow_avro::reader::Decoder,
                     parts: &mut Vec<ArrayRef>,
                     run: &[usize]| {
            match dec.flush() {
                Ok(Some(batch)) => {
                    let part = crate::normalize::normalize(Arc::new(StructArray::from(batch)))
                        .map_err(|e| row_err(0, e))?;
                    parts.push(part);
                    Ok(None)
                }
                Ok(None) => Ok(None),
                Err(e) => {
                    let row = culprit(&schemas[&w], reader, values, run)
                        .map_err(|e| row_err(run.first().copied().unwrap_or(0), e))?
                        .or(run.first().copied())
                        .unwrap_or(0);
                    Ok::<_, RowError>(Some((row, e.to_string())))
                }
            }
        };
        let mut run: Vec<usize> = Vec::new();
        // Where each row lands in the concatenated parts (None: a null).
        let mut place: Vec<Option<u32>> = vec![None; values.len()];
        let mut decoded = 0u32;
        let mut current: Option<u32> = None;
        for (row, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            if bad[row] {
                continue;
            }
            let Ok(f) = framing::split(v) else { continue };
            if let Some(c) = current.filter(|c| *c != f.id) {
                let dec = decoders.get_mut(&c).expect("a decoder per writer id");
                if let Some((at, reason)) = flush(c, dec, &mut parts, &run)? {
                    self.undecodable(bad, at, SchemaError::Decode { id: c, reason })?;
                    return Ok(None);
                }
                run.clear();
            }
            current = Some(f.id);
            let dec = decoders.get_mut(&f.id).expect("a decoder per writer id");
            let outcome = match dec.decode(f.body) {
                Ok(n) if n == f.body.len() => Ok(()),
                Ok(n) => Err(format!(
                    "{} bytes left over after the value ({} of {})",
                    f.body.len() - n,
                    n,
                    f.body.len()
                )),
                Err(e) => Err(e.to_string()),
            };
            if let Err(reason) = outcome {
                self.undecodable(bad, row, SchemaError::Decode { id: f.id, reason })?;
                return Ok(None);
            }
            place[row] = Some(decoded);
            decoded += 1;
            run.push(row);
        }
        if let Some(c) = current {
            let dec = decoders.get_mut(&c).expect("a decoder per writer id");
            if let Some((at, reason)) = flush(c, dec, &mut parts, &run)? {
                self.undecodable(bad, at, SchemaError::Decode { id: c, reason })?;
                return Ok(None);
            }
        }
        for (w, dec) in decoders {
            reader.give_back(w, dec);
        }
        let arrow = |e: arrow_schema::ArrowError| row_err(0, SchemaError::Arrow(e.to_string()));
        let all = match parts.len() {
            0 => new_empty_array(&reader.data_type),
            1 => parts.pop().expect("one part"),
            _ => {
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                arrow_select::concat::concat(&refs).map_err(|e| {
                    row_err(
                        0,
                        SchemaError::Arrow(format!(
                            "the versions resolved to different Arrow types (reader schema id {}): {e}",
                            reader.id
                        )),
                    )
                })?
            }
        };
        let normalized = if all.len() == values.len() {
            all
        } else {
            let indices: UInt32Array = place.into_iter().collect();
            arrow_select::take::take(&all, &indices, None).map_err(arrow)?
        };
        if normalized.data_type() != &reader.data_type {
            return Err(row_err(
                0,
                SchemaError::Arrow(format!(
                    "a bug: values read as schema id {} became {}, not the run's type {}",
                    reader.id,
                    normalized.data_type(),
                    reader.data_type
                )),
            ));
        }
        Ok(Some(normalized))
    }
}

/// Which of `run`'s values (rows of `values`, all of `writer`) fails when its column is
/// built: each decoded and flushed alone. Rare (a chunk with such a value), so a decoder of
/// its own.
fn culprit(
    writer: &RegistrySchema,
    reader: &Reader,
    values: &[Option<&[u8]>],
    run: &[usize],
) -> Result<Option<usize>, SchemaError> {
    let mut dec = decoder_for(writer, &reader.schema, reader.id, 1)?;
    for &row in run {
        let Some(Ok(f)) = values[row].map(framing::split) else {
            continue;
        };
        if dec.decode(f.body).is_err() || dec.flush().is_err() {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

mod references;
pub mod walk;

pub use walk::{Field, Walker};

/// What [`AvroDecoder::walker`] can give for a writer id.
#[derive(Debug, Clone)]
pub enum Walk {
    /// The topic's reader, or the writer resolved to it, is not known yet (ask again after
    /// a value of that writer went through [`AvroDecoder::decode`]).
    NotYet,
    /// The walker would not surely answer as the decoder does, for this writer and paths.
    Unsupported,
    /// The walker.
    Ready(Arc<Walker>),
}

#[cfg(test)]
pub(crate) mod tests;
