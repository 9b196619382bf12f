package linux

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// Logins judges how accounts log in: shell fields that differ from what
// they show, shells /etc/shells does not list or that live in odd places,
// and system accounts that can really log in.
type Logins struct{}

func (Logins) Name() string { return "logins" }
func (Logins) OS() string   { return "linux" }

// cleanShell is the shell field as a reader of /etc/passwd sees it: blanks
// trimmed, control and non-ASCII bytes dropped.
func cleanShell(s string) string {
	return strings.TrimSpace(strings.Map(func(c rune) rune {
		if c < 0x20 || c >= 0x7f {
			return -1
		}
		return c
	}, s))
}

func (c Logins) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	pf := r.read(firstLoc("accounts", "passwd"))
	if pf == nil {
		return ctx.Err()
	}
	cmdDirs := p.list("common", "command-dir")
	writable := writableDirs(t)
	inCmdDir := func(sh string) bool {
		for _, d := range cmdDirs {
			if path.Dir(sh) == d {
				return true
			}
		}
		return false
	}

	// /etc/shells: where login shells may live.
	var shells map[string]bool
	for _, sp := range p.list("logins", "shells") {
		f := r.read(sp)
		if f == nil {
			continue
		}
		shells = map[string]bool{}
		for _, l := range lines(f.Data) {
			s := strings.TrimSpace(l.Text)
			if s == "" || s[0] == '#' {
				continue
			}
			shells[s] = true
			r.inventory("login-shell", f.Path, l.N, s, map[string]string{"shell": s})
			if !inCmdDir(s) || underAny(s, writable) || hiddenPath(s) {
				r.emit("login.shells-entry-odd", at(f, l.N, l.Text), fmt.Sprintf("%s lists %s; programs listed there are accepted as login shells (by chsh, ftpd, PAM's pam_shells).", f.Evidence.Path, s), "shell", s)
			}
		}
	}

	nologin := map[string]bool{}
	for _, sh := range sigs().loc("accounts", "nologin-shell") {
		nologin[sh] = true
	}
	shellOK := map[string]bool{}
	for _, v := range sigs().loc("accounts", "system-shell-ok") {
		shellOK[v] = true
	}
	hashes := map[string]string{}
	if sf := r.read(firstLoc("accounts", "shadow")); sf != nil {
		ents, _ := ParseShadow(sf.Data)
		for _, e := range ents {
			hashes[e.Name] = e.Hash
		}
	}
	uidMin := r.loginUIDMin()
	keyPats := append(append([]string{}, sigs().loc("sshkeys", "keys-file")...), r.sshdKeyFiles()...)

	// Raw lines: ParsePasswd trims, which is exactly what hides the trick.
	for _, l := range lines(pf.Data) {
		if l.Text == "" || l.Text[0] == '#' || l.Text[0] == '+' || l.Text[0] == '-' {
			continue
		}
		f := strings.Split(l.Text, ":")
		if len(f) != 7 {
			continue
		}
		name, shell := strings.TrimSpace(f[0]), f[6]
		uid, err := strconv.ParseUint(strings.TrimSpace(f[2]), 10, 32)
		if err != nil {
			continue
		}
		ev := at(pf, l.N, l.Text)
		clean := cleanShell(shell)
		if clean != shell {
			desc := fmt.Sprintf("The shell field of %s is %q; listed, it reads %s. The OS runs the exact bytes, so %q is a different program from %s.", name, shell, clean, shell, clean)
			if m, ok := r.lstat(shell); ok && m.Mode.IsRegular() {
				desc += fmt.Sprintf(" A file of that exact name exists (%d bytes).", m.Size)
			}
			r.emit("login.shell-bytes", ev, desc, "name", name, "shown", strconv.Quote(shell))
			continue
		}
		if shell == "" || nologin[shell] {
			continue
		}
		if !shellOK[name+":"+shell] {
			switch {
			case !inCmdDir(shell) || underAny(shell, writable) || hiddenPath(shell):
				r.emit("login.shell-odd-place", ev, fmt.Sprintf("%s (uid %d) has shell %s.", name, uid, shell), "name", name, "shell", shell)
			case shells != nil && !shells[shell]:
				r.emit("login.shell-unlisted", ev, fmt.Sprintf("%s (uid %d) has shell %s, not listed in /etc/shells.", name, uid, shell), "name", name, "shell", shell)
			}
		}
		if uid == 0 || uint32(uid) >= uidMin {
			continue
		}
		// A system account with a working shell: can it authenticate?
		var cred []string
		if passwordState(hashes[name]) == "set" || passwordState(strings.TrimSpace(f[1])) == "set" {
			cred = append(cred, "a password hash")
		}
		home := strings.TrimSpace(f[5])
		if home != "" && home != "/" && home != "/nonexistent" {
			for _, pat := range keyPats {
				kp := expandKeyPath(pat, home, &PasswdEntry{Name: name})
				if kf := r.read(kp); kf != nil {
					if keys, _ := ParseAuthorizedKeys(kf.Data); len(keys) > 0 {
						cred = append(cred, fmt.Sprintf("%d SSH key(s) in %s", len(keys), kf.Evidence.Path))
						break
					}
				}
			}
		}
		if len(cred) > 0 {
			r.emit("login.system-usable", ev, fmt.Sprintf("%s (uid %d, below UID_MIN %d) has shell %s and %s.", name, uid, uidMin, shell, strings.Join(cred, " and ")), "name", name, "cred", strings.Join(cred, " and "))
		}
	}
	return ctx.Err()
}
