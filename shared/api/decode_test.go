package api

import "testing"

// TestInvalidText: strings that encoding/json would silently turn into
// U+FFFD are found and named by their field; valid text, including a
// literal or properly escaped U+FFFD and paired surrogates, is not.
func TestInvalidText(t *testing.T) {
	for _, test := range []struct {
		name, body string
		field      string // "" = valid
	}{
		{"plain", `{"firstName":"Jo","version":1}`, ""},
		{"escaped pair (U+1F600)", `{"firstName":"\ud83d\ude00"}`, ""},
		{"literal emoji", `{"firstName":"😀"}`, ""},
		{"literal U+FFFD", `{"firstName":"�"}`, ""},
		{"escaped U+FFFD", `{"firstName":"\ufffd"}`, ""},
		{"other escapes", `{"firstName":"a\"b\\c\/d\n\u0041\u00e9"}`, ""},
		{"escaped backslash before u", `{"firstName":"\\ud800"}`, ""},
		{"lone high surrogate", `{"firstName":"\ud800"}`, "firstName"},
		{"lone high surrogate, upper case", `{"firstName":"ab\uD800cd"}`, "firstName"},
		{"lone low surrogate", `{"lastName":"\udc00"}`, "lastName"},
		{"high then high", `{"firstName":"\ud800\ud800"}`, "firstName"},
		{"high then a plain escape", `{"firstName":"\ud800\u0041"}`, "firstName"},
		{"high at the end", `{"firstName":"x\ud83d"}`, "firstName"},
		{"reversed pair", `{"firstName":"\ude00\ud83d"}`, "firstName"},
		{"second field", `{"firstName":"Jo","lastName":"\ud800","version":1}`, "lastName"},
		{"after an array and an object", `{"a":[1,"x",{"b":"y"}],"c":{"d":"e"},"lastName":"\ud800"}`, "lastName"},
		{"nested", `{"selection":{"mode":"all","grade":"\udfff"}}`, "selection.grade"},
		{"in an array", `{"selection":{"userIds":["u1","\ud800"]}}`, "selection.userIds"},
		{"in a key", `{"selection":{"gr\ud800ade":"7"}}`, "selection.gr\ufffdade"},
		{"invalid UTF-8", "{\"firstName\":\"a\xffb\"}", "firstName"},
		{"UTF-8 encoded surrogate", "{\"firstName\":\"\xed\xa0\x80\"}", "firstName"},
		{"braces inside strings", `{"a":"{[,","lastName":"\ud800"}`, "lastName"},
	} {
		field, found := invalidText([]byte(test.body))
		if found != (test.field != "") || field != test.field {
			t.Errorf("%s: invalidText(%s) = %q, %v; want %q", test.name, test.body, field, found, test.field)
		}
	}
}

func TestNullMember(t *testing.T) {
	for _, test := range []struct {
		body string
		name string // "" = none
	}{
		{`{"firstName":"Jo","version":1}`, ""},
		{`{"firstName":"null","version":1}`, ""},
		{`{"selection":{"role":null},"version":1}`, ""}, // nested: the member is an object
		{`{"firstName":null}`, "firstName"},
		{`{"version":1, "title" :  null }`, "title"},
		{`{"lastName":null,"email":null}`, "email"}, // the first by name
		{`null`, ""},
		{`[null]`, ""},
	} {
		name, found := nullMember([]byte(test.body))
		if found != (test.name != "") || name != test.name {
			t.Errorf("nullMember(%s) = %q, %v; want %q", test.body, name, found, test.name)
		}
	}
}
