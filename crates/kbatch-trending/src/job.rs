//! The trending job on the engine: per-worker partials with interned (category, product)
//! pairs and integer-indexed counters; one merge; ranking at `finish`.

use std::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashMap;
use kbatch_engine::{Job, JobError, PartitionStats};
use kbatch_records::Record;

use crate::extract::{extract, Invalid};
use crate::report::{rank, InvalidSample, PartitionReport, Report};

/// Invalid records kept as samples per partition (the lowest offsets).
pub const SAMPLES_PER_PARTITION: usize = 5;

/// A small, fast hasher for interning short byte strings (FxHash's multiply-rotate).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

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
        self.0
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

/// An interned (category, product) pair of unescaped bytes.
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
/// A (category, product) pair is interned once to a `u32` id and counted in a `Vec` by that
/// id: one hash probe per record, no copy and no allocation on a hit.
#[derive(Debug, Default, Clone)]
pub struct Partial {
    ids: HashMap<PairKey, u32, Fx>,
    keys: Vec<PairKey>,
    counts: Vec<u64>,
    invalid: Vec<PartitionInvalid>,
}

impl Partial {
    #[inline]
    fn count(&mut self, category: &[u8], product: &[u8], n: u64) {
        match self.ids.get(&PairRef(category, product)) {
            Some(&id) => self.counts[id as usize] += n,
            None => {
                let id = self.keys.len() as u32;
                let key: PairKey = (category.into(), product.into());
                self.ids.insert(key.clone(), id);
                self.keys.push(key);
                self.counts.push(n);
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

    /// Every (category, product, views) counted, as unescaped bytes.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8], u64)> + '_ {
        self.keys
            .iter()
            .zip(&self.counts)
            .map(|(k, &n)| (&*k.0, &*k.1, n))
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
    /// Keep rows whose rank is at most this (≥ 1; 1 keeps every product tied at the maximum).
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
                        message: format!(
                            "invalid event ({}); --strict stops at the first one",
                            why.as_str()
                        ),
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
