package windows

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// IFEO reports Image File Execution Options: a Debugger that runs instead of
// a program, a SilentProcessExit monitor started when one exits (GlobalFlag
// 0x200), and accessibility programs replaced by a shell. IFEO keys that
// only hold mitigation or tuning values are listed and never judged.
type IFEO struct{}

func (IFEO) Name() string { return "ifeo" }
func (IFEO) OS() string   { return "windows" }

const (
	ifeoKey            = `Microsoft\Windows NT\CurrentVersion\Image File Execution Options`
	silentExitKey      = `Microsoft\Windows NT\CurrentVersion\SilentProcessExit`
	flgMonitorSilent   = 0x200
	maxAccessibilitySz = 64 << 20
)

func (c IFEO) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	if h := openFor(t, out, softwareHive); h != nil {
		for _, prefix := range []string{"", `Wow6432Node\`} {
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			c.options(r, t, out, h, prefix)
		}
	}
	c.replaced(r, t, out)
	return nil
}

func (c IFEO) options(r *rules, t *check.Target, out check.Sink, h *hive, prefix string) {
	k, err := h.open(prefix + ifeoKey)
	if err != nil {
		h.fail(out, t.Volume, "key "+prefix+ifeoKey, err)
	}
	if k == nil {
		return
	}
	subs, err := k.Subkeys()
	if err != nil {
		h.fail(out, t.Volume, "key "+prefix+ifeoKey, err)
	}
	for _, s := range subs {
		c.image(r, t, out, h, prefix, s)
	}
}

func (c IFEO) image(r *rules, t *check.Target, out check.Sink, h *hive, prefix string, k *regKey) {
	image := k.Name()
	base := `HKLM\Software\` + prefix + ifeoKey + `\` + image
	vals, err := k.Values()
	if err != nil {
		h.fail(out, t.Volume, base, err)
	}
	access := r.evasion.accessibility[strings.ToLower(image)]
	var names []string
	var debugger, flag string
	var flags uint64
	for _, v := range vals {
		if v.DataErr != nil {
			h.fail(out, t.Volume, base+`\`+v.Name, v.DataErr)
			continue
		}
		names = append(names, v.Name)
		switch {
		case strings.EqualFold(v.Name, "Debugger") && isText(v):
			debugger = strings.TrimSpace(v.Text())
		case strings.EqualFold(v.Name, "GlobalFlag"):
			flags, flag = globalFlag(v)
		}
	}
	fields := map[string]string{"image": image, "values": strings.Join(names, ","), "last_write": fmtTime(k.LastWrite()), "mitigation_only": fmt.Sprint(c.mitigationOnly(r, names))}
	if flag != "" {
		fields["global_flag"] = flag
	}
	if debugger != "" {
		e := entry{Place: "ifeo", Kind: "ifeo", Name: image, Key: base + `\Debugger`, Command: debugger, Ev: h.evidence, Fields: fields,
			Target: r.parseCommand(debugger, "").Exe, Says: fmt.Sprintf("Starting %s runs the IFEO Debugger instead: %s", image, clip(debugger, 1024))}
		rule := "debugger"
		if access {
			rule = "debugger-accessibility"
		}
		var hits []hit
		if hh, ok := r.evasion.verdicts[rule].hit(debugger); ok {
			hits = append(hits, hh)
		}
		hits = append(hits, r.judge(debugger, "", servicePlace)...)
		emit(r, c.Name(), out, e, dedupe(hits))
	}
	if flags&flgMonitorSilent != 0 {
		c.silentExit(r, t, out, h, prefix, image, fields)
	}
	if debugger == "" && flags&flgMonitorSilent == 0 {
		emit(r, c.Name(), out, entry{Place: "ifeo", Kind: "ifeo", Name: image, Key: base, Command: strings.Join(names, ","), Ev: h.evidence, Fields: fields}, nil)
	}
}

// globalFlag reads GlobalFlag, which tools write as a DWORD or as a hex
// string ("0x200").
func globalFlag(v regValue) (uint64, string) {
	if v.HasNum {
		return v.Number, fmt.Sprintf("0x%x", v.Number)
	}
	s := strings.TrimSpace(v.Text())
	var n uint64
	if _, err := fmt.Sscanf(strings.ToLower(s), "0x%x", &n); err != nil {
		fmt.Sscanf(s, "%d", &n)
	}
	return n, s
}

func (c IFEO) mitigationOnly(r *rules, names []string) bool {
	for _, n := range names {
		ok := false
		for _, re := range r.evasion.mitigations {
			ok = ok || re.MatchString(n)
		}
		if !ok {
			return false
		}
	}
	return true
}

// silentExit reports the monitor program SilentProcessExit starts when image
// exits; without one the flag alone runs nothing.
func (c IFEO) silentExit(r *rules, t *check.Target, out check.Sink, h *hive, prefix, image string, fields map[string]string) {
	key := prefix + silentExitKey + `\` + image
	k, err := h.open(key)
	if err != nil {
		h.fail(out, t.Volume, "key "+key, err)
	}
	monitor := ""
	if k != nil {
		if v, ok, _ := k.Value("MonitorProcess"); ok && isText(v) {
			monitor = strings.TrimSpace(v.Text())
		}
		if v, ok, _ := k.Value("ReportingMode"); ok && v.HasNum {
			fields["reporting_mode"] = fmt.Sprint(v.Number)
		}
	}
	shown := `HKLM\Software\` + key + `\MonitorProcess`
	e := entry{Place: "ifeo", Kind: "ifeo", Name: image, Key: shown, Command: monitor, Ev: h.evidence, Fields: fields,
		Target: r.parseCommand(monitor, "").Exe, Says: fmt.Sprintf("When %s exits, SilentProcessExit starts: %s", image, clip(monitor, 1024))}
	if monitor == "" {
		e.Says = fmt.Sprintf("IFEO GlobalFlag of %s asks for silent-exit monitoring, but no MonitorProcess is set", image)
		emit(r, c.Name(), out, e, nil)
		return
	}
	var hits []hit
	if hh, ok := r.evasion.verdicts["silent-exit"].hit(monitor); ok {
		hits = append(hits, hh)
	}
	hits = append(hits, r.judge(monitor, "", servicePlace)...)
	emit(r, c.Name(), out, e, dedupe(hits))
}

// replaced compares each accessibility program in System32 (and SysWOW64)
// with the shells by SHA-256: sticky-keys backdoors copy cmd.exe over
// sethc.exe.
func (c IFEO) replaced(r *rules, t *check.Target, out check.Sink) {
	shells := map[[32]byte]string{}
	for _, s := range r.evasion.shells {
		if sum, p, ok := c.hashOf(t, out, s); ok {
			shells[sum] = "/" + p
		}
	}
	if len(shells) == 0 {
		return
	}
	var names []string
	for name := range r.evasion.accessibility {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, dir := range []string{"Windows/System32", "Windows/SysWOW64"} {
		for _, name := range names {
			sum, p, ok := c.hashOf(t, out, path.Join(dir, name))
			if !ok {
				continue
			}
			shell, same := shells[sum]
			if !same {
				continue
			}
			f, err := check.ReadFileMax(t, p, maxAccessibilitySz)
			if err != nil {
				continue
			}
			e := entry{Place: "ifeo", Kind: "ifeo", Name: name, Command: "/" + p, Target: "/" + p, Ev: f.Evidence,
				Says:   fmt.Sprintf("%s is byte for byte %s", "/"+p, shell),
				Fields: map[string]string{"image": name, "same_as": shell}}
			var hits []hit
			if hh, ok := r.evasion.verdicts["accessibility-replaced"].hit(shell); ok {
				hits = append(hits, hh)
			}
			emit(r, c.Name(), out, e, hits)
		}
	}
}

func (c IFEO) hashOf(t *check.Target, out check.Sink, name string) ([32]byte, string, bool) {
	p, err := resolveFold(t.FS, name)
	if err != nil {
		return [32]byte{}, "", false
	}
	f, err := check.ReadFileMax(t, p, maxAccessibilitySz)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		}
		return [32]byte{}, "", false
	}
	return sha256.Sum256(f.Data), p, true
}
