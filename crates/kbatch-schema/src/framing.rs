//! The Confluent wire format: a magic byte 0, the schema id as a big-endian `u32`, then the
//! serialized value. A pure function, so every decoder and job splits values the same way.

/// The first byte of every framed value.
pub const MAGIC: u8 = 0;

/// Magic byte and schema id.
pub const PREFIX_LEN: usize = 5;

/// A framed value split into its schema id and the serialized body after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed<'a> {
    /// The registry's schema id.
    pub id: u32,
    /// What follows the 5-byte prefix.
    pub body: &'a [u8],
}

/// Why a value is not in the Confluent wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotFramed {
    /// Fewer than 5 bytes.
    #[error("not framed: {len} bytes, fewer than the 5 of the Confluent prefix (magic byte 0, 4-byte schema id)")]
    TooShort {
        /// The value's length.
        len: usize,
    },
    /// The first byte is not 0.
    #[error("not framed: the first byte is {first:#04x}, not the Confluent magic byte 0x00")]
    WrongMagic {
        /// The first byte seen.
        first: u8,
    },
}

/// Split `value` into its schema id and body.
pub fn split(value: &[u8]) -> Result<Framed<'_>, NotFramed> {
    let Some((prefix, body)) = value.split_first_chunk::<PREFIX_LEN>() else {
        return Err(NotFramed::TooShort { len: value.len() });
    };
    let [magic, id @ ..] = *prefix;
    if magic != MAGIC {
        return Err(NotFramed::WrongMagic { first: magic });
    }
    Ok(Framed {
        id: u32::from_be_bytes(id),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `split` gives: the id and the body.
    type Split<'a> = Result<(u32, &'a [u8]), NotFramed>;

    #[test]
    fn table() {
        let cases: &[(&[u8], Split<'_>)] = &[
            (b"", Err(NotFramed::TooShort { len: 0 })),
            (&[0], Err(NotFramed::TooShort { len: 1 })),
            (&[0, 0, 0, 1], Err(NotFramed::TooShort { len: 4 })),
            (&[0, 0, 0, 0, 7], Ok((7, b""))),
            (&[0, 0, 0, 1, 2, 9, 9], Ok((258, &[9, 9]))),
            (&[0, 0xff, 0xff, 0xff, 0xff], Ok((u32::MAX, b""))),
            (b"{\"a\":1}", Err(NotFramed::WrongMagic { first: b'{' })),
            (&[1, 0, 0, 0, 1, 5], Err(NotFramed::WrongMagic { first: 1 })),
        ];
        for (input, want) in cases {
            let got = split(input).map(|f| (f.id, f.body));
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn messages_say_what_was_expected() {
        let e = split(b"{\"a\":1}").unwrap_err().to_string();
        assert!(e.contains("magic byte 0x00") && e.contains("0x7b"), "{e}");
        let e = split(&[0, 1]).unwrap_err().to_string();
        assert!(e.contains("2 bytes") && e.contains("5"), "{e}");
    }
}
