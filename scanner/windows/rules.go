package windows

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
)

// rules is everything the Windows checks judge by, loaded once from the
// embedded files under signatures/windows/ (see its README). Nothing here
// names a path, program or marker itself.
type rules struct {
	autostart   []autostartKey
	winlogon    []winlogonDefault
	startupDirs []string
	startupExt  map[string]startupType
	places      []placeRule
	benign      []globRule
	lolbins     map[string][]lolbinRule // by lower-case program name
	encoded     map[string][]encodedRule
	markers     []marker
	lookalikes  map[string]lookalike
	hosts       map[string]hostsRule // pinned, blocked
	pools       []string
	env         map[string]string // lower-case name -> value
	placeInfo   map[string]placeInfo
	techniques  map[string]string
	evasion     evasionRules
}

type autostartKey struct{ hive, path, kind string }

type winlogonDefault struct {
	hive, key, value, def string
	sev                   severity
}

type startupType struct {
	how         string
	rule, title string
	sev         severity
	technique   string
}

// severity is a report severity or "none" (no finding).
type severity struct {
	report.Severity
	none bool
}

func parseSeverity(s string) (severity, error) {
	if strings.EqualFold(s, "none") {
		return severity{none: true}, nil
	}
	v, err := report.ParseSeverity(s)
	return severity{Severity: v}, err
}

type globRule struct {
	re   *regexp.Regexp
	what string
}

type placeRule struct {
	globRule
	logon, service severity
}

type lolbinRule struct {
	args      *regexp.Regexp // nil = any
	rule      string
	sev       severity
	technique string
	title     string
	payload   string
}

type encodedRule struct {
	re        *regexp.Regexp
	kind      string
	rule      string
	sev       severity
	technique string
	title     string
}

type marker struct {
	kind      string // word, re, pools
	word      string
	re        *regexp.Regexp
	pools     []string
	rule      string
	sev       severity
	technique string
	family    string
	title     string
}

type lookalike struct {
	homes     []*regexp.Regexp
	sev       severity
	technique string
}

type hostsRule struct {
	rule, technique, title string
	sev                    severity
}

type placeInfo struct{ technique, remediation string }

// ruleStep loads one data file: name below signatures/, the fewest fields a
// line may have, and what to do with each line.
type ruleStep struct {
	name string
	min  int
	fn   func(e signatures.Entry) error
}

var loadRules = sync.OnceValues(func() (*rules, error) { return parseRules(signatures.List) })

// parseRules builds the rule set through list, which loads one list file by
// its path below signatures/ (signatures.List, or a test's own data).
func parseRules(list func(string) ([]signatures.Entry, error)) (*rules, error) {
	r := &rules{
		startupExt: map[string]startupType{},
		lolbins:    map[string][]lolbinRule{},
		encoded:    map[string][]encodedRule{},
		env:        map[string]string{},
		placeInfo:  map[string]placeInfo{},
		techniques: map[string]string{},
		lookalikes: map[string]lookalike{},
		hosts:      map[string]hostsRule{},
	}
	load := func(name string, minFields int, fn func(e signatures.Entry) error) error {
		ents, err := list(name)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if len(e.Fields) < minFields {
				return fmt.Errorf("signatures/%s line %d: want %d fields, have %d", name, e.Line, minFields, len(e.Fields))
			}
			if err := fn(e); err != nil {
				return fmt.Errorf("signatures/%s line %d: %w", name, e.Line, err)
			}
		}
		return nil
	}
	steps := []ruleStep{
		{"windows/autostart-keys.txt", 3, func(e signatures.Entry) error {
			r.autostart = append(r.autostart, autostartKey{strings.ToUpper(e.Field(0)), e.Field(1), e.Field(2)})
			return nil
		}},
		{"windows/winlogon.txt", 5, func(e signatures.Entry) error {
			sev, err := parseSeverity(e.Field(4))
			r.winlogon = append(r.winlogon, winlogonDefault{strings.ToUpper(e.Field(0)), e.Field(1), e.Field(2), e.Field(3), sev})
			return err
		}},
		{"windows/startup-folders.txt", 1, func(e signatures.Entry) error {
			r.startupDirs = append(r.startupDirs, e.Field(0))
			return nil
		}},
		{"windows/startup-files.txt", 6, func(e signatures.Entry) error {
			sev, err := parseSeverity(e.Field(3))
			r.startupExt[strings.ToLower(e.Field(0))] = startupType{how: e.Field(1), rule: e.Field(2), sev: sev, technique: e.Field(4), title: e.Field(5)}
			return err
		}},
		{"windows/places.txt", 4, func(e signatures.Entry) error {
			g, err := compileGlob(e.Field(0))
			if err != nil {
				return err
			}
			lo, err := parseSeverity(e.Field(1))
			if err != nil {
				return err
			}
			sv, err := parseSeverity(e.Field(2))
			r.places = append(r.places, placeRule{globRule{g, e.Field(3)}, lo, sv})
			return err
		}},
		{"windows/benign.txt", 2, func(e signatures.Entry) error {
			g, err := compileGlob(e.Field(0))
			r.benign = append(r.benign, globRule{g, e.Field(1)})
			return err
		}},
		{"windows/lolbins.txt", 7, func(e signatures.Entry) error {
			lr := lolbinRule{rule: e.Field(2), technique: e.Field(4), title: e.Field(5), payload: e.Field(6)}
			var err error
			if e.Field(1) != "" {
				if lr.args, err = regexp.Compile(e.Field(1)); err != nil {
					return err
				}
			}
			lr.sev, err = parseSeverity(e.Field(3))
			prog := strings.ToLower(e.Field(0))
			r.lolbins[prog] = append(r.lolbins[prog], lr)
			return err
		}},
		{"windows/encoded.txt", 7, func(e signatures.Entry) error {
			re, err := regexp.Compile(e.Field(1))
			if err != nil {
				return err
			}
			if re.NumSubexp() < 1 {
				return fmt.Errorf("pattern needs a capture group for the encoded text")
			}
			er := encodedRule{re: re, kind: e.Field(2), rule: e.Field(3), technique: e.Field(5), title: e.Field(6)}
			er.sev, err = parseSeverity(e.Field(4))
			prog := strings.ToLower(e.Field(0))
			r.encoded[prog] = append(r.encoded[prog], er)
			return err
		}},
		{"windows/markers.txt", 7, func(e signatures.Entry) error {
			m := marker{kind: e.Field(0), rule: e.Field(2), technique: e.Field(4), family: e.Field(5), title: e.Field(6)}
			var err error
			switch m.kind {
			case "word":
				m.word = strings.ToLower(e.Field(1))
			case "re":
				m.re, err = regexp.Compile(e.Field(1))
			case "pools":
				var ents []signatures.Entry
				if ents, err = list(e.Field(1)); err == nil {
					for _, p := range ents {
						if d := strings.ToLower(strings.TrimPrefix(p.Field(0), "*.")); d != "" {
							m.pools = append(m.pools, d)
						}
					}
					r.pools = append(r.pools, m.pools...)
				}
			default:
				err = fmt.Errorf("unknown marker kind %q", m.kind)
			}
			if err != nil {
				return err
			}
			m.sev, err = parseSeverity(e.Field(3))
			r.markers = append(r.markers, m)
			return err
		}},
		{"windows/lookalikes.txt", 4, func(e signatures.Entry) error {
			la := lookalike{technique: e.Field(3)}
			for _, g := range strings.Split(e.Field(1), ",") {
				re, err := compileGlob(strings.TrimSpace(g))
				if err != nil {
					return err
				}
				la.homes = append(la.homes, re)
			}
			var err error
			la.sev, err = parseSeverity(e.Field(2))
			r.lookalikes[strings.ToLower(e.Field(0))] = la
			return err
		}},
		{"windows/hosts.txt", 5, func(e signatures.Entry) error {
			sev, err := parseSeverity(e.Field(2))
			r.hosts[e.Field(0)] = hostsRule{rule: e.Field(1), sev: sev, technique: e.Field(3), title: e.Field(4)}
			return err
		}},
		{"windows/envvars.txt", 2, func(e signatures.Entry) error {
			r.env[strings.ToLower(e.Field(0))] = e.Field(1)
			return nil
		}},
		{"windows/places-remediation.txt", 3, func(e signatures.Entry) error {
			r.placeInfo[e.Field(0)] = placeInfo{e.Field(1), strings.Join(e.Fields[2:], ";")}
			return nil
		}},
		{"windows/techniques.txt", 2, func(e signatures.Entry) error {
			r.techniques[e.Field(0)] = e.Field(1)
			return nil
		}},
	}
	steps = append(steps, r.evasionSteps()...)
	for _, s := range steps {
		if err := load(s.name, s.min, s.fn); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{"runkey", "winlogon", "service", "task", "startup", "hosts", "defender", "ifeo", "loadpoint", "account", "taskcache", "profile", "stream", "wmi"} {
		if _, ok := r.placeInfo[p]; !ok {
			return nil, fmt.Errorf("signatures/windows/places-remediation.txt: no line for %q", p)
		}
	}
	return r, nil
}

// compileGlob turns a places.txt glob into an anchored regexp: '**' crosses
// path separators, '*' and '?' do not.
func compileGlob(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
