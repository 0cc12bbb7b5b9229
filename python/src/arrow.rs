//! `read` and `read_batches`: records as Arrow batches, handed to pyarrow through the Arrow C
//! data interface (`arrow-pyarrow`): pyarrow takes ownership of the Rust buffers, nothing is
//! copied and no Python object is made per row.

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::{IntoPyArrow, ToPyArrow};
use kbatch_arrow::{ArrowOptions, BatchStream, PartitionBatch};
use kbatch_reader::ReadError;
use pyo3::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::call::{self, Failed};
use crate::errors;
use crate::options::Common;
use crate::runtime::{self, POLL};

/// `kbatch.read`: the whole read as one `pyarrow.Table`, ordered by topic, partition, offset.
#[pyfunction]
pub fn read<'py>(
    py: Python<'py>,
    common: Common,
    start: &str,
    end: &str,
    batch_rows: usize,
    headers: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = call::config(py, &common)?;
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
    // One C stream for every batch: pyarrow imports them all in one call.
    let stream: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    stream.into_pyarrow(py)?.call_method0("read_all")
}

/// What the pump task passes to the Python thread.
type Item = Result<PartitionBatch, ReadError>;

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
    rx: Option<mpsc::Receiver<Item>>,
    pump: Option<JoinHandle<()>>,
}

#[pymethods]
impl Stream {
    /// Connect and plan (errors raise here), then start the read.
    #[new]
    fn new(
        py: Python<'_>,
        common: Common,
        start: &str,
        end: &str,
        batch_rows: usize,
        headers: bool,
    ) -> PyResult<Stream> {
        let config = call::config(py, &common)?;
        let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
        let options = ArrowOptions {
            batch_rows,
            headers,
        };
        let schema = kbatch_arrow::schema(headers).to_pyarrow(py)?.unbind();
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
        let pump = runtime::runtime()?.spawn(async move {
            let mut stream = BatchStream::start(&reader, plan, options, None);
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Stream {
            schema,
            rx: Some(rx),
            pump: Some(pump),
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
        let rt = runtime::runtime()?;
        loop {
            let Some(rx) = self.rx.as_mut() else {
                return Ok(None);
            };
            let polled =
                py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, rx.recv()).await }));
            match polled {
                Ok(Some(Ok(b))) if b.batch.num_rows() == 0 => continue,
                Ok(Some(Ok(b))) => return batch_to_py(py, b.batch).map(Some),
                Ok(Some(Err(e))) => {
                    self.close();
                    return Err(errors::read_error(py, None, &e));
                }
                Ok(None) => {
                    self.close();
                    return Ok(None);
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

    /// Stop the read and let go of everything it holds; further `next_batch` calls return
    /// `None`.
    fn close(&mut self) {
        self.rx = None;
        if let Some(pump) = self.pump.take() {
            pump.abort();
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
