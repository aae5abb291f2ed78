package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/kwid-dev/kwid/internal/checks"
	"github.com/kwid-dev/kwid/internal/inventory"
)

// appendFinding appends f as encoding/json writes it in an indented report (an item of the
// findings array: prefix "    ", indent "  ", no HTML escaping), byte for byte.
// encoding/json spends most of an XL report's time on reflection and on indenting its own
// output a second time; findings are most of that output. TestAppendFindingAsEncodingJSON
// holds the two equal, and fails when Finding gains a field this does not write.
func appendFinding(b []byte, f *checks.Finding) []byte {
	const in1, in2, in3 = "\n      ", "\n        ", "\n          "
	b = append(b, '{')
	b = appendString(appendKey(b, in1, "check", true), f.Check)
	b = appendString(appendKey(b, in1, "severity", false), f.Severity.String())
	b = appendString(appendKey(b, in1, "title", false), f.Title)
	b = appendString(appendKey(b, in1, "message", false), f.Message)
	b = appendRef(appendKey(b, in1, "object", false), in2, f.Object)
	if len(f.Related) > 0 {
		b = append(appendKey(b, in1, "related", false), '[')
		for i, r := range f.Related {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRef(append(b, in2...), in3, r)
		}
		b = append(append(b, in1...), ']')
	}
	b = appendStrings(b, "evidence", f.Evidence)
	if f.Remediation != "" {
		b = appendString(appendKey(b, in1, "remediation", false), f.Remediation)
	}
	b = appendStrings(b, "references", f.References)
	if l := f.Location; l != nil {
		b = append(appendKey(b, in1, "location", false), '{')
		b = appendString(appendKey(b, in2, "file", true), l.File)
		b = strconv.AppendInt(appendKey(b, in2, "document", false), int64(l.Document), 10)
		if l.Line != 0 {
			b = strconv.AppendInt(appendKey(b, in2, "line", false), int64(l.Line), 10)
		}
		b = append(append(b, in1...), '}')
	}
	return append(b, "\n    }"...)
}

// appendKey appends an object key on a new line (nl: newline and indentation), after a
// comma unless it is the object's first.
func appendKey(b []byte, nl, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, nl...)
	b = append(b, '"')
	b = append(b, name...)
	return append(b, `": `...)
}

// appendRef appends an ObjectRef object whose fields are indented by nl.
func appendRef(b []byte, nl string, r inventory.ObjectRef) []byte {
	b = append(b, '{')
	b = appendString(appendKey(b, nl, "kind", true), string(r.Kind))
	if r.Namespace != "" {
		b = appendString(appendKey(b, nl, "namespace", false), r.Namespace)
	}
	b = appendString(appendKey(b, nl, "name", false), r.Name)
	return append(append(b, nl[:len(nl)-2]...), '}')
}

// appendStrings appends a field holding a list of strings, omitted when empty.
func appendStrings(b []byte, name string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(appendKey(b, "\n      ", name, false), '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(b, "\n        "...), s)
	}
	return append(b, "\n      ]"...)
}

// appendString appends s as a JSON string the way encoding/json does without HTML
// escaping: invalid UTF-8 becomes U+FFFD, control characters and the JavaScript line
// separators U+2028 and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
