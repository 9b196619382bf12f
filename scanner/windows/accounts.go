package windows

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/artifact/sam"
	"github.com/snapscan/snapscan/scanner/check"
)

// Accounts lists the local accounts of the SAM hive with their RID, flags
// and last logon, and reports hidden accounts, enabled built-in accounts,
// unexpected members of Administrators and RID hijacks (accounts.txt).
type Accounts struct{}

func (Accounts) Name() string { return "sam-accounts" }
func (Accounts) OS() string   { return "windows" }

const (
	samHive          = "Windows/System32/config/SAM"
	samUsersKey      = `SAM\Domains\Account\Users`
	samAdminsKey     = `SAM\Domains\Builtin\Aliases\00000220`
	ridAdministrator = 500
	ridGuest         = 501
)

// account is one user of the SAM, decoded.
type account struct {
	keyRID uint32
	key    *regKey
	f      sam.Fixed
	v      sam.Variable
}

func (c Accounts) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	h := openFor(t, out, samHive)
	if h == nil {
		return nil
	}
	machine, hasMachine := sam.SID{}, false
	if k, _ := h.open(`SAM\Domains\Account`); k != nil {
		if v, ok, _ := k.Value("V"); ok {
			machine, hasMachine = sam.MachineSID(v.Raw)
		}
	}
	admins := c.admins(t, out, h, machine, hasMachine)
	users, err := h.open(samUsersKey)
	if err != nil {
		h.fail(out, t.Volume, "key "+samUsersKey, err)
	}
	if users == nil {
		return nil
	}
	subs, err := users.Subkeys()
	if err != nil {
		h.fail(out, t.Volume, "key "+samUsersKey, err)
	}
	for _, s := range subs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		rid, err := strconv.ParseUint(s.Name(), 16, 32)
		if err != nil || len(s.Name()) != 8 {
			continue // Names and other non-account keys
		}
		a, err := c.read(s, uint32(rid))
		if err != nil {
			h.fail(out, t.Volume, samUsersKey+`\`+s.Name(), err)
			continue
		}
		c.judge(r, out, h, a, admins, machine, hasMachine)
	}
	return nil
}

func (c Accounts) read(k *regKey, rid uint32) (account, error) {
	a := account{keyRID: rid, key: k}
	f, ok, err := k.Value("F")
	if err != nil || !ok {
		return a, fmt.Errorf("no F value (%v)", err)
	}
	if a.f, err = sam.ParseFixed(f.Raw); err != nil {
		return a, err
	}
	v, ok, err := k.Value("V")
	if err != nil || !ok {
		return a, fmt.Errorf("no V value (%v)", err)
	}
	a.v, err = sam.ParseVariable(v.Raw)
	return a, err
}

// admins is the set of local RIDs in Administrators; members from other
// domains name no local account and are left out.
func (c Accounts) admins(t *check.Target, out check.Sink, h *hive, machine sam.SID, hasMachine bool) map[uint32]bool {
	set := map[uint32]bool{}
	k, err := h.open(samAdminsKey)
	if err != nil {
		h.fail(out, t.Volume, "key "+samAdminsKey, err)
	}
	if k == nil {
		return set
	}
	v, ok, err := k.Value("C")
	if err != nil || !ok {
		h.fail(out, t.Volume, samAdminsKey+`\C`, fmt.Errorf("Administrators alias has no C value (%v)", err))
		return set
	}
	a, err := sam.ParseAlias(v.Raw)
	if err != nil {
		h.fail(out, t.Volume, samAdminsKey+`\C`, err)
	}
	for _, m := range a.Members {
		rid, ok := m.RID()
		if ok && (!hasMachine || m.Domain() == machine.String()) {
			set[rid] = true
		}
	}
	return set
}

func (c Accounts) judge(r *rules, out check.Sink, h *hive, a account, admins map[uint32]bool, machine sam.SID, hasMachine bool) {
	name := a.v.Name
	key := fmt.Sprintf(`HKLM\SAM\%s\%08X`, samUsersKey, a.keyRID)
	fields := map[string]string{
		"rid": fmt.Sprint(a.keyRID), "flags": sam.FlagString(a.f.Flags), "enabled": fmt.Sprint(!a.f.Disabled()),
		"last_logon": fmtTime(a.f.LastLogon), "password_last_set": fmtTime(a.f.PasswordLastSet),
		"logon_count": fmt.Sprint(a.f.LogonCount), "full_name": a.v.FullName, "comment": a.v.Comment,
		"administrators": fmt.Sprint(admins[a.keyRID]), "last_write": fmtTime(a.key.LastWrite()),
	}
	if hasMachine {
		fields["sid"] = fmt.Sprintf("%s-%d", machine, a.keyRID)
	}
	if a.f.RID != a.keyRID {
		fields["logon_rid"] = fmt.Sprint(a.f.RID)
	}
	e := entry{Place: "account", Kind: "account", Name: name, Key: key, Command: name, Target: name, User: "", Ev: h.evidence, Fields: fields,
		Says: fmt.Sprintf("Local account %q (RID %d, %s, last logon %s)", name, a.keyRID, fields["flags"], orNever(fields["last_logon"]))}
	v := r.evasion.verdicts
	var hits []hit
	add := func(rule, match string) {
		if hh, ok := v[rule].hit(match); ok {
			hits = append(hits, hh)
		}
	}
	trust := a.f.Flags&(sam.FlagWorkstationTrust|sam.FlagServerTrust|sam.FlagDomainTrust) != 0
	if strings.HasSuffix(name, "$") && !trust {
		add("hidden-account", name)
	}
	if a.f.RID != a.keyRID {
		add("rid-hijack", fmt.Sprintf("key RID %d, F value RID %d", a.keyRID, a.f.RID))
	}
	if admins[a.keyRID] {
		switch {
		case a.keyRID == ridGuest:
			add("guest-admin", name)
		case !r.evasion.expectedAdmin[a.keyRID]:
			add("new-admin", name)
		}
	}
	if !a.f.Disabled() {
		switch a.keyRID {
		case ridAdministrator:
			add("administrator-enabled", name)
		case ridGuest:
			add("guest-enabled", name)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Severity > hits[j].Severity })
	emit(r, c.Name(), out, e, dedupe(hits))
}

func orNever(s string) string {
	if s == "" {
		return "never"
	}
	return s
}
