//! Shared pieces of kbatch's benchmarks.
//!
//! - [`Event`], [`Key`] and [`count_serde`]: the trending job done the way a careful serde user
//!   writes it (borrowed struct, hashbrown map probed with a borrowed key). Both comparison
//!   readers use it: rust-rdkafka end to end (`rdkafka_trending`) and kafka-protocol in the
//!   micro-benchmarks (`benches/decode.rs`), so the baseline is the same code in both places.
//! - [`gen`]: a tiny record-batch v2 encoder and a browsing-event generator, so the
//!   micro-benchmarks still run when `fixtures/batches/` is absent (and so they can be run on
//!   more records than the committed fixtures hold).

pub mod harness;

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

/// An event as a careful serde user parses it: borrowed, unescaped only when needed.
#[derive(serde::Deserialize)]
pub struct Event<'a> {
    /// Top-level product.
    #[serde(borrow)]
    pub product: Cow<'a, str>,
    /// Top-level category.
    #[serde(borrow)]
    pub category: Cow<'a, str>,
}

/// The map's owned key: (category, product), stored once per distinct pair.
pub type Pair = (Box<str>, Box<str>);

/// The serde baseline's counts.
pub type Counts = hashbrown::HashMap<Pair, u64>;

/// A borrowed (category, product) that hashes and compares like the owned [`Pair`] (a tuple
/// hashes its fields in order, and `Box<str>` hashes like `str`), so a map hit allocates nothing.
pub struct Key<'a>(pub &'a str, pub &'a str);

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
        self.1.hash(h);
    }
}

impl Equivalent<Pair> for Key<'_> {
    fn equivalent(&self, k: &Pair) -> bool {
        *self.0 == *k.0 && *self.1 == *k.1
    }
}

/// Count one record value the serde way. Returns false for an invalid value: a null value
/// (tombstone), anything serde_json cannot parse into [`Event`], and a JSON array (serde's
/// derived struct accepts `["cat","prod"]` as a sequence, but an event is an object: kbatch's
/// extractor rejects it, and so must the baseline, or the reports would differ).
pub fn count_serde(counts: &mut Counts, value: Option<&[u8]>) -> bool {
    let Some(value) = value else { return false };
    if value.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return false;
    }
    let Ok(e) = serde_json::from_slice::<Event>(value) else {
        return false;
    };
    match counts.get_mut(&Key(&e.category, &e.product)) {
        Some(n) => *n += 1,
        None => {
            counts.insert((e.category.into(), e.product.into()), 1);
        }
    }
    true
}

pub mod gen {
    //! Record-batch v2 bytes made in-process (the layout of KIP-98's message format v2): what a
    //! Java producer with `linger.ms` batching writes, minus transactions and headers. Only for
    //! benchmarks and their smoke test; the decoders under test never see this code.

    /// Codec ids in a batch's attributes (bits 0-2).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Codec {
        /// No compression.
        None,
        /// LZ4 frame format, as Kafka writes it.
        Lz4,
        /// Zstandard.
        Zstd,
    }

    impl Codec {
        /// By the name used in topic names and file names.
        pub fn by_name(name: &str) -> Option<Codec> {
            match name {
                "none" => Some(Codec::None),
                "lz4" => Some(Codec::Lz4),
                "zstd" => Some(Codec::Zstd),
                _ => None,
            }
        }

        fn id(self) -> i16 {
            match self {
                Codec::None => 0,
                Codec::Lz4 => 3,
                Codec::Zstd => 4,
            }
        }
    }

    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    /// One batch of `values` (null for `None`) starting at `base_offset`.
    pub fn batch(
        base_offset: i64,
        timestamp: i64,
        values: &[Option<&[u8]>],
        codec: Codec,
    ) -> Vec<u8> {
        let mut records = Vec::with_capacity(values.len() * 112);
        let mut rec = Vec::with_capacity(128);
        for (i, v) in values.iter().enumerate() {
            rec.clear();
            rec.push(0); // attributes
            varint(&mut rec, 0); // timestamp delta
            varint(&mut rec, i as i64); // offset delta
            varint(&mut rec, -1); // null key
            match v {
                Some(v) => {
                    varint(&mut rec, v.len() as i64);
                    rec.extend_from_slice(v);
                }
                None => varint(&mut rec, -1),
            }
            varint(&mut rec, 0); // no headers
            varint(&mut records, rec.len() as i64);
            records.extend_from_slice(&rec);
        }
        let records = match codec {
            Codec::None => records,
            Codec::Lz4 => {
                use std::io::Write;
                let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                enc.write_all(&records).expect("lz4 into a Vec");
                enc.finish().expect("lz4 into a Vec")
            }
            Codec::Zstd => zstd::bulk::compress(&records, 3).expect("zstd into a Vec"),
        };
        let n = values.len() as i32;
        let mut b = Vec::with_capacity(61 + records.len());
        b.extend_from_slice(&base_offset.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes()); // batch length, patched below
        b.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
        b.push(2); // magic
        b.extend_from_slice(&0u32.to_be_bytes()); // crc, patched below
        b.extend_from_slice(&codec.id().to_be_bytes());
        b.extend_from_slice(&(n - 1).to_be_bytes()); // last offset delta
        b.extend_from_slice(&timestamp.to_be_bytes());
        b.extend_from_slice(&timestamp.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
        b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
        b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
        b.extend_from_slice(&n.to_be_bytes());
        b.extend_from_slice(&records);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    const CATEGORIES: [&str; 10] = [
        "Books",
        "Electronics",
        "Home & Garden",
        "Toys",
        "Sports",
        "Beauty",
        "Grocery",
        "Music",
        "Garden \\\"Outdoor\\\"",
        "Automotive",
    ];

    /// `n` browsing events of about 100 bytes with skewed popularity (product k of a category
    /// drawn with weight 1/(k+1), 100 products per category), one in 1000 invalid (null, not
    /// JSON, missing field, array), one category with escaped quotes, in batches of `per_batch`
    /// records from offset 0. Deterministic.
    pub fn events(n: usize, per_batch: usize, codec: Codec) -> Vec<u8> {
        let mut rng = kbatch_testkit::rng::XorShift64::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next();
        // Cumulative weights 1/(k+1) in fixed point, for inverse-CDF sampling.
        let cdf: Vec<u64> = (0..100u64)
            .scan(0u64, |acc, k| {
                *acc += 1_000_000 / (k + 1);
                Some(*acc)
            })
            .collect();
        let total = *cdf.last().unwrap();
        let values: Vec<Option<Vec<u8>>> = (0..n)
            .map(|i| {
                let r = next();
                if i % 1000 == 999 {
                    return match r % 4 {
                        0 => None,
                        1 => Some(b"not json at all".to_vec()),
                        2 => Some(br#"{"customer":"cus001","product":"PD0001"}"#.to_vec()),
                        _ => Some(br#"["Books","PD0001"]"#.to_vec()),
                    };
                }
                let c = (r % 10) as usize;
                let x = (r >> 8) % total;
                let k = cdf.partition_point(|&w| w <= x);
                let p = c * 100 + k;
                Some(
                    format!(
                        r#"{{"customer":"cus{:03}","product":"PD{p:04}","category":"{}","ts":"{}","page":"/item/PD{p:04}"}}"#,
                        (r >> 40) % 500,
                        CATEGORIES[c],
                        1_516_978_415 + i % 86_400
                    )
                    .into_bytes(),
                )
            })
            .collect();
        let mut out = Vec::new();
        for (b, chunk) in values.chunks(per_batch.max(1)).enumerate() {
            let vs: Vec<Option<&[u8]>> = chunk.iter().map(|v| v.as_deref()).collect();
            out.extend_from_slice(&batch(
                (b * per_batch) as i64,
                1_516_978_415_000,
                &vs,
                codec,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::gen::{self, Codec};
    use super::*;

    /// The generated batches are valid Kafka: kbatch's decoder and kafka-protocol's (each
    /// checking CRC32C) read the same values from them, for every codec.
    #[test]
    fn generated_batches_decode_alike() {
        for codec in [Codec::None, Codec::Lz4, Codec::Zstd] {
            let bytes = gen::events(5_000, 700, codec);
            let mut ours = Vec::new();
            let chunk = kbatch_records::Chunk {
                bytes: &bytes,
                start: 0,
                end: i64::MAX,
                isolation: kbatch_records::Isolation::ReadCommitted,
                aborted: &[],
            };
            kbatch_records::Decoder::new(64 << 20)
                .decode(&chunk, |r| {
                    ours.push((r.offset, r.value.map(<[u8]>::to_vec)));
                    Ok::<(), ()>(())
                })
                .unwrap();
            let mut theirs = Vec::new();
            let mut buf = bytes::Bytes::from(bytes.clone());
            while !buf.is_empty() {
                let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
                theirs.extend(
                    set.records
                        .into_iter()
                        .map(|r| (r.offset, r.value.map(|v| v.to_vec()))),
                );
            }
            assert_eq!(ours.len(), 5_000, "{codec:?}");
            assert_eq!(ours, theirs, "{codec:?}");
            let mut counts = Counts::new();
            let valid = ours
                .iter()
                .filter(|(_, v)| count_serde(&mut counts, v.as_deref()))
                .count();
            assert_eq!(valid, 4_995, "{codec:?}: one in 1000 invalid");
            assert!(
                counts.keys().any(|(c, _)| &**c == "Garden \"Outdoor\""),
                "escaped category unescaped"
            );
        }
    }
}
