package signatures

import (
	"strings"
	"testing"
)

func TestParseListKeepsLinesAfterAHugeOne(t *testing.T) {
	data := "# comment\nfirst;a\n" + strings.Repeat("x", 2<<20) + ";huge\n\n  last ; b ;c  \r\n"
	got := ParseList([]byte(data))
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3 (a line over any buffer size must not end the list)", len(got))
	}
	if got[0].Line != 2 || got[2].Line != 5 || got[2].Field(0) != "last" || got[2].Field(2) != "c" || got[2].Field(3) != "" {
		t.Errorf("entries: %+v / %+v", got[0], got[2])
	}
}
