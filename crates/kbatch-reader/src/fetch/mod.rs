//! Fetching: the policy (pure decisions over one response) and the drivers that run it.
//!
//! * [`cursor`]: one partition's fetch position, epochs and time budget;
//! * [`policy`]: given a partition's cursor and its part of a Fetch response, what to do —
//!   deliver complete batches, reroute, retry, wait, or fail. No I/O, table-tested;
//! * [`pacer`]: when a loop may ask its broker again — throttle, backoff and the budgets,
//!   given the time as an input, table-tested in virtual time;
//! * [`driver`]: the supervisor and the per-broker fetch loops, over the [`Client`] trait.
//!
//! [`Client`]: crate::client::Client

pub(crate) mod cursor;
pub(crate) mod driver;
pub(crate) mod guard;
pub(crate) mod pacer;
pub(crate) mod policy;

pub(crate) use driver::supervise;
