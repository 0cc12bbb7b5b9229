//! `read` and `read_batches`: records as Arrow batches, handed to pyarrow through the Arrow C
//! data interface (`arrow-pyarrow`): pyarrow takes ownership of the Rust buffers, nothing is
//! copied and no Python object is made per row.

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::{IntoPyArrow, ToPyArrow};
use kbatch_arrow::{ArrowOptions, BatchStream, PartitionBatch};
use kbatch_reader::{PartitionStats, ReadError};
use pyo3::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::call::{self, Failed};
use crate::errors;
use crate::options::{Common, UsageError as Usage};
use crate::runtime::{self, POLL};

/// The decoders of `value_format=`, `key_format=` and `on_undecodable=` (`read`'s and
/// `export`'s keywords), with the registry keys of `common`'s `config=`.
pub fn decoders(
    py: Python<'_>,
    common: &Common,
    timeout: std::time::Duration,
    value_format: &str,
    key_format: &str,
    on_undecodable: &str,
) -> PyResult<kbatch_schema::Decoders> {
    let usage = |what: &str, e: String| errors::usage(py, Usage(format!("{what}: {e}")));
    let formats = kbatch_schema::Formats {
        value: value_format.parse().map_err(|e| usage("value_format", e))?,
        key: key_format.parse().map_err(|e| usage("key_format", e))?,
        on_undecodable: on_undecodable
            .parse()
            .map_err(|e| usage("on_undecodable", e))?,
    };
    // The one map of `schema.registry.*` keys, from the same builder `call::config` used.
    let built = common.config().map_err(|e| errors::usage(py, e))?;
    kbatch_schema::Decoders::new(formats, built.schema_registry(), timeout)
        .map_err(|e| errors::usage(py, Usage(format!("config: {e}"))))
}

/// The schema of a decoded read of `topics` (`kbatch_arrow::schema(headers)` with the `key` /
/// `value` columns typed by their decoders), from the registry alone: every topic's subject
/// must exist and give one type.
fn decoded_schema(
    py: Python<'_>,
    decoders: &kbatch_schema::Decoders,
    topics: &[String],
    headers: bool,
) -> PyResult<arrow_schema::SchemaRef> {
    let schema = kbatch_arrow::schema(headers);
    if !decoders.any() {
        return Ok(schema);
    }
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    for (column, decoder) in [("key", &decoders.key), ("value", &decoders.value)] {
        let Some(decoder) = decoder else { continue };
        let mut typed: Option<arrow_schema::DataType> = None;
        for topic in topics {
            let data = |message: String| {
                let about = errors::About {
                    topic: Some(topic.clone()),
                    partition: None,
                    retriable: false,
                };
                errors::raise(py, kbatch_reader::ErrorKind::Data, message, about)
            };
            let got = py.detach(|| decoder.prepare(topic)).map_err(|e| {
                errors::raise(
                    py,
                    e.kind(),
                    format!("{topic}: the {column} column: {e}"),
                    errors::About {
                        topic: Some(topic.clone()),
                        partition: None,
                        retriable: false,
                    },
                )
            })?;
            let subject = if column == "key" {
                format!("{topic}-key")
            } else {
                format!("{topic}-value")
            };
            let Some(t) = got else {
                return Err(data(format!(
                    "{topic}: the {column} column's type is not known before reading: the registry has no subject {subject:?} yet (or its schema has several top-level Protobuf messages no other uses); kbatch.read types the column from the first value"
                )));
            };
            match &typed {
                Some(first) if *first != t => {
                    return Err(data(format!(
                        "the topics' {column} schemas differ ({} and {topic}): read one topic at a time",
                        topics[0]
                    )))
                }
                _ => typed = Some(t),
            }
        }
        if let Some(t) = typed {
            let index = schema.index_of(column).expect("key and value columns");
            fields[index] = std::sync::Arc::new(decoder.field(column, t));
        }
    }
    Ok(std::sync::Arc::new(
        arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()),
    ))
}

/// `kbatch.schema`: the `pyarrow.Schema` a `kbatch.read` with these options returns, from the
/// registry's latest subject versions (no broker is asked).
#[pyfunction]
#[pyo3(signature = (common, headers, value_format = "raw", key_format = "raw"))]
pub fn schema<'py>(
    py: Python<'py>,
    common: Common,
    headers: bool,
    value_format: &str,
    key_format: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let config = call::config(py, &common)?;
    let decoders = decoders(
        py,
        &common,
        config.timeout,
        value_format,
        key_format,
        "fail",
    )?;
    decoded_schema(py, &decoders, &common.topics, headers)?.to_pyarrow(py)
}

/// The failure of a decode as its exception.
fn decode_failure(py: Python<'_>, f: kbatch_arrow::DecodeFailure) -> PyErr {
    let kind = f.error.kind();
    let about = errors::About {
        topic: Some(f.topic.clone()),
        partition: Some(f.partition),
        retriable: false,
    };
    errors::raise(py, kind, f.to_string(), about)
}

/// `kbatch.read`: the whole read as one `pyarrow.Table`, ordered by topic, partition, offset.
/// With `value_format` / `key_format` `"avro"`, those columns are decoded (schemas from the
/// registry of `config`'s `schema.registry.*` keys) into the column their schema types.
#[pyfunction]
#[pyo3(signature = (common, start, end, batch_rows, headers, value_format = "raw", key_format = "raw", on_undecodable = "fail"))]
#[allow(clippy::too_many_arguments)]
pub fn read<'py>(
    py: Python<'py>,
    common: Common,
    start: &str,
    end: &str,
    batch_rows: usize,
    headers: bool,
    value_format: &str,
    key_format: &str,
    on_undecodable: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let config = call::config(py, &common)?;
    let decoders = decoders(
        py,
        &common,
        config.timeout,
        value_format,
        key_format,
        on_undecodable,
    )?;
    let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
    let options = ArrowOptions {
        batch_rows,
        headers,
    };
    // Ctrl-C aborts the task, which drops its BatchStream: the read stops.
    let got = runtime::wait(
        py,
        async move {
            let reader = call::connect(config).await?;
            let plan = reader.plan(&spec).await?;
            Ok::<_, Failed>(kbatch_arrow::read_all(&reader, plan, options).await?)
        },
        || {},
    )?;
    let (schema, batches, _stats) = got.map_err(|f| f.into_py(py))?;
    let (schema, batches) = if decoders.any() {
        // Schemas are fetched here (blocking, GIL released), once per id.
        let decoded = py.detach(|| kbatch_arrow::decode_batches(schema, batches, &decoders));
        let (schema, batches, _undecodable) = decoded.map_err(|f| decode_failure(py, f))?;
        (schema, batches)
    } else {
        (schema, batches)
    };
    // One C stream for every batch: pyarrow imports them all in one call.
    let stream: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    stream.into_pyarrow(py)?.call_method0("read_all")
}

/// What the pump task passes to the Python thread. The stream ends only on [`Item::End`] or
/// [`Item::Failed`]: a channel that closes without either means the pump died (a panic), and
/// that is an error, never the end of the data.
enum Item {
    Batch(PartitionBatch),
    End(Vec<PartitionStats>),
    Failed(ReadError),
}

/// A running `read_batches`: the Python layer wraps it in a `pyarrow.RecordBatchReader`.
///
/// The `BatchStream` lives in a pump task on the runtime, which forwards its items over a
/// channel of one: waiting on that channel can be given up every [`POLL`] to look for Ctrl-C
/// without losing anything, which `BatchStream::next` itself does not promise once the read
/// is finishing. Dropping this object (or `close()`) aborts the pump, which drops the stream,
/// which stops the read.
#[pyclass(module = "kbatch._native")]
pub struct Stream {
    schema: Py<PyAny>,
    /// The decoders of `value_format=` / `key_format=`, and the schema every decoded batch is
    /// given (fixed from the registry before the read starts).
    decoders: kbatch_schema::Decoders,
    decoded: arrow_schema::SchemaRef,
    rx: Option<mpsc::Receiver<Item>>,
    pump: Option<JoinHandle<()>>,
    /// The per-partition counts, once the read ended well.
    stats: Option<Vec<PartitionStats>>,
}

#[pymethods]
impl Stream {
    /// Connect and plan (errors raise here), then start the read. With a key or value
    /// format, the decoded columns' types are fixed here from the registry.
    #[new]
    #[pyo3(signature = (common, start, end, batch_rows, headers, value_format = "raw", key_format = "raw", on_undecodable = "fail"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        common: Common,
        start: &str,
        end: &str,
        batch_rows: usize,
        headers: bool,
        value_format: &str,
        key_format: &str,
        on_undecodable: &str,
    ) -> PyResult<Stream> {
        let config = call::config(py, &common)?;
        let decoders = decoders(
            py,
            &common,
            config.timeout,
            value_format,
            key_format,
            on_undecodable,
        )?;
        let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
        let options = ArrowOptions {
            batch_rows,
            headers,
        };
        let decoded = decoded_schema(py, &decoders, &common.topics, headers)?;
        let schema = decoded.to_pyarrow(py)?.unbind();
        let got = runtime::wait(
            py,
            async move {
                let reader = call::connect(config).await?;
                let plan = reader.plan(&spec).await?;
                Ok::<_, Failed>((reader, plan))
            },
            || {},
        )?;
        let (reader, plan) = got.map_err(|f| f.into_py(py))?;
        let (tx, rx) = mpsc::channel::<Item>(1);
        let panic_after = crate::cancel::panic_after();
        let pump = runtime::runtime(py)?.spawn(async move {
            let mut stream = BatchStream::start(&reader, plan, options, None);
            let mut sent = 0u64;
            loop {
                let item = match stream.next().await {
                    Some(Ok(b)) => Item::Batch(b),
                    Some(Err(e)) => Item::Failed(e),
                    None => Item::End(stream.stats().unwrap_or_default().to_vec()),
                };
                let more = matches!(item, Item::Batch(_));
                if tx.send(item).await.is_err() || !more {
                    return;
                }
                sent += 1;
                if panic_after.is_some_and(|n| sent == n) {
                    panic!(
                        "{}={sent}: the test hook panics after {sent} batches",
                        crate::cancel::PANIC_AFTER
                    );
                }
            }
        });
        Ok(Stream {
            schema,
            decoders,
            decoded,
            rx: Some(rx),
            pump: Some(pump),
            stats: None,
        })
    }

    /// The `pyarrow.Schema` of every batch.
    #[getter]
    fn schema(&self, py: Python<'_>) -> Py<PyAny> {
        self.schema.clone_ref(py)
    }

    /// The next non-empty `pyarrow.RecordBatch`, or `None` at the end. Waits with the GIL
    /// released; Ctrl-C closes the stream and raises `KeyboardInterrupt`.
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        errors::guard(py, "reading", || self.next_batch_inner(py))
    }

    /// The per-partition counts of the read (`topic`, `partition`, `start`, `end`, `records`,
    /// `aborted`, `control`) once it ended well; `None` before that, and after a failure.
    fn stats(&self) -> Option<String> {
        let stats = self.stats.as_ref()?;
        let rows: Vec<serde_json::Value> = stats
            .iter()
            .map(|s| {
                serde_json::json!({
                    "topic": &*s.topic,
                    "partition": s.partition,
                    "start": s.start,
                    "end": s.end,
                    "records": s.records,
                    "aborted": s.aborted,
                    "control": s.control,
                })
            })
            .collect();
        Some(serde_json::Value::Array(rows).to_string())
    }

    /// Stop the read and let go of everything it holds; further `next_batch` calls return
    /// `None`.
    fn close(&mut self) {
        self.rx = None;
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
    }
}

impl Stream {
    /// `batch` with its key and/or value decoded, in the stream's schema (GIL released).
    fn decode(&mut self, py: Python<'_>, batch: RecordBatch) -> PyResult<RecordBatch> {
        if !self.decoders.any() {
            return Ok(batch);
        }
        let decoders = &self.decoders;
        let decoded =
            py.detach(|| kbatch_arrow::decode_batches(batch.schema(), vec![batch], decoders));
        let (_, mut batches, _undecodable) = match decoded {
            Ok(d) => d,
            Err(f) => {
                self.close();
                return Err(decode_failure(py, f));
            }
        };
        let batch = batches
            .pop()
            .ok_or_else(|| errors::internal(py, "decoding lost a batch (a bug)".into()))?;
        RecordBatch::try_new(self.decoded.clone(), batch.columns().to_vec()).map_err(|e| {
            self.close();
            errors::internal(
                py,
                format!("a decoded batch does not have the stream's schema (a bug): {e}"),
            )
        })
    }

    fn next_batch_inner<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let rt = runtime::runtime(py)?;
        loop {
            let Some(rx) = self.rx.as_mut() else {
                return Ok(None);
            };
            let polled =
                py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, rx.recv()).await }));
            match polled {
                Ok(Some(Item::Batch(b))) if b.batch.num_rows() == 0 => continue,
                Ok(Some(Item::Batch(b))) => {
                    let batch = self.decode(py, b.batch)?;
                    return batch_to_py(py, batch).map(Some);
                }
                Ok(Some(Item::Failed(e))) => {
                    self.close();
                    return Err(errors::read_error(py, None, &e));
                }
                Ok(Some(Item::End(stats))) => {
                    self.close();
                    self.stats = Some(stats);
                    return Ok(None);
                }
                Ok(None) => {
                    // Closed without an end: the pump died. Its panic says why.
                    self.rx = None;
                    let why = match self.pump.take() {
                        Some(pump) => match py.detach(|| rt.block_on(pump)) {
                            Err(e) if e.is_panic() => {
                                kbatch_reader::panic_message(&*e.into_panic())
                            }
                            Err(_) => "the read was cancelled".to_string(),
                            Ok(()) => "the read stopped without an end".to_string(),
                        },
                        None => "the read stopped without an end".to_string(),
                    };
                    return Err(errors::internal(
                        py,
                        format!("internal error while reading: kbatch panicked: {why} (a bug; the read did not complete)"),
                    ));
                }
                Err(_elapsed) => {
                    if let Err(interrupt) = py.check_signals() {
                        self.close();
                        return Err(interrupt);
                    }
                }
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close();
    }
}

fn batch_to_py(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    batch.to_pyarrow(py)
}
