package linux

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
)

// Marker is one family marker from signatures/linux/families.txt.
type Marker struct {
	Family      string
	Kind        string
	Pattern     string
	Severity    report.Severity
	Technique   string
	Description string
}

// CommandRule is one line of signatures/linux/commands.txt.
type CommandRule struct {
	Rule      string
	Severity  report.Severity
	Technique string
	Re        *regexp.Regexp
	Title     string
}

// sigdata is every list the Linux checks judge by, parsed once.
type sigdata struct {
	markers    []Marker
	commands   []CommandRule
	allow      map[string][]*regexp.Regexp // rule -> whole-command patterns it does not judge
	techniques map[string]string
	locations  map[string][]string // "check;role" -> paths, in file order
	pools      []string            // domains and IPs, lower case
	ports      map[string]bool
	security   []string // security/update domains
	limits     map[string]lineLimit
}

// lineLimit is one line of signatures/linux/limits.txt.
type lineLimit struct {
	Lines     int
	Severity  report.Severity
	Technique string
	What      string
}

var loadSigs = sync.OnceValues(func() (*sigdata, error) {
	s := &sigdata{limits: map[string]lineLimit{}, techniques: map[string]string{}, locations: map[string][]string{}, ports: map[string]bool{}, allow: map[string][]*regexp.Regexp{}}
	list := func(name string) ([]signatures.Entry, error) { return signatures.List(name) }

	ents, err := list("linux/families.txt")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		sev, err := report.ParseSeverity(e.Field(3))
		if err != nil || len(e.Fields) < 6 || e.Field(2) == "" {
			return nil, fmt.Errorf("linux/families.txt:%d: want family;kind;pattern;severity;technique;description (%v)", e.Line, err)
		}
		s.markers = append(s.markers, Marker{e.Field(0), e.Field(1), e.Field(2), sev, e.Field(4), e.Field(5)})
	}

	if ents, err = list("linux/commands.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		sev, err := report.ParseSeverity(e.Field(1))
		if err != nil || len(e.Fields) < 5 {
			return nil, fmt.Errorf("linux/commands.txt:%d: want rule;severity;technique;regex;title (%v)", e.Line, err)
		}
		re, err := regexp.Compile("(?i)" + e.Field(3))
		if err != nil {
			return nil, fmt.Errorf("linux/commands.txt:%d: %w", e.Line, err)
		}
		s.commands = append(s.commands, CommandRule{e.Field(0), sev, e.Field(2), re, e.Field(4)})
	}

	if ents, err = list("linux/commands-allow.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		re, err := regexp.Compile("(?i)^(?:" + e.Field(1) + ")$")
		if err != nil || len(e.Fields) < 3 {
			return nil, fmt.Errorf("linux/commands-allow.txt:%d: want rule;regex;reason (%v)", e.Line, err)
		}
		s.allow[e.Field(0)] = append(s.allow[e.Field(0)], re)
	}

	if ents, err = list("linux/techniques.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		s.techniques[e.Field(0)] = e.Field(1)
	}

	if ents, err = list("linux/locations.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		if len(e.Fields) < 3 {
			return nil, fmt.Errorf("linux/locations.txt:%d: want check;role;path", e.Line)
		}
		k := e.Field(0) + ";" + e.Field(1)
		s.locations[k] = append(s.locations[k], e.Field(2))
	}

	if ents, err = list("ioc/pools.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		if d := strings.ToLower(strings.TrimSuffix(e.Field(0), ".")); d != "" {
			s.pools = append(s.pools, d)
		}
	}
	if ents, err = list("ioc/stratum-ports.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		s.ports[e.Field(0)] = true
	}
	if ents, err = list("linux/limits.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		n, nerr := strconv.Atoi(e.Field(1))
		sev, err := report.ParseSeverity(e.Field(2))
		if err != nil || nerr != nil || n < 1 || len(e.Fields) < 5 {
			return nil, fmt.Errorf("linux/limits.txt:%d: want check;lines;severity;technique;what (%v)", e.Line, errors.Join(err, nerr))
		}
		s.limits[e.Field(0)] = lineLimit{n, sev, e.Field(3), e.Field(4)}
	}
	if ents, err = list("linux/security-domains.txt"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		s.security = append(s.security, strings.ToLower(e.Field(0)))
	}
	return s, nil
})

// sigs returns the parsed data. The data is embedded, so a failure is a
// build defect that the package tests catch; checks report it as an error.
func sigs() *sigdata {
	s, err := loadSigs()
	if err != nil {
		panic(err)
	}
	return s
}

func techniqueName(id string) string {
	s, err := loadSigs()
	if err != nil {
		return ""
	}
	return s.techniques[id]
}

// loc returns the configured paths of one check role.
func (s *sigdata) loc(checkName, role string) []string { return s.locations[checkName+";"+role] }

// markersOf returns the family markers of one kind.
func (s *sigdata) markersOf(kind string) []Marker {
	var out []Marker
	for _, m := range s.markers {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// poolFor returns the pool list entry host names or equals, "" if none.
// A domain entry matches itself and any subdomain; an IP entry only itself.
func (s *sigdata) poolFor(host string) string {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return ""
	}
	for _, p := range s.pools {
		if host == p {
			return p
		}
		if net.ParseIP(p) == nil && strings.HasSuffix(host, "."+p) {
			return p
		}
	}
	return ""
}

func (s *sigdata) securityDomain(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range s.security {
		if host == d || strings.HasSuffix(host, "."+d) {
			return d
		}
	}
	return ""
}

// hostTokens pulls host-like words (and URL hosts) out of free text, so
// that a pool named anywhere in a command or rule is found.
var hostTokenRe = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}|\b\d{1,3}(?:\.\d{1,3}){3}\b`)

func (s *sigdata) poolsIn(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hostTokenRe.FindAllString(text, 64) {
		if p := s.poolFor(h); p != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
