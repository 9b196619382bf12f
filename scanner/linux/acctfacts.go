package linux

import (
	"strconv"
	"strings"
	"time"
)

// acct is what the privilege checks need to know about one local account.
type acct struct {
	PasswdEntry
	Service bool // uid below UID_MIN (not root) or a shell that gives no login
	NoHome  bool // its home directory does not exist
	Recent  bool // home created long after the OS install
	Born    time.Time
}

// loginUIDMin is UID_MIN from /etc/login.defs (1000 when unset).
func (r *run) loginUIDMin() uint32 {
	if lf := r.read(firstLoc("accounts", "login-defs")); lf != nil {
		for _, l := range lines(lf.Data) {
			if f := strings.Fields(l.Text); len(f) == 2 && f[0] == "UID_MIN" {
				if v, err := strconv.ParseUint(f[1], 10, 32); err == nil && v > 0 {
					return uint32(v)
				}
			}
		}
	}
	return 1000
}

// accountFacts classifies every /etc/passwd account. The accounts check
// reports what is wrong with the file itself; this one is silent.
func (r *run) accountFacts() (byName map[string]*acct, byGID map[uint32][]*acct) {
	uidMin := r.loginUIDMin()
	nologin := map[string]bool{}
	for _, sh := range sigs().loc("accounts", "nologin-shell") {
		nologin[sh] = true
	}
	install, _ := r.installTime()
	byName, byGID = map[string]*acct{}, map[uint32][]*acct{}
	for _, u := range accountsOf(r.t) {
		a := &acct{PasswdEntry: u}
		a.Service = u.UID != 0 && (u.UID < uidMin || nologin[strings.TrimSpace(u.Shell)])
		if m, ok := r.stat(u.Home); ok && m.Mode.IsDir() && u.Home != "/" {
			a.Born = m.Btime
			if a.Born.IsZero() {
				a.Born = m.Ctime
			}
			a.Recent = !install.IsZero() && !a.Born.IsZero() && a.Born.Sub(install) > recentHome
		} else {
			a.NoHome = true
		}
		byName[u.Name] = a
		byGID[u.GID] = append(byGID[u.GID], a)
	}
	return byName, byGID
}

// newAccount: an account that is not a service account but has no home or
// was added long after the install — what a dropper's useradd leaves.
func (a *acct) newAccount() bool { return a.UID != 0 && (a.NoHome || a.Recent) }

func (a *acct) why() string {
	switch {
	case a.Service:
		return "a service account (uid " + strconv.Itoa(int(a.UID)) + ", shell " + orDash(a.Shell) + ")"
	case a.NoHome:
		return "an account whose home " + a.Home + " does not exist"
	case a.Recent:
		return "an account whose home was created " + a.Born.UTC().Format(time.RFC3339) + ", long after the OS install"
	}
	return "an ordinary account"
}
