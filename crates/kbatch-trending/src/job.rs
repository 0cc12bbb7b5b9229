//! The trending job on the engine: per-worker partials counting (category, product) pairs
//! under their unescaped bytes; one merge (strings are the common language of two partials);
//! ranking at `finish`.

use std::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashMap;
use kbatch_engine::{Job, JobError, PartitionStats};
use kbatch_records::Record;

use crate::extract::{extract, Invalid};
use crate::report::{rank, InvalidSample, PartitionReport, Report};

/// Invalid records kept as samples per partition (the lowest offsets).
pub const SAMPLES_PER_PARTITION: usize = 5;

/// A small, fast hasher for short byte strings: FxHash's rotate-xor-multiply per 8-byte word,
/// plus a final folded multiply.
///
/// The fold matters: a multiply only carries bits *upwards*, so without it the high bytes of
/// the last word (the changing digits of `PD000123`-style ids) never reach the low bits that
/// hashbrown uses to pick a bucket, and such keys all probe the same group.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
/// 2^64 / golden ratio, odd: spreads the fold's input over the whole 128-bit product.
const FOLD: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(SEED);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(SEED);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(SEED);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(SEED);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Folded multiply: the high half of the 128-bit product depends on every input bit.
        let m = u128::from(self.0) * u128::from(FOLD);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// Invalid records of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionInvalid {
    /// How many.
    pub count: u64,
    /// The lowest offsets, with reasons (at most [`SAMPLES_PER_PARTITION`], ascending).
    pub samples: Vec<(i64, Invalid)>,
}

/// A counted (category, product) pair of unescaped bytes.
type PairKey = (Box<[u8]>, Box<[u8]>);

/// A borrowed pair that hashes and compares like [`PairKey`], so a hit allocates nothing.
#[derive(Hash)]
struct PairRef<'a>(&'a [u8], &'a [u8]);

impl hashbrown::Equivalent<PairKey> for PairRef<'_> {
    #[inline]
    fn equivalent(&self, k: &PairKey) -> bool {
        *self.0 == *k.0 && *self.1 == *k.1
    }
}

/// One worker's aggregation state.
///
/// Each (category, product) pair is one key of one map whose value is its count: a record costs
/// one hash of its two strings and one probe, with no copy and no allocation when the pair was
/// seen before (the probe borrows the record's bytes). The strings are stored once, in the key.
/// Interning category and product separately to ids and counting by the id pair would cost
/// three probes per record for the same result, since ranking needs the strings anyway.
#[derive(Debug, Default, Clone)]
pub struct Partial {
    counts: HashMap<PairKey, u64, Fx>,
    invalid: Vec<PartitionInvalid>,
}

impl Partial {
    #[inline]
    fn count(&mut self, category: &[u8], product: &[u8], n: u64) {
        match self.counts.get_mut(&PairRef(category, product)) {
            Some(views) => *views += n,
            None => {
                self.counts.insert((category.into(), product.into()), n);
            }
        }
    }

    fn invalid_mut(&mut self, partition: usize) -> &mut PartitionInvalid {
        if self.invalid.len() <= partition {
            self.invalid
                .resize_with(partition + 1, PartitionInvalid::default);
        }
        &mut self.invalid[partition]
    }

    fn note_invalid(&mut self, partition: usize, offset: i64, why: Invalid) {
        let p = self.invalid_mut(partition);
        p.count += 1;
        if p.samples.len() < SAMPLES_PER_PARTITION {
            // Records of a partition arrive in offset order: the first ones are the lowest.
            p.samples.push((offset, why));
        }
    }

    /// Every (category, product, views) counted, as unescaped bytes, in no particular order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8], u64)> + '_ {
        self.counts.iter().map(|(k, &n)| (&*k.0, &*k.1, n))
    }

    /// Invalid records per partition index.
    pub fn invalid(&self) -> &[PartitionInvalid] {
        &self.invalid
    }
}

/// The trending job: views per (category, product), top products per category by competition
/// rank.
#[derive(Debug, Clone, Copy)]
pub struct Trending {
    /// Keep rows whose rank is at most this (≥ 1; 1 keeps every product tied at the maximum;
    /// 0 is read as 1 rather than giving an empty report).
    pub top: u32,
    /// Fail the run at the first invalid record.
    pub strict: bool,
}

impl Job for Trending {
    type Partial = Partial;
    type Output = Report;

    fn partial(&self) -> Partial {
        Partial::default()
    }

    #[inline]
    fn update(
        &self,
        p: &mut Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        match extract(record.value) {
            Ok(e) => {
                p.count(&e.category, &e.product, 1);
                Ok(())
            }
            Err(why) => {
                if self.strict {
                    return Err(JobError::Fail {
                        offset: record.offset,
                        message: format!("invalid event ({})", why.as_str()),
                    });
                }
                p.note_invalid(partition, record.offset, why);
                Ok(())
            }
        }
    }

    fn merge(&self, into: &mut Partial, other: Partial) {
        for (c, pr, n) in other.pairs() {
            into.count(c, pr, n);
        }
        for (i, inv) in other.invalid.into_iter().enumerate() {
            if inv.count == 0 {
                continue;
            }
            let p = into.invalid_mut(i);
            p.count += inv.count;
            p.samples.extend(inv.samples);
            p.samples.sort_unstable();
            p.samples.truncate(SAMPLES_PER_PARTITION);
        }
    }

    fn finish(&self, p: Partial, stats: &[PartitionStats]) -> Report {
        let mut partitions = Vec::with_capacity(stats.len());
        let mut invalid_samples = Vec::new();
        let empty = PartitionInvalid::default();
        for (i, s) in stats.iter().enumerate() {
            let inv = p.invalid.get(i).unwrap_or(&empty);
            partitions.push(PartitionReport {
                topic: s.topic.to_string(),
                partition: s.partition,
                start: s.start,
                end: s.end,
                records: s.records,
                aborted: s.aborted,
                control: s.control,
                invalid: inv.count,
            });
            for &(offset, why) in &inv.samples {
                invalid_samples.push(InvalidSample {
                    topic: s.topic.to_string(),
                    partition: s.partition,
                    offset,
                    reason: why.as_str(),
                });
            }
        }
        let top = rank(p.pairs(), u64::from(self.top.max(1)));
        Report {
            records: stats.iter().map(|s| s.records).sum(),
            invalid: p.invalid.iter().map(|i| i.count).sum(),
            partitions,
            top,
            invalid_samples,
        }
    }
}
