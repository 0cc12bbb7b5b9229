//! Where files go: a local directory or an object store, both behind `object_store`.
//!
//! Every file is a multipart upload that is *completed* only when the file is whole
//! ([`Sink::create`] → [`Upload::finish`]): `object_store`'s local store writes a staging
//! file (`NAME#N`) and renames it on completion, S3 makes the object visible only when the
//! multipart upload completes. So an export killed or failing half-way leaves no file under
//! a final name that is not complete (a local `NAME#N` or an invisible, unfinished S3 upload
//! at most), and `_manifest.json` is a single `put`, issued after every file completed.
//!
//! An upload that fails is aborted, also when its last part fails while the file is being
//! completed: S3 keeps the parts of an upload nobody aborts (and bills them) until a lifecycle
//! rule removes them.
//!
//! A local directory is durable in the order a reader of the manifest relies on ([`Disk`]):
//! each file and the directory entry naming it are flushed to stable storage before
//! [`Upload::finish`] returns, and the manifest is written to a side name, flushed, renamed
//! into place, and the directory flushed again. After a power loss the manifest is then
//! either the old one or the new one, and every file it names is whole.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

/// Parts uploaded to the store: S3's minimum part size (5 MiB) fits in, and an open file
/// holds at most one filling part and one in flight.
const PART_BYTES: usize = 8 << 20;

/// Why a sink operation failed, naming the object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Not a directory or a supported URL.
    #[error("{0}")]
    Location(String),
    /// The store refused or failed an operation.
    #[error("{what} {location}: {source}")]
    Store {
        /// What was being done.
        what: &'static str,
        /// The object or directory.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A local directory could not be made, or a local file read.
    #[error("{dir}: {source}")]
    Dir {
        /// The directory.
        dir: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A local file or directory could not be written or flushed to stable storage.
    #[error("{what} {path}: {source}")]
    Local {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The steps that make local files durable, apart so a test can see their order.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Flush a file's contents to stable storage.
    fn sync_file(&self, path: &std::path::Path) -> std::io::Result<()>;
    /// Flush a directory's entries (the names created or renamed in it).
    fn sync_dir(&self, dir: &std::path::Path) -> std::io::Result<()>;
    /// Give `from` the name `to`, replacing what had it (atomic on POSIX file systems).
    fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()>;
}

/// [`Disk`] by `fsync(2)` and `rename(2)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fsync;

impl Disk for Fsync {
    fn sync_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }

    fn sync_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        // Directories cannot be opened for syncing everywhere; on Unix they can, and must be.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        std::fs::rename(from, to)
    }
}

/// A local directory and how its files are made durable.
#[derive(Debug, Clone)]
struct LocalDir {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
}

impl LocalDir {
    fn sync_file(&self, path: &std::path::Path) -> Result<(), SinkError> {
        self.disk
            .sync_file(path)
            .map_err(|source| SinkError::Local {
                what: "flushing (fsync)",
                path: path.display().to_string(),
                source,
            })
    }

    fn sync_dir(&self) -> Result<(), SinkError> {
        self.disk
            .sync_dir(&self.dir)
            .map_err(|source| SinkError::Local {
                what: "flushing the directory (fsync)",
                path: self.dir.display().to_string(),
                source,
            })
    }

    /// Write `name` whole or not at all, durably: a side file, flushed, renamed over `name`,
    /// then the directory flushed.
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), SinkError> {
        let path = self.dir.join(name);
        let side = self.dir.join(format!("{name}.partial"));
        let local = |what: &'static str, p: &std::path::Path| {
            let path = p.display().to_string();
            move |source| SinkError::Local { what, path, source }
        };
        let written = std::fs::write(&side, bytes)
            .map_err(local("writing", &side))
            .and_then(|()| self.sync_file(&side))
            .and_then(|()| {
                self.disk
                    .rename(&side, &path)
                    .map_err(local("renaming into place", &path))
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&side);
            return Err(e);
        }
        self.sync_dir()
    }
}

/// Where the `--output` / `--from-manifest` text points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (or file, for a manifest).
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix, no leading or trailing `/` (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parse a path or URL (`s3://`, `s3a://`, `file://`).
    pub fn parse(text: &str) -> Result<Location, String> {
        let Some((scheme, _)) = text.split_once("://") else {
            if text.trim().is_empty() {
                return Err("an empty output location".into());
            }
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let url = url::Url::parse(text).map_err(|e| format!("{text:?}: not a URL ({e})"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => url
                .to_file_path()
                .map(Location::Local)
                .map_err(|()| format!("{text:?}: not a local file URL")),
            "s3" | "s3a" => {
                let bucket = url
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| format!("{text:?}: no bucket (s3://BUCKET/prefix)"))?;
                Ok(Location::S3 {
                    bucket: bucket.to_string(),
                    prefix: url.path().trim_matches('/').to_string(),
                })
            }
            other => Err(format!(
                "{text:?}: {other}:// is not supported (use a local directory or s3://bucket/prefix)"
            )),
        }
    }

    /// Split a location naming one object (a manifest) into its folder and its name.
    fn split_file(&self) -> Result<(Location, String), String> {
        match self {
            Location::Local(p) => {
                let name = p
                    .file_name()
                    .ok_or_else(|| format!("{}: not a file", p.display()))?;
                let dir = p.parent().map_or_else(|| PathBuf::from("."), PathBuf::from);
                Ok((Location::Local(dir), name.to_string_lossy().into_owned()))
            }
            Location::S3 { bucket, prefix } => {
                let (dir, name) = prefix.rsplit_once('/').unwrap_or(("", prefix));
                if name.is_empty() {
                    return Err(format!("s3://{bucket}/{prefix}: not an object"));
                }
                Ok((
                    Location::S3 {
                        bucket: bucket.clone(),
                        prefix: dir.to_string(),
                    },
                    name.to_string(),
                ))
            }
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// An output directory or prefix.
#[derive(Debug, Clone)]
pub struct Sink {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    location: Location,
    /// A local directory's durability (none for object stores: a completed upload is).
    local: Option<LocalDir>,
    /// Size of the parts an upload sends.
    part_bytes: usize,
}

/// One file being written.
pub struct Upload {
    writer: WriteMultipart,
    location: String,
    /// The local file and its directory, flushed when it is complete.
    local: Option<(PathBuf, LocalDir)>,
}

impl Sink {
    /// Open `location` (a local directory is created). S3 settings come from the usual
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, …).
    pub fn open(location: Location) -> Result<Sink, SinkError> {
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = match &location {
            Location::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SinkError::Dir {
                    dir: dir.display().to_string(),
                    source,
                })?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(
                    |source| SinkError::Store {
                        what: "opening",
                        location: dir.display().to_string(),
                        source,
                    },
                )?;
                (Arc::new(store), Path::default())
            }
            Location::S3 { bucket, prefix } => {
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_http_connector(crate::http::Connector)
                    .build()
                    .map_err(|source| SinkError::Store {
                        what: "configuring",
                        location: location.to_string(),
                        source,
                    })?;
                (Arc::new(store), Path::from(prefix.as_str()))
            }
        };
        let local = match &location {
            Location::Local(dir) => Some(LocalDir {
                dir: dir.clone(),
                disk: Arc::new(Fsync),
            }),
            Location::S3 { .. } => None,
        };
        Ok(Sink {
            store,
            prefix,
            location,
            local,
            part_bytes: PART_BYTES,
        })
    }

    /// Where this sink writes.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The names of the objects directly in the directory / prefix (not in folders below it;
    /// a local store leaves out its `NAME#N` staging files).
    pub async fn list(&self) -> Result<Vec<String>, SinkError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listed = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|source| SinkError::Store {
                what: "listing",
                location: self.location.to_string(),
                source,
            })?;
        Ok(listed
            .objects
            .iter()
            .filter_map(|o| o.location.filename().map(String::from))
            .collect())
    }

    fn path(&self, name: &str) -> Path {
        self.prefix.clone().join(name)
    }

    fn describe(&self, name: &str) -> String {
        match &self.location {
            Location::Local(dir) => dir.join(name).display().to_string(),
            other => format!("{other}/{name}"),
        }
    }

    /// Start the file `name`: nothing is visible under that name until [`Upload::finish`].
    pub async fn create(&self, name: &str) -> Result<Upload, SinkError> {
        let location = self.describe(name);
        let upload = self
            .store
            .put_multipart(&self.path(name))
            .await
            .map_err(|source| SinkError::Store {
                what: "starting",
                location: location.clone(),
                source,
            })?;
        Ok(Upload {
            writer: WriteMultipart::new_with_chunk_size(upload, self.part_bytes),
            location,
            local: self.local.as_ref().map(|l| (l.dir.join(name), l.clone())),
        })
    }

    /// Write a small object in one atomic `put` (the manifest); in a local directory, durably
    /// (see the module's doc).
    pub async fn put(&self, name: &str, bytes: Bytes) -> Result<(), SinkError> {
        if let Some(local) = &self.local {
            return local.put(name, &bytes);
        }
        self.store
            .put(&self.path(name), PutPayload::from(bytes))
            .await
            .map_err(|source| SinkError::Store {
                what: "writing",
                location: self.describe(name),
                source,
            })?;
        Ok(())
    }
}

impl Upload {
    /// Queue `bytes`; waits while a part is still in flight (bounded memory per file).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.writer.write(bytes);
        self.writer
            .wait_for_capacity(1)
            .await
            .map_err(|source| SinkError::Store {
                what: "uploading",
                location: self.location.clone(),
                source,
            })
    }

    /// Write the file's last bytes and complete it: from now on it is visible under its name
    /// (and, in a local directory, on stable storage). On failure the upload is aborted.
    pub async fn finish(mut self, tail: &[u8]) -> Result<(), SinkError> {
        // A part that fails here would otherwise leave the upload to be dropped, unaborted.
        if let Err(e) = self.write(tail).await {
            self.abort().await;
            return Err(e);
        }
        // `WriteMultipart::finish` aborts the upload itself when a part or the completion fails.
        self.writer
            .finish()
            .await
            .map_err(|source| SinkError::Store {
                what: "completing",
                location: self.location.clone(),
                source,
            })?;
        if let Some((path, local)) = &self.local {
            local.sync_file(path)?;
            local.sync_dir()?;
        }
        Ok(())
    }

    /// Drop the file (best effort: a failing store may keep an unfinished, invisible upload).
    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!("aborting the upload of {}: {e}", self.location);
        }
    }
}

/// Read one object (`--from-manifest`): a local file or an `s3://` object.
pub async fn read(text: &str) -> Result<Bytes, SinkError> {
    let location = Location::parse(text).map_err(SinkError::Location)?;
    if let Location::Local(path) = &location {
        return std::fs::read(path)
            .map(Bytes::from)
            .map_err(|source| SinkError::Dir {
                dir: path.display().to_string(),
                source,
            });
    }
    let (dir, name) = location.split_file().map_err(SinkError::Location)?;
    let sink = Sink::open(dir)?;
    let got = sink
        .store
        .get(&sink.path(&name))
        .await
        .map_err(|source| SinkError::Store {
            what: "reading",
            location: text.to_string(),
            source,
        })?;
    got.bytes().await.map_err(|source| SinkError::Store {
        what: "reading",
        location: text.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let s3 = |b: &str, p: &str| {
            Ok(Location::S3 {
                bucket: b.into(),
                prefix: p.into(),
            })
        };
        let cases: Vec<(&str, Result<Location, &str>)> = vec![
            ("out", Ok(Location::Local("out".into()))),
            ("/tmp/x/", Ok(Location::Local("/tmp/x/".into()))),
            ("file:///tmp/x", Ok(Location::Local("/tmp/x".into()))),
            ("s3://bucket", s3("bucket", "")),
            ("s3://bucket/a/b/", s3("bucket", "a/b")),
            ("s3a://bucket/a", s3("bucket", "a")),
            ("gs://bucket/a", Err("gs:// is not supported")),
            ("s3:///a", Err("no bucket")),
            ("", Err("empty")),
        ];
        for (text, want) in cases {
            match (Location::parse(text), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{text}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
                (got, w) => panic!("{text}: got {got:?}, want {w:?}"),
            }
        }
        assert_eq!(
            Location::parse("s3://b/a/b").unwrap().to_string(),
            "s3://b/a/b"
        );
    }

    #[test]
    fn manifest_locations_split_into_folder_and_name() {
        let (dir, name) = Location::parse("s3://b/x/y/_manifest.json")
            .unwrap()
            .split_file()
            .unwrap();
        assert_eq!(dir.to_string(), "s3://b/x/y");
        assert_eq!(name, "_manifest.json");
        let (dir, name) = Location::parse("s3://b/_manifest.json")
            .unwrap()
            .split_file()
            .unwrap();
        assert_eq!(dir.to_string(), "s3://b");
        assert_eq!(name, "_manifest.json");
        assert!(Location::parse("s3://b").unwrap().split_file().is_err());
    }

    /// A local upload is invisible under its name until it completes, and an aborted one
    /// leaves nothing.
    #[test]
    fn local_files_appear_only_when_complete() {
        let dir = std::env::temp_dir().join(format!("kbatch-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let sink = Sink::open(Location::Local(dir.clone())).unwrap();
            let mut up = sink.create("a.jsonl").await.unwrap();
            up.write(b"hello\n").await.unwrap();
            assert!(!dir.join("a.jsonl").exists());
            up.finish(b"").await.unwrap();
            assert_eq!(std::fs::read(dir.join("a.jsonl")).unwrap(), b"hello\n");
            let mut up = sink.create("b.jsonl").await.unwrap();
            up.write(b"partial").await.unwrap();
            up.abort().await;
            sink.put("_manifest.json", Bytes::from_static(b"{}"))
                .await
                .unwrap();
        });
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["_manifest.json", "a.jsonl"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A [`Disk`] that does the real thing and notes each step, with the names only.
    #[derive(Debug, Default)]
    struct Noted(std::sync::Mutex<Vec<String>>);

    impl Noted {
        fn note(&self, step: String) {
            self.0.lock().unwrap().push(step);
        }
    }

    fn base(p: &std::path::Path) -> String {
        p.file_name().unwrap().to_string_lossy().into_owned()
    }

    impl Disk for Noted {
        fn sync_file(&self, path: &std::path::Path) -> std::io::Result<()> {
            // Only a complete file is flushed: it is already under the name it is flushed by.
            assert!(path.is_file(), "{}", path.display());
            self.note(format!("sync {}", base(path)));
            Fsync.sync_file(path)
        }

        fn sync_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
            self.note(format!("sync dir {}", base(dir)));
            Fsync.sync_dir(dir)
        }

        fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
            self.note(format!("rename {} {}", base(from), base(to)));
            Fsync.rename(from, to)
        }
    }

    /// Every file is on stable storage, and so is its name in the directory, before it counts
    /// as written; the manifest is written aside, flushed, renamed over the old one, and then
    /// the directory flushed: after a power loss a manifest never names a truncated file, and
    /// is either the old one or the new one, whole.
    #[test]
    fn local_files_are_durable_before_the_manifest_names_them() {
        let dir = std::env::temp_dir().join(format!("kbatch-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let noted = Arc::new(Noted::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut sink = Sink::open(Location::Local(dir.clone())).unwrap();
            sink.local = Some(LocalDir {
                dir: dir.clone(),
                disk: noted.clone(),
            });
            std::fs::write(dir.join(MANIFEST), b"old").unwrap();
            for name in ["a.jsonl", "b.jsonl"] {
                let mut up = sink.create(name).await.unwrap();
                up.write(b"rows\n").await.unwrap();
                up.finish(b"last\n").await.unwrap();
            }
            sink.put(MANIFEST, Bytes::from_static(b"{}")).await.unwrap();
        });
        let d = base(&dir);
        let want = [
            "sync a.jsonl".to_string(),
            format!("sync dir {d}"),
            "sync b.jsonl".to_string(),
            format!("sync dir {d}"),
            "sync _manifest.json.partial".to_string(),
            "rename _manifest.json.partial _manifest.json".to_string(),
            format!("sync dir {d}"),
        ];
        assert_eq!(*noted.0.lock().unwrap(), want);
        assert_eq!(std::fs::read(dir.join("a.jsonl")).unwrap(), b"rows\nlast\n");
        assert_eq!(std::fs::read(dir.join(MANIFEST)).unwrap(), b"{}");
        assert!(!dir.join("_manifest.json.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const MANIFEST: &str = "_manifest.json";

    /// A multipart upload whose parts fail from the `fail_from`-th on (counting from 1), noting
    /// what is done to it.
    #[derive(Debug)]
    struct FakeUpload {
        fail_from: usize,
        parts: usize,
        noted: Arc<std::sync::Mutex<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl object_store::MultipartUpload for FakeUpload {
        fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
            self.parts += 1;
            let fails = self.parts >= self.fail_from;
            self.noted.lock().unwrap().push(format!(
                "part {} ({} bytes)",
                self.parts,
                data.content_length()
            ));
            Box::pin(async move {
                if fails {
                    Err(object_store::Error::Generic {
                        store: "fake",
                        source: "the part was refused".into(),
                    })
                } else {
                    Ok(())
                }
            })
        }

        async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
            self.noted.lock().unwrap().push("complete".into());
            Ok(object_store::PutResult {
                e_tag: None,
                version: None,
                extensions: Default::default(),
            })
        }

        async fn abort(&mut self) -> object_store::Result<()> {
            self.noted.lock().unwrap().push("abort".into());
            Ok(())
        }
    }

    /// An upload that fails while it is being completed is aborted, wherever the failing part
    /// is: one sent while the last bytes are written, the last one (sent by the completion),
    /// or none (completed).
    #[test]
    fn an_upload_that_cannot_be_completed_is_aborted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // (parts fail from, bytes written before, last bytes, what the store saw, finished)
        let cases: [(usize, usize, usize, &[&str], bool); 4] = [
            // The last bytes fill a part (16 bytes) that fails: the file's completion fails
            // before the last part is sent.
            (
                1,
                0,
                40,
                &["part 1 (16 bytes)", "part 2 (16 bytes)", "abort"],
                false,
            ),
            (
                2,
                10,
                40,
                &[
                    "part 1 (16 bytes)",
                    "part 2 (16 bytes)",
                    "part 3 (16 bytes)",
                    "abort",
                ],
                false,
            ),
            // The last, short part fails.
            (
                3,
                10,
                30,
                &[
                    "part 1 (16 bytes)",
                    "part 2 (16 bytes)",
                    "part 3 (8 bytes)",
                    "abort",
                ],
                false,
            ),
            (
                9,
                10,
                30,
                &[
                    "part 1 (16 bytes)",
                    "part 2 (16 bytes)",
                    "part 3 (8 bytes)",
                    "complete",
                ],
                true,
            ),
        ];
        for (fail_from, before, tail, want, finished) in cases {
            let noted = Arc::new(std::sync::Mutex::new(Vec::new()));
            let fake = FakeUpload {
                fail_from,
                parts: 0,
                noted: noted.clone(),
            };
            let got = rt.block_on(async {
                let mut up = Upload {
                    writer: WriteMultipart::new_with_chunk_size(Box::new(fake), 16),
                    location: "s3://fake/a.parquet".into(),
                    local: None,
                };
                up.write(&vec![b'r'; before]).await.unwrap();
                up.finish(&vec![b't'; tail]).await
            });
            let case = format!("parts fail from {fail_from}, {before} + {tail} bytes");
            assert_eq!(got.is_ok(), finished, "{case}: {got:?}");
            if let Err(e) = got {
                let text = e.to_string();
                assert!(text.contains("s3://fake/a.parquet"), "{case}: {text}");
            }
            assert_eq!(*noted.lock().unwrap(), want, "{case}");
        }
    }
}
