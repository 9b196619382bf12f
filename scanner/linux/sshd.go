package linux

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// SSHDOption is one sshd_config directive, Include lines followed.
type SSHDOption struct {
	File  *check.File
	Line  int
	Key   string // lower case
	Value string
	Match string // the Match condition the directive sits under, "" when global
}

// maxSSHDIncludes bounds Include nesting (OpenSSH stops at 16 as well).
const maxSSHDIncludes = 16

// sshdOptions reads sshd_config and everything it includes, in the order
// sshd reads them. It is a pure function of the target, so the sshd and
// sshkeys checks agree on it without sharing state.
func (r *run) sshdOptions() []SSHDOption {
	var out []SSHDOption
	seen := map[string]bool{}
	var read func(p string, depth int, match string)
	read = func(p string, depth int, match string) {
		if seen[p] || depth > maxSSHDIncludes {
			return
		}
		seen[p] = true
		f := r.read(p)
		if f == nil || !isText(f.Data) {
			return
		}
		for _, l := range lines(f.Data) {
			s := strings.TrimSpace(l.Text)
			if s == "" || s[0] == '#' {
				continue
			}
			key, val := cutSSHD(s)
			switch key {
			case "":
				continue
			case "match":
				match = val
				if strings.EqualFold(val, "all") {
					match = ""
				}
				continue
			case "include":
				for _, pat := range strings.Fields(val) {
					if !strings.HasPrefix(pat, "/") {
						pat = path.Join("/etc/ssh", pat)
					}
					for _, inc := range r.expandGlobs([]string{pat}) {
						read(inc, depth+1, match)
					}
				}
				continue
			}
			out = append(out, SSHDOption{File: f, Line: l.N, Key: key, Value: val, Match: match})
		}
	}
	for _, p := range sigs().loc("sshkeys", "sshd-config") {
		read(p, 0, "")
	}
	return out
}

// cutSSHD splits "Key value" or "Key=value".
func cutSSHD(s string) (key, val string) {
	i := strings.IndexAny(s, " \t=")
	if i < 0 {
		return strings.ToLower(s), ""
	}
	key, val = strings.ToLower(s[:i]), strings.TrimSpace(s[i:])
	val = strings.TrimSpace(strings.TrimPrefix(val, "="))
	return key, strings.Trim(val, `"`)
}

// sshdKeyFiles are the AuthorizedKeysFile patterns sshd reads, in every
// block, as sshkeys expands them ("~/…" per home, absolute as is).
func (r *run) sshdKeyFiles() []string {
	var out []string
	for _, o := range r.sshdOptions() {
		if o.Key != "authorizedkeysfile" {
			continue
		}
		for _, v := range strings.Fields(o.Value) {
			if v == "none" {
				continue
			}
			v = strings.ReplaceAll(v, "%h", "~")
			if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "~") {
				v = "~/" + v
			}
			out = append(out, v)
		}
	}
	return out
}

// SSHD judges the sshd configuration an intruder edits: root password
// logins, extra key files, key commands, port changes.
type SSHD struct{}

func (SSHD) Name() string { return "sshd" }
func (SSHD) OS() string   { return "linux" }

var sshdPlace = place{
	prefix: "sshd", what: "sshd AuthorizedKeysCommand", technique: "T1098.004",
	remedy: "Preserve %s and the program it names, remove the AuthorizedKeysCommand line and rotate credentials.",
}

func (c SSHD) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	opts := r.sshdOptions()
	// sshd takes the first value it reads of a keyword, per block.
	first := map[string]SSHDOption{}
	var order []string
	for _, o := range opts {
		r.inventory("sshd-option", o.File.Path, o.Line, o.Key+" "+o.Value, map[string]string{"key": o.Key, "value": o.Value, "match": o.Match})
		k := o.Match + "\x00" + o.Key
		if _, ok := first[k]; !ok {
			first[k] = o
			order = append(order, k)
		}
	}
	sort.Strings(order)
	ev := func(o SSHDOption) report.Evidence { return at(o.File, o.Line, lineText(o.File.Data, o.Line)) }
	where := func(o SSHDOption) string {
		if o.Match == "" {
			return ""
		}
		return " (in Match " + o.Match + ")"
	}
	defaults := p.set("sshd", "default-keys-file")
	known := p.set("sshd", "keys-command-ok")
	tmp := []string{}
	for _, d := range p.list("common", "writable-dir") {
		if !strings.HasPrefix(d, "~") {
			tmp = append(tmp, d)
		}
	}
	for _, k := range order {
		o := first[k]
		v := strings.ToLower(o.Value)
		switch o.Key {
		case "permitrootlogin":
			if v != "yes" {
				continue
			}
			pw := "yes (default)"
			if po, ok := first[o.Match+"\x00passwordauthentication"]; ok {
				pw = strings.ToLower(po.Value)
			} else if po, ok := first["\x00passwordauthentication"]; ok {
				pw = strings.ToLower(po.Value)
			}
			// Stock RHEL 8 ships PermitRootLogin yes; what makes it an open
			// door is a root password that can be guessed.
			rootPW := r.rootPassword()
			desc := fmt.Sprintf("PermitRootLogin %s%s; PasswordAuthentication %s; root's password is %s.", o.Value, where(o), pw, rootPW)
			if strings.HasPrefix(pw, "yes") && rootPW == "set" {
				r.emit("sshd.root-password", ev(o), desc, "root", o.Value, "pw", pw)
			} else {
				r.emit("sshd.root-login", ev(o), desc, "root", o.Value)
			}
		case "permitemptypasswords":
			if v == "yes" {
				r.emit("sshd.empty-passwords", ev(o), "PermitEmptyPasswords yes"+where(o)+".")
			}
		case "port":
			if o.Value != "22" {
				r.emit("sshd.port", ev(o), fmt.Sprintf("Port %s%s: scanners look for 22, so a changed port also hides a backdoor sshd.", o.Value, where(o)), "port", o.Value)
			}
		case "authorizedkeyscommand":
			if v == "none" || v == "" {
				continue
			}
			prog := strings.Fields(o.Value)[0]
			desc := fmt.Sprintf("AuthorizedKeysCommand %s%s: sshd runs it at every login and lets in any key it prints.", o.Value, where(o))
			switch {
			case r.judged(sshdPlace, ev(o), o.Value, JudgeCommand(o.Value), desc):
			case known[prog]:
				r.emit("sshd.keys-command-known", ev(o), desc, "value", o.Value)
			default:
				r.emit("sshd.keys-command", ev(o), desc, "value", o.Value)
			}
		}
	}
	// Every AuthorizedKeysFile value, in any block: each adds key files.
	for _, o := range opts {
		if o.Key != "authorizedkeysfile" {
			continue
		}
		for _, val := range strings.Fields(o.Value) {
			if val == "none" || defaults[val] {
				continue
			}
			desc := fmt.Sprintf("AuthorizedKeysFile %s%s: keys in it grant logins (the sshkeys check reads them).", val, where(o))
			visible := strings.ReplaceAll(val, "/.ssh/", "/")
			if strings.HasPrefix(visible, ".ssh/") {
				visible = strings.TrimPrefix(visible, ".ssh/")
			}
			if underAny(val, tmp) || hiddenPath(visible) {
				r.emit("sshd.keys-file-writable", ev(o), desc, "value", val)
			} else {
				r.emit("sshd.keys-file", ev(o), desc, "value", val)
			}
		}
	}
	return ctx.Err()
}

// rootPassword is the state of root's hash in /etc/shadow ("set",
// "locked", "empty", or "unknown" without a shadow file).
func (r *run) rootPassword() string {
	f := r.read(firstLoc("accounts", "shadow"))
	if f == nil {
		return "unknown"
	}
	ents, _ := ParseShadow(f.Data)
	for _, e := range ents {
		if e.Name == "root" {
			return passwordState(e.Hash)
		}
	}
	return "unknown"
}
