//! Which transactional batches belong to aborted transactions (read_committed).
//!
//! The Java consumer's rule, per Fetch response: keep the response's aborted transactions
//! sorted by first offset; before each transactional batch, every aborted transaction whose
//! first offset is at or before the batch's last offset marks its producer as aborted; a
//! data batch of a marked producer is aborted; that producer's ABORT marker unmarks it.
//! Sorting a local copy tolerates an unsorted list; unmarking twice is harmless, so a
//! duplicate ABORT marker is too.

use crate::{AbortedTxn, Isolation};

pub(crate) struct TxnFilter {
    active: bool,
    pending: Vec<AbortedTxn>,
    next: usize,
    aborted_producers: Vec<i64>,
}

impl TxnFilter {
    pub(crate) fn new(isolation: Isolation, aborted: &[AbortedTxn]) -> TxnFilter {
        let active = isolation == Isolation::ReadCommitted;
        let mut pending = if active { aborted.to_vec() } else { Vec::new() };
        pending.sort_by_key(|t| t.first_offset);
        TxnFilter {
            active,
            pending,
            next: 0,
            aborted_producers: Vec::new(),
        }
    }

    /// Is a transactional data batch of `producer_id` whose last offset is `last` aborted?
    pub(crate) fn is_aborted(&mut self, producer_id: i64, last: i64) -> bool {
        if !self.active {
            return false;
        }
        self.consume_upto(last);
        self.aborted_producers.contains(&producer_id)
    }

    /// Mark the producers of every aborted transaction that starts at or before `last`.
    pub(crate) fn consume_upto(&mut self, last: i64) {
        while let Some(t) = self.pending.get(self.next) {
            if t.first_offset > last {
                break;
            }
            if !self.aborted_producers.contains(&t.producer_id) {
                self.aborted_producers.push(t.producer_id);
            }
            self.next += 1;
        }
    }

    /// An ABORT marker of `producer_id` ends its aborted transaction.
    pub(crate) fn abort_marker(&mut self, producer_id: i64) {
        self.aborted_producers.retain(|&p| p != producer_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(producer_id: i64, first_offset: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset,
        }
    }

    #[test]
    fn a_producer_is_aborted_from_its_first_offset_until_its_marker() {
        let mut f = TxnFilter::new(Isolation::ReadCommitted, &[t(1, 10), t(2, 5)]);
        assert!(!f.is_aborted(1, 9), "before the txn starts");
        assert!(f.is_aborted(2, 9));
        assert!(f.is_aborted(1, 12));
        f.abort_marker(1);
        assert!(!f.is_aborted(1, 20), "after the marker");
        assert!(f.is_aborted(2, 20), "pid 2 has not seen its marker");
        f.abort_marker(2);
        f.abort_marker(2);
        assert!(!f.is_aborted(2, 30));
    }

    #[test]
    fn read_uncommitted_aborts_nothing() {
        let mut f = TxnFilter::new(Isolation::ReadUncommitted, &[t(1, 0)]);
        assert!(!f.is_aborted(1, 100));
    }
}
