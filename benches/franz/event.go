package main

import (
	"bytes"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// extractor decides, for one record value, the verdict of the serde baseline
// (`count_serde` in benches/src/lib.rs: serde_json into a borrowed
// `{product: Cow<str>, category: Cow<str>}`, arrays refused) and, for a valid
// event, its unescaped category and product. bench_e2e compares this reader's
// `records`, `invalid` and `top` with kbatch's every round, so the verdict must be
// serde_json's on every input, not only on well-formed events.
//
// Why fastjson: it parses into a tree of values cached in the Parser, so one Parser
// kept across records parses with no allocation per record, and it leaves strings
// raw until asked (the dozen fields an event carries besides product and category
// are never unescaped). sonic was not used: its JIT supports a fixed list of Go
// releases and amd64/arm64 only, while this harness builds with whatever Go 1.26
// the machine has.
//
// fastjson's Parser is more lenient than serde_json (it accepts raw control
// characters and unknown escapes in strings, `01`, `1.`, `+1`, `NaN`, `Inf` as
// numbers, and unescapes lone UTF-16 surrogates "best effort" instead of refusing
// them) and stricter in one place (nesting deeper than fastjson.MaxDepth = 300;
// serde_json skips ignored values with no depth limit). So a value goes through:
//
//  1. its first non-whitespace byte must be `{` (count_serde's own test: an array
//     would deserialize as a sequence);
//  2. fastjson.ValidateBytes, which checks the grammar as strictly as serde_json
//     does (strings, escapes, numbers, literals, trailing bytes), in one pass
//     without allocating. It is the price of exact verdicts: on this project's
//     realistic events it costs about 1.2-1.7x the parse itself (it looks at
//     string contents one byte at a time; a hand-written SWAR grammar check was
//     tried and was no faster);
//  3. if the value is valid UTF-8 and holds no `\u` escape of a surrogate, the
//     only places where serde_json checks more than the grammar (the UTF-8 and
//     surrogate pairs of top-level keys and of the two fields' values; serde_json
//     checks neither in values it skips) cannot fail, and fastjson's tree gives
//     the exact answer: the Parser, then one pass over the top-level members
//     (each of product and category exactly once, each a string);
//  4. otherwise (invalid UTF-8 or a surrogate escape somewhere, or nesting past
//     fastjson's limit: rare, 1 in 7,000 of the benchmark's events),
//     [extractor.exact] walks the top-level object itself with serde_json's rules.
type extractor struct {
	p fastjson.Parser
	// Unescaped key and fields of the slow path, reused.
	key, cat, prod []byte
}

// event returns the value's category and product (valid until the next call) and
// whether the value is a valid event.
func (x *extractor) event(value []byte) (cat, prod []byte, ok bool) {
	i := skipWS(value, 0)
	if i == len(value) || value[i] != '{' {
		return nil, nil, false // null (tombstone), empty, array, scalar, or not JSON
	}
	if fastjson.ValidateBytes(value) != nil {
		return nil, nil, false
	}
	if !utf8.Valid(value) || hasSurrogateEscape(value) {
		return x.exact(value)
	}
	v, err := x.p.ParseBytes(value)
	if err != nil {
		// Validated, so only fastjson's depth limit: serde_json has none for
		// values it skips.
		return x.exact(value)
	}
	var c, p *fastjson.Value
	var nc, np int
	v.GetObject().Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "category":
			c = v
			nc++
		case "product":
			p = v
			np++
		}
	})
	// serde's derived struct: a missing field, a duplicate one, or one that is not
	// a string (null included) fails the whole value.
	if nc != 1 || np != 1 || c.Type() != fastjson.TypeString || p.Type() != fastjson.TypeString {
		return nil, nil, false
	}
	cat, _ = c.StringBytes()
	prod, _ = p.StringBytes()
	return cat, prod, true
}

// exact is serde_json's verdict on a value that fastjson.ValidateBytes accepted and
// that starts with `{`: a walk of the top-level object only (nested values are
// skipped by counting brackets outside strings; their grammar is already checked).
// Top-level keys and the two fields are unescaped with serde_json's checks
// ([appendUnescaped]); skipped strings are not checked, as serde_json does not.
func (x *extractor) exact(s []byte) (cat, prod []byte, ok bool) {
	var seenCat, seenProd bool
	i := skipWS(s, skipWS(s, 0)+1)
	if s[i] == '}' {
		return nil, nil, false // {}: both fields missing
	}
	for {
		i = skipWS(s, i)
		end := stringEnd(s, i+1)
		var good bool
		if x.key, good = appendUnescaped(x.key[:0], s[i+1:end]); !good {
			return nil, nil, false
		}
		i = skipWS(s, skipWS(s, end+1)+1) // past ':' to the value
		field := string(x.key)
		switch {
		case field == "category" || field == "product":
			if (field == "category" && seenCat) || (field == "product" && seenProd) || s[i] != '"' {
				return nil, nil, false // duplicate field, or not a string
			}
			end = stringEnd(s, i+1)
			if field == "category" {
				x.cat, good = appendUnescaped(x.cat[:0], s[i+1:end])
				seenCat = true
			} else {
				x.prod, good = appendUnescaped(x.prod[:0], s[i+1:end])
				seenProd = true
			}
			if !good {
				return nil, nil, false
			}
			i = end + 1
		default:
			i = skipValue(s, i)
		}
		i = skipWS(s, i)
		if s[i] != ',' {
			break // '}'
		}
		i++
	}
	if !seenCat || !seenProd {
		return nil, nil, false
	}
	return x.cat, x.prod, true
}

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace (space, tab, line feed, carriage return; serde_json and fastjson agree).
func skipWS(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the string whose contents start
// at i (the input is validated: it has one).
func stringEnd(s []byte, i int) int {
	for {
		j := bytes.IndexAny(s[i:], "\"\\")
		i += j
		if s[i] == '"' {
			return i
		}
		i += 2 // a backslash and the byte it escapes
	}
}

// skipValue returns the index just past the validated value starting at i.
func skipValue(s []byte, i int) int {
	switch s[i] {
	case '"':
		return stringEnd(s, i+1) + 1
	case '{', '[':
		depth := 0
		for {
			switch s[i] {
			case '"':
				i = stringEnd(s, i+1)
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // number or literal: up to the next delimiter
		for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
			s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' {
			i++
		}
		return i
	}
}

// hasSurrogateEscape reports whether s may hold a `\u` escape of a UTF-16
// surrogate (D800-DFFF). A false positive (`\\ud8...`, an escaped backslash) only
// sends the value to the exact path.
func hasSurrogateEscape(s []byte) bool {
	for {
		j := bytes.Index(s, []byte(`\u`))
		if j < 0 || j+4 > len(s) {
			return false
		}
		if (s[j+2] == 'd' || s[j+2] == 'D') && bytes.IndexByte([]byte("89abcdefABCDEF"), s[j+3]) >= 0 {
			return true
		}
		s = s[j+2:]
	}
}

// appendUnescaped appends the JSON string contents raw (between the quotes,
// grammar already validated) unescaped to dst, with serde_json's checks for a string
// it deserializes: valid UTF-8, and a `\u` escape of a leading surrogate followed at
// once by one of a trailing surrogate (a lone surrogate of either kind is an error).
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	if !utf8.Valid(raw) {
		return dst, false
	}
	for {
		j := bytes.IndexByte(raw, '\\')
		if j < 0 {
			return append(dst, raw...), true
		}
		dst = append(dst, raw[:j]...)
		c := raw[j+1]
		raw = raw[j+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw)
			raw = raw[4:]
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return dst, false // a trailing surrogate first
			case r >= 0xD800 && r <= 0xDBFF:
				if len(raw) < 6 || raw[0] != '\\' || raw[1] != 'u' {
					return dst, false
				}
				r2 := hex4(raw[2:])
				if r2 < 0xDC00 || r2 > 0xDFFF {
					return dst, false
				}
				raw = raw[6:]
				r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// hex4 decodes the four hex digits (validated) at the start of s.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
