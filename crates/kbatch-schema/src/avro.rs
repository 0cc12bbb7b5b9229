//! Confluent-framed Avro values to one Arrow column, with `arrow-avro`.
//!
//! One call decodes a slice of values (a chunk for `dump`, the whole read for `kbatch.read`):
//! each value's schema id is read from its prefix, every id's schema is fetched once (cached by
//! the [`Registry`]), and the **reader schema** is the newest id among them — and among those
//! of earlier calls, so a run's column type only moves forward. Every writer schema is
//! resolved to it by Avro's rules (fields added with defaults, promotions), so all rows share
//! one type. `arrow-avro` decodes each body in its unframed-datum mode (the prefix is split
//! here, so a value that is not framed or has bytes left over is caught per record), one
//! decoder per writer id; the rows are put back in input order with one `take`, and the types
//! are then made Spark's ([`crate::normalize`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{new_null_array, Array, ArrayRef, StructArray, UInt32Array};
use arrow_avro::reader::{DecoderMode, ReaderBuilder};
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use arrow_schema::DataType;

use crate::framing;
use crate::registry::{Registry, SchemaType};
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
    /// One row per input value: a struct for a record schema; null for a null value and for
    /// an undecodable one under [`OnUndecodable::Null`]. Of type `Null` when no value in this
    /// call or an earlier one carried a schema id.
    pub array: ArrayRef,
    /// Values made null because they could not be decoded.
    pub undecodable: u64,
    /// The reader schema's id.
    pub reader_id: Option<u32>,
}

/// Decodes Confluent-framed Avro values for one run (shared by its workers).
#[derive(Debug)]
pub struct AvroDecoder {
    registry: Arc<Registry>,
    on_undecodable: OnUndecodable,
    /// The newest schema id seen so far in the run.
    newest: Mutex<Option<u32>>,
}

fn row_err(row: usize, error: SchemaError) -> RowError {
    RowError { row, error }
}

impl AvroDecoder {
    /// A decoder fetching schemas from `registry`.
    pub fn new(registry: Arc<Registry>, on_undecodable: OnUndecodable) -> AvroDecoder {
        AvroDecoder {
            registry,
            on_undecodable,
            newest: Mutex::new(None),
        }
    }

    /// The registry it fetches from.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Decode `values` (`None`: a null value) into one column, in input order.
    pub fn decode(&self, values: &[Option<&[u8]>]) -> Result<Decoded, RowError> {
        let mut bad = vec![false; values.len()];
        // Split every prefix; collect the ids with the first row that needs each.
        let mut first_row: BTreeMap<u32, usize> = BTreeMap::new();
        for (row, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            match framing::split(v) {
                Ok(f) => {
                    first_row.entry(f.id).or_insert(row);
                }
                Err(e) => self.undecodable(&mut bad, row, e.into())?,
            }
        }
        let mut schemas = BTreeMap::new();
        for (&id, &row) in &first_row {
            let s = self.registry.schema(id).map_err(|e| row_err(row, e))?;
            if s.schema_type != SchemaType::Avro {
                return Err(row_err(
                    row,
                    SchemaError::BadSchema {
                        id,
                        reason: format!(
                            "a {:?} schema, not Avro (choose the format that matches the topic)",
                            s.schema_type
                        ),
                    },
                ));
            }
            schemas.insert(id, s);
        }
        let reader_id = {
            let mut newest = self.newest.lock().unwrap_or_else(PoisonError::into_inner);
            *newest = newest.max(first_row.keys().next_back().copied());
            *newest
        };
        let Some(reader_id) = reader_id else {
            let undecodable = bad.iter().filter(|b| **b).count() as u64;
            return Ok(Decoded {
                array: new_null_array(&DataType::Null, values.len()),
                undecodable,
                reader_id: None,
            });
        };
        if !schemas.contains_key(&reader_id) {
            let s = self.registry.schema(reader_id).map_err(|e| row_err(0, e))?;
            schemas.insert(reader_id, s);
        }
        let reader = AvroSchema::new(schemas[&reader_id].schema.clone());
        // A body that fails leaves its decoder's builders in an unknown state: with
        // `OnUndecodable::Null` the pass starts over without that row (rare by nature).
        loop {
            match self.pass(values, &mut bad, &schemas, &reader, reader_id)? {
                Some(array) => {
                    let undecodable = bad.iter().filter(|b| **b).count() as u64;
                    return Ok(Decoded {
                        array,
                        undecodable,
                        reader_id: Some(reader_id),
                    });
                }
                None => continue,
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
    fn pass(
        &self,
        values: &[Option<&[u8]>],
        bad: &mut [bool],
        schemas: &BTreeMap<u32, Arc<crate::RegistrySchema>>,
        reader: &AvroSchema,
        reader_id: u32,
    ) -> Result<Option<ArrayRef>, RowError> {
        // Rows per writer id, for the decoders' capacities.
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for (row, v) in values.iter().enumerate() {
            if let (Some(v), false) = (v, bad[row]) {
                if let Ok(f) = framing::split(v) {
                    *counts.entry(f.id).or_default() += 1;
                }
            }
        }
        let writers: BTreeSet<u32> = counts.keys().copied().collect();
        let mut decoders = BTreeMap::new();
        for &w in &writers {
            let first = values
                .iter()
                .position(|v| {
                    v.and_then(|v| framing::split(v).ok())
                        .is_some_and(|f| f.id == w)
                })
                .unwrap_or(0);
            let mut store = SchemaStore::new_with_type(FingerprintAlgorithm::Id);
            store
                .set(
                    Fingerprint::Id(w),
                    AvroSchema::new(schemas[&w].schema.clone()),
                )
                .map_err(|e| {
                    row_err(
                        first,
                        SchemaError::BadSchema {
                            id: w,
                            reason: format!("not an Avro schema arrow-avro reads: {e}"),
                        },
                    )
                })?;
            let decoder = ReaderBuilder::new()
                .with_reader_schema(reader.clone())
                .with_writer_schema_store(store)
                .with_active_fingerprint(Fingerprint::Id(w))
                .with_decoder_mode(DecoderMode::UnframedDatum)
                .with_batch_size(counts[&w].max(1))
                .build_decoder()
                .map_err(|e| {
                    let error = if w == reader_id {
                        SchemaError::BadSchema {
                            id: w,
                            reason: format!("not an Avro schema arrow-avro reads: {e}"),
                        }
                    } else {
                        SchemaError::Incompatible {
                            writer: w,
                            reader: reader_id,
                            reason: e.to_string(),
                        }
                    };
                    row_err(first, error)
                })?;
            decoders.insert(w, decoder);
        }
        // Decode; remember where each row lands: (writer, index within that writer's rows).
        let mut place: Vec<Option<(u32, u32)>> = vec![None; values.len()];
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for (row, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            if bad[row] {
                continue;
            }
            let Ok(f) = framing::split(v) else { continue };
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
            let k = seen.entry(f.id).or_default();
            place[row] = Some((f.id, *k));
            *k += 1;
        }
        // Each writer's rows as one struct column, concatenated in writer order.
        let mut parts: Vec<ArrayRef> = Vec::new();
        let mut base: BTreeMap<u32, u32> = BTreeMap::new();
        let mut total = 0u32;
        for (w, mut dec) in decoders {
            let batch = dec
                .flush()
                .map_err(|e| {
                    row_err(
                        0,
                        SchemaError::Decode {
                            id: w,
                            reason: e.to_string(),
                        },
                    )
                })?
                .ok_or_else(|| {
                    row_err(
                        0,
                        SchemaError::Arrow(format!("schema id {w}: no rows decoded")),
                    )
                })?;
            base.insert(w, total);
            total = total
                .checked_add(u32::try_from(batch.num_rows()).unwrap_or(u32::MAX))
                .ok_or_else(|| row_err(0, SchemaError::Arrow("too many rows".into())))?;
            parts.push(Arc::new(StructArray::from(batch)));
        }
        let arrow = |e: arrow_schema::ArrowError| row_err(0, SchemaError::Arrow(e.to_string()));
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        let all = arrow_select::concat::concat(&refs).map_err(|e| {
            row_err(
                0,
                SchemaError::Arrow(format!(
                    "the versions resolved to different Arrow types (reader schema id {reader_id}): {e}"
                )),
            )
        })?;
        let indices: UInt32Array = place.iter().map(|p| p.map(|(w, k)| base[&w] + k)).collect();
        let ordered = arrow_select::take::take(&all, &indices, None).map_err(arrow)?;
        let normalized = crate::normalize::normalize(ordered).map_err(|e| row_err(0, e))?;
        Ok(Some(normalized))
    }
}
