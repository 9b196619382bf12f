package linux

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// AuthorizedKey is one key line of an authorized_keys file.
type AuthorizedKey struct {
	Line        int
	Options     []string // as written, e.g. `command="/x"`, `no-pty`
	Type        string
	Fingerprint string // "SHA256:…" as ssh-keygen -lf prints it
	Comment     string
	Command     string // value of the command= option, unquoted
	Bits        int    // RSA modulus size, 0 for other types
}

var keyTypes = map[string]bool{
	"ssh-rsa": true, "ssh-dss": true, "ssh-ed25519": true, "ssh-ed448": true,
	"ecdsa-sha2-nistp256": true, "ecdsa-sha2-nistp384": true, "ecdsa-sha2-nistp521": true,
	"sk-ecdsa-sha2-nistp256@openssh.com": true, "sk-ssh-ed25519@openssh.com": true,
}

func isKeyType(s string) bool {
	return keyTypes[s] || (strings.HasSuffix(s, "-cert-v01@openssh.com") && keyTypes[strings.TrimSuffix(s, "-cert-v01@openssh.com")])
}

// ParseAuthorizedKeys parses OpenSSH's authorized_keys format: optional
// comma-separated options (quoted values may hold spaces and commas), key
// type, base64 blob, comment. bad holds lines that are not keys.
func ParseAuthorizedKeys(data []byte) (keys []AuthorizedKey, bad []int) {
	for _, l := range lines(data) {
		t := strings.TrimSpace(l.Text)
		if t == "" || t[0] == '#' {
			continue
		}
		k := AuthorizedKey{Line: l.N}
		first, rest := cutField(t)
		if !isKeyType(first) {
			opts, r, ok := splitOptions(t)
			if !ok {
				bad = append(bad, l.N)
				continue
			}
			k.Options = opts
			first, rest = cutField(r)
		}
		if !isKeyType(first) {
			bad = append(bad, l.N)
			continue
		}
		k.Type = first
		b64, comment := cutField(rest)
		blob, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			blob, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil || len(blob) < 4 {
			bad = append(bad, l.N)
			continue
		}
		// The blob starts with its own type name; a mismatch is a corrupt or
		// hand-edited line sshd would reject.
		if n := binary.BigEndian.Uint32(blob); int64(n) > int64(len(blob)-4) || string(blob[4:4+n]) != strings.TrimSuffix(k.Type, "-cert-v01@openssh.com") && string(blob[4:4+n]) != k.Type {
			bad = append(bad, l.N)
			continue
		}
		sum := sha256.Sum256(blob)
		k.Fingerprint = "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
		k.Comment = strings.TrimSpace(comment)
		if k.Type == "ssh-rsa" {
			k.Bits = rsaBits(blob)
		}
		for _, o := range k.Options {
			if name, val, ok := strings.Cut(o, "="); ok && strings.EqualFold(name, "command") {
				k.Command = unquote(val)
			}
		}
		keys = append(keys, k)
	}
	return keys, bad
}

// splitOptions reads the options prefix up to the first unquoted blank.
func splitOptions(s string) (opts []string, rest string, ok bool) {
	var cur strings.Builder
	inQ := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQ && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
			continue
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			opts = append(opts, cur.String())
			cur.Reset()
			continue
		case (c == ' ' || c == '\t') && !inQ:
			opts = append(opts, cur.String())
			return opts, s[i:], true
		}
		cur.WriteByte(c)
	}
	return nil, "", false
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return strings.ReplaceAll(v, `\"`, `"`)
}

// rsaBits reads the modulus length from an ssh-rsa blob (string type,
// mpint e, mpint n).
func rsaBits(b []byte) int {
	for i := 0; i < 2; i++ {
		if len(b) < 4 {
			return 0
		}
		n := binary.BigEndian.Uint32(b)
		if int64(n) > int64(len(b)-4) {
			return 0
		}
		b = b[4+n:]
	}
	if len(b) < 4 {
		return 0
	}
	n := binary.BigEndian.Uint32(b)
	if int64(n) > int64(len(b)-4) {
		return 0
	}
	m := b[4 : 4+n]
	for len(m) > 0 && m[0] == 0 {
		m = m[1:]
	}
	if len(m) == 0 {
		return 0
	}
	bits := (len(m) - 1) * 8
	for x := m[0]; x > 0; x >>= 1 {
		bits++
	}
	return bits
}

// SSHKeys inventories every authorized key of every account and judges them.
type SSHKeys struct{}

func (SSHKeys) Name() string { return "sshkeys" }
func (SSHKeys) OS() string   { return "linux" }

// keyFileNewer is how much newer than the oldest other key file a key file
// must be to stand out.
const keyFileNewer = 30 * 24 * time.Hour

type keyFile struct {
	f       *check.File
	owner   *PasswdEntry
	keys    []AuthorizedKey
	modTime time.Time
}

var sshPlace = place{
	prefix: "ssh", what: "SSH key forced command", technique: "T1098.004",
	remedy: "Preserve a copy of %s, then delete the key line (chattr -ia the file and its .ssh directory first if immutable) and rotate credentials the attacker may hold.",
}

func (c SSHKeys) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	s := sigs()
	users := accountsOf(t)
	// A home may be shared (toor, a second UID-0 account with /root as its
	// home): a pattern without %u is one file credited to the home's main
	// account (uid 0 first), one with %u is a file per account.
	byHome := map[string]*PasswdEntry{}
	owners := map[string][]*PasswdEntry{}
	for i := range users {
		h := path.Clean("/" + strings.TrimPrefix(users[i].Home, "/"))
		if byHome[h] == nil || users[i].UID == 0 && byHome[h].UID != 0 {
			byHome[h] = &users[i]
		}
		owners[h] = append(owners[h], &users[i])
	}
	hs := homes(t)
	patterns := append([]string{}, s.loc("sshkeys", "keys-file")...)
	// AuthorizedKeysFile lines of sshd_config and its Includes (sshd.go).
	patterns = append(patterns, r.sshdKeyFiles()...)
	seen := map[string]bool{}
	var files []*keyFile
	for _, h := range hs {
		for _, pat := range patterns {
			who := []*PasswdEntry{byHome[h]}
			if strings.Contains(pat, "%u") && len(owners[h]) > 0 {
				who = owners[h]
			}
			for _, owner := range who {
				p := expandKeyPath(pat, h, owner)
				if p == "" || seen[p] {
					continue
				}
				seen[p] = true
				if kf := r.keyFile(p, owner); kf != nil {
					files = append(files, kf)
				}
			}
		}
	}
	nologin := map[string]bool{}
	for _, sh := range s.loc("accounts", "nologin-shell") {
		nologin[sh] = true
	}
	for _, kf := range files {
		r.judgeKeyFile(kf, files, nologin)
	}
	return ctx.Err()
}

// keyFile reads one authorized_keys file of owner (nil when absent); a
// Redis dump written there is reported and its keys used.
func (r *run) keyFile(p string, owner *PasswdEntry) *keyFile {
	f := r.read(p)
	if f == nil {
		return nil
	}
	var keys []AuthorizedKey
	if isRedisDump(f.Data) {
		name := "?"
		if owner != nil {
			name = owner.Name
		}
		keys = r.redisKeyFile(f, name)
	} else {
		var bad []int
		keys, bad = ParseAuthorizedKeys(f.Data)
		for _, b := range bad {
			r.out.Error(f.Path, fmt.Errorf("%s: line %d is not an authorized key", r.t.Volume, b))
		}
	}
	kf := &keyFile{f: f, owner: owner, keys: keys}
	if f.Meta != nil {
		kf.modTime = f.Meta.Mtime
	}
	return kf
}

func expandKeyPath(pat, home string, owner *PasswdEntry) string {
	if strings.Contains(pat, "%u") {
		if owner == nil {
			return ""
		}
		pat = strings.ReplaceAll(pat, "%u", owner.Name)
	}
	pat = strings.ReplaceAll(pat, "%%", "%")
	if strings.HasPrefix(pat, "~") {
		return path.Join(home, strings.TrimPrefix(pat, "~"))
	}
	return path.Clean(pat)
}

func (r *run) judgeKeyFile(kf *keyFile, all []*keyFile, nologin map[string]bool) {
	f := kf.f
	user, uid, shell := "?", int64(-1), ""
	if kf.owner != nil {
		user, uid, shell = kf.owner.Name, int64(kf.owner.UID), kf.owner.Shell
	}
	// A key file changed long after the oldest other one stands out: the
	// accounts' own keys date from when they were set up, a miner's from
	// the intrusion. Weak on its own, hence low.
	var oldest time.Time
	for _, o := range all {
		if o != kf && !o.modTime.IsZero() && (oldest.IsZero() || o.modTime.Before(oldest)) {
			oldest = o.modTime
		}
	}
	recent := !oldest.IsZero() && !kf.modTime.IsZero() && kf.modTime.Sub(oldest) > keyFileNewer
	for _, k := range kf.keys {
		fields := map[string]string{
			"user": user, "type": k.Type, "fingerprint": k.Fingerprint, "comment": k.Comment,
			"options": strings.Join(k.Options, ","), "file_mtime": kf.modTime.UTC().Format(time.RFC3339),
		}
		if k.Bits > 0 {
			fields["bits"] = fmt.Sprint(k.Bits)
		}
		r.inventory("ssh-key", f.Path, k.Line, k.Type+" "+k.Fingerprint+" "+k.Comment, fields)
		ev := at(f, k.Line, strings.TrimSpace(strings.Join(k.Options, ",")+" "+k.Type+" "+k.Fingerprint+" "+k.Comment))
		desc := fmt.Sprintf("Key %s %s (comment %q) lets whoever holds it log in as %s.", k.Type, k.Fingerprint, k.Comment, user)
		remedy := fmt.Sprintf("Confirm the key with the account owner; if unknown, preserve %s, delete the line with fingerprint %s "+
			"(chattr -ia the file first if immutable), and rotate credentials.", f.Evidence.Path, k.Fingerprint)
		for _, m := range sigs().markersOf("ssh-comment") {
			if strings.Contains(k.Comment, m.Pattern) {
				r.finding(report.Finding{
					Rule: "ssh.family-key", Severity: m.Severity, Technique: m.Technique, Family: m.Family,
					Title: fmt.Sprintf("%s attacker SSH key for %s", m.Family, user), Description: m.Description + ". " + desc,
					Evidence: ev, Remediation: remedy,
				})
			}
		}
		if k.Command != "" {
			v := JudgeCommand(k.Command)
			if !r.judged(sshPlace, ev, k.Command, v, desc) {
				r.finding(report.Finding{
					Rule: "ssh.forced-command", Severity: report.Info, Technique: "T1098.004",
					Title:       fmt.Sprintf("SSH key for %s runs a forced command", user),
					Description: "command=" + k.Command + ". Forced commands are common for backups and deploy keys. " + desc,
					Evidence:    ev, Remediation: remedy,
				})
			}
		}
		if kf.owner != nil && uid != 0 && (nologin[shell] || uid < 1000) {
			r.finding(report.Finding{
				Rule: "ssh.system-account-key", Severity: report.Medium, Technique: "T1098.004",
				Title:       fmt.Sprintf("SSH key for system account %s (uid %d, shell %s)", user, uid, orDash(shell)),
				Description: "System and service accounts rarely need SSH keys; an attacker who adds one gets a foothold (port forwarding works even with a nologin shell). " + desc,
				Evidence:    ev, Remediation: remedy,
			})
		}
		if recent {
			r.finding(report.Finding{
				Rule: "ssh.key-file-recent", Severity: report.Low, Technique: "T1098.004",
				Title: fmt.Sprintf("Key file of %s changed long after the others", user),
				Description: fmt.Sprintf("%s was modified %s, more than %d days after the oldest other authorized_keys file on this image (%s). Miners append their key. ",
					f.Evidence.Path, kf.modTime.UTC().Format(time.RFC3339), int(keyFileNewer.Hours()/24), oldest.UTC().Format(time.RFC3339)) + desc,
				Evidence: ev, Remediation: remedy,
			})
		}
	}
}
