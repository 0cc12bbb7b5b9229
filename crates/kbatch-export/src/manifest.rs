//! `_manifest.json`: what one export wrote, and where the next incremental export starts.
//!
//! Pure data and pure functions (no I/O): the export builds a [`Manifest`] from the engine's
//! per-partition stats and the files it completed, serialises it *last*, and `--from-manifest`
//! parses a previous one into the `--from` bound of the next run ([`Manifest::resume_from`]).
//! A partition's range is half-open `[start, end)`, so "start where the last run ended" is
//! `start = end`: across a chain of runs every offset is read exactly once.

use kbatch_reader::{Bound, Position};
use serde::{Deserialize, Serialize};

/// The manifest's file name, in the output directory / prefix.
pub const MANIFEST_NAME: &str = "_manifest.json";

/// One export: the topic, and per partition its range, counts and files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The kbatch version that wrote it.
    pub kbatch_version: String,
    /// The exported topic.
    pub topic: String,
    /// `parquet`, `arrow` or `jsonl`.
    pub format: String,
    /// Codec of the files (`zstd(3)`, `none`).
    pub compression: String,
    /// `read_committed` or `read_uncommitted`.
    pub isolation: String,
    /// How the keys were written and so how the `key` column is: `raw` (the bytes) or
    /// `avro` (decoded through the Schema Registry). `raw` in older manifests.
    #[serde(default = "raw")]
    pub key_format: String,
    /// The same for the values and the `value` column.
    #[serde(default = "raw")]
    pub value_format: String,
    /// Every planned partition, in partition order, also those with nothing in range.
    pub partitions: Vec<PartitionEntry>,
    /// Files of the topic in the output that no manifest names (see [`orphans`]): left by a
    /// failed run, and read twice by a glob over the output. Absent when the output could
    /// not be listed (and in manifests of kbatch versions that did not look).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans: Option<Vec<String>>,
}

/// One partition's range and what was written of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Partition id.
    pub partition: i32,
    /// First offset of the range.
    pub start: i64,
    /// First offset past the range: where the next incremental export starts.
    pub end: i64,
    /// Data records exported (the sum of the files' records).
    pub records: u64,
    /// Records of aborted transactions skipped (read_committed).
    pub aborted: u64,
    /// Transaction markers in range (never exported).
    pub control: u64,
    /// Keys or values that could not be decoded and were written as null
    /// (`on_undecodable` null); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub undecodable: u64,
    /// The files holding the records, in offset order.
    pub files: Vec<FileEntry>,
}

fn raw() -> String {
    "raw".into()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One completed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Name relative to the output directory / prefix.
    pub name: String,
    /// Rows in the file.
    pub records: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Offset of the first row.
    pub first_offset: i64,
    /// Offset of the last row.
    pub last_offset: i64,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON of the expected shape.
    #[error("not a kbatch export manifest: {0}")]
    Parse(#[from] serde_json::Error),
    /// Parsed, but inconsistent (hand-edited or corrupt).
    #[error("inconsistent manifest: {0}")]
    Invalid(String),
    /// `--from-manifest` of another topic.
    #[error("the manifest is of topic {manifest:?}, not {requested:?}")]
    OtherTopic {
        /// Topic in the manifest.
        manifest: String,
        /// Topic asked for.
        requested: String,
    },
}

impl Manifest {
    /// Parse and check a manifest (ranges ordered, file rows adding up, partitions unique).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes)?;
        m.check()?;
        Ok(m)
    }

    /// The manifest as pretty JSON (one trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest serialises");
        s.push('\n');
        s
    }

    /// The internal consistency every manifest kbatch writes has.
    pub fn check(&self) -> Result<(), ManifestError> {
        let bad = |why: String| Err(ManifestError::Invalid(why));
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.partitions {
            if !seen.insert(p.partition) {
                return bad(format!("partition {} listed twice", p.partition));
            }
            if p.start < 0 || p.start > p.end {
                return bad(format!(
                    "partition {}: range [{}, {}) is not ordered",
                    p.partition, p.start, p.end
                ));
            }
            let rows: u64 = p.files.iter().map(|f| f.records).sum();
            if rows != p.records {
                return bad(format!(
                    "partition {}: files hold {rows} records, the partition says {}",
                    p.partition, p.records
                ));
            }
            for f in &p.files {
                if f.first_offset < p.start
                    || f.last_offset >= p.end
                    || f.first_offset > f.last_offset
                {
                    return bad(format!(
                        "partition {}: file {} [{}, {}] lies outside [{}, {})",
                        p.partition, f.name, f.first_offset, f.last_offset, p.start, p.end
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `--from` bound of the run after this one, for `topic`: each partition of the
    /// manifest starts at its `end`; partitions not in it (created since) start at earliest.
    pub fn resume_from(&self, topic: &str) -> Result<Bound, ManifestError> {
        if self.topic != topic {
            return Err(ManifestError::OtherTopic {
                manifest: self.topic.clone(),
                requested: topic.to_string(),
            });
        }
        Ok(Bound {
            default: Position::Earliest,
            overrides: self
                .partitions
                .iter()
                .map(|p| {
                    (
                        Some(topic.to_string()),
                        p.partition,
                        Position::Offset(p.end),
                    )
                })
                .collect(),
        })
    }
}

/// A file name [`file_name`] made, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileName<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset of the file's first row.
    pub first_offset: i64,
    /// `parquet`, `arrow` or `jsonl`.
    pub extension: &'a str,
}

impl FileName<'_> {
    /// Parse `TOPIC.PARTITION.OFFSET.EXT` from the right (a topic may contain dots), with the
    /// offset in its 20 digits and one of the export's extensions; anything else is `None`.
    pub fn parse(name: &str) -> Option<FileName<'_>> {
        let (rest, extension) = name.rsplit_once('.')?;
        if !["parquet", "arrow", "jsonl"].contains(&extension) {
            return None;
        }
        let (rest, offset) = rest.rsplit_once('.')?;
        let (topic, partition) = rest.rsplit_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if offset.len() != 20 || !digits(offset) || !digits(partition) || topic.is_empty() {
            return None;
        }
        Some(FileName {
            topic,
            partition: partition.parse().ok()?,
            first_offset: offset.parse().ok()?,
            extension,
        })
    }
}

/// The files of `topic` in an output `listed` that no manifest names, in name order: not
/// `written` by this run, and in a partition of the `previous` manifest (`--from-manifest`)
/// not below that partition's `end`. Files below it belong to the runs that manifest
/// continues, whose manifests named them; files at or past it were left by a run that started
/// where this one did and failed before writing its manifest, and this run has read their
/// records again. Without a previous manifest (or for a partition it does not list) every
/// other file of the topic is an orphan: this run's manifest replaces whatever named it.
pub fn orphans<'a>(
    topic: &str,
    previous: Option<&Manifest>,
    written: &std::collections::BTreeSet<&str>,
    listed: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let end = |partition: i32| {
        previous
            .and_then(|m| m.partitions.iter().find(|p| p.partition == partition))
            .map_or(i64::MIN, |p| p.end)
    };
    let mut found: Vec<String> = listed
        .into_iter()
        .filter(|name| !written.contains(name))
        .filter(|name| {
            FileName::parse(name)
                .is_some_and(|f| f.topic == topic && f.first_offset >= end(f.partition))
        })
        .map(String::from)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The name of a partition's file whose first row is at `first_offset`: topic, partition and
/// a 20-digit offset (Kafka's own segment naming), so names sort in offset order, never
/// collide across incremental runs into one directory (each offset is exported once), and
/// tools can glob `*.parquet`.
pub fn file_name(topic: &str, partition: i32, first_offset: i64, extension: &str) -> String {
    format!("{topic}.{partition}.{first_offset:020}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            kbatch_version: "0.1.0".into(),
            topic: "web".into(),
            format: "parquet".into(),
            compression: "zstd(3)".into(),
            isolation: "read_committed".into(),
            key_format: "raw".into(),
            value_format: "avro".into(),
            partitions: vec![
                PartitionEntry {
                    partition: 0,
                    start: 0,
                    end: 103,
                    records: 100,
                    aborted: 2,
                    control: 1,
                    undecodable: 3,
                    files: vec![
                        FileEntry {
                            name: file_name("web", 0, 0, "parquet"),
                            records: 60,
                            bytes: 4000,
                            first_offset: 0,
                            last_offset: 59,
                        },
                        FileEntry {
                            name: file_name("web", 0, 60, "parquet"),
                            records: 40,
                            bytes: 3000,
                            first_offset: 60,
                            last_offset: 102,
                        },
                    ],
                },
                PartitionEntry {
                    partition: 2,
                    start: 7,
                    end: 7,
                    records: 0,
                    aborted: 0,
                    control: 0,
                    undecodable: 0,
                    files: vec![],
                },
            ],
            orphans: Some(vec![]),
        }
    }

    #[test]
    fn round_trips_through_json() {
        let m = sample();
        let text = m.to_json();
        assert!(text.ends_with("}\n"));
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let f = &v["partitions"][0]["files"][1];
        assert_eq!(f["name"], "web.0.00000000000000000060.parquet");
        assert_eq!(f["first_offset"], 60);
        assert_eq!(f["last_offset"], 102);
        assert_eq!(v["partitions"][1]["files"], serde_json::json!([]));
        assert_eq!(v["orphans"], serde_json::json!([]));
        // A manifest of an earlier version, without the key, still parses.
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("orphans");
        let parsed = Manifest::parse(old.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.orphans, None);
        // Formats and undecodable counts: written, absent in older manifests.
        assert_eq!(v["value_format"], "avro");
        assert_eq!(v["key_format"], "raw");
        assert_eq!(v["partitions"][0]["undecodable"], 3);
        assert!(v["partitions"][1].get("undecodable").is_none());
        let mut older = v.clone();
        older.as_object_mut().unwrap().remove("value_format");
        older["partitions"][0]
            .as_object_mut()
            .unwrap()
            .remove("undecodable");
        let parsed = Manifest::parse(older.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.value_format, "raw");
        assert_eq!(parsed.partitions[0].undecodable, 0);
    }

    #[test]
    fn resume_starts_each_partition_at_its_end() {
        let b = sample().resume_from("web").unwrap();
        assert_eq!(b.position("web", 0), Position::Offset(103));
        assert_eq!(b.position("web", 2), Position::Offset(7));
        // A partition created since the manifest: from its start.
        assert_eq!(b.position("web", 5), Position::Earliest);
    }

    #[test]
    fn resume_refuses_another_topic() {
        let e = sample().resume_from("other").unwrap_err();
        assert!(matches!(e, ManifestError::OtherTopic { .. }));
        assert_eq!(
            e.to_string(),
            r#"the manifest is of topic "web", not "other""#
        );
    }

    #[test]
    fn inconsistent_manifests_are_refused() {
        type Edit = fn(&mut Manifest);
        let cases: [(Edit, &str); 5] = [
            (|m| m.partitions[1].partition = 0, "listed twice"),
            (|m| m.partitions[1].start = 8, "not ordered"),
            (|m| m.partitions[0].records = 99, "files hold 100 records"),
            (|m| m.partitions[0].files[1].last_offset = 103, "outside"),
            (|m| m.partitions[0].files[0].first_offset = -1, "outside"),
        ];
        for (edit, why) in cases {
            let mut m = sample();
            edit(&mut m);
            let e = Manifest::parse(m.to_json().as_bytes()).unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
        let e = Manifest::parse(b"{\"topic\": 1}").unwrap_err();
        assert!(
            e.to_string().starts_with("not a kbatch export manifest"),
            "{e}"
        );
    }

    #[test]
    fn file_names_parse_back() {
        let name = file_name("a.b-c", 12, 4096, "jsonl");
        assert_eq!(
            FileName::parse(&name),
            Some(FileName {
                topic: "a.b-c",
                partition: 12,
                first_offset: 4096,
                extension: "jsonl",
            })
        );
        for bad in [
            "_manifest.json",
            "_manifest.json.partial",
            "t.0.00000000000000000000.parquet#3",
            "t.0.00000000000000000000.csv",
            "t.0.0.parquet",
            "t.x.00000000000000000000.parquet",
            ".0.00000000000000000000.parquet",
            "t.-1.00000000000000000000.parquet",
            "t.0.99999999999999999999.parquet",
            "0.00000000000000000000.parquet",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }

    /// Which files of an output no manifest names. The previous manifest (`sample`) ended
    /// partition 0 at 103 and partition 2 at 7, and does not list partition 1.
    #[test]
    fn orphans_are_the_files_no_manifest_names() {
        let m = sample();
        let n = |p: i32, o: i64| file_name("web", p, o, "parquet");
        let listed = [
            MANIFEST_NAME.to_string(),
            n(0, 0),                              // named by the previous manifest
            n(0, 60),                             // named by the previous manifest
            n(0, 103),                            // written again by this run
            n(0, 150),                            // a failed run's, not written again: an orphan
            n(2, 3),                              // below partition 2's end: an earlier run's
            n(2, 7),                              // a failed run's: an orphan
            n(1, 0),                              // a partition created since: a failed run's
            file_name("web", 0, 150, "jsonl"),    // a failed run in another format
            file_name("webx", 0, 150, "parquet"), // another topic
            "notes.txt".to_string(),
        ];
        let again = n(0, 103);
        let written = std::collections::BTreeSet::from([again.as_str()]);
        let names = || listed.iter().map(String::as_str);
        let got = orphans("web", Some(&m), &written, names());
        assert_eq!(
            got,
            vec![
                file_name("web", 0, 150, "jsonl"),
                n(0, 150),
                n(1, 0),
                n(2, 7),
            ]
        );
        // Without a previous manifest every file this run did not write is one.
        let got = orphans("web", None, &written, names());
        assert_eq!(got.len(), 7, "{got:?}");
        assert!(!got.contains(&n(0, 103)));
    }

    #[test]
    fn file_names_sort_in_offset_order() {
        let a = file_name("t", 3, 999, "arrow");
        let b = file_name("t", 3, 1000, "arrow");
        assert_eq!(a, "t.3.00000000000000000999.arrow");
        assert!(a < b);
    }
}
