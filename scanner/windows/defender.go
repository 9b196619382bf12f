package windows

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Defender reports Microsoft Defender tampering in the SOFTWARE hive: the
// protections turned off (machine settings and their Group Policy twins) and
// every exclusion, judged by what it lets through (exclusions.txt). An
// excluded folder is also looked into: one that holds a miner is critical.
type Defender struct{}

func (Defender) Name() string { return "defender" }
func (Defender) OS() string   { return "windows" }

// Bounds of the look into an excluded folder: the miner sits at its top.
const (
	maxExcludedEntries = 256
	maxExcludedFile    = 64 << 10
)

func (c Defender) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	h := openFor(t, out, softwareHive)
	if h == nil {
		return nil
	}
	for _, s := range r.evasion.settings {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		c.setting(r, t, out, h, s)
	}
	for _, x := range r.evasion.exclusionKeys {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		k, vals := h.keyValues(out, t.Volume, x.key)
		for _, v := range vals {
			if v.Name != "" {
				c.exclusion(r, t, out, h, k, x, v.Name)
			}
		}
	}
	return nil
}

func (c Defender) setting(r *rules, t *check.Target, out check.Sink, h *hive, s defenderSetting) {
	k, vals := h.keyValues(out, t.Volume, s.key)
	for _, v := range vals {
		if !s.value.MatchString(v.Name) || !v.HasNum {
			continue
		}
		shown := `HKLM\Software\` + s.key + `\` + v.Name
		data := fmt.Sprintf("%d", v.Number)
		e := entry{Place: "defender", Kind: "defender-setting", Name: v.Name, Key: shown, Command: data, Ev: h.evidence,
			Says:   fmt.Sprintf("Defender setting %s is %s", shown, data),
			Fields: map[string]string{"last_write": fmtTime(k.LastWrite()), "policy": fmt.Sprint(strings.HasPrefix(s.key, "Policies"))}}
		var hits []hit
		if s.bad(v.Number) {
			if h, ok := s.hit(shown + " = " + data); ok {
				hits = append(hits, h)
			}
		}
		emit(r, c.Name(), out, e, hits)
	}
}

func (c Defender) exclusion(r *rules, t *check.Target, out check.Sink, h *hive, k *regKey, x exclusionKey, item string) {
	shown := `HKLM\Software\` + x.key + `\` + item
	e := entry{Place: "defender", Kind: "defender-exclusion", Name: item, Key: shown, Command: item, Target: item, Ev: h.evidence,
		Says:   fmt.Sprintf("Microsoft Defender does not scan %s %q", strings.TrimSuffix(x.typ, "es"), item),
		Fields: map[string]string{"type": x.typ, "last_write": fmtTime(k.LastWrite()), "policy": fmt.Sprint(strings.HasPrefix(x.key, "Policies"))}}
	if x.typ == "paths" || x.typ == "processes" {
		e.Says = fmt.Sprintf("Microsoft Defender does not scan %s %q", map[string]string{"paths": "the path", "processes": "what the process opens:"}[x.typ], item)
	}
	expanded := r.expand(item, "")
	norm := normPath(expanded)
	var hits []hit
	for _, rule := range r.evasion.exclusions[x.typ] {
		if matchExclusion(rule, x.typ, item, norm) {
			if !rule.sev.none {
				hits = append(hits, hit{Rule: "exclusion", Title: "Defender exclusion of " + rule.what, Severity: rule.sev.Severity, Technique: "T1562.001", Match: item})
			}
			break
		}
	}
	hits = append(hits, r.judgeText(expanded)...)
	if x.typ == "paths" {
		if m := c.minerIn(r, t, out, norm); m != "" {
			if hh, ok := r.evasion.verdicts["exclusion-hides-miner"].hit(m); ok {
				hits = append(hits, hh)
			}
		}
	}
	emit(r, c.Name(), out, e, dedupe(hits))
}

func matchExclusion(rule exclusionRule, typ, item, norm string) bool {
	switch typ {
	case "extensions":
		ext := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(item), "*"), "."))
		return rule.name == "*" || rule.name == ext
	case "ipaddresses":
		return rule.name == "*" || (rule.re != nil && rule.re.MatchString(strings.ToLower(item)))
	case "processes":
		if rule.re == nil {
			return rule.name == "*" || rule.name == path.Base(norm)
		}
	}
	return rule.re != nil && rule.re.MatchString(norm)
}

// minerIn looks at the top of an excluded folder on the system drive and
// returns the first file whose name or (small) content is a miner marker.
func (c Defender) minerIn(r *rules, t *check.Target, out check.Sink, norm string) string {
	if !strings.HasPrefix(norm, "/") || strings.HasPrefix(norm, "//") || norm == "/" {
		return ""
	}
	dir, err := resolveFold(t.FS, norm)
	if err != nil {
		return ""
	}
	info, err := fs.Stat(t.FS, dir)
	if err != nil || !info.IsDir() {
		return ""
	}
	ents, err := fs.ReadDir(t.FS, dir)
	if err != nil {
		out.Error("/"+dir, fmt.Errorf("%s: %w", t.Volume, err))
		return ""
	}
	for i, de := range ents {
		if i >= maxExcludedEntries {
			break
		}
		if !de.Type().IsRegular() {
			continue
		}
		p := path.Join(dir, de.Name())
		if minerHit(r.judgeText(de.Name())) {
			return "/" + p
		}
		if fi, err := de.Info(); err != nil || fi.Size() > maxExcludedFile {
			continue
		}
		f, err := check.ReadFileMax(t, p, maxExcludedFile)
		if err != nil {
			continue
		}
		if minerHit(r.judgeText(string(f.Data))) {
			return "/" + p
		}
	}
	return ""
}

func minerHit(hits []hit) bool {
	for _, h := range hits {
		if h.Technique == "T1496.001" && h.Severity >= report.High {
			return true
		}
	}
	return false
}

// keyValues opens key and lists its values, reporting what cannot be read;
// nil, nil when the key is absent.
func (h *hive) keyValues(out check.Sink, volume, key string) (*regKey, []regValue) {
	k, err := h.open(key)
	if err != nil {
		h.fail(out, volume, "key "+key, err)
	}
	if k == nil {
		return nil, nil
	}
	vals, err := k.Values()
	if err != nil {
		h.fail(out, volume, "key "+key, err)
	}
	return k, vals
}
