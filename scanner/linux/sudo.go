package linux

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// SudoRule is one user specification of a sudoers file, aliases resolved.
type SudoRule struct {
	Line     int
	Users    []string // as written: names, %group, #uid, ALL, aliases expanded
	Commands []string // as written, tags removed
	All      bool     // some command is ALL or as good as ALL (a shell, su)
	NoPasswd bool     // ... and that command needs no password
}

var (
	sudoTagRe    = regexp.MustCompile(`^(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|LOG_OUTPUT|NOLOG_OUTPUT|MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|NOINTERCEPT)\s*:\s*`)
	sudoOptionRe = regexp.MustCompile(`^(CWD|CHROOT|ROLE|TYPE|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE)=\S+\s*`)
	sudoRunasRe  = regexp.MustCompile(`^\([^)]*\)\s*`)
	sudoAliasRe  = regexp.MustCompile(`^(User|Runas|Host|Cmnd|Cmd)_Alias\s+(.*)$`)
)

// sudoLine is one logical line: continuations joined, comments dropped,
// include directives kept.
func sudoLines(data []byte) []line {
	var out []line
	var cur strings.Builder
	start := 0
	for _, l := range lines(data) {
		t := l.Text
		if cur.Len() == 0 {
			start = l.N
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			continue
		}
		if s[0] == '#' && !strings.HasPrefix(s, "#include") && (len(s) == 1 || s[1] < '0' || s[1] > '9') {
			continue
		}
		// A '#' starts a comment unless it names a uid (#1000).
		for i := 1; i < len(s); i++ {
			if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') && (i+1 == len(s) || s[i+1] < '0' || s[i+1] > '9') {
				s = strings.TrimSpace(s[:i])
				break
			}
		}
		out = append(out, line{N: start, Text: s})
	}
	return out
}

// ParseSudoers parses one sudoers file: its user specifications (aliases
// defined earlier in aliases are expanded, and aliases it defines are added)
// and its include directives (directive, target).
func ParseSudoers(data []byte, aliases map[string][]string) (rules []SudoRule, includes [][2]string) {
	for _, l := range sudoLines(data) {
		s := l.Text
		if f := strings.Fields(s); len(f) == 2 && (f[0] == "#include" || f[0] == "@include" || f[0] == "#includedir" || f[0] == "@includedir") {
			includes = append(includes, [2]string{strings.TrimLeft(f[0], "#@"), f[1]})
			continue
		}
		if strings.HasPrefix(s, "Defaults") {
			continue
		}
		if m := sudoAliasRe.FindStringSubmatch(s); m != nil {
			for _, def := range strings.Split(m[2], ":") {
				name, val, ok := strings.Cut(def, "=")
				if !ok {
					continue
				}
				var vals []string
				for _, v := range splitList(val) {
					vals = append(vals, expandAlias(v, aliases)...)
				}
				aliases[strings.TrimSpace(name)] = vals
			}
			continue
		}
		lhs, rhs, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		lhs = strings.Join(strings.Fields(strings.ReplaceAll(lhs, ", ", ",")), " ")
		userList, _, _ := strings.Cut(lhs, " ")
		r := SudoRule{Line: l.N}
		for _, u := range splitList(userList) {
			r.Users = append(r.Users, expandAlias(u, aliases)...)
		}
		nopw := false
		rest := rhs
		for _, part := range splitList(rest) {
			c := strings.TrimSpace(part)
			if i := strings.LastIndex(c, "="); i >= 0 && !strings.ContainsAny(c[:i], "/( ") && !sudoOptionRe.MatchString(c) {
				c = strings.TrimSpace(c[i+1:])
			}
			for {
				switch {
				case sudoRunasRe.MatchString(c):
					c = sudoRunasRe.ReplaceAllString(c, "")
				case sudoTagRe.MatchString(c):
					tag := sudoTagRe.FindStringSubmatch(c)[1]
					if tag == "NOPASSWD" {
						nopw = true
					} else if tag == "PASSWD" {
						nopw = false
					}
					c = c[len(sudoTagRe.FindString(c)):]
				case sudoOptionRe.MatchString(c):
					c = c[len(sudoOptionRe.FindString(c)):]
				default:
					goto done
				}
			}
		done:
			c = strings.TrimSpace(c)
			if c == "" || strings.HasPrefix(c, "!") {
				continue
			}
			for _, cmd := range expandAlias(c, aliases) {
				r.Commands = append(r.Commands, cmd)
				if allEquivalent(cmd) {
					r.All = true
					r.NoPasswd = r.NoPasswd || nopw
				}
			}
		}
		if len(r.Users) > 0 && len(r.Commands) > 0 {
			rules = append(rules, r)
		}
	}
	return rules, includes
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// expandAlias resolves an upper-case alias name (once; sudo forbids loops).
func expandAlias(v string, aliases map[string][]string) []string {
	if a, ok := aliases[v]; ok {
		return a
	}
	return []string{v}
}

func allEquivalent(cmd string) bool {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return false
	}
	// "/bin/bash" with any arguments is still a root shell; "ALL" alone.
	return priv().allEquiv[f[0]] && (f[0] != "ALL" || len(f) == 1)
}

// Sudo judges who may become root: sudoers grants and privileged groups.
type Sudo struct{}

func (Sudo) Name() string { return "sudo" }
func (Sudo) OS() string   { return "linux" }

// maxIncludeDepth is sudo's own limit on nested includes.
const maxIncludeDepth = 128

func (c Sudo) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	byName, byGID := r.accountFacts()
	groups := r.groupsOf()

	aliases := map[string][]string{}
	seen := map[string]bool{}
	var visit func(file string, depth int)
	visit = func(file string, depth int) {
		if seen[file] || depth > maxIncludeDepth {
			return
		}
		seen[file] = true
		f := r.read(file)
		if f == nil {
			return
		}
		rules, incs := ParseSudoers(f.Data, aliases)
		for _, rule := range rules {
			r.sudoRule(f, rule, byName, byGID, groups)
		}
		for _, inc := range incs {
			target := inc[1]
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(f.Evidence.Path), target)
			}
			if inc[0] == "include" {
				visit(target, depth+1)
				continue
			}
			var names []string
			for _, e := range r.readDirQuiet(target) {
				// sudo skips names ending in '~' or holding a '.'.
				if n := e.Name(); !e.IsDir() && !strings.HasSuffix(n, "~") && !strings.Contains(n, ".") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				visit(path.Join(target, n), depth+1)
			}
		}
	}
	for _, s := range p.list("sudo", "sudoers") {
		visit(s, 0)
	}
	// A sudoers.d nobody includes is not read by sudo; judged anyway, since
	// an includedir line is one sed away.
	for _, d := range p.list("sudo", "sudoers-dir") {
		for _, e := range r.readDirQuiet(d) {
			if n := e.Name(); !e.IsDir() && !strings.HasSuffix(n, "~") && !strings.Contains(n, ".") {
				visit(path.Join(d, n), 1)
			}
		}
	}
	r.privilegedGroups(byName)
	return ctx.Err()
}

// groupsOf maps group names to their gid and listed members.
func (r *run) groupsOf() map[string]GroupEntry {
	out := map[string]GroupEntry{}
	f := r.read(firstLoc("accounts", "group"))
	if f == nil {
		return out
	}
	ents, _ := ParseGroup(f.Data)
	for _, g := range ents {
		out[g.Name] = g
	}
	return out
}

// grantee is one account a rule applies to, and how.
type grantee struct {
	name string
	a    *acct  // nil when not a local account
	via  string // "%group" when granted through a group
}

func (r *run) sudoRule(f *check.File, rule SudoRule, byName map[string]*acct, byGID map[uint32][]*acct, groups map[string]GroupEntry) {
	cmds := strings.Join(rule.Commands, ", ")
	r.inventory("sudo-rule", f.Path, rule.Line, lineText(f.Data, rule.Line), map[string]string{
		"users": strings.Join(rule.Users, ","), "commands": cmds, "all": fmt.Sprint(rule.All), "nopasswd": fmt.Sprint(rule.NoPasswd),
	})
	if !rule.All {
		return // a scoped rule, e.g. one systemctl command
	}
	ev := at(f, rule.Line, lineText(f.Data, rule.Line))
	grant := "ALL"
	if rule.NoPasswd {
		grant = "NOPASSWD: ALL"
	}
	desc := func(who string) string {
		return fmt.Sprintf("%s line %d lets %s run %s as root%s.", f.Evidence.Path, rule.Line, who, cmds, map[bool]string{true: " without a password", false: ""}[rule.NoPasswd])
	}
	var gs []grantee
	for _, u := range rule.Users {
		switch {
		case u == "ALL":
			r.emit("sudo.all-users", ev, desc("every user"), "cmds", grant)
		case strings.HasPrefix(u, "!"), strings.HasPrefix(u, "+"), strings.HasPrefix(u, "#"), strings.HasPrefix(u, "%#"):
			// negations, netgroups and numeric ids: inventory only
		case strings.HasPrefix(u, "%"):
			g := strings.TrimPrefix(strings.TrimPrefix(u, "%"), ":")
			ge, ok := groups[g]
			if !ok {
				continue
			}
			for _, m := range ge.Members {
				gs = append(gs, grantee{m, byName[m], u})
			}
			for _, a := range byGID[ge.GID] {
				gs = append(gs, grantee{a.Name, a, u})
			}
		default:
			gs = append(gs, grantee{u, byName[u], ""})
		}
	}
	done := map[string]bool{}
	for _, g := range gs {
		if done[g.name] || g.name == "root" {
			continue
		}
		done[g.name] = true
		who := g.name
		if g.via != "" {
			who += " (through " + g.via + ")"
		}
		switch {
		case g.a == nil:
			if g.via == "" {
				r.emit("sudo.unknown-account", ev, desc(who)+" No local account has that name.", "name", g.name)
			}
		case g.a.Service:
			r.emit("sudo.service-account", ev, desc(who)+" "+g.name+" is "+g.a.why()+".", "name", g.name, "cmds", grant)
		case g.a.newAccount() && rule.NoPasswd:
			r.emit("sudo.new-account-nopasswd", ev, desc(who)+" "+g.name+" is "+g.a.why()+".", "name", g.name, "cmds", grant)
		case g.a.newAccount():
			r.emit("sudo.new-account", ev, desc(who)+" "+g.name+" is "+g.a.why()+".", "name", g.name, "cmds", grant)
		case rule.NoPasswd && g.a.UID != 0:
			r.emit("sudo.nopasswd-all", ev, desc(who)+".", "name", g.name)
		}
	}
}

// privilegedGroups judges supplementary members of root, sudo, wheel, adm,
// docker and kin, from /etc/group and /etc/gshadow.
func (r *run) privilegedGroups(byName map[string]*acct) {
	p := priv()
	priv := p.set("sudo", "privileged-group")
	stock := p.set("sudo", "stock-member")
	for _, src := range []string{firstLoc("accounts", "group"), p.list("sudo", "gshadow")[0]} {
		f := r.read(src)
		if f == nil || !isText(f.Data) {
			continue
		}
		gshadow := strings.HasSuffix(src, "gshadow")
		for _, l := range lines(f.Data) {
			fs := strings.Split(strings.TrimSpace(l.Text), ":")
			if len(fs) != 4 || !priv[fs[0]] {
				continue
			}
			members := splitList(fs[3])
			if gshadow {
				members = append(members, splitList(fs[2])...) // group administrators
			}
			for _, m := range members {
				if !gshadow {
					r.inventory("group-member", f.Path, l.N, fs[0]+": "+m, map[string]string{"group": fs[0], "member": m})
				}
				a := byName[m]
				if a == nil || a.UID == 0 || stock[fs[0]+":"+m] {
					continue
				}
				ev := at(f, l.N, l.Text)
				desc := fmt.Sprintf("%s line %d puts %s, %s, in %s.", f.Evidence.Path, l.N, m, a.why(), fs[0])
				switch {
				case a.Service:
					r.emit("group.privileged-service", ev, desc, "name", m, "group", fs[0])
				case a.NoHome:
					r.emit("group.privileged-new", ev, desc, "name", m, "group", fs[0])
				case a.Recent:
					// A human account with a home, added after the build: the
					// usual admin user. Weak evidence on its own.
					r.emit("group.privileged-recent", ev, desc, "name", m, "group", fs[0])
				}
			}
		}
	}
}
