//! Where files go: a local directory or an object store, both behind `object_store`.
//!
//! Every file is a multipart upload that is *completed* only when the file is whole
//! ([`Sink::create`] → [`Upload::finish`]): `object_store`'s local store writes a staging
//! file (`NAME#N`) and renames it on completion, S3 makes the object visible only when the
//! multipart upload completes. So an export killed or failing half-way leaves no file under
//! a final name that is not complete (a local `NAME#N` or an invisible, unfinished S3 upload
//! at most), and `_manifest.json` is a single `put`, issued after every file completed.

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
}

/// One file being written.
pub struct Upload {
    writer: WriteMultipart,
    location: String,
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
                    .with_http_connector(super::http::Connector)
                    .build()
                    .map_err(|source| SinkError::Store {
                        what: "configuring",
                        location: location.to_string(),
                        source,
                    })?;
                (Arc::new(store), Path::from(prefix.as_str()))
            }
        };
        Ok(Sink {
            store,
            prefix,
            location,
        })
    }

    /// Where this sink writes.
    pub fn location(&self) -> &Location {
        &self.location
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
            writer: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
            location,
        })
    }

    /// Write a small object in one atomic `put` (the manifest).
    pub async fn put(&self, name: &str, bytes: Bytes) -> Result<(), SinkError> {
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

    /// Complete the file: from now on it is visible under its name.
    pub async fn finish(self) -> Result<(), SinkError> {
        self.writer
            .finish()
            .await
            .map(|_| ())
            .map_err(|source| SinkError::Store {
                what: "completing",
                location: self.location,
                source,
            })
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
            up.finish().await.unwrap();
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
}
