//! The decompression scratch buffer's growth rule, shared by every codec.

/// Make `scratch` at least `len` bytes long (initialised), growing by doubling but never to a
/// capacity beyond `cap + 1`.
pub(crate) fn ensure_len(scratch: &mut Vec<u8>, len: usize, cap: usize) {
    if scratch.len() >= len {
        return;
    }
    let limit = cap.saturating_add(1);
    let target = scratch.len().saturating_mul(2).max(len).min(limit.max(len));
    scratch.reserve_exact(target - scratch.len());
    scratch.resize(target, 0);
}
