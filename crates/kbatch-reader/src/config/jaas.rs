//! The one-line JAAS configuration of Java clients (`sasl.jaas.config`):
//! `<LoginModule class> <flag> key="value" key2=value2 … ;`. Values may be quoted, with
//! backslash escapes inside quotes, as the JAAS parser reads them. Only the module's short
//! name and its options are kept; parse errors never quote the text (it holds a password).

/// A parsed `sasl.jaas.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jaas {
    /// The login module's class name without its package (`PlainLoginModule`, …).
    pub module: String,
    /// Options in order.
    pub options: Vec<(String, String)>,
}

impl Jaas {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse one JAAS entry.
pub(crate) fn parse_jaas(text: &str) -> Result<Jaas, &'static str> {
    let mut tokens = Tokens {
        chars: text.trim().chars().peekable(),
    };
    let class = tokens.word().ok_or("no login module class")?;
    let flag = tokens
        .word()
        .ok_or("no control flag after the login module")?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err("the control flag must be required, requisite, sufficient or optional");
    }
    let mut options = Vec::new();
    loop {
        tokens.skip_ws();
        match tokens.chars.peek() {
            None => break,
            Some(';') => {
                tokens.chars.next();
                tokens.skip_ws();
                if tokens.chars.peek().is_some() {
                    return Err("more than one login module (kbatch reads the first only)");
                }
                break;
            }
            _ => {}
        }
        let key = tokens.word().ok_or("an option has no name")?;
        tokens.skip_ws();
        if tokens.chars.next() != Some('=') {
            return Err("an option has no '=' after its name");
        }
        tokens.skip_ws();
        let value = if tokens.chars.peek() == Some(&'"') {
            tokens.chars.next();
            tokens.quoted()?
        } else {
            tokens.word().ok_or("an option has no value")?
        };
        options.push((key, value));
    }
    let module = class.rsplit('.').next().unwrap_or(&class).to_string();
    Ok(Jaas { module, options })
}

struct Tokens<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Tokens<'_> {
    fn skip_ws(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.chars.next();
        }
    }

    /// A bare word: up to whitespace, `=`, `;` or a quote.
    fn word(&mut self) -> Option<String> {
        self.skip_ws();
        let mut w = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                break;
            }
            w.push(c);
            self.chars.next();
        }
        (!w.is_empty()).then_some(w)
    }

    /// The rest of a quoted string (after its opening quote).
    fn quoted(&mut self) -> Result<String, &'static str> {
        let mut s = String::new();
        loop {
            match self.chars.next() {
                None => return Err("a quoted value is not closed"),
                Some('"') => return Ok(s),
                Some('\\') => match self.chars.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some(c) => s.push(c),
                    None => return Err("a quoted value is not closed"),
                },
                Some(c) => s.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_modules() {
        let j = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w;d";"#,
        )
        .unwrap();
        assert_eq!(j.module, "ScramLoginModule");
        assert_eq!(j.get("username"), Some("alice"));
        assert_eq!(j.get("password"), Some("p\"w;d"));
        let j = parse_jaas(
            "org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=bob\n  password = \"x y\" ;",
        )
        .unwrap();
        assert_eq!(j.module, "PlainLoginModule");
        assert_eq!(j.get("username"), Some("bob"));
        assert_eq!(j.get("password"), Some("x y"));
        let j = parse_jaas("X optional;").unwrap();
        assert!(j.options.is_empty());
    }

    #[test]
    fn malformed_entries_say_why_without_the_text() {
        for (text, why) in [
            ("", "no login module"),
            ("X", "control flag"),
            ("X maybe;", "control flag"),
            ("X required password=\"secret", "not closed"),
            ("X required password secret;", "no '='"),
            ("X required a=1; Y required;", "more than one"),
        ] {
            let e = parse_jaas(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains("secret"));
        }
    }
}
