//! Decode the record bytes captured from a real Kafka 4.3.1 broker (written by Kafka's Java
//! producer; see `fixtures/README.md`) and compare with what was produced, per the manifest.

use kbatch_records::{walk, AbortedTxn, Chunk, Decoder, Isolation, Stop};
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/batches")
}

/// FNV-1a over values in offset order (null = 0xff marker, 0x0a after each): the manifest's checksum.
fn checksum(values: &[Option<Vec<u8>>]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for &b in v.as_deref().unwrap_or(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h ^= 0x0a;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The manifest's entry for `file`.
fn manifest_entry(file: &str) -> Value {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == file)
        .unwrap_or_else(|| panic!("{file} in fixtures/batches/manifest.json (make fixtures)"))
        .clone()
}

#[test]
fn every_fixture_decodes_to_what_was_produced() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("manifest.json"))
            .expect("fixtures/batches/manifest.json (make fixtures)"),
    )
    .unwrap();
    let entries = manifest.as_array().unwrap();
    assert!(
        entries.len() >= 9,
        "one fixture per codec plus txn, nulls, compacted and straddle"
    );
    for e in entries {
        let file = e["file"].as_str().unwrap();
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let aborted: Vec<AbortedTxn> = e["aborted_transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| AbortedTxn {
                producer_id: a[0].as_i64().unwrap(),
                first_offset: a[1].as_i64().unwrap(),
            })
            .collect();
        let end = e["end"].as_i64().unwrap();
        let w = walk(&bytes, true).unwrap();
        // Captures hold complete batches, except the one that keeps the broker's cut.
        let tail = e["truncated_tail_bytes"].as_u64().unwrap_or(0) as usize;
        assert_eq!(
            w.complete_len,
            bytes.len() - tail,
            "{file}: complete batches, then the truncated tail"
        );
        assert_eq!(
            w.next_offset,
            Some(end),
            "{file}: the walk ends at the high watermark"
        );
        let mut values = Vec::new();
        let mut d = Decoder::new(64 << 20);
        let chunk = Chunk {
            bytes: &bytes,
            start: 0,
            end,
            isolation: Isolation::ReadCommitted,
            aborted: &aborted,
        };
        let (tally, next) = d
            .decode(&chunk, |r| {
                values.push(r.value.map(<[u8]>::to_vec));
                Ok::<(), ()>(())
            })
            .unwrap_or_else(|e| match e {
                Stop::Records(e) => panic!("{file}: {e}"),
                Stop::Job(()) => unreachable!(),
            });
        assert_eq!(next, Some(end));
        assert_eq!(
            tally.records,
            e["records"].as_u64().unwrap(),
            "{file}: records"
        );
        assert_eq!(
            tally.aborted,
            e["aborted"].as_u64().unwrap(),
            "{file}: aborted"
        );
        assert_eq!(
            tally.control,
            e["control"].as_u64().unwrap(),
            "{file}: control"
        );
        assert_eq!(
            tally.records
                + tally.aborted
                + tally.control
                + e["removed_by_compaction"].as_u64().unwrap_or(0),
            end as u64,
            "{file}: every offset accounted for"
        );
        assert_eq!(
            checksum(&values),
            e["value_checksum"].as_str().unwrap(),
            "{file}: value checksum"
        );
    }
}

#[test]
fn nulls_fixture_keeps_null_and_empty_apart_and_headers_exact() {
    let bytes = std::fs::read(dir().join("nulls.bin")).unwrap();
    let mut d = Decoder::new(1 << 20);
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: i64::MAX,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    };
    let mut seen = Vec::new();
    d.decode(&chunk, |r| {
        let headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = r
            .headers()
            .map(|h| h.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))))
            .collect::<Result<_, _>>()
            .unwrap();
        seen.push((
            r.key.map(<[u8]>::to_vec),
            r.value.map(<[u8]>::to_vec),
            headers,
        ));
        Ok::<(), ()>(())
    })
    .unwrap();
    let h = |k: &str, v: Option<&[u8]>| (k.as_bytes().to_vec(), v.map(<[u8]>::to_vec));
    assert_eq!(
        seen,
        vec![
            (Some(b"k0".to_vec()), None, vec![]),
            (
                None,
                Some(vec![]),
                vec![h("dup", Some(b"1")), h("dup", Some(b"2"))]
            ),
            (Some(vec![]), Some(b"v".to_vec()), vec![h("null", None)]),
            (None, Some(b"{}".to_vec()), vec![]),
        ]
    );
}

#[test]
fn chopping_a_real_fixture_never_panics_and_never_over_delivers() {
    let bytes = std::fs::read(dir().join("trending-gzip.bin")).unwrap();
    let full = walk(&bytes, true).unwrap();
    for cut in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        let w = walk(&bytes[..cut], true).unwrap();
        assert!(w.complete_len <= cut && w.batches <= full.batches);
        let mut d = Decoder::new(64 << 20);
        let chunk = Chunk {
            bytes: &bytes[..cut],
            start: 0,
            end: i64::MAX,
            isolation: Isolation::ReadCommitted,
            aborted: &[],
        };
        let (tally, next) = d.decode(&chunk, |_| Ok::<(), ()>(())).unwrap();
        assert_eq!(next, w.next_offset);
        assert_eq!(tally.batches as usize, w.batches);
    }
}

/// Kafka's log cleaner left gaps and an empty batch: the offsets delivered are exactly the
/// last record of each key plus the record after the roll, and the position still reaches the
/// end (RELIABILITY: compaction takes offsets; a partition is done by position).
#[test]
fn compacted_fixture_has_gaps_and_an_empty_batch_and_still_reaches_the_end() {
    let e = manifest_entry("compacted.bin");
    assert!(e["empty_batches"].as_u64().unwrap() >= 1, "{e}");
    let bytes = std::fs::read(dir().join("compacted.bin")).unwrap();
    let end = e["end"].as_i64().unwrap();
    let mut offsets = Vec::new();
    let mut tombstones = 0;
    let mut d = Decoder::new(1 << 20);
    // Start inside the gap the cleaner left: records below 90 are gone, nothing is invented.
    let chunk = Chunk {
        bytes: &bytes,
        start: 20,
        end,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    };
    let (tally, next) = d
        .decode(&chunk, |r| {
            offsets.push(r.offset);
            tombstones += usize::from(r.value.is_none());
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(offsets, (90..=100).collect::<Vec<i64>>());
    assert_eq!(tombstones, 1, "the tombstone of k9 is kept");
    assert_eq!(tally.records, 11);
    assert_eq!(next, Some(end));
}

/// A Fetch response cut by the broker inside the second batch: the first batch is delivered
/// and the position stops at the cut batch's base offset — "need more", not an error.
#[test]
fn straddling_fixture_stops_at_the_cut_batch() {
    let bytes = std::fs::read(dir().join("straddle.bin")).unwrap();
    let w = walk(&bytes, true).unwrap();
    assert_eq!(w.batches, 1);
    assert_eq!(w.next_offset, Some(100));
    assert!(w.complete_len < bytes.len());
    let mut d = Decoder::new(1 << 20);
    let mut n = 0;
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: 300,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    };
    let (tally, next) = d
        .decode(&chunk, |r| {
            assert_eq!(r.offset, n);
            n += 1;
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!((tally.records, next), (100, Some(100)));
}

/// librdkafka frames snappy as one raw block, not the Java client's xerial stream: the
/// fixture it wrote must be raw (else it tests nothing new) and decode like any other.
#[test]
fn librdkafka_snappy_fixture_is_raw_snappy() {
    let e = manifest_entry("rdkafka-snappy.bin");
    assert_eq!(e["snappy_framing"], "raw", "{e}");
    let bytes = std::fs::read(dir().join("rdkafka-snappy.bin")).unwrap();
    assert_eq!(bytes[22] & 7, 2, "snappy codec bits");
    assert_ne!(&bytes[61..69], b"\x82SNAPPY");
}
