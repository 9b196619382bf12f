package yarascan

import (
	"errors"
	"fmt"
	"time"

	yara "github.com/hillu/go-yara/v4"
)

// MinTimeout is the smallest per-scan timeout libyara honours: it counts in
// whole seconds, and a timeout under one second silently means none.
const MinTimeout = time.Second

// Vars are the per-file values of Externals.
type Vars struct {
	Filename  string // base name
	Filepath  string // directory holding the file, as LOKI sets it
	Extension string // lower-case, with the dot (".exe"), "" if none
	Filetype  string // LOKI-style type from magic bytes ("ELF", "EXE", ...)
	MD5       string
	Owner     string
}

func (v Vars) values() [6]string {
	// Order of Externals.
	return [6]string{v.Filename, v.Filepath, v.Extension, v.Filetype, v.MD5, v.Owner}
}

// StringMatch is one matched string of a rule.
type StringMatch struct {
	Name   string
	Offset uint64
	Data   []byte
}

// Match is one rule that matched, with its interpreted metadata.
type Match struct {
	Info    RuleInfo
	Strings []StringMatch
}

// Scanner scans buffers with a Rules. It is NOT safe for concurrent use:
// give every goroutine its own (libyara allows 32 at once).
type Scanner struct {
	r    *Rules
	scs  []*yara.Scanner
	vars [][]bool // per set: which Externals it declares
}

// ErrTimeout marks a scan that hit its timeout; the matches found until
// then are still returned.
var ErrTimeout = errors.New("yara: scan timed out")

// NewScanner creates a scanner over every rule set. timeout applies per
// buffer (per rule set); 0 means none, anything else is raised to
// MinTimeout.
func (r *Rules) NewScanner(timeout time.Duration) (*Scanner, error) {
	if r == nil || len(r.sets) == 0 {
		return nil, ErrNoRules
	}
	if timeout > 0 && timeout < MinTimeout {
		timeout = MinTimeout
	}
	s := &Scanner{r: r}
	for _, set := range r.sets {
		sc, err := yara.NewScanner(set.rules)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("yara: new scanner: %w", err)
		}
		sc.SetTimeout(timeout)
		decl := make([]bool, len(Externals))
		for i, v := range Externals {
			// A compiled file declares only what yarac was given (-d);
			// defining anything else is an error we learn from here.
			decl[i] = sc.DefineVariable(v, "") == nil
		}
		s.scs = append(s.scs, sc)
		s.vars = append(s.vars, decl)
	}
	return s, nil
}

// Close frees the libyara scanners.
func (s *Scanner) Close() {
	for _, sc := range s.scs {
		sc.Destroy()
	}
	s.scs = nil
}

// Scan runs every rule over buf with the file's variables. On a timeout it
// returns what matched so far together with an error wrapping ErrTimeout.
func (s *Scanner) Scan(buf []byte, v Vars) ([]Match, error) {
	vals := v.values()
	var out []Match
	var errs []error
	for i, sc := range s.scs {
		for j, name := range Externals {
			if s.vars[i][j] {
				if err := sc.DefineVariable(name, vals[j]); err != nil {
					return nil, fmt.Errorf("yara: set %s: %w", name, err)
				}
			}
		}
		var mr yara.MatchRules
		sc.SetCallback(&mr)
		err := sc.ScanMem(buf)
		if err != nil {
			var ye yara.Error
			if errors.As(err, &ye) && ye == errTimeoutCode {
				err = fmt.Errorf("%w (%v)", ErrTimeout, err)
			}
			errs = append(errs, err)
		}
		for _, m := range mr {
			info, ok := s.r.Info(m.Namespace, m.Rule)
			if !ok {
				info = RuleInfo{Name: m.Rule, Namespace: m.Namespace, Tags: m.Tags, Severity: DefaultSeverity}
			}
			mt := Match{Info: info}
			for _, st := range m.Strings {
				mt.Strings = append(mt.Strings, StringMatch{Name: st.Name, Offset: st.Base + st.Offset, Data: st.Data})
			}
			out = append(out, mt)
		}
	}
	return out, errors.Join(errs...)
}
