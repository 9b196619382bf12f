package windows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/signatures"
)

// evasionRules is the data of the defender, ifeo, loadpoints and accounts
// checks (defender.txt, exclusions.txt, ifeo.txt, loadpoints.txt,
// accounts.txt).
type evasionRules struct {
	settings      []defenderSetting
	exclusionKeys []exclusionKey
	exclusions    map[string][]exclusionRule // by type
	accessibility map[string]bool
	shells        []string
	mitigations   []*regexp.Regexp
	verdicts      map[string]verdict // ifeo.txt and accounts.txt, by rule
	loadpoints    []loadpoint
	expectedAdmin map[uint32]bool
	profiles      []string
	streamDirs    []string
	wmiConsumers  map[string]wmiConsumer // by class
}

type wmiConsumer struct {
	how, title string
	sev        severity
}

// verdict is a named finding whose severity and technique are data.
type verdict struct {
	rule, technique, title string
	sev                    severity
}

func (v verdict) hit(match string) (hit, bool) {
	if v.rule == "" || v.sev.none {
		return hit{}, false
	}
	return hit{Rule: v.rule, Title: v.title, Severity: v.sev.Severity, Technique: v.technique, Match: match}, true
}

type defenderSetting struct {
	key   string
	value *regexp.Regexp
	bad   func(uint64) bool
	verdict
}

type exclusionKey struct{ key, typ string }

type exclusionRule struct {
	re   *regexp.Regexp // on the normalised path; nil with name
	name string         // program or extension; "*" any
	sev  severity
	what string
}

type loadpoint struct {
	hive, key, where, value, entries string
	stock                            map[string]bool
	gateName                         string
	gateValue                        uint64
	verdict
}

// valueGlob compiles a value-name glob ('*' any run) into a case-insensitive
// anchored regexp.
func valueGlob(g string) (*regexp.Regexp, error) {
	parts := strings.Split(g, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.Compile("(?i)^" + strings.Join(parts, ".*") + "$")
}

// badData parses "1,4" (any of these) or "!0" (anything but 0).
func badData(s string) (func(uint64) bool, error) {
	if strings.HasPrefix(s, "!") {
		n, err := strconv.ParseUint(s[1:], 10, 64)
		return func(v uint64) bool { return v != n }, err
	}
	set := map[uint64]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, err
		}
		set[n] = true
	}
	return func(v uint64) bool { return set[v] }, nil
}

// stockName is how load-point entries are compared: the lower-case file
// name without a ".dll" extension.
func stockName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexAny(s, `\/`); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSuffix(s, ".dll")
}

func (r *rules) evasionSteps() []ruleStep {
	ev := &r.evasion
	ev.exclusions = map[string][]exclusionRule{}
	ev.accessibility = map[string]bool{}
	ev.verdicts = map[string]verdict{}
	ev.expectedAdmin = map[uint32]bool{}
	verdictLine := func(e signatures.Entry) error {
		if len(e.Fields) < 5 {
			return fmt.Errorf("verdict wants rule ; severity ; technique ; title")
		}
		sev, err := parseSeverity(e.Field(2))
		ev.verdicts[e.Field(1)] = verdict{rule: e.Field(1), sev: sev, technique: e.Field(3), title: e.Field(4)}
		return err
	}
	return []ruleStep{
		{"windows/defender.txt", 3, func(e signatures.Entry) error {
			switch e.Field(0) {
			case "setting":
				if len(e.Fields) < 8 {
					return fmt.Errorf("setting wants 8 fields")
				}
				re, err := valueGlob(e.Field(2))
				if err != nil {
					return err
				}
				bad, err := badData(e.Field(3))
				if err != nil {
					return err
				}
				sev, err := parseSeverity(e.Field(4))
				ev.settings = append(ev.settings, defenderSetting{key: e.Field(1), value: re, bad: bad,
					verdict: verdict{rule: e.Field(5), sev: sev, technique: e.Field(6), title: e.Field(7)}})
				return err
			case "exclusions":
				ev.exclusionKeys = append(ev.exclusionKeys, exclusionKey{e.Field(1), e.Field(2)})
				return nil
			case "verdict":
				return verdictLine(e)
			}
			return fmt.Errorf("unknown kind %q", e.Field(0))
		}},
		{"windows/exclusions.txt", 4, func(e signatures.Entry) error {
			x := exclusionRule{what: e.Field(3)}
			var err error
			if x.sev, err = parseSeverity(e.Field(2)); err != nil {
				return err
			}
			pat := e.Field(1)
			if pat != "*" && (strings.ContainsAny(pat, "/*") || e.Field(0) == "paths") {
				if x.re, err = compileGlob(strings.ToLower(pat)); err != nil {
					return err
				}
			} else {
				x.name = strings.ToLower(pat)
			}
			ev.exclusions[e.Field(0)] = append(ev.exclusions[e.Field(0)], x)
			return nil
		}},
		{"windows/ifeo.txt", 2, func(e signatures.Entry) error {
			switch e.Field(0) {
			case "accessibility":
				ev.accessibility[strings.ToLower(e.Field(1))] = true
			case "shell":
				ev.shells = append(ev.shells, e.Field(1))
			case "mitigation":
				re, err := valueGlob(e.Field(1))
				if err != nil {
					return err
				}
				ev.mitigations = append(ev.mitigations, re)
			case "verdict":
				return verdictLine(e)
			default:
				return fmt.Errorf("unknown kind %q", e.Field(0))
			}
			return nil
		}},
		{"windows/loadpoints.txt", 11, func(e signatures.Entry) error {
			lp := loadpoint{hive: strings.ToUpper(e.Field(0)), key: e.Field(1), where: e.Field(2), value: e.Field(3), entries: e.Field(4), stock: map[string]bool{}}
			switch lp.where {
			case "value", "values", "subkeys":
			default:
				return fmt.Errorf("unknown where %q", lp.where)
			}
			if lp.entries != "dlls" && lp.entries != "commands" {
				return fmt.Errorf("unknown entries %q", lp.entries)
			}
			for _, s := range strings.Split(e.Field(5), ",") {
				if s = strings.TrimSpace(s); s != "" {
					if lp.entries == "dlls" {
						s = stockName(s)
					}
					lp.stock[strings.ToLower(s)] = true
				}
			}
			if g := e.Field(7); g != "" {
				name, val, ok := strings.Cut(g, "=")
				n, err := strconv.ParseUint(val, 10, 64)
				if !ok || err != nil {
					return fmt.Errorf("gate %q: want NAME=N", g)
				}
				lp.gateName, lp.gateValue = name, n
			}
			sev, err := parseSeverity(e.Field(6))
			lp.verdict = verdict{rule: e.Field(8), sev: sev, technique: e.Field(9), title: e.Field(10)}
			ev.loadpoints = append(ev.loadpoints, lp)
			return err
		}},
		{"windows/taskcache.txt", 5, verdictLine},
		{"windows/wmi.txt", 5, func(e signatures.Entry) error {
			if e.Field(0) != "consumer" {
				return fmt.Errorf("unknown kind %q", e.Field(0))
			}
			sev, err := parseSeverity(e.Field(3))
			if ev.wmiConsumers == nil {
				ev.wmiConsumers = map[string]wmiConsumer{}
			}
			ev.wmiConsumers[e.Field(1)] = wmiConsumer{how: e.Field(2), title: e.Field(4), sev: sev}
			return err
		}},
		{"windows/streams.txt", 2, func(e signatures.Entry) error {
			switch e.Field(0) {
			case "dir":
				ev.streamDirs = append(ev.streamDirs, e.Field(1))
				return nil
			case "verdict":
				return verdictLine(e)
			}
			return fmt.Errorf("unknown kind %q", e.Field(0))
		}},
		{"windows/shell-profiles.txt", 1, func(e signatures.Entry) error {
			ev.profiles = append(ev.profiles, e.Field(0))
			return nil
		}},
		{"windows/accounts.txt", 2, func(e signatures.Entry) error {
			switch e.Field(0) {
			case "verdict":
				return verdictLine(e)
			case "expected-admin":
				n, err := strconv.ParseUint(e.Field(1), 10, 32)
				ev.expectedAdmin[uint32(n)] = true
				return err
			}
			return fmt.Errorf("unknown kind %q", e.Field(0))
		}},
	}
}
