//! The `.properties` format of the Java tools' `--command-config` / `client.properties`:
//! `key=value` (or `key: value`, or `key value`) lines, `#` and `!` comments, a trailing
//! backslash continuing a line, and Java's escapes (`\t`, `\n`, `\uXXXX`, `\=`…). A pure
//! function over text, so the CLI only reads the file.

/// A line of a properties file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct PropertiesError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// The `(key, value)` pairs of a properties text, in file order (a later duplicate wins when
/// they are applied).
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, PropertiesError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let first = raw.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues.
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key(&logical);
        let key = unescape(key).map_err(|reason| PropertiesError {
            line: n + 1,
            reason,
        })?;
        let value = unescape(value).map_err(|reason| PropertiesError {
            line: n + 1,
            reason,
        })?;
        out.push((key, value));
    }
    Ok(out)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Split at the first unescaped `=`, `:` or whitespace; the separator and the whitespace
/// around it are dropped.
fn split_key(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or("malformed \\uXXXX escape")?;
                out.push(char::from_u32(code).ok_or("\\u escape is not a character")?);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_properties(text).unwrap()
    }

    #[test]
    fn java_properties_grammar() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("a=b", &[("a", "b")]),
            ("  a = b  ", &[("a", "b  ")]),
            ("a:b", &[("a", "b")]),
            ("a b", &[("a", "b")]),
            ("a=", &[("a", "")]),
            ("# c\n! c\n\n a=1", &[("a", "1")]),
            ("a=x=y", &[("a", "x=y")]),
            ("a\\=b=c", &[("a=b", "c")]),
            ("a=one \\\n    two", &[("a", "one two")]),
            ("a=ends\\\\", &[("a", "ends\\")]),
            ("a=\\u0041\\tb", &[("a", "A\tb")]),
            (
                "sasl.jaas.config=x required username=\"u\" password=\"p\";",
                &[(
                    "sasl.jaas.config",
                    "x required username=\"u\" password=\"p\";",
                )],
            ),
            ("a=1\na=2", &[("a", "1"), ("a", "2")]),
        ];
        for (text, want) in cases {
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(pairs(text), want, "{text:?}");
        }
        assert_eq!(parse_properties("ok=1\nbad=\\u12").unwrap_err().line, 2);
    }
}
