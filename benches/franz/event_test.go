package main

import (
	"testing"

	"github.com/valyala/fastjson"
)

// Each case's verdict is serde_json's (count_serde in benches/src/lib.rs, serde_json
// 1.0.154), checked against that code when the table was written.
var cases = []struct {
	name      string
	value     []byte // nil: a tombstone
	valid     bool
	cat, prod string
}{
	{"plain", b(`{"product":"p","category":"c"}`), true, "c", "p"},
	{"other fields, any order", b(`{"category":"c","n":1.5e3,"t":true,"f":false,"z":null,"a":[1,"x",{}],"o":{"k":"v"},"product":"p"}`), true, "c", "p"},
	{"whitespace around and inside", b(" \t\r\n{ \"product\" : \"p\" ,\n \"category\" :\t\"c\" } \n"), true, "c", "p"},
	{"empty strings", b(`{"product":"","category":""}`), true, "", ""},
	{"number as a string", b(`{"product":"42","category":"7"}`), true, "7", "42"},
	{"tombstone", nil, false, "", ""},
	{"empty value", b(``), false, "", ""},
	{"whitespace only", b(`   `), false, "", ""},
	{"array", b(`["c","p"]`), false, "", ""},
	{"string", b(`"p"`), false, "", ""},
	{"null", b(`null`), false, "", ""},
	{"number", b(`42`), false, "", ""},
	{"not JSON", b(`not json at all`), false, "", ""},
	{"empty object", b(`{}`), false, "", ""},
	{"form feed before", b("\f{\"product\":\"p\",\"category\":\"c\"}"), false, "", ""},
	{"byte order mark", b("\xEF\xBB\xBF{\"product\":\"p\",\"category\":\"c\"}"), false, "", ""},
	{"missing category", b(`{"product":"p"}`), false, "", ""},
	{"misspelled key", b(`{"product":"p","categroy":"c"}`), false, "", ""},
	{"category null", b(`{"product":"p","category":null}`), false, "", ""},
	{"product number", b(`{"product":42,"category":"c"}`), false, "", ""},
	{"product object", b(`{"product":{"id":"p"},"category":"c"}`), false, "", ""},
	{"product array", b(`{"product":["p"],"category":"c"}`), false, "", ""},
	{"product true", b(`{"product":true,"category":"c"}`), false, "", ""},
	{"duplicate product", b(`{"product":"p","category":"c","product":"q"}`), false, "", ""},
	{"duplicate category, same value", b(`{"category":"c","product":"p","category":"c"}`), false, "", ""},
	{"duplicate through an escape", b(`{"product":"p","category":"c","pr\u006fduct":"q"}`), false, "", ""},
	{"duplicate other key", b(`{"a":1,"a":2,"product":"p","category":"c"}`), true, "c", "p"},
	{"escaped key", b(`{"pr\u006fduct":"p","c\u0061tegory":"c"}`), true, "c", "p"},
	{"escapes unescaped", b(`{"product":"a\"b\\c\/d\b\f\n\r\t","category":"K\u00fcche"}`), true, "Küche", "a\"b\\c/d\b\f\n\r\t"},
	{"escaped NUL", b(`{"product":"p\u0000","category":"c"}`), true, "c", "p\x00"},
	{"UTF-8 as is", b(`{"product":"p","category":"Électroménager 🎁"}`), true, "Électroménager 🎁", "p"},
	{"surrogate pair", b(`{"product":"p","category":"\ud83c\udf81"}`), true, "🎁", "p"},
	{"surrogate pair, upper case", b(`{"product":"p","category":"\uD83C\uDF81"}`), true, "🎁", "p"},
	{"lone leading surrogate", b(`{"product":"p","category":"\ud83c"}`), false, "", ""},
	{"leading surrogate then letter", b(`{"product":"p","category":"\ud83cx"}`), false, "", ""},
	{"leading surrogate then BMP escape", b(`{"product":"p","category":"\ud83c\u0041"}`), false, "", ""},
	{"two leading surrogates", b(`{"product":"p","category":"\ud83c\ud83c\udf81"}`), false, "", ""},
	{"lone trailing surrogate", b(`{"product":"p","category":"\udf81"}`), false, "", ""},
	{"lone surrogate in a top-level key", b(`{"product":"p","category":"c","\ud800":1}`), false, "", ""},
	{"lone surrogate in a skipped value", b(`{"product":"p","category":"c","x":"\ud800"}`), true, "c", "p"},
	{"lone surrogate in a nested key", b(`{"product":"p","category":"c","x":{"\udc00":1}}`), true, "c", "p"},
	{"escaped backslash before ud800", b(`{"product":"p\\ud800","category":"c"}`), true, "c", `p\ud800`},
	{"invalid UTF-8 in category", b("{\"product\":\"p\",\"category\":\"\xC3\"}"), false, "", ""},
	{"invalid UTF-8 in product", b("{\"product\":\"p\xFF\",\"category\":\"c\"}"), false, "", ""},
	{"UTF-8 surrogate in category", b("{\"product\":\"p\",\"category\":\"\xED\xA0\x80\"}"), false, "", ""},
	{"overlong UTF-8 in category", b("{\"product\":\"p\",\"category\":\"\xC0\xAF\"}"), false, "", ""},
	{"invalid UTF-8 in a top-level key", b("{\"product\":\"p\",\"category\":\"c\",\"\xC3\":1}"), false, "", ""},
	{"invalid UTF-8 in a skipped value", b("{\"product\":\"p\",\"category\":\"c\",\"ua\":\"\xC3\"}"), true, "c", "p"},
	{"invalid UTF-8 in a nested key", b("{\"product\":\"p\",\"category\":\"c\",\"d\":{\"\xFF\":[\"\xC3\"]}}"), true, "c", "p"},
	{"invalid UTF-8 elsewhere, escapes in fields", b("{\"x\":\"\xFF\",\"product\":\"\\u00e9\\\"\",\"category\":\"\\ud83c\\udf81\"}"), true, "🎁", "é\""},
	{"raw control char in a skipped value", b("{\"product\":\"p\",\"category\":\"c\",\"x\":\"a\x01\"}"), false, "", ""},
	{"raw tab in category", b("{\"product\":\"p\",\"category\":\"a\tb\"}"), false, "", ""},
	{"raw newline in a skipped value", b("{\"product\":\"p\",\"category\":\"c\",\"x\":\"a\nb\"}"), false, "", ""},
	{"raw DEL in category", b("{\"product\":\"p\",\"category\":\"a\x7Fb\"}"), true, "a\x7Fb", "p"},
	{"unknown escape in a skipped value", b(`{"product":"p","category":"c","x":"\x41"}`), false, "", ""},
	{"short unicode escape", b(`{"product":"p","category":"c","x":"\u12"}`), false, "", ""},
	{"bad hex in unicode escape", b(`{"product":"p","category":"c","x":"\u12G4"}`), false, "", ""},
	{"upper-case U escape", b(`{"product":"p","category":"c","x":"\U0041"}`), false, "", ""},
	{"leading zero", b(`{"product":"p","category":"c","n":01}`), false, "", ""},
	{"plus sign", b(`{"product":"p","category":"c","n":+1}`), false, "", ""},
	{"trailing dot", b(`{"product":"p","category":"c","n":1.}`), false, "", ""},
	{"leading dot", b(`{"product":"p","category":"c","n":.5}`), false, "", ""},
	{"bare minus", b(`{"product":"p","category":"c","n":-}`), false, "", ""},
	{"empty exponent", b(`{"product":"p","category":"c","n":1e}`), false, "", ""},
	{"NaN", b(`{"product":"p","category":"c","n":NaN}`), false, "", ""},
	{"Infinity", b(`{"product":"p","category":"c","n":Infinity}`), false, "", ""},
	{"inf", b(`{"product":"p","category":"c","n":-inf}`), false, "", ""},
	{"hex number", b(`{"product":"p","category":"c","n":0x1F}`), false, "", ""},
	{"numbers at the edges", b(`{"product":"p","category":"c","a":-0,"b":-0.0e-0,"c":1E+2,"d":1e400,"e":-1e-400,"f":18446744073709551616,"g":123456789012345678901234567890}`), true, "c", "p"},
	{"truncated", b(`{"product":"p","category":"c","ua":"Mozil`), false, "", ""},
	{"trailing bytes", b(`{"product":"p","category":"c"} x`), false, "", ""},
	{"two objects", b(`{"product":"p","category":"c"}{}`), false, "", ""},
	{"trailing NUL", b("{\"product\":\"p\",\"category\":\"c\"}\x00"), false, "", ""},
	{"trailing comma", b(`{"product":"p","category":"c",}`), false, "", ""},
	{"missing comma", b(`{"product":"p" "category":"c"}`), false, "", ""},
	{"single quotes", b(`{'product':'p','category':'c'}`), false, "", ""},
	{"unquoted key", b(`{product:"p","category":"c"}`), false, "", ""},
	{"comment", b(`{"product":"p",/* x */"category":"c"}`), false, "", ""},
	{"partial literal", b(`{"product":"p","category":"c","t":tru}`), false, "", ""},
	{"capitalised literal", b(`{"product":"p","category":"c","t":True}`), false, "", ""},
	{"nested decoys", b(`{"device":{"product":"q","category":"d"},"tags":[{"product":"r"}],"product":"p","category":"c"}`), true, "c", "p"},
	{"decoys only", b(`{"device":{"product":"q","category":"d"}}`), false, "", ""},
	{"nested 299 deep", deep(299), true, "c", "p"},
	{"nested 300 deep (past fastjson's limit)", deep(300), true, "c", "p"},
	{"nested 5000 deep", deep(5000), true, "c", "p"},
	{"nested 1000 deep, unclosed", deep(1000)[:1030], false, "", ""},
}

func b(s string) []byte { return []byte(s) }

func validGrammar(v []byte) bool { return fastjson.ValidateBytes(v) == nil }

// deep is an event whose field "x" holds n nested arrays (serde_json skips it with
// no depth limit; fastjson's Parser stops at 300 levels).
func deep(n int) []byte {
	v := []byte(`{"product":"p","category":"c","x":`)
	for range n {
		v = append(v, '[')
	}
	for range n {
		v = append(v, ']')
	}
	return append(v, '}')
}

func TestVerdictsAreSerdes(t *testing.T) {
	var x extractor
	for _, c := range cases {
		cat, prod, ok := x.event(c.value)
		if ok != c.valid || string(cat) != c.cat || string(prod) != c.prod {
			t.Errorf("%s: %q: got valid=%v %q %q, want valid=%v %q %q",
				c.name, c.value, ok, cat, prod, c.valid, c.cat, c.prod)
		}
	}
	// The exact path alone, on every value that passes the grammar check and starts
	// with '{' (what event hands it), must agree too.
	for _, c := range cases {
		i := skipWS(c.value, 0)
		if i == len(c.value) || c.value[i] != '{' || !validGrammar(c.value) {
			continue
		}
		cat, prod, ok := x.exact(c.value)
		if ok != c.valid || string(cat) != c.cat || string(prod) != c.prod {
			t.Errorf("exact path, %s: got valid=%v %q %q, want valid=%v %q %q",
				c.name, ok, cat, prod, c.valid, c.cat, c.prod)
		}
	}
}

// The hot path allocates nothing per record once the parser's cache is warm.
func TestNoAllocationPerEvent(t *testing.T) {
	var x extractor
	values := [][]byte{
		b(`{"event_id":"e1","product":"PD00042","category":"K\u00fcche","price":12.5,"tags":["a"],"device":{"os":{"name":"iOS"}}}`),
		b(`{"event_id":"e2","category":"Küche","product":"PD00043","ua":"Mozilla \"like\" Gecko"}`),
	}
	var c counts
	c.idx = map[string]int{}
	for _, v := range values {
		cat, prod, _ := x.event(v)
		c.add(cat, prod)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, v := range values {
			cat, prod, ok := x.event(v)
			if !ok {
				t.Fatal("invalid")
			}
			c.add(cat, prod)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per two events", allocs)
	}
}
