//! The one pseudo-random generator of the tests, the generators and the benchmarks.

/// xorshift64 (Marsaglia's 13/7/17 triple): reproducible from its seed and fast; never for
/// anything that must be unpredictable (the reader's jitter and DNS ids use OS entropy).
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator whose state starts at `seed | 1` (xorshift's state must never be zero).
    pub fn new(seed: u64) -> XorShift64 {
        XorShift64(seed | 1)
    }

    /// A generator for a small user seed (0, 1, 2, …): the seed is spread over all 64 bits
    /// first (Fibonacci hashing), so neighbouring seeds start far apart.
    pub fn spread(seed: u64) -> XorShift64 {
        XorShift64::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next 64 bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A draw in `0..n` (modulo: the bias is far below what a test can see for small `n`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift64;

    #[test]
    fn the_sequence_is_marsaglias_xorshift64() {
        // Seed 1 by hand: 1 ^ 1<<13 = 0x2001; ^ >>7 = 0x2001 ^ 0x40 = 0x2041;
        // ^ <<17 = 0x2041 ^ 0x4082_0000 = 0x4082_2041.
        let mut r = XorShift64::new(0);
        assert_eq!(r.next(), 0x4082_2041);
        let mut a = XorShift64::spread(7);
        let mut b = XorShift64::spread(7);
        assert_eq!((a.next(), a.next()), (b.next(), b.next()));
        assert!((0..1000).all(|_| a.below(10) < 10));
    }
}
