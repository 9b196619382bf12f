// Package cim finds WMI permanent event subscriptions in a CIM repository's
// OBJECTS.DATA (Windows\System32\wbem\Repository) by content, without
// parsing the repository's pages, index or mapping files: the fallback the
// FireEye/Mandiant flare-wmi work and David Pany's PyWMIPersistenceFinder
// use. Instance records keep their class name and string properties as
// NUL-separated ASCII, and a __FilterToConsumerBinding's references as WMI
// object paths (CommandLineEventConsumer.Name="x", __EventFilter.Name="y").
// Deleted records that still sit in free pages are found too, which is why
// what this reports is evidence to look at, not the live configuration.
package cim

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
)

// Limits: the records reported per repository, the bytes after a class name
// searched for its strings, and the strings kept per record.
const (
	MaxRecords  = 4096
	window      = 4096
	maxStrings  = 24
	minString   = 4
	chunk       = 1 << 20
	chunkSticky = window + 256 // overlap between chunks, so no record is cut
)

// Consumer classes whose instances run something, and the classes of the
// other two parts of a subscription.
var classes = [][]byte{
	[]byte("CommandLineEventConsumer"), []byte("ActiveScriptEventConsumer"),
	[]byte("NTEventLogEventConsumer"), []byte("LogFileEventConsumer"), []byte("SMTPEventConsumer"),
	[]byte("__EventFilter"),
}

// Record is one instance-like occurrence of a class name with the printable
// strings that follow it.
type Record struct {
	Offset  int64
	Class   string
	Strings []string
}

// Binding is a __FilterToConsumerBinding's two references.
type Binding struct {
	Offset        int64
	ConsumerClass string
	Consumer      string
	Filter        string
}

// Result is what a scan found.
type Result struct {
	Records  []Record
	Bindings []Binding
	// Truncated says MaxRecords was reached: the rest was not looked at.
	Truncated bool
}

var bindingRe = regexp.MustCompile(`(\w*EventConsumer)\.Name="([^"\x00]{1,256})"[\s\S]{0,512}?_EventFilter\.Name="([^"\x00]{1,256})"`)

// Scan reads r (size bytes) in chunks and reports consumer, filter and
// binding records. Memory is bounded by the chunk size whatever the file's.
func Scan(r io.ReaderAt, size int64) (*Result, error) {
	res := &Result{}
	if size <= 0 {
		return res, nil
	}
	seenRec := map[int64]bool{}
	seenBind := map[int64]bool{}
	buf := make([]byte, min(size, chunk+chunkSticky))
	for base := int64(0); base < size; base += chunk {
		n := int64(len(buf))
		if base+n > size {
			n = size - base
		}
		got, err := r.ReadAt(buf[:n], base)
		if err != nil && err != io.EOF {
			return res, fmt.Errorf("OBJECTS.DATA at %d: %w", base, err)
		}
		b := buf[:got]
		for _, cls := range classes {
			for off := 0; ; {
				i := bytes.Index(b[off:], cls)
				if i < 0 {
					break
				}
				at := off + i
				off = at + len(cls)
				abs := base + int64(at)
				// A longer class name containing this one (a subclass, or
				// "__EventFilter" inside another name) is its own match.
				// A reference in an object path (Class.Name="x") is a binding's.
				if at > 0 && isWord(b[at-1]) || off < len(b) && (isWord(b[off]) || b[off] == '.') || seenRec[abs] {
					continue
				}
				if int64(at) >= chunk && base+chunk < size {
					continue // the next chunk sees it whole
				}
				seenRec[abs] = true
				if len(res.Records) >= MaxRecords {
					res.Truncated = true
					return res, nil
				}
				end := min(off+window, len(b))
				res.Records = append(res.Records, Record{Offset: abs, Class: string(cls), Strings: printable(b[off:end])})
			}
		}
		for _, m := range bindingRe.FindAllSubmatchIndex(b, -1) {
			abs := base + int64(m[0])
			if seenBind[abs] || int64(m[0]) >= chunk && base+chunk < size {
				continue
			}
			seenBind[abs] = true
			if len(res.Bindings) >= MaxRecords {
				res.Truncated = true
				return res, nil
			}
			res.Bindings = append(res.Bindings, Binding{Offset: abs, ConsumerClass: string(b[m[2]:m[3]]), Consumer: string(b[m[4]:m[5]]), Filter: string(b[m[6]:m[7]])})
		}
		if base+int64(got) >= size {
			break
		}
	}
	return res, nil
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// printable splits b into runs of printable ASCII at least minString long,
// stopping at the next record's class name.
func printable(b []byte) []string {
	var out []string
	start := -1
	flush := func(end int) bool {
		if start >= 0 && end-start >= minString {
			s := string(b[start:end])
			for _, cls := range classes {
				if bytes.Contains(b[start:end], cls) {
					return false // the next record
				}
			}
			out = append(out, s)
		}
		start = -1
		return len(out) < maxStrings
	}
	for i, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\t' {
			if start < 0 {
				start = i
			}
			continue
		}
		if !flush(i) {
			return out
		}
	}
	flush(len(b))
	return out
}
