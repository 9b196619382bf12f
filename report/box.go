package report

import (
	"io"
	"strings"
)

// drawBox draws one table in box-drawing characters: a header row, then
// each row, with a rule between rows; widths are the columns' content
// widths (cells are already wrapped to them, lines split on "\n"). Our own
// few lines rather than a table library: the layout is fixed, and the
// library cost milliseconds per table in allocations (issue 21's rate for
// the table fuzz target).
func drawBox(w io.Writer, headers []string, rows [][]string, widths []int) error {
	var b strings.Builder
	rule := func(left, mid, right string) {
		b.WriteString(left)
		for i, cw := range widths {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", cw+2))
		}
		b.WriteString(right)
		b.WriteByte('\n')
	}
	line := func(cells []string) {
		split := make([][]string, len(widths))
		height := 1
		for i := range widths {
			if i < len(cells) {
				split[i] = strings.Split(cells[i], "\n")
			}
			height = max(height, len(split[i]))
		}
		for l := range height {
			b.WriteString("│")
			for i, cw := range widths {
				text := ""
				if l < len(split[i]) {
					text = split[i][l]
				}
				b.WriteByte(' ')
				b.WriteString(text)
				if pad := cw - width(text); pad > 0 {
					b.WriteString(strings.Repeat(" ", pad))
				}
				b.WriteString(" │")
			}
			b.WriteByte('\n')
		}
	}
	rule("┌", "┬", "┐")
	line(headers)
	for _, r := range rows {
		rule("├", "┼", "┤")
		line(r)
	}
	rule("└", "┴", "┘")
	_, err := io.WriteString(w, b.String())
	return err
}
