//! The structural tier for `top`'s user paths: stage 1 is the two-field tier's
//! ([`Blocks`]: masks of strings and structural bytes, 64 bytes at a time), stage 2 walks the
//! tokens along a [`PathTree`], descending only into the members and elements the paths name
//! and crossing everything else token by token ([`nested`]) — the general path scanner's walk
//! (`extract::paths`) without its byte loops. It answers only for valid objects and declines
//! whatever it is not sure of (anything invalid, escaped keys, exponents, very long integers,
//! nesting beyond serde_json's limit) to the general scanner, so its answers are the general
//! scanner's whenever it gives one; tests hold every form to that.

use std::borrow::Cow;

use super::isa::Isa;
use super::structural::{nested, scalar_at, Blocks};
use crate::extract::general::unescape_at;
use crate::extract::paths::{Node, PathTree, Sink, Val};
use crate::extract::{Invalid, MAX_DEPTH};

/// Containers open along the paths at once (deeper paths are declined to the general
/// scanner): a fixed stack, so the walk is one loop compiled into the form's entry point, with
/// no recursion and no allocation.
const FRAMES: usize = 16;

/// An object or array open along a path: its node, the byte that closes it, and the keys seen
/// (objects) or the next element's index (arrays). The innermost one lives in the walk's
/// locals; the stack holds only those around it.
#[derive(Clone, Copy)]
struct Frame<'t> {
    node: &'t Node,
    close: u8,
    /// Objects: a bit per key step of the node already met; arrays: the element index.
    count: u64,
}

/// The paths of `tree` in `b`, into `out`: `Some(Ok)` for a valid object, `Some(Err)` with
/// `duplicate_field` for a valid object with a key twice on a path's way, `None` where the
/// tier declines (`out` then holds nothing of use).
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn extract<'a, I: Isa>(
    b: &'a [u8],
    tree: &PathTree,
    out: &mut Vec<Val<'a>>,
) -> Option<Result<(), Invalid>> {
    let mut s = Blocks::<I>::new(b);
    let mut out = Sink::new(tree, out);
    let mut duplicate = false;
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    let open = unsafe { s.pop()? };
    if b[open] != b'{' {
        return None;
    }
    let root = tree.node(0);
    out.set_at(root, Val::Object);
    let mut cur = Frame {
        node: root,
        close: b'}',
        count: 0,
    };
    let mut frames = [cur; FRAMES];
    // Containers open, `cur` included.
    let mut depth = 1;
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    let mut t = unsafe { s.pop()? };
    // Whether `t` is the first token after `cur`'s opening bracket.
    let mut first = true;
    'walk: loop {
        let mut closes = first && b[t] == cur.close;
        if !closes {
            // The member's or element's value token, and the node it is at (if on a path).
            let (v, child) = if cur.close == b'}' {
                if b[t] != b'"' {
                    return None;
                }
                let before = s.escapes_upto(t);
                // The key is a path's step exactly when the step's bytes follow its opening
                // quote and a quote follows them: a key without escapes (checked below) ends
                // at its first quote. Its end is never looked for.
                let inside = &b[t + 1..];
                let keys = cur.node.keys();
                let hit = match inside.first_chunk::<8>() {
                    Some(w) if !cur.node.may_start(w[0]) => None,
                    Some(w) => {
                        let w = u64::from_le_bytes(*w);
                        cur.node.words().iter().zip(keys).position(|(m, (k, _))| {
                            w & m.mask == m.word
                                && (k.len() < 8
                                    || (inside.get(k.len()) == Some(&b'"')
                                        && same(&inside[8..k.len()], &k[8..])))
                        })
                    }
                    // Near the value's end.
                    None => keys.iter().position(|(k, _)| {
                        inside.get(k.len()) == Some(&b'"') && same(&inside[..k.len()], k)
                    }),
                };
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                let colon = unsafe { s.pop()? };
                if b[colon] != b':' || s.escapes_upto(colon) != before {
                    // Not a key, or an escaped one (the general scanner compares it
                    // unescaped).
                    return None;
                }
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                let v = unsafe { s.pop()? };
                match hit {
                    Some(j) if cur.count & (1 << j) == 0 => {
                        cur.count |= 1 << j;
                        (v, Some(keys[j].1))
                    }
                    Some(_) => {
                        duplicate = true;
                        (v, None)
                    }
                    None => (v, None),
                }
            } else {
                let ix = cur.count;
                cur.count += 1;
                let hit = cur
                    .node
                    .indices()
                    .iter()
                    .find(|(i, _)| u64::from(*i) == ix)
                    .map(|&(_, c)| c);
                (t, hit)
            };
            match child {
                None => match b[v] {
                    // A string: its opening quote is its only token.
                    b'"' => {}
                    // SAFETY: the CPU has the features of `I`, as our caller promised.
                    b'{' | b'[' => unsafe { nested(&mut s, v, depth)? },
                    _ => scalar_at(b, v)?,
                },
                Some(c) => match b[v] {
                    b'{' | b'[' => {
                        let object = b[v] == b'{';
                        let node = tree.node(c);
                        if object {
                            out.set_at(node, Val::Object);
                            out.block_indices_at(node);
                        } else {
                            out.set_at(node, Val::Array);
                            out.block_keys_at(node);
                        }
                        let steps = if object {
                            !node.keys().is_empty()
                        } else {
                            !node.indices().is_empty()
                        };
                        if !steps {
                            // SAFETY: the CPU has the features of `I`, as our caller promised.
                            unsafe { nested(&mut s, v, depth)? };
                        } else {
                            if depth + 1 > MAX_DEPTH || depth == FRAMES {
                                return None;
                            }
                            frames[depth - 1] = cur;
                            cur = Frame {
                                node,
                                close: if object { b'}' } else { b']' },
                                count: 0,
                            };
                            depth += 1;
                            // SAFETY: the CPU has the features of `I`, as our caller promised.
                            t = unsafe { s.pop()? };
                            first = true;
                            continue 'walk;
                        }
                    }
                    _ => {
                        let node = tree.node(c);
                        let val = scalar(&s, b, v)?;
                        out.set_at(node, val);
                        out.block_keys_at(node);
                        out.block_indices_at(node);
                    }
                },
            }
        }
        // After a value, or as `cur` closes: close containers, or go on to the next member or
        // element.
        loop {
            if closes {
                depth -= 1;
                if depth == 0 {
                    break 'walk;
                }
                cur = frames[depth - 1];
            }
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            let sep = b[unsafe { s.pop()? }];
            if sep == b',' {
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                t = unsafe { s.pop()? };
                first = false;
                continue 'walk;
            }
            if sep != cur.close {
                return None;
            }
            closes = true;
        }
    }
    // Nothing but whitespace after the object, every block clean, the text valid UTF-8.
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    if unsafe { s.pop() }.is_some() || s.failed {
        return None;
    }
    if let Some((first, last)) = s.high {
        std::str::from_utf8(&b[first..=last]).ok()?;
    }
    Some(if duplicate {
        Err(Invalid::DuplicateField)
    } else {
        Ok(())
    })
}

/// The string, number or literal whose token is at `t` (the token just taken).
#[inline(always)]
fn scalar<'a, I: Isa>(s: &Blocks<'a, I>, b: &'a [u8], t: usize) -> Option<Val<'a>> {
    Some(match b[t] {
        b'"' => {
            let (end, escaped) = s.string_end(t)?;
            Val::Str(if escaped {
                unescape_at(b, t)?
            } else {
                Cow::Borrowed(&b[t + 1..end])
            })
        }
        c @ (b't' | b'f' | b'n') => {
            scalar_at(b, t)?;
            match c {
                b't' => Val::Bool(true),
                b'f' => Val::Bool(false),
                _ => Val::Null,
            }
        }
        _ => {
            scalar_at(b, t)?;
            Val::Num(&b[t..number_end(b, t)])
        }
    })
}

/// Whether two keys are equal, without a call to `memcmp` for the short keys users name:
/// their length first, then eight bytes at a time.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((x, ra)), Some((y, rb))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if x != y {
            return false;
        }
        (a, b) = (ra, rb);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// The end of the number starting at `b[at]`, which `scalar_at` accepted (so it has no
/// exponent): a sign, digits, an optional fraction.
#[inline(always)]
fn number_end(b: &[u8], at: usize) -> usize {
    let mut i = at + usize::from(b[at] == b'-');
    while i < b.len() && matches!(b[i], b'0'..=b'9' | b'.') {
        i += 1;
    }
    i
}
