//! The memory of batches already handed over, taken back for the next batch once the consumer
//! has dropped them.
//!
//! Why: a batch of 64 Ki realistic events holds a ~30 MB value buffer. Allocated fresh for
//! every batch and freed by the consumer (often another thread, often Python), such buffers
//! make glibc raise its dynamic mmap threshold to their size; from then on they come from the
//! heap arenas, interleaved with smaller, longer-lived allocations, and the heap only grows:
//! `read_batches`' peak RSS rose with the length of the read (1.29× over 20 M events vs 2 M).
//! Reusing the buffers keeps the number of large allocations fixed, so peak memory is set by
//! the batches in flight, not by the read's length — and a reused buffer's pages are already
//! mapped, where a fresh mmap would fault in every page again.
//!
//! A buffer is reusable when this pool holds its only reference ([`Buffer::into_vec`] then
//! succeeds); one the consumer still holds is left alone. The pool keeps references only, so a
//! consumer that keeps every batch (`read`) costs a few failed checks per batch, nothing more.

use std::collections::VecDeque;
use std::marker::PhantomData;

use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};

/// Batches of one worker that may be alive at once: the channel's two, the one the consumer
/// holds, the one it is taking, and the one being cut. A pool holds references to that many
/// batches' buffers: the buffers of older batches are either still the consumer's (it keeps
/// batches: nothing to reuse) or were taken back already.
const BATCHES: usize = 6;

/// Handed-over buffers of one element type and one role (a role's buffers are alike in size,
/// so a value column's 30 MB never ends up holding a batch's topic names).
pub(crate) struct Recycler<T> {
    held: VecDeque<Buffer>,
    limit: usize,
    kind: PhantomData<T>,
}

impl<T: ArrowNativeType> Recycler<T> {
    /// A pool for a role that uses `per_batch` buffers in each batch.
    pub(crate) fn new(per_batch: usize) -> Self {
        let limit = per_batch * BATCHES;
        Recycler {
            held: VecDeque::with_capacity(limit),
            limit,
            kind: PhantomData,
        }
    }

    /// An empty vector with room for `capacity` items: a dropped batch's memory if there is
    /// one, otherwise a new allocation.
    pub(crate) fn take(&mut self, capacity: usize) -> Vec<T> {
        let Some(i) = self.held.iter().position(|b| b.strong_count() == 1) else {
            return Vec::with_capacity(capacity);
        };
        let buffer = self.held.remove(i).expect("index within the pool");
        // Only buffers made by `seal` from a `Vec<T>` are held, so the layout matches; a
        // reference taken between the check and here makes this fail, never corrupt.
        match buffer.into_vec::<T>() {
            Ok(mut v) => {
                v.clear();
                v.reserve(capacity);
                v
            }
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    /// Turn `v` into an Arrow buffer and keep a reference to it, so its memory can be taken
    /// back when the batch is dropped.
    pub(crate) fn seal(&mut self, v: Vec<T>) -> ScalarBuffer<T> {
        let len = v.len();
        let buffer = Buffer::from_vec(v);
        if self.held.len() == self.limit {
            self.held.pop_front();
        }
        self.held.push_back(buffer.clone());
        ScalarBuffer::new(buffer, 0, len)
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.held.len()
    }
}

/// One worker's recyclers, by role.
pub(crate) struct Pools {
    pub(crate) keys: Recycler<u8>,
    pub(crate) values: Recycler<u8>,
    pub(crate) topics: Recycler<u8>,
    /// The offsets of those three, `partition` and `timestampType`: one `i32` per row each.
    pub(crate) i32s: Recycler<i32>,
    /// `offset` and `timestamp`: one `i64` per row each.
    pub(crate) i64s: Recycler<i64>,
}

impl Default for Pools {
    fn default() -> Self {
        Pools {
            keys: Recycler::new(1),
            values: Recycler::new(1),
            topics: Recycler::new(1),
            i32s: Recycler::new(5),
            i64s: Recycler::new(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_and_a_held_one_is_not() {
        let mut pool = Recycler::<i64>::new(1);
        let mut v = pool.take(1000);
        v.extend(0..1000);
        let first = pool.seal(v);
        let first_ptr = first.as_ptr();

        // The consumer still holds the first batch: a new allocation.
        let mut v = pool.take(1000);
        assert_ne!(v.as_ptr(), first_ptr);
        v.extend(0..10);
        let second = pool.seal(v);
        assert_eq!(pool.held(), 2);

        // Dropped: its memory comes back, empty, with its capacity.
        drop(first);
        let v = pool.take(10);
        assert_eq!(v.as_ptr(), first_ptr);
        assert!(v.is_empty() && v.capacity() >= 1000);
        assert_eq!(pool.held(), 1);
        assert_eq!(&second[..], &(0..10).collect::<Vec<i64>>()[..]);
    }

    #[test]
    fn a_sliced_view_keeps_the_buffer_held() {
        let mut pool = Recycler::<u8>::new(1);
        let mut v = pool.take(64);
        v.extend_from_slice(b"abcdefgh");
        let sealed = pool.seal(v);
        let view = sealed.slice(2, 3);
        drop(sealed);
        assert_eq!(&view[..], b"cde");
        let v = pool.take(8);
        assert_ne!(v.as_ptr(), view.as_ptr().wrapping_sub(2));
        assert_eq!(&view[..], b"cde");
    }

    #[test]
    fn the_pool_keeps_at_most_held_references() {
        let mut pool = Recycler::<i32>::new(1);
        let kept: Vec<_> = (0..BATCHES + 5)
            .map(|i| {
                let mut v = pool.take(4);
                v.push(i as i32);
                pool.seal(v)
            })
            .collect();
        assert_eq!(pool.held(), BATCHES);
        // The oldest references were let go: those buffers are the consumer's alone now.
        assert!(kept[..5].iter().all(|b| b.inner().strong_count() == 1));
        assert!(kept[5..].iter().all(|b| b.inner().strong_count() == 2));
    }
}
