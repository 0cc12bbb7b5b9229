//! Shared helpers of kbatch's benchmarks.
