package report

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// clean makes a string from the image safe to print on a terminal. Image
// content is hostile: a cron line can carry ANSI escapes that rewrite the
// analyst's screen, or bidi overrides that make a command read differently
// from what runs. Every such rune, and every byte that is not UTF-8, is shown
// as an escape instead. Tabs become spaces so that widths stay predictable.
func clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteByte(' ')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports runes that print nothing or reorder what follows them:
// C1 controls, bidi embeddings and isolates, line/paragraph separators,
// zero-width and other format characters.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	case unicode.Is(unicode.Cf, r): // format: bidi controls, ZWJ, BOM, soft hyphen
		return true
	case !unicode.IsPrint(r) && r != ' ':
		return true
	}
	return false
}

// width is the number of terminal columns s takes.
func width(s string) int { return twwidth.Width(s) }

// truncate shortens s to at most w columns, marking the cut with an ellipsis.
func truncate(s string, w int) string {
	if width(s) <= w {
		return s
	}
	if w < 1 {
		return ""
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := width(string(r))
		if used+rw > w-1 {
			break
		}
		b.WriteRune(r)
		used += rw
	}
	b.WriteString("…")
	return b.String()
}

// wrap breaks s into lines of at most w columns. It breaks at spaces, and
// inside a word that is too long (a path, a base64 blob) after a '/' or '\\' where it
// can, otherwise anywhere. Existing newlines are kept.
func wrap(s string, w int) []string {
	if w < 1 {
		w = 1
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, wrapLine(para, w)...)
	}
	return out
}

func wrapLine(s string, w int) []string {
	if width(s) <= w {
		return []string{s}
	}
	var lines []string
	line, lw := "", 0
	for _, word := range strings.Split(s, " ") {
		ww := width(word)
		switch {
		case line == "":
			line, lw = word, ww
		case lw+1+ww <= w:
			line, lw = line+" "+word, lw+1+ww
		default:
			lines = append(lines, line)
			line, lw = word, ww
		}
		if lw > w {
			chunks := breakWord(line, w)
			lines = append(lines, chunks[:len(chunks)-1]...)
			line = chunks[len(chunks)-1]
			lw = width(line)
		}
	}
	return append(lines, line)
}

// breakWord splits a word wider than w into chunks of at most w columns,
// each cut after the last '/' or '\\' that fits if that leaves a reasonable
// chunk, else exactly at w. One pass: a hostile 100 KB word costs linear
// time.
func breakWord(s string, w int) []string {
	var out []string
	start := 0
	for start < len(s) {
		used, cut, lastSep := 0, start, -1
		i := start
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			rw := width(string(r))
			if used+rw > w {
				break
			}
			used += rw
			i += n
			cut = i
			if r == '/' || r == '\\' {
				lastSep = i
			}
		}
		if i >= len(s) {
			out = append(out, s[start:])
			break
		}
		if cut == start { // a single rune wider than w
			_, n := utf8.DecodeRuneInString(s[start:])
			cut = start + n
		}
		if lastSep > start && lastSep < cut && (lastSep-start)*3 >= cut-start {
			cut = lastSep
		}
		out = append(out, s[start:cut])
		start = cut
	}
	return out
}

// wrapCell wraps s into a table cell of w columns.
func wrapCell(s string, w int) string { return strings.Join(wrap(s, w), "\n") }

// humanBytes renders a size for a person: 182 B, 4.0 KiB, 19.5 GiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// stamp renders a time for the table: UTC, to the second, sortable, and
// without a space so that wrapping never splits it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// seconds renders a duration in seconds the way a person reads it.
func seconds(s float64) string {
	switch {
	case s < 0:
		return "?"
	case s < 10:
		return fmt.Sprintf("%.2fs", s)
	case s < 120:
		return fmt.Sprintf("%.1fs", s)
	default:
		d := time.Duration(s * float64(time.Second)).Round(time.Second)
		return d.String()
	}
}

// Printable is clean for other writers of image content to a terminal (the
// analyst commands): escapes instead of control sequences, bidi overrides
// and bytes that are not UTF-8.
func Printable(s string) string { return clean(s) }
