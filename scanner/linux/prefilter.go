package linux

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// requiredLiterals returns strings of which every match of pattern must
// contain at least one, lower-cased, for a case-insensitive pattern; nil when
// no such set is known (a pattern of only classes and repeats). Matching a
// regular expression is what scoring a script costs; a substring search of
// the lower-cased line rules most behaviours out first.
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	set := required(re.Simplify())
	for _, s := range set {
		if s == "" {
			return nil // an empty literal is in every line: no filter
		}
	}
	return set
}

// maxLiteralSet bounds an alternation's set: past it, no filter.
const maxLiteralSet = 16

func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		// The sub-expression whose weakest literal is longest; adjacent
		// literals would be longer still, but one is enough to filter.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			s := required(sub)
			if s == nil {
				continue
			}
			if l := shortest(s); l > bestLen {
				best, bestLen = s, l
			}
		}
		return best
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			s := required(sub)
			if s == nil {
				return nil
			}
			out = append(out, s...)
			if len(out) > maxLiteralSet {
				return nil
			}
		}
		return out
	case syntax.OpCharClass:
		// A class of one letter in both cases ("[sS]") is that letter.
		if len(re.Rune) == 4 && re.Rune[0] == re.Rune[1] && re.Rune[2] == re.Rune[3] &&
			strings.EqualFold(string(re.Rune[0]), string(re.Rune[2])) {
			return []string{strings.ToLower(string(re.Rune[0]))}
		}
	}
	return nil
}

func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if l := utf8.RuneCountInString(s); n < 0 || l < n {
			n = l
		}
	}
	return n
}

// mayMatch is the filter: false only when lower (a lower-cased line) holds
// none of lits.
func mayMatch(lits []string, lower string) bool {
	if lits == nil {
		return true
	}
	for _, l := range lits {
		if strings.Contains(lower, l) {
			return true
		}
	}
	return false
}
