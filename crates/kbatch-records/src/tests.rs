//! Unit tests over hand-built bytes (RELIABILITY.md cases cited by number).

use proptest::prelude::*;

use crate::testenc::{concat, Batch, Rec};
use crate::*;

/// (offset, value) pairs delivered, the tally, the next offset.
type Decoded = (Vec<(i64, Option<String>)>, Tally, Option<i64>);

fn values(
    bytes: &[u8],
    start: i64,
    end: i64,
    isolation: Isolation,
    aborted: &[AbortedTxn],
) -> Result<Decoded, RecordsError> {
    let mut d = Decoder::new(1 << 20);
    let mut out = Vec::new();
    let chunk = Chunk {
        bytes,
        start,
        end,
        isolation,
        aborted,
    };
    match d.decode(&chunk, |r| {
        out.push((
            r.offset,
            r.value.map(|v| String::from_utf8_lossy(v).into_owned()),
        ));
        Ok::<(), ()>(())
    }) {
        Ok((t, n)) => Ok((out, t, n)),
        Err(Stop::Records(e)) => Err(e),
        Err(Stop::Job(())) => unreachable!(),
    }
}

fn recs(n: i32, tag: &str) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec::value(i, &format!("{tag}{i}")))
        .collect()
}

fn offsets(v: &[(i64, Option<String>)]) -> Vec<i64> {
    v.iter().map(|(o, _)| *o).collect()
}

const ALL: i64 = i64::MAX;
const RC: Isolation = Isolation::ReadCommitted;

#[test]
fn every_codec_roundtrips() {
    for (codec, xerial) in [
        (Compression::None, false),
        (Compression::Gzip, false),
        (Compression::Snappy, false),
        (Compression::Snappy, true),
        (Compression::Lz4, false),
        (Compression::Zstd, false),
    ] {
        let bytes = concat(&[
            Batch::with(0, &recs(10, "a"), codec, xerial),
            Batch::with(10, &recs(5, "b"), codec, xerial),
        ]);
        let (v, t, next) = values(&bytes, 0, ALL, RC, &[]).unwrap();
        assert_eq!(offsets(&v), (0..15).collect::<Vec<_>>(), "{codec:?}");
        assert_eq!(v[12].1.as_deref(), Some("b2"));
        assert_eq!((t.records, t.batches, next), (15, 2, Some(15)));
    }
}

#[test]
fn case2_truncated_at_every_byte_never_panics() {
    let batches = [
        Batch::with(0, &recs(3, "a"), Compression::Gzip, false),
        Batch::plain(3, &recs(4, "b")),
        Batch::plain(7, &recs(2, "c")),
    ];
    let bytes = concat(&batches);
    let ends: Vec<usize> = batches
        .iter()
        .scan(0, |acc, b| {
            *acc += b.encode().len();
            Some(*acc)
        })
        .collect();
    for cut in 0..=bytes.len() {
        let w = walk(&bytes[..cut], true).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(w.batches, complete, "cut {cut}");
        let (v, _, next) = values(&bytes[..cut], 0, ALL, RC, &[]).unwrap();
        let expect = [0usize, 3, 7, 9][complete];
        assert_eq!(v.len(), expect);
        assert_eq!(next, [None, Some(3), Some(7), Some(9)][complete]);
        assert_eq!(w.next_offset, next);
    }
}

#[test]
fn case5_records_below_start_are_skipped() {
    let bytes = concat(&[
        Batch::with(0, &recs(10, "a"), Compression::Gzip, false),
        Batch::plain(10, &recs(3, "b")),
    ]);
    let (v, t, next) = values(&bytes, 5, ALL, RC, &[]).unwrap();
    assert_eq!(offsets(&v), vec![5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!((t.records, next), (8, Some(13)));
    let (v, t, _) = values(&bytes, 5, 11, RC, &[]).unwrap();
    assert_eq!(offsets(&v), vec![5, 6, 7, 8, 9, 10]);
    assert_eq!(t.records, 6);
}

#[test]
fn case6_crc_mismatch_in_batch_2_of_4() {
    let batches: Vec<Batch> = (0..4).map(|i| Batch::plain(i * 3, &recs(3, "x"))).collect();
    let mut bytes = concat(&batches);
    let len = batches[0].encode().len();
    bytes[2 * len + 70] ^= 0x01;
    let err = walk(&bytes, true).unwrap_err();
    assert!(
        matches!(err, RecordsError::Crc { base_offset: 6, .. }),
        "{err}"
    );
    let mut seen = Vec::new();
    let mut d = Decoder::new(1 << 20);
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let r = d.decode(&chunk, |r| {
        seen.push(r.offset);
        Ok::<(), ()>(())
    });
    assert!(matches!(
        r,
        Err(Stop::Records(RecordsError::Crc { base_offset: 6, .. }))
    ));
    assert_eq!(
        seen,
        (0..6).collect::<Vec<_>>(),
        "batches 0-1, nothing after"
    );
    assert!(err.to_string().contains("offset 6"));
}

fn set_i32(bytes: &mut [u8], at: usize, v: i32) {
    bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn recrc(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn corrupt_batch(r: Result<impl std::fmt::Debug, RecordsError>) -> &'static str {
    match r {
        Err(RecordsError::CorruptBatch { reason, .. }) => reason,
        other => panic!("expected CorruptBatch, got {other:?}"),
    }
}

fn corrupt_record(r: Result<impl std::fmt::Debug, RecordsError>) -> &'static str {
    match r {
        Err(RecordsError::CorruptRecord { reason, .. }) => reason,
        other => panic!("expected CorruptRecord, got {other:?}"),
    }
}

/// A one-record uncompressed batch whose record section is `raw`, CRC correct.
fn raw_batch(base: i64, raw: Vec<u8>) -> Vec<u8> {
    let mut b = Batch::plain(base, &[]);
    b.record_count = 1;
    b.records = raw;
    b.encode()
}

/// A record section: one record whose body (after the length) is `body`.
fn one_record(body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    testenc::zigzag(body.len() as i64, &mut raw);
    raw.extend_from_slice(body);
    raw
}

#[test]
fn case7_batch_length_negative_tiny_or_absurd() {
    let good = Batch::plain(0, &recs(3, "a")).encode();
    for len in [-1, 0, 10, 48, 0x7FFF_FFF0, i32::MAX, MAX_BATCH_LENGTH + 1] {
        let mut b = good.clone();
        set_i32(&mut b, 8, len);
        corrupt_batch(walk(&b, true));
        corrupt_batch(values(&b, 0, ALL, RC, &[]));
    }
    // Up to the limit a long length is a batch still arriving: need more, not an error.
    let mut b = good.clone();
    set_i32(&mut b, 8, MAX_BATCH_LENGTH);
    assert_eq!(walk(&b, true).unwrap().batches, 0);
}

#[test]
fn case7_record_counts_that_lie() {
    let good = Batch::plain(0, &recs(3, "a")).encode();
    // -1; 10^9 over ~20 payload bytes; 4 where 3 are present; 2 where 3 are present.
    for (count, last_delta) in [(-1, 2), (1_000_000_000, 2), (1_000_000_000, i32::MAX - 1)] {
        let mut b = good.clone();
        set_i32(&mut b, 23, last_delta);
        set_i32(&mut b, 57, count);
        recrc(&mut b);
        corrupt_batch(walk(&b, true));
        corrupt_batch(values(&b, 0, ALL, RC, &[]));
    }
    for count in [4, 2] {
        let mut b = good.clone();
        set_i32(&mut b, 23, 10);
        set_i32(&mut b, 57, count);
        recrc(&mut b);
        corrupt_batch(values(&b, 0, ALL, RC, &[]));
    }
    // Count > 0 with no record bytes at all, plain and compressed (caught after decompression).
    for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut empty = Batch::with(0, &[], codec, false);
        empty.record_count = 3;
        empty.last_offset_delta = 2;
        corrupt_batch(values(&empty.encode(), 0, ALL, RC, &[]));
    }
    // 10^9 records claimed inside a compressed batch of 3: the walk cannot see inside, the
    // decode stops when the decompressed records run out.
    let mut b = Batch::with(0, &recs(3, "a"), Compression::Zstd, false);
    b.record_count = 1_000_000_000;
    b.last_offset_delta = i32::MAX - 1;
    assert_eq!(walk(&b.encode(), true).unwrap().batches, 1);
    assert_eq!(
        corrupt_batch(values(&b.encode(), 0, ALL, RC, &[])),
        "record count larger than the records present"
    );
}

#[test]
fn case7_varint_overflow_and_header_count_bombs() {
    // Record length varint of 12 continuation bytes.
    let b = raw_batch(0, vec![0xff; 12]);
    assert_eq!(
        corrupt_record(values(&b, 0, ALL, RC, &[])),
        "varint overflow"
    );
    // A 10-byte varlong timestamp delta whose last byte carries more than the top bit.
    let mut body = vec![0u8];
    body.extend_from_slice(&[0xff; 9]);
    body.push(0x02);
    body.extend_from_slice(&[0, 1, 1, 0]);
    assert_eq!(
        corrupt_record(values(&raw_batch(0, one_record(&body)), 0, ALL, RC, &[])),
        "varlong overflow"
    );
    // Header counts 2^31 - 1 (fits an i32) and 2^31 (does not: a varint overflow).
    for (count, reason) in [
        (i64::from(i32::MAX), "header count larger than the record"),
        (1i64 << 31, "varint overflow"),
    ] {
        // attributes, timestamp delta, offset delta, null key, empty value; then the count.
        let mut body = vec![0u8, 0, 0, 1, 0];
        testenc::zigzag(count, &mut body);
        let b = raw_batch(0, one_record(&body));
        assert_eq!(corrupt_record(values(&b, 0, ALL, RC, &[])), reason);
    }
    // Bytes after the headers, and a header that runs past its record.
    let b = raw_batch(0, one_record(&[0, 0, 0, 1, 1, 0, 9]));
    assert_eq!(
        corrupt_record(values(&b, 0, ALL, RC, &[])),
        "bytes left after the record's headers"
    );
    let b = raw_batch(0, one_record(&[0, 0, 0, 1, 1, 2, 2, b'k']));
    assert!(matches!(
        values(&b, 0, ALL, RC, &[]),
        Err(RecordsError::CorruptRecord { .. })
    ));
}

#[test]
fn offsets_must_increase_within_and_across_batches() {
    // Two records with the same offset delta.
    let mut twice = recs(2, "a");
    twice[1].offset_delta = 0;
    let mut b = Batch::plain(0, &twice);
    b.last_offset_delta = 1;
    assert_eq!(
        corrupt_record(values(&b.encode(), 0, ALL, RC, &[])),
        "offset deltas do not increase"
    );
    // A batch starting below the previous batch's next offset.
    let bytes = concat(&[
        Batch::plain(0, &recs(3, "a")),
        Batch::plain(2, &recs(3, "b")),
    ]);
    corrupt_batch(walk(&bytes, true));
    let mut seen = Vec::new();
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let r = Decoder::new(1 << 20).decode(&chunk, |r| {
        seen.push(r.offset);
        Ok::<(), ()>(())
    });
    assert!(matches!(
        r,
        Err(Stop::Records(RecordsError::CorruptBatch {
            base_offset: 2,
            ..
        }))
    ));
    assert_eq!(seen, vec![0, 1, 2]);
}

#[test]
fn crc_is_reported_before_what_the_damage_hit() {
    // Damage to the record count: with CRC on, the diagnosis is the CRC.
    let mut b = Batch::plain(5, &recs(3, "a")).encode();
    set_i32(&mut b, 57, -1);
    assert!(matches!(
        walk(&b, true),
        Err(RecordsError::Crc { base_offset: 5, .. })
    ));
    corrupt_batch(walk(&b, false));
}

/// Found by the `decode_batches` fuzz target: a base offset near i64::MAX made
/// `base_offset + last_offset_delta + 1` overflow.
#[test]
fn fuzz_offset_overflow_is_a_corrupt_batch() {
    for base in [i64::MAX - 1, i64::MAX, -5] {
        let mut b = Batch::plain(base, &recs(3, "a"));
        b.base_offset = base;
        let bytes = b.encode();
        assert!(
            matches!(walk(&bytes, true), Err(RecordsError::CorruptBatch { .. })),
            "base {base}"
        );
        assert!(values(&bytes, 0, ALL, RC, &[]).is_err());
    }
    let crash = include_bytes!("../fuzz/regressions/offset-overflow.bin");
    let _ = walk(crash, false);
    let _ = values(crash, 0, ALL, RC, &[]);
}

#[test]
fn case8_empty_batch_after_compaction() {
    let mut b = Batch::plain(37, &[]);
    b.last_offset_delta = 17;
    let (v, t, next) = values(&b.encode(), 0, ALL, RC, &[]).unwrap();
    assert!(v.is_empty());
    assert_eq!((t.records, next), (0, Some(55)));
    assert_eq!(walk(&b.encode(), true).unwrap().next_offset, Some(55));
}

#[test]
fn case10_nulls_empties_and_headers() {
    let recs = vec![
        Rec {
            offset_delta: 0,
            ts_delta: 5,
            key: None,
            value: None,
            headers: vec![],
        },
        Rec {
            offset_delta: 1,
            ts_delta: 6,
            key: Some(b"k".to_vec()),
            value: Some(vec![]),
            headers: vec![],
        },
        Rec {
            offset_delta: 2,
            ts_delta: 7,
            key: Some(vec![]),
            value: Some(b"v".to_vec()),
            headers: vec![
                (b"h".to_vec(), Some(b"1".to_vec())),
                (b"h".to_vec(), None),
                (b"".to_vec(), Some(vec![])),
            ],
        },
    ];
    let bytes = Batch::plain(100, &recs).encode();
    let mut d = Decoder::new(1 << 20);
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let mut seen = Vec::new();
    d.decode(&chunk, |r| {
        let headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = r
            .headers()
            .map(|h| {
                let (k, v) = h.unwrap();
                (k.to_vec(), v.map(<[u8]>::to_vec))
            })
            .collect();
        seen.push((
            r.offset,
            r.timestamp,
            r.key.map(<[u8]>::to_vec),
            r.value.map(<[u8]>::to_vec),
            headers,
        ));
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(seen[0], (100, 1005, None, None, vec![]));
    assert_eq!(
        seen[1],
        (101, 1006, Some(b"k".to_vec()), Some(vec![]), vec![])
    );
    assert_eq!(
        seen[2],
        (
            102,
            1007,
            Some(vec![]),
            Some(b"v".to_vec()),
            vec![
                (b"h".to_vec(), Some(b"1".to_vec())),
                (b"h".to_vec(), None),
                (vec![], Some(vec![]))
            ]
        )
    );
}

#[test]
fn transactions_commit_abort_and_markers() {
    // pid 1 commits 0-2 (marker 3); pid 2 aborts 4-5 (marker 6); plain 7-8.
    let bytes = concat(&[
        Batch::plain(0, &recs(3, "c")).txn(1),
        Batch::marker(3, 1, true),
        Batch::plain(4, &recs(2, "a")).txn(2),
        Batch::marker(6, 2, false),
        Batch::plain(7, &recs(2, "p")),
    ]);
    let aborted = [AbortedTxn {
        producer_id: 2,
        first_offset: 4,
    }];
    let (v, t, next) = values(&bytes, 0, ALL, RC, &aborted).unwrap();
    assert_eq!(offsets(&v), vec![0, 1, 2, 7, 8]);
    assert_eq!((t.records, t.aborted, t.control, next), (5, 2, 2, Some(9)));
    let (v, t, _) = values(&bytes, 0, ALL, Isolation::ReadUncommitted, &aborted).unwrap();
    assert_eq!(offsets(&v), vec![0, 1, 2, 4, 5, 7, 8]);
    assert_eq!((t.records, t.aborted, t.control), (7, 0, 2));
    // Counts are clipped to the range: [5, 7) holds one aborted record and one marker.
    let (_, t, _) = values(&bytes, 5, 7, RC, &aborted).unwrap();
    assert_eq!((t.records, t.aborted, t.control), (0, 1, 1));
}

#[test]
fn case14_empty_aborted_transaction() {
    let bytes = concat(&[
        Batch::marker(100, 7, false),
        Batch::plain(101, &recs(10, "c")).txn(7),
    ]);
    let aborted = [AbortedTxn {
        producer_id: 7,
        first_offset: 100,
    }];
    let (v, t, _) = values(&bytes, 0, ALL, RC, &aborted).unwrap();
    assert_eq!(v.len(), 10);
    assert_eq!((t.records, t.control), (10, 1));
}

#[test]
fn case15_unsorted_list_and_double_abort_marker() {
    // pid 1: aborted txn at 0-1 (marker 2), committed 3-4 (marker 5), aborted 6-7 (marker 8, twice at 9).
    let bytes = concat(&[
        Batch::plain(0, &recs(2, "a")).txn(1),
        Batch::marker(2, 1, false),
        Batch::plain(3, &recs(2, "c")).txn(1),
        Batch::marker(5, 1, true),
        Batch::plain(6, &recs(2, "a")).txn(1),
        Batch::marker(8, 1, false),
        Batch::marker(9, 1, false),
        Batch::plain(10, &recs(1, "c")).txn(1),
    ]);
    let aborted = [
        AbortedTxn {
            producer_id: 1,
            first_offset: 6,
        },
        AbortedTxn {
            producer_id: 1,
            first_offset: 0,
        },
    ];
    let (v, t, _) = values(&bytes, 0, ALL, RC, &aborted).unwrap();
    assert_eq!(offsets(&v), vec![3, 4, 10]);
    assert_eq!((t.aborted, t.control), (4, 4));
}

#[test]
fn case19_decompression_bombs_hit_the_cap() {
    let zeros = vec![b'0'; 8 << 20];
    for (codec, xerial) in [
        (Compression::Gzip, false),
        (Compression::Snappy, false),
        (Compression::Snappy, true),
        (Compression::Lz4, false),
        (Compression::Zstd, false),
    ] {
        let mut b = Batch::with(0, &[], codec, xerial);
        b.records = testenc::compress(codec, &zeros, xerial);
        b.record_count = 1;
        let bytes = b.encode();
        let mut d = Decoder::new(1 << 20);
        let chunk = Chunk {
            bytes: &bytes,
            start: 0,
            end: ALL,
            isolation: RC,
            aborted: &[],
        };
        let r = d.decode(&chunk, |_| Ok::<(), ()>(()));
        assert!(
            matches!(
                r,
                Err(Stop::Records(RecordsError::DecompressTooLarge { .. }))
            ),
            "{codec:?} xerial={xerial}"
        );
    }
    // A snappy block header claiming 4 GiB, and xerial chunk lengths negative / too large.
    let mut claims = Vec::new();
    testenc::zigzag(0, &mut claims);
    let mut b = Batch::plain(0, &[]);
    b.attributes = 2;
    b.record_count = 1;
    b.records = vec![0x80, 0x80, 0x80, 0x80, 0x0f, 0, 0];
    assert!(values(&b.encode(), 0, ALL, RC, &[]).is_err());
    for len in [-5i32, 1 << 30] {
        let mut x = b"\x82SNAPPY\x00".to_vec();
        x.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        x.extend_from_slice(&len.to_be_bytes());
        x.extend_from_slice(&[1, 2, 3]);
        b.records = x;
        assert!(
            matches!(
                values(&b.encode(), 0, ALL, RC, &[]),
                Err(RecordsError::Decompress { .. })
            ),
            "len {len}"
        );
    }
    // A zstd frame declaring a huge content size is refused by the cap, not trusted.
    let mut d = Decoder::new(1 << 20);
    let mut zb = Batch::with(0, &[], Compression::Zstd, false);
    zb.records = zstd::bulk::compress(&zeros, 3).unwrap();
    zb.record_count = 1;
    let bytes = zb.encode();
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    assert!(d.decode(&chunk, |_| Ok::<(), ()>(())).is_err());
}

#[test]
fn case20_unknown_codec_and_magic() {
    for codec in 5..=7 {
        let mut b = Batch::plain(40, &recs(1, "a"));
        b.attributes = codec;
        let err = values(&b.encode(), 0, ALL, RC, &[]).unwrap_err();
        assert_eq!(
            err,
            RecordsError::UnknownCodec {
                base_offset: 40,
                codec: codec as u8
            }
        );
    }
    let mut bytes = Batch::plain(40, &recs(1, "a")).encode();
    bytes[16] = 3;
    assert_eq!(
        walk(&bytes, true).unwrap_err(),
        RecordsError::UnknownMagic {
            base_offset: 40,
            magic: 3
        }
    );
}

#[test]
fn case21_legacy_message_sets_are_a_clear_error() {
    for magic in [0u8, 1] {
        // offset, size, crc, magic, attributes, [timestamp], key -1, value "x"
        let mut msg = vec![0, 0, 0, 0, magic, 0];
        if magic == 1 {
            msg.extend_from_slice(&0i64.to_be_bytes());
        }
        msg.extend_from_slice(&(-1i32).to_be_bytes());
        msg.extend_from_slice(&1i32.to_be_bytes());
        msg.push(b'x');
        let mut set = 9i64.to_be_bytes().to_vec();
        set.extend_from_slice(&(msg.len() as i32).to_be_bytes());
        set.extend(msg);
        let err = walk(&set, true).unwrap_err();
        assert_eq!(
            err,
            RecordsError::LegacyFormat {
                base_offset: 9,
                magic: magic as i8
            }
        );
        assert!(values(&set, 0, ALL, RC, &[]).is_err());
    }
}

proptest! {
    #[test]
    fn roundtrip(batches in prop::collection::vec(prop::collection::vec((any::<Option<Vec<u8>>>(), any::<Option<Vec<u8>>>()), 1..8), 1..6), codec in 0usize..5) {
        let codec = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][codec];
        let mut base = 0i64;
        let mut encoded = Vec::new();
        let mut expect = Vec::new();
        for recs in &batches {
            let rs: Vec<Rec> = recs.iter().enumerate().map(|(i, (k, v))| Rec { offset_delta: i as i32, ts_delta: i as i64, key: k.clone(), value: v.clone(), headers: vec![] }).collect();
            encoded.push(Batch::with(base, &rs, codec, false));
            for (i, (k, v)) in recs.iter().enumerate() {
                expect.push((base + i as i64, k.clone(), v.clone()));
            }
            base += recs.len() as i64;
        }
        let bytes = concat(&encoded);
        let mut got = Vec::new();
        let mut d = Decoder::new(1 << 20);
        let chunk = Chunk { bytes: &bytes, start: 0, end: ALL, isolation: RC, aborted: &[] };
        d.decode(&chunk, |r| { got.push((r.offset, r.key.map(<[u8]>::to_vec), r.value.map(<[u8]>::to_vec))); Ok::<(), ()>(()) }).unwrap();
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), flip in any::<usize>()) {
        let _ = walk(&bytes, true);
        let _ = values(&bytes, 0, ALL, RC, &[AbortedTxn { producer_id: 1, first_offset: 0 }]);
        // Also corrupt a valid batch at one position (no CRC check) and decode it.
        let mut good = Batch::with(0, &recs(3, "a"), Compression::None, false).encode();
        let i = flip % good.len();
        good[i] = good[i].wrapping_add(1 + (flip % 200) as u8);
        let mut d = Decoder::new(1 << 16).verify_crc(false);
        let chunk = Chunk { bytes: &good, start: 0, end: ALL, isolation: RC, aborted: &[] };
        let _ = d.decode(&chunk, |_| Ok::<(), ()>(()));
    }
}

/// A zstd frame whose header declares 64 GiB of content, then RLE blocks of 128 KiB each (4
/// input bytes per block): the declared size is never believed, the cap stops it.
fn zstd_declaring_64_gib(blocks: usize) -> Vec<u8> {
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(0xC0); // 8-byte content size, not single-segment, no checksum, no dictionary
    f.push(0x50); // window 1 MiB
    f.extend_from_slice(&(64u64 << 30).to_le_bytes());
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 << 10) << 3); // RLE block of 128 KiB
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push(b'z');
    }
    f
}

fn decode_raw(
    records: Vec<u8>,
    attributes: i16,
    cap: usize,
) -> (Result<Tally, RecordsError>, usize) {
    let mut b = Batch::plain(0, &[]);
    b.attributes = attributes;
    b.record_count = 1;
    b.records = records;
    let bytes = b.encode();
    let mut d = Decoder::new(cap);
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let r = d
        .decode(&chunk, |_| Ok::<(), ()>(()))
        .map(|(t, _)| t)
        .map_err(|e| match e {
            Stop::Records(e) => e,
            Stop::Job(()) => unreachable!(),
        });
    (r, d.scratch.capacity())
}

#[test]
fn case19_bombs_are_refused_at_the_cap_with_bounded_scratch() {
    let cap = 1 << 20;
    let too_large = |r: Result<Tally, RecordsError>, what: &str| match r {
        Err(RecordsError::DecompressTooLarge { cap: c, .. }) => assert_eq!(c, cap, "{what}"),
        other => panic!("{what}: {other:?}"),
    };
    // zstd: 64 GiB declared.
    let (r, scratch) = decode_raw(zstd_declaring_64_gib(16), 4, cap);
    too_large(r, "zstd 64 GiB");
    assert!(scratch <= cap + 1);
    // The hand-made frame is valid zstd: under a big enough cap its blocks do decode (and the
    // lie about the content size is then a codec error, not a crash).
    let (r, _) = decode_raw(zstd_declaring_64_gib(2), 4, 1 << 20);
    assert!(matches!(r, Err(RecordsError::Decompress { .. })), "{r:?}");
    // snappy: a raw block header claiming 4 GiB - 1, and the same inside a xerial chunk.
    let claim = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0];
    let (r, scratch) = decode_raw(claim.clone(), 2, cap);
    too_large(r, "snappy 4 GiB");
    assert_eq!(scratch, 0, "nothing reserved for a claim");
    let mut x = b"\x82SNAPPY\x00".to_vec();
    x.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
    x.extend_from_slice(&(claim.len() as i32).to_be_bytes());
    x.extend(claim);
    too_large(decode_raw(x, 2, cap).0, "xerial 4 GiB chunk");
    // lz4 frame without a content size, expanding ~250x.
    let zeros = vec![0u8; 8 << 20];
    let lz = testenc::compress(Compression::Lz4, &zeros, false);
    assert!(lz.len() * 200 < zeros.len(), "{}", lz.len());
    let (r, scratch) = decode_raw(lz, 3, cap);
    too_large(r, "lz4");
    assert!(scratch <= cap + 1);
}

#[test]
fn control_markers_need_a_version_and_type_key() {
    for key in [None, Some(vec![0u8, 0, 0])] {
        let mut m = Batch::marker(10, 1, false);
        m.records = testenc::encode_records(&[Rec {
            offset_delta: 0,
            ts_delta: 0,
            key,
            value: None,
            headers: vec![],
        }]);
        let err = values(&m.encode(), 0, ALL, RC, &[]).unwrap_err();
        assert!(
            matches!(
                err,
                RecordsError::CorruptRecord {
                    base_offset: 10,
                    offset: 10,
                    ..
                }
            ),
            "{err}"
        );
    }
    // A control record of another type (KRaft's LEADER_CHANGE is 2) is counted, not an error.
    let mut m = Batch::marker(10, 1, false);
    m.records = testenc::encode_records(&[Rec {
        offset_delta: 0,
        ts_delta: 0,
        key: Some(vec![0, 0, 0, 2]),
        value: None,
        headers: vec![],
    }]);
    let (v, t, next) = values(&m.encode(), 0, ALL, RC, &[]).unwrap();
    assert!(v.is_empty());
    assert_eq!((t.control, next), (1, Some(11)));
}

#[test]
fn timestamps_create_time_and_log_append_time() {
    let rs = recs(3, "t");
    let mut b = Batch::plain(0, &rs);
    let stamps = |bytes: &[u8]| {
        let mut out = Vec::new();
        let chunk = Chunk {
            bytes,
            start: 0,
            end: ALL,
            isolation: RC,
            aborted: &[],
        };
        Decoder::new(1 << 20)
            .decode(&chunk, |r| {
                out.push((r.timestamp, r.timestamp_type.code()));
                Ok::<(), ()>(())
            })
            .unwrap();
        out
    };
    // testenc writes base timestamp 1000, max timestamp 2000, deltas 0, 1, 2.
    assert_eq!(stamps(&b.encode()), vec![(1000, 0), (1001, 0), (1002, 0)]);
    b.attributes |= 0x08;
    assert_eq!(stamps(&b.encode()), vec![(2000, 1), (2000, 1), (2000, 1)]);
}

#[test]
fn a_batch_straddling_end_counts_only_the_range_and_still_moves_next() {
    let bytes = concat(&[
        Batch::plain(0, &recs(4, "a")),
        Batch::with(4, &recs(4, "b"), Compression::Snappy, true),
        Batch::plain(8, &recs(4, "c")),
    ]);
    let (v, t, next) = values(&bytes, 2, 6, RC, &[]).unwrap();
    assert_eq!(offsets(&v), vec![2, 3, 4, 5]);
    assert_eq!((t.records, t.batches, next), (4, 2, Some(12)));
    let in_range = (Batch::plain(0, &recs(4, "a")).encode().len()
        + Batch::with(4, &recs(4, "b"), Compression::Snappy, true)
            .encode()
            .len()) as u64;
    assert_eq!(t.bytes, in_range);
    // A range wholly beyond the chunk: nothing counted, but the position still moves.
    let (v, t, next) = values(&bytes, 100, 200, RC, &[]).unwrap();
    assert!(v.is_empty());
    assert_eq!((t, next), (Tally::default(), Some(12)));
    // An empty range.
    let (v, _, _) = values(&bytes, 5, 5, RC, &[]).unwrap();
    assert!(v.is_empty());
}

#[test]
fn compaction_gaps_inside_a_batch() {
    let rs: Vec<Rec> = [0, 3, 4, 9]
        .iter()
        .map(|&d| Rec::value(d, &format!("g{d}")))
        .collect();
    for codec in [Compression::None, Compression::Zstd] {
        let bytes = concat(&[
            Batch::with(20, &rs, codec, false),
            Batch::plain(30, &recs(1, "n")),
        ]);
        let (v, t, next) = values(&bytes, 23, ALL, RC, &[]).unwrap();
        assert_eq!(offsets(&v), vec![23, 24, 29, 30]);
        assert_eq!((t.records, next), (4, Some(31)));
    }
}

#[test]
fn a_job_error_stops_at_that_record() {
    let bytes = concat(&[
        Batch::plain(0, &recs(5, "a")),
        Batch::plain(5, &recs(5, "b")),
    ]);
    let mut seen = Vec::new();
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let r = Decoder::new(1 << 20).decode(&chunk, |r| {
        seen.push(r.offset);
        if r.offset == 6 {
            Err("bad record")
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(Stop::Job("bad record"))));
    assert_eq!(seen, (0..=6).collect::<Vec<_>>());
}

#[test]
fn aborted_batches_below_start_still_count_nothing_and_markers_still_apply() {
    // pid 3 aborts 0-4 (marker 5) then commits 6-8 (marker 9); we start at 6.
    let bytes = concat(&[
        Batch::with(0, &recs(5, "a"), Compression::Gzip, false).txn(3),
        Batch::marker(5, 3, false),
        Batch::plain(6, &recs(3, "c")).txn(3),
        Batch::marker(9, 3, true),
    ]);
    let aborted = [AbortedTxn {
        producer_id: 3,
        first_offset: 0,
    }];
    let (v, t, next) = values(&bytes, 6, ALL, RC, &aborted).unwrap();
    assert_eq!(offsets(&v), vec![6, 7, 8]);
    assert_eq!((t.records, t.aborted, t.control, next), (3, 0, 1, Some(10)));
}

#[test]
fn case21_legacy_gzip_wrapper_is_a_clear_error_too() {
    // A v1 wrapper message (attributes = gzip) in a set of two; the error names the first.
    let mut msg = vec![0, 0, 0, 0, 1, 1];
    msg.extend_from_slice(&0i64.to_be_bytes());
    msg.extend_from_slice(&(-1i32).to_be_bytes());
    let inner = testenc::compress(Compression::Gzip, b"inner message set", false);
    msg.extend_from_slice(&(inner.len() as i32).to_be_bytes());
    msg.extend(inner);
    let mut set = 41i64.to_be_bytes().to_vec();
    set.extend_from_slice(&(msg.len() as i32).to_be_bytes());
    set.extend(msg);
    let err = walk(&set, true).unwrap_err();
    assert!(err.to_string().contains("legacy"), "{err}");
    assert_eq!(
        err,
        RecordsError::LegacyFormat {
            base_offset: 41,
            magic: 1
        }
    );
    // A v2 batch followed by a legacy set: the v2 batch is delivered, then the error.
    let mut bytes = Batch::plain(30, &recs(2, "v2")).encode();
    bytes.extend(&set);
    let mut seen = Vec::new();
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: ALL,
        isolation: RC,
        aborted: &[],
    };
    let r = Decoder::new(1 << 20).decode(&chunk, |r| {
        seen.push(r.offset);
        Ok::<(), ()>(())
    });
    assert!(matches!(
        r,
        Err(Stop::Records(RecordsError::LegacyFormat {
            base_offset: 41,
            ..
        }))
    ));
    assert_eq!(seen, vec![30, 31]);
}

/// One record of the roundtrip model: (offset gap before it, ts delta, key, value, headers).
type ModelRec = (
    u8,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

/// What a delivered record looked like, owned.
type Seen = (
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

fn model_rec() -> impl Strategy<Value = ModelRec> {
    let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..12));
    (
        0u8..3,
        -5_000i64..5_000,
        bytes(),
        bytes(),
        prop::collection::vec((prop::collection::vec(any::<u8>(), 0..4), bytes()), 0..3),
    )
}

/// A transactional history step: (producer 1..=3, action). Action 0-1: transactional data
/// of 1-3 records; 2: commit; 3: abort; 4: non-transactional data.
fn txn_step() -> impl Strategy<Value = (i64, u8, i32)> {
    (1i64..=3, 0u8..5, 1i32..4)
}

/// The transactional history behind `read_committed_matches_a_transaction_model`.
#[derive(Default)]
struct TxnModel {
    /// Per producer 1..=3: the open transaction's first offset and its record offsets.
    open: [Option<(i64, Vec<i64>)>; 4],
    batches: Vec<Batch>,
    aborted_list: Vec<AbortedTxn>,
    committed: Vec<i64>,
    aborted: Vec<i64>,
    markers: Vec<i64>,
    all_data: Vec<i64>,
    offset: i64,
}

impl TxnModel {
    /// `n` records, transactional for `producer` (opening its transaction if needed).
    fn data(&mut self, producer: Option<i64>, n: i32, codec: Compression) {
        let offs: Vec<i64> = (self.offset..self.offset + i64::from(n)).collect();
        self.all_data.extend(&offs);
        let b = Batch::with(self.offset, &recs(n, "r"), codec, false);
        match producer {
            None => {
                self.committed.extend(&offs);
                self.batches.push(b);
            }
            Some(p) => {
                let first = self.offset;
                self.open[p as usize]
                    .get_or_insert_with(|| (first, vec![]))
                    .1
                    .extend(&offs);
                self.batches.push(b.txn(p));
            }
        }
        self.offset += i64::from(n);
    }

    /// End `producer`'s open transaction, if any, with a marker.
    fn close(&mut self, producer: i64, commit: bool) {
        if let Some((first, offs)) = self.open[producer as usize].take() {
            if commit {
                self.committed.extend(offs);
            } else {
                self.aborted.extend(offs);
                self.aborted_list.push(AbortedTxn {
                    producer_id: producer,
                    first_offset: first,
                });
            }
            self.batches
                .push(Batch::marker(self.offset, producer, commit));
            self.markers.push(self.offset);
            self.offset += 1;
        }
    }
}

proptest! {
    /// Random records (nulls, empties, headers, offset gaps, timestamps) in random batches with
    /// a random codec, decoded over a random range: exactly the model's records in the range.
    #[test]
    fn roundtrip_with_headers_gaps_and_ranges(
        batches in prop::collection::vec(prop::collection::vec(model_rec(), 0..6), 1..5),
        codec in 0usize..6,
        start in 0i64..40,
        len in 0i64..40,
    ) {
        let (codec, xerial) = [
            (Compression::None, false), (Compression::Gzip, false), (Compression::Snappy, false),
            (Compression::Snappy, true), (Compression::Lz4, false), (Compression::Zstd, false),
        ][codec];
        let end = start + len;
        let mut base = 0i64;
        let mut encoded = Vec::new();
        let mut model: Vec<Seen> = Vec::new();
        for recs in &batches {
            let mut delta = -1i32;
            let rs: Vec<Rec> = recs.iter().map(|(gap, ts, k, v, h)| {
                delta += 1 + i32::from(*gap);
                model.push((base + i64::from(delta), 1000 + ts, k.clone(), v.clone(), h.clone()));
                Rec { offset_delta: delta, ts_delta: *ts, key: k.clone(), value: v.clone(), headers: h.clone() }
            }).collect();
            let mut b = Batch::with(base, &rs, codec, xerial);
            // Sometimes compaction removed the batch's tail: the span outlives its records.
            b.last_offset_delta = delta.max(0) + i32::from(recs.len() % 2 == 1);
            base += i64::from(b.last_offset_delta) + 1;
            encoded.push(b);
        }
        let bytes = concat(&encoded);
        let mut got: Vec<Seen> = Vec::new();
        let chunk = Chunk { bytes: &bytes, start, end, isolation: RC, aborted: &[] };
        let (tally, next) = Decoder::new(1 << 20).decode(&chunk, |r| {
            let headers = r.headers().map(|h| h.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))))
                .collect::<Result<Vec<_>, _>>().unwrap();
            got.push((r.offset, r.timestamp, r.key.map(<[u8]>::to_vec), r.value.map(<[u8]>::to_vec), headers));
            Ok::<(), ()>(())
        }).unwrap();
        model.retain(|r| r.0 >= start && r.0 < end);
        prop_assert_eq!(tally.records, model.len() as u64);
        prop_assert_eq!(got, model);
        prop_assert_eq!(next, Some(base));
        let w = walk(&bytes, true).unwrap();
        prop_assert_eq!((w.complete_len, w.batches, w.next_offset), (bytes.len(), batches.len(), Some(base)));
    }

    /// read_committed against a model of the transactions: every committed or
    /// non-transactional record in range is delivered, every aborted one in range is counted as
    /// aborted, every marker in range as control, whatever the order of the aborted list.
    #[test]
    fn read_committed_matches_a_transaction_model(
        steps in prop::collection::vec(txn_step(), 1..30),
        closing in prop::collection::vec(any::<bool>(), 3),
        start in 0i64..30,
        rotate in 0usize..8,
        codec in 0usize..3,
    ) {
        let codec = [Compression::None, Compression::Gzip, Compression::Lz4][codec];
        let mut m = TxnModel::default();
        for (p, action, n) in steps {
            match action {
                0 | 1 => m.data(Some(p), n, codec),
                4 => m.data(None, n, codec),
                a => m.close(p, a == 2),
            }
        }
        for p in 1..=3 {
            m.close(p, closing[p as usize - 1]);
        }
        let TxnModel { batches, mut aborted_list, committed, aborted, markers, all_data, offset, .. } = m;
        let n = aborted_list.len().max(1);
        aborted_list.rotate_left(rotate % n);
        let bytes = concat(&batches);
        let in_range = |v: &Vec<i64>| v.iter().filter(|&&o| o >= start).count() as u64;

        let (v, t, next) = values(&bytes, start, ALL, RC, &aborted_list).unwrap();
        let mut want: Vec<i64> = committed.iter().copied().filter(|&o| o >= start).collect();
        want.sort_unstable();
        prop_assert_eq!(offsets(&v), want);
        prop_assert_eq!(t.aborted, in_range(&aborted));
        prop_assert_eq!(t.control, in_range(&markers));
        prop_assert_eq!(t.records + t.aborted + t.control, (offset - start).max(0) as u64);
        prop_assert_eq!(next, (offset > 0).then_some(offset));

        let (v, t, _) = values(&bytes, start, ALL, Isolation::ReadUncommitted, &aborted_list).unwrap();
        prop_assert_eq!(v.len() as u64, in_range(&all_data));
        prop_assert_eq!((t.aborted, t.control), (0, in_range(&markers)));
    }
}

#[test]
fn may_hold_decides_from_the_header_alone() {
    let b = |lat: bool, base: i64, max: i64| {
        let mut b = Batch::plain(0, &recs(1, "a")).times(base, max);
        if lat {
            b = b.log_append();
        }
        let bytes = b.encode();
        header::next_batch(&bytes, true).unwrap().unwrap().0
    };
    let within = |min, max| TimeBounds { min, max };
    let any = TimeBounds::ANY;
    // (log-append time, base timestamp, max timestamp, bounds, may hold)
    let table = [
        (false, 100, 200, any, true),
        (true, 100, 200, any, true),
        // create time: only `max_timestamp` bounds the records, from above
        (false, 100, 200, within(200, i64::MAX), true),
        (false, 100, 200, within(201, i64::MAX), false),
        (false, 100, 200, within(150, 150), true),
        (false, 100, 200, within(i64::MIN, 50), true), // later records may be older than the first
        (false, 300, 200, within(i64::MIN, 250), true),
        (false, -1, -1, within(0, i64::MAX), false), // no timestamps at all
        (false, -1, -1, within(-1, -1), true),
        // log-append time: every record carries max_timestamp, so both ends decide
        (true, 100, 200, within(200, 200), true),
        (true, 100, 200, within(201, i64::MAX), false),
        (true, 100, 200, within(i64::MIN, 199), false),
        (true, 100, 200, within(i64::MIN, 200), true),
        (true, 900, 200, within(150, 250), true), // base_timestamp plays no part
        (true, 100, 200, within(100, 150), false),
        // empty bounds: nothing can match
        (false, 100, 200, within(10, 9), false),
        (true, 100, 200, within(300, 100), false),
    ];
    for (lat, base, max, bounds, want) in table {
        assert_eq!(
            b(lat, base, max).may_hold(bounds),
            want,
            "log_append={lat} base={base} max={max} {bounds:?}"
        );
    }
}

/// Decode with `times`: (offsets delivered, tally, next).
fn skipping(
    bytes: &[u8],
    start: i64,
    end: i64,
    times: TimeBounds,
    aborted: &[AbortedTxn],
) -> Decoded {
    let mut d = Decoder::new(1 << 20).skip_outside(times);
    let chunk = Chunk {
        bytes,
        start,
        end,
        isolation: RC,
        aborted,
    };
    let mut out = Vec::new();
    let (t, next) = d
        .decode(&chunk, |r| {
            out.push((
                r.offset,
                r.value.map(|v| String::from_utf8_lossy(v).into_owned()),
            ));
            Ok::<(), ()>(())
        })
        .map_err(|_| "decode failed")
        .unwrap();
    (out, t, next)
}

#[test]
fn batches_that_cannot_match_are_skipped_undecoded_and_counted() {
    // old (max 500), new (max 5000), old compressed, an aborted old one, a marker, new again
    let lz = Compression::Lz4;
    let batches = [
        Batch::plain(0, &recs(3, "a")).times(400, 500),
        Batch::with(3, &recs(3, "b"), Compression::Zstd, false).times(4_000, 5_000),
        Batch::with(6, &recs(4, "c"), lz, false).times(450, 500),
        Batch::plain(10, &recs(2, "d")).times(100, 200).txn(7),
        Batch::marker(12, 7, false),
        Batch::with(13, &recs(2, "e"), lz, false).times(4_000, 6_000),
    ];
    let bytes = concat(&batches);
    let aborted = [AbortedTxn {
        producer_id: 7,
        first_offset: 10,
    }];
    let new = TimeBounds {
        min: 1_000,
        max: i64::MAX,
    };
    let (v, t, next) = skipping(&bytes, 0, 15, new, &aborted);
    assert_eq!(offsets(&v), [3, 4, 5, 13, 14]);
    assert_eq!(next, Some(15));
    assert_eq!((t.records, t.skipped, t.aborted, t.control), (5, 7, 2, 1));
    assert_eq!(
        t.records + t.skipped + t.aborted + t.control,
        15,
        "every offset accounted for"
    );
    assert_eq!((t.batches, t.skipped_batches), (6, 2));
    let skipped_bytes = (batches[0].encode().len() + batches[2].encode().len()) as u64;
    assert_eq!(t.skipped_bytes, skipped_bytes);

    // Without bounds the same bytes deliver everything that is not aborted.
    let (all, t0, next0) = skipping(&bytes, 0, 15, TimeBounds::ANY, &aborted);
    assert_eq!(offsets(&all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14]);
    assert_eq!((t0.skipped, t0.skipped_batches, next0), (0, 0, Some(15)));
    assert_eq!(t0.records + t0.aborted + t0.control, 15);

    // A batch straddling the range's start or end is decoded (its records in range are
    // delivered, the caller filters them), never skipped by its header.
    let (v, t, _) = skipping(&bytes, 1, 8, new, &aborted);
    assert_eq!(offsets(&v), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!((t.skipped, t.skipped_batches), (0, 0));
}

#[test]
fn a_corrupt_body_in_a_skipped_batch_is_never_read() {
    // The header (CRC-checked) is all a skipped batch is judged by: a body the codec would
    // refuse is not decompressed at all.
    let mut b = Batch::with(0, &recs(2, "a"), Compression::Zstd, false).times(10, 20);
    b.records = b"not zstd at all".to_vec();
    let bytes = concat(&[b, Batch::plain(2, &recs(1, "n")).times(900, 900)]);
    let (v, t, next) = skipping(
        &bytes,
        0,
        3,
        TimeBounds {
            min: 100,
            max: 1000,
        },
        &[],
    );
    assert_eq!(offsets(&v), [2]);
    assert_eq!((t.skipped, t.records, next), (2, 1, Some(3)));
    assert!(
        values(&bytes, 0, 3, RC, &[]).is_err(),
        "decoded, the body is refused"
    );
}
