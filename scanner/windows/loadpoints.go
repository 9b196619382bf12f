package windows

import (
	"context"
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"www.velocidex.com/golang/regparser"
)

// LoadPoints reports the DLL and program load points of loadpoints.txt:
// LSA packages, BootExecute, AppCertDlls, AppInit_DLLs, Winlogon Notify,
// print monitors, netsh helpers and service FailureCommands. Each entry is
// listed; one that is not stock is a finding, and what it names is judged
// like any autostart.
type LoadPoints struct{}

func (LoadPoints) Name() string { return "loadpoints" }
func (LoadPoints) OS() string   { return "windows" }

func (c LoadPoints) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	type target struct{ kind, name, prefix string }
	targets := []target{{"SYSTEM", systemHive, `HKLM\SYSTEM\`}, {"SOFTWARE", softwareHive, `HKLM\Software\`}}
	for _, u := range userHives(t) {
		targets = append(targets, target{"NTUSER", u.path, `HKCU\`})
	}
	for _, tg := range targets {
		hiveKind, name, prefix := tg.kind, tg.name, tg.prefix
		var h *hive
		cs := ""
		for _, lp := range r.evasion.loadpoints {
			if lp.hive != hiveKind {
				continue
			}
			if check.Deadline(ctx) {
				return ctx.Err()
			}
			if h == nil {
				if h = openFor(t, out, name); h == nil {
					break
				}
				if hiveKind == "SYSTEM" {
					if cs, err = currentControlSet(h); err != nil {
						h.fail(out, t.Volume, "control set", err)
						break
					}
				}
			}
			key := lp.key
			if strings.HasPrefix(key, `CCS\`) {
				key = cs + key[3:]
			}
			c.point(r, t, out, h, prefix, key, lp)
		}
	}
	return nil
}

func (c LoadPoints) point(r *rules, t *check.Target, out check.Sink, h *hive, prefix, key string, lp loadpoint) {
	k, err := h.open(key)
	if err != nil {
		h.fail(out, t.Volume, "key "+key, err)
	}
	if k == nil {
		return
	}
	switch lp.where {
	case "value":
		c.value(r, t, out, h, prefix+key, k, lp.value, lp)
	case "values":
		vals, err := k.Values()
		if err != nil {
			h.fail(out, t.Volume, "key "+key, err)
		}
		for _, v := range vals {
			if v.Name != "" {
				c.value(r, t, out, h, prefix+key, k, v.Name, lp)
			}
		}
	case "subkeys":
		subs, err := k.Subkeys()
		if err != nil {
			h.fail(out, t.Volume, "key "+key, err)
		}
		for _, s := range subs {
			c.value(r, t, out, h, prefix+key+`\`+s.Name(), s, lp.value, lp)
		}
	}
}

// value reports one value's entries.
func (c LoadPoints) value(r *rules, t *check.Target, out check.Sink, h *hive, shownKey string, k *regKey, name string, lp loadpoint) {
	v, ok, err := k.Value(name)
	if err != nil {
		h.fail(out, t.Volume, shownKey, err)
	}
	if !ok || !isText(v) {
		return
	}
	if v.DataErr != nil {
		h.fail(out, t.Volume, shownKey+`\`+v.Name, v.DataErr)
		return
	}
	entries := v.Multi
	if v.Type != regparser.REG_MULTI_SZ {
		entries = []string{v.String}
		if lp.entries == "dlls" {
			entries = strings.FieldsFunc(v.String, func(r rune) bool { return r == ',' || r == ' ' })
		}
	}
	gated := ""
	if lp.gateName != "" {
		g, ok, _ := k.Value(lp.gateName)
		if !ok || !g.HasNum || g.Number != lp.gateValue {
			gated = fmt.Sprintf("%s is not %d: not loaded while it stays so", lp.gateName, lp.gateValue)
		}
	}
	shown := shownKey + `\` + v.Name
	for _, ent := range entries {
		ent = strings.TrimSpace(ent)
		if ent == "" {
			continue
		}
		stock := lp.stock[strings.ToLower(ent)]
		if lp.entries == "dlls" {
			stock = lp.stock[stockName(ent)]
		}
		fields := map[string]string{"last_write": fmtTime(k.LastWrite()), "stock": fmt.Sprint(stock), "load_point": lp.rule}
		if gated != "" {
			fields["gate"] = gated
		}
		e := entry{Place: "loadpoint", Kind: "loadpoint", Name: v.Name, Key: shown, Command: ent, Target: ent, Ev: h.evidence, Fields: fields,
			Says: fmt.Sprintf("%s %s %s", shown, map[string]string{"dlls": "loads", "commands": "runs"}[lp.entries], clip(ent, 1024))}
		if stock {
			emit(r, c.Name(), out, e, nil)
			continue
		}
		var hits []hit
		if hh, ok := lp.hit(ent); ok {
			hits = append(hits, hh)
		}
		if lp.entries == "commands" {
			hits = append(hits, r.judge(ent, "", servicePlace)...)
		} else {
			p := r.expand(ent, "")
			if hh, ok := r.judgePlace(normPath(p), servicePlace, "loads a DLL"); ok {
				hh.Match = ent
				hits = append(hits, hh)
			}
			hits = append(hits, r.judgeText(p)...)
		}
		for i := range hits {
			if hits[i].Technique == "" { // where it lives: the load point's own technique
				hits[i].Technique = lp.technique
			}
		}
		if gated != "" {
			// Listed but dormant: it loads only once the gate is opened.
			for i := range hits {
				if hits[i].Severity > report.Low {
					hits[i].Severity, hits[i].Title = report.Low, hits[i].Title+" ("+gated+")"
				}
			}
		}
		emit(r, c.Name(), out, e, dedupe(hits))
	}
}
