package linux

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseSudoers(f *testing.F) {
	f.Add([]byte("root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"))
	f.Add([]byte("User_Alias A = eve, bob : B = x\nCmnd_Alias S = /bin/sh\nA ALL = (ALL) NOPASSWD: S, !/usr/bin/su # c\\\n x\n"))
	f.Add([]byte("deploy ALL=(ALL) NOPASSWD: /usr/bin/apt-get update, PASSWD: ALL\n#1001 ALL=ALL\nDefaults !authenticate\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		rules, incs := ParseSudoers(data, map[string][]string{})
		again, incs2 := ParseSudoers(data, map[string][]string{})
		if !reflect.DeepEqual(rules, again) || !reflect.DeepEqual(incs, incs2) {
			t.Fatal("not deterministic")
		}
		n := bytes.Count(data, []byte("\n")) + 1
		for _, r := range rules {
			if r.Line < 1 || r.Line > n || len(r.Users) == 0 || len(r.Commands) == 0 {
				t.Fatalf("rule %+v out of %d lines", r, n)
			}
			if r.NoPasswd && !r.All {
				t.Fatalf("NOPASSWD without an ALL grant: %+v", r)
			}
			any := false
			for _, c := range r.Commands {
				any = any || allEquivalent(c)
			}
			if any != r.All {
				t.Fatalf("All=%v but commands %q", r.All, r.Commands)
			}
		}
		for _, inc := range incs {
			if inc[0] != "include" && inc[0] != "includedir" || inc[1] == "" {
				t.Fatalf("include %q", inc)
			}
		}
	})
}

func FuzzParseSysctl(f *testing.F) {
	f.Add([]byte("kernel.nmi_watchdog = 0\n-net/ipv4/ip_forward=1\n; c\n# c\nvm.nr_hugepages=1280\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := ParseSysctl(data)
		if !reflect.DeepEqual(got, ParseSysctl(data)) {
			t.Fatal("not deterministic")
		}
		last := 0
		for _, s := range got {
			if s.Line <= last || strings.Contains(s.Key, "/") || strings.TrimSpace(s.Value) != s.Value {
				t.Fatalf("setting %+v after line %d", s, last)
			}
			last = s.Line
		}
	})
}

// The small splitters behind sshd, unit environments and shell fields.
func FuzzPrivesc(f *testing.F) {
	f.Add("Environment=\"LD_PRELOAD=/x y.so\" A=1 'B=2 3'", "PermitRootLogin=yes", "/usr/sbin/nologin \x00")
	f.Fuzz(func(t *testing.T, env, sshd, shell string) {
		total := 0
		for _, a := range envAssignments(env) {
			if a == "" {
				t.Fatal("empty assignment")
			}
			total += len(a)
		}
		if total > len(env) {
			t.Fatalf("assignments longer than %q", env)
		}
		k, _ := cutSSHD(sshd)
		if k != strings.ToLower(k) || strings.ContainsAny(k, " \t=") {
			t.Fatalf("key %q of %q", k, sshd)
		}
		c := cleanShell(shell)
		if cleanShell(c) != c || strings.TrimSpace(c) != c {
			t.Fatalf("cleanShell(%q) = %q is not clean", shell, c)
		}
	})
}
