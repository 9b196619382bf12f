package linux

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// PasswdEntry is one /etc/passwd line.
type PasswdEntry struct {
	Line     int
	Name     string
	Password string // "x" when the hash lives in /etc/shadow
	UID, GID uint32
	Gecos    string
	Home     string
	Shell    string
}

// ParsePasswd parses /etc/passwd. NIS compat lines (+, -) are skipped; bad
// holds lines without seven fields or with non-numeric ids.
func ParsePasswd(data []byte) (out []PasswdEntry, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-' {
			continue
		}
		f := strings.Split(t, ":")
		if len(f) != 7 || f[0] == "" {
			bad = append(bad, l.N)
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			bad = append(bad, l.N)
			continue
		}
		out = append(out, PasswdEntry{l.N, f[0], f[1], uint32(uid), uint32(gid), f[4], f[5], f[6]})
	}
	return out, bad
}

// ShadowEntry is one /etc/shadow line (the fields snapscan judges).
type ShadowEntry struct {
	Line       int
	Name       string
	Hash       string
	LastChange string // days since 1970-01-01
}

// ParseShadow parses /etc/shadow; bad holds lines with fewer than two fields.
func ParseShadow(data []byte) (out []ShadowEntry, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-' {
			continue
		}
		f := strings.Split(t, ":")
		if len(f) < 2 || f[0] == "" {
			bad = append(bad, l.N)
			continue
		}
		e := ShadowEntry{Line: l.N, Name: f[0], Hash: f[1]}
		if len(f) > 2 {
			e.LastChange = f[2]
		}
		out = append(out, e)
	}
	return out, bad
}

// GroupEntry is one /etc/group line.
type GroupEntry struct {
	Line    int
	Name    string
	GID     uint32
	Members []string
}

// ParseGroup parses /etc/group.
func ParseGroup(data []byte) (out []GroupEntry, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-' {
			continue
		}
		f := strings.Split(t, ":")
		if len(f) != 4 || f[0] == "" {
			bad = append(bad, l.N)
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			bad = append(bad, l.N)
			continue
		}
		var mem []string
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				mem = append(mem, m)
			}
		}
		out = append(out, GroupEntry{l.N, f[0], uint32(gid), mem})
	}
	return out, bad
}

// accountsOf reads /etc/passwd for checks that need homes; errors are the
// accounts check's to report, so this one is silent.
func accountsOf(t *check.Target) []PasswdEntry {
	f, err := check.ReadFile(t, firstLoc("accounts", "passwd"))
	if f == nil || (err != nil && len(f.Data) == 0) {
		return nil
	}
	// The accounts check reports a passwd beyond its limit; the homes the
	// other checks look in come from the same lines.
	ents, _ := ParsePasswd(headLines(f.Data, lineLimitOf("accounts")))
	return ents
}

// homes lists /root and every account's home directory that could hold
// files (not "/", /nonexistent or /dev/null), deduplicated.
func homes(t *check.Target) []string {
	seen := map[string]bool{"/root": true}
	out := []string{"/root"}
	for _, a := range accountsOf(t) {
		h := path.Clean("/" + strings.TrimPrefix(a.Home, "/"))
		if h == "/" || h == "/nonexistent" || h == "/dev/null" || strings.HasPrefix(h, "/proc") || seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	sort.Strings(out[1:])
	return out
}

// Accounts judges local accounts: extra UID 0, backdoor names, login shells
// on system accounts, empty passwords, recently created homes, and account
// creation recorded in logs.
type Accounts struct{}

func (Accounts) Name() string { return "accounts" }
func (Accounts) OS() string   { return "linux" }

// recentHome is how long after the OS install a home must appear to be
// reported: accounts made in the first weeks are the installer's.
const recentHome = 30 * 24 * time.Hour

func (c Accounts) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	pf := r.read(firstLoc("accounts", "passwd"))
	if pf == nil {
		return ctx.Err()
	}
	users, bad := ParsePasswd(pf.Data)
	for _, b := range bad {
		out.Error(pf.Path, fmt.Errorf("%s: line %d is not a passwd entry", t.Volume, b))
	}
	shadow := map[string]ShadowEntry{}
	sf := r.read(firstLoc("accounts", "shadow"))
	if sf != nil {
		ents, bad := ParseShadow(sf.Data)
		for _, b := range bad {
			out.Error(sf.Path, fmt.Errorf("%s: line %d is not a shadow entry", t.Volume, b))
		}
		for _, e := range ents {
			shadow[e.Name] = e
		}
	}
	groups := map[string][]string{}
	if gf := r.read(firstLoc("accounts", "group")); gf != nil {
		ents, bad := ParseGroup(gf.Data)
		for _, b := range bad {
			out.Error(gf.Path, fmt.Errorf("%s: line %d is not a group entry", t.Volume, b))
		}
		for _, g := range ents {
			for _, m := range g.Members {
				groups[m] = append(groups[m], g.Name)
			}
		}
	}
	uidMin := r.loginUIDMin()
	nologin := map[string]bool{}
	for _, sh := range s.loc("accounts", "nologin-shell") {
		nologin[sh] = true
	}
	shellOK := map[string]bool{}
	for _, v := range s.loc("accounts", "system-shell-ok") {
		shellOK[v] = true
	}
	install, installFrom := r.installTime()
	badNames := map[string]Marker{}
	for _, m := range s.markersOf("user") {
		badNames[m.Pattern] = m
	}

	pfLines := newLineIndex(pf.Data)
	for _, u := range users {
		sh, hasShadow := shadow[u.Name]
		hash := u.Password
		if u.Password == "x" && hasShadow {
			hash = sh.Hash
		}
		loginShell := !nologin[u.Shell]
		fields := map[string]string{
			"name": u.Name, "uid": fmt.Sprint(u.UID), "gid": fmt.Sprint(u.GID), "home": u.Home,
			"shell": u.Shell, "gecos": u.Gecos, "password": passwordState(hash),
		}
		if g := groups[u.Name]; len(g) > 0 {
			fields["groups"] = strings.Join(g, ",")
		}
		if hasShadow && sh.LastChange != "" {
			if d, err := strconv.Atoi(sh.LastChange); err == nil && d > 0 && d < 1<<20 {
				fields["password_changed"] = time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")
			}
		}
		var homeBorn time.Time
		if m, ok := r.stat(u.Home); ok && u.Home != "/" && m.Mode.IsDir() {
			homeBorn = m.Btime
			if homeBorn.IsZero() {
				homeBorn = m.Ctime
			}
			if !homeBorn.IsZero() {
				fields["home_created"] = homeBorn.Format(time.RFC3339)
			}
		}
		r.inventory("account", pf.Path, u.Line, fmt.Sprintf("%s uid=%d home=%s shell=%s", u.Name, u.UID, u.Home, u.Shell), fields)
		ev := at(pf, u.Line, pfLines.text(u.Line))
		remedyDel := fmt.Sprintf("Confirm with the system owner, then lock or delete the account (usermod -L -e 1 %s, or userdel -r %s; "+
			"chattr -ia /etc/passwd /etc/shadow first if they are immutable), and look for what it was used for (its home, cron, SSH keys).", u.Name, u.Name)

		if m, ok := badNames[u.Name]; ok {
			r.finding(report.Finding{
				Rule: "accounts.family-user", Severity: m.Severity, Technique: m.Technique, Family: m.Family,
				Title: fmt.Sprintf("Backdoor account %s (%s)", u.Name, m.Family), Description: m.Description + ".",
				Evidence: ev, Remediation: remedyDel,
			})
		}
		if u.UID == 0 && u.Name != "root" {
			r.finding(report.Finding{
				Rule: "accounts.uid0", Severity: report.High, Technique: "T1136.001",
				Title:       fmt.Sprintf("Second UID 0 account %s", u.Name),
				Description: "An account other than root has UID 0 and therefore full root rights.",
				Evidence:    ev, Remediation: remedyDel,
			})
		}
		if u.UID != 0 && u.UID < uidMin && loginShell && !shellOK[u.Name+":"+u.Shell] {
			shell := u.Shell
			if shell == "" {
				shell = "/bin/sh (empty shell field)"
			}
			r.finding(report.Finding{
				Rule: "accounts.system-shell", Severity: report.Medium, Technique: "T1078.003",
				Title:       fmt.Sprintf("System account %s (uid %d) has login shell %s", u.Name, u.UID, shell),
				Description: fmt.Sprintf("Accounts below UID_MIN (%d) normally have a nologin shell; a login shell lets a service account be used interactively.", uidMin),
				Evidence:    ev,
				Remediation: fmt.Sprintf("If %s needs no interactive login, set its shell back (usermod -s /usr/sbin/nologin %s) and check its home and SSH keys.", u.Name, u.Name),
			})
		}
		if hash == "" && loginShell {
			src := ev
			if u.Password == "x" && sf != nil {
				src = at(sf, sh.Line, u.Name+"::…")
			}
			r.finding(report.Finding{
				Rule: "accounts.empty-password", Severity: report.High, Technique: "T1078.003",
				Title:       fmt.Sprintf("Account %s has an empty password", u.Name),
				Description: "An empty password hash with a login shell allows login without a password wherever PAM permits nullok.",
				Evidence:    src,
				Remediation: fmt.Sprintf("Lock the account (passwd -l %s) or set a password, then review how it was used.", u.Name),
			})
		}
		// Only people's accounts: a system account's "home" is often a
		// system directory (/dev, /run/sshd) whose times say nothing.
		person := u.UID >= uidMin && u.UID < 60000 || u.UID == 0 && u.Name != "root" || strings.HasPrefix(u.Home, "/home/")
		if person && !install.IsZero() && !homeBorn.IsZero() && homeBorn.Sub(install) > recentHome {
			days := int(homeBorn.Sub(install).Hours() / 24)
			m, _ := r.stat(u.Home)
			r.finding(report.Finding{
				Rule: "accounts.recent-home", Severity: report.Low, Technique: "T1136.001",
				Title:       fmt.Sprintf("Home of %s created %d days after the OS install", u.Name, days),
				Description: fmt.Sprintf("Home %s was created %s; the OS was installed about %s (oldest of %s). Accounts added long after install deserve a look.", u.Home, homeBorn.Format(time.RFC3339), install.Format(time.RFC3339), installFrom),
				Evidence:    r.metaEvidence(u.Home, m),
				Remediation: fmt.Sprintf("Confirm who created %s and why (ask the owner, check the logs); remove it if nobody claims it.", u.Name),
			})
		}
	}
	for _, p := range s.loc("accounts", "log") {
		r.accountLog(p, badNames)
	}
	return ctx.Err()
}

// installTime approximates the OS install: the oldest birth (or change)
// time of files written when the system was set up.
func (r *run) installTime() (time.Time, string) {
	var best time.Time
	var from string
	for _, p := range sigs().loc("accounts", "install-marker") {
		m, ok := r.stat(p)
		if !ok {
			continue
		}
		t := m.Btime
		if t.IsZero() {
			t = m.Ctime
		}
		if !t.IsZero() && (best.IsZero() || t.Before(best)) {
			best, from = t, p
		}
	}
	return best, from
}

func passwordState(h string) string {
	switch {
	case h == "":
		return "empty"
	case h == "x":
		return "in shadow"
	case strings.HasPrefix(h, "!") || h == "*" || strings.HasPrefix(h, "*"):
		return "locked"
	default:
		return "set"
	}
}

var (
	auditAddUser = regexp.MustCompile(`type=ADD_USER\b.*?\b(?:acct|id)="?([^"\s]+)`)
	newUserLine  = regexp.MustCompile(`\bnew user: name=([^,\s]+)`)
	// The new account's id: "UID=0," in useradd's syslog line, "id=0" in an
	// audit ADD_USER record (whose uid=/auid= are the actor, root as a rule).
	logUID0 = regexp.MustCompile(`\bnew user:.*\bUID=0,|\bop=add-user\b.*\bid=0\b`)
)

// accountLog reports account creation recorded in audit.log, secure and
// auth.log: the timeline an analyst needs, judged only by the name.
func (r *run) accountLog(p string, bad map[string]Marker) {
	f := r.read(p)
	if f == nil || !isText(f.Data) {
		return
	}
	for _, l := range lines(f.Data) {
		var name string
		for _, re := range []*regexp.Regexp{newUserLine, auditAddUser} {
			if m := re.FindStringSubmatch(l.Text); m != nil {
				name = strings.Trim(m[1], `"'`)
				break
			}
		}
		if name == "" {
			continue
		}
		r.inventory("account-log", f.Path, l.N, l.Text, map[string]string{"name": name})
		sev, fam, desc := report.Info, "", "An account was created; check that it was expected."
		if logUID0.MatchString(l.Text) && name != "root" {
			// A second superuser made with useradd -o -u 0: a backdoor
			// whether or not it is still in /etc/passwd.
			sev, desc = report.High, "An account with UID 0 (a second root) was created."
		}
		if m, ok := bad[name]; ok {
			sev, fam, desc = m.Severity, m.Family, m.Description+"."
		}
		r.finding(report.Finding{
			Rule: "accounts.created-in-log", Severity: sev, Technique: "T1136.001", Family: fam,
			Title: fmt.Sprintf("Account %s created (%s)", name, path.Base(p)), Description: desc,
			Evidence:    at(f, l.N, l.Text),
			Remediation: fmt.Sprintf("Confirm the creation of %s with the system owner; lock or delete the account if nobody claims it.", name),
		})
	}
}

// firstLoc is the configured path of a single-file role.
func firstLoc(checkName, role string) string {
	if l := sigs().loc(checkName, role); len(l) > 0 {
		return l[0]
	}
	return ""
}
