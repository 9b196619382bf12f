package windows

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/snapscan/snapscan/scanner/check"
)

// Services reports every service and driver of the current control set,
// judging its ImagePath and ServiceDll.
type Services struct{}

func (Services) Name() string { return "services" }
func (Services) OS() string   { return "windows" }

var startNames = map[uint64]string{0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}

// serviceType decodes the low bits of the Type value.
func serviceType(t uint64) string {
	switch {
	case t&0x40 != 0:
		return "user-service"
	case t&0x1 != 0:
		return "kernel-driver"
	case t&0x2 != 0:
		return "filesystem-driver"
	case t&0x10 != 0:
		return "own-process"
	case t&0x20 != 0:
		return "shared-process"
	}
	return strconv.FormatUint(t, 10)
}

// currentControlSet resolves CurrentControlSet the way the boot loader
// does: through Select\Current. Absent or corrupt, ControlSet001 is the
// usual one and is tried next.
func currentControlSet(h *hive) (string, error) {
	if k, err := h.open("Select"); err == nil && k != nil {
		for _, name := range []string{"Current", "Default"} {
			if v, ok, _ := k.Value(name); ok && v.HasNum && v.Number > 0 && v.Number < 1000 {
				cs := fmt.Sprintf("ControlSet%03d", v.Number)
				if k, _ := h.open(cs); k != nil {
					return cs, nil
				}
			}
		}
	}
	if k, err := h.open("ControlSet001"); k != nil || err != nil {
		return "ControlSet001", err
	}
	return "", fmt.Errorf("no control set found (Select\\Current absent and no ControlSet001)")
}

func (c Services) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	h := openFor(t, out, systemHive)
	if h == nil {
		return nil
	}
	cs, err := currentControlSet(h)
	if err != nil {
		h.fail(out, t.Volume, "control set", err)
		return nil
	}
	svcKey, err := h.open(cs + `\Services`)
	if svcKey == nil {
		if err == nil {
			err = fs.ErrNotExist
		}
		h.fail(out, t.Volume, cs+`\Services`, err)
		return nil
	}
	subs, err := svcKey.Subkeys()
	if err != nil {
		h.fail(out, t.Volume, cs+`\Services`, err)
	}
	for _, s := range subs {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		c.service(r, t, out, h, cs, s)
	}
	return nil
}

func (c Services) service(r *rules, t *check.Target, out check.Sink, h *hive, cs string, k *regKey) {
	base := `HKLM\SYSTEM\` + cs + `\Services\` + k.Name()
	vals, err := k.Values()
	if err != nil {
		h.fail(out, t.Volume, base, err)
	}
	get := func(name string) (regValue, bool) {
		for _, v := range vals {
			if strings.EqualFold(v.Name, name) {
				return v, v.DataErr == nil
			}
		}
		return regValue{}, false
	}
	image, hasImage := get("ImagePath")
	dll, hasDll := get("ServiceDll")
	dllKey := base
	if params, _ := k.child("Parameters"); params != nil {
		if v, ok, _ := params.Value("ServiceDll"); ok && v.DataErr == nil && v.Text() != "" {
			dll, hasDll, dllKey = v, true, base+`\Parameters`
		}
	}
	if !hasImage && !hasDll {
		// Keys without a program: event-log sources, leftovers of
		// uninstalled drivers, per-service settings.
		return
	}
	fields := map[string]string{"last_write": fmtTime(k.LastWrite()), "control_set": cs}
	if v, ok := get("Start"); ok && v.HasNum {
		fields["start"] = startNames[v.Number]
		if fields["start"] == "" {
			fields["start"] = strconv.FormatUint(v.Number, 10)
		}
	}
	if v, ok := get("Type"); ok && v.HasNum {
		fields["type"] = serviceType(v.Number)
	}
	if v, ok := get("ObjectName"); ok {
		fields["account"] = v.Text()
	}
	if v, ok := get("DisplayName"); ok {
		fields["display_name"] = v.Text()
	}
	cmd := image.Text()
	e := entry{Place: "service", Kind: "service", Name: k.Name(), Key: base + `\ImagePath`, Command: cmd, Ev: h.evidence, Fields: fields}
	var hits []hit
	if hasImage && cmd != "" {
		pc := r.parseCommand(cmd, "")
		e.Target = pc.Exe
		fields["program"] = pc.Exe
		hits = append(hits, r.judge(cmd, "", servicePlace)...)
	}
	if hasDll && dll.Text() != "" {
		fields["service_dll"] = dll.Text()
		if !hasImage {
			e.Key = dllKey + `\ServiceDll`
		}
		dllPath := r.expand(dll.Text(), "")
		if h, ok := r.judgePlace(normPath(dllPath), servicePlace, "loads a service DLL"); ok {
			h.Match, h.Key = dll.Text(), dllKey+`\ServiceDll`
			hits = append(hits, h)
		}
		for _, h := range r.judgeText(dllPath) {
			h.Key = dllKey + `\ServiceDll`
			hits = append(hits, h)
		}
		if e.Command == "" {
			e.Command = dll.Text()
		} else {
			e.Command += " [ServiceDll " + dll.Text() + "]"
		}
		if e.Target == "" || isSvchost(e.Target) {
			e.Target = dll.Text()
		}
	}
	emit(r, c.Name(), out, e, dedupe(hits))
}

func isSvchost(p string) bool {
	n := normPath(p)
	return n == "/windows/system32/svchost.exe" || n == "/windows/syswow64/svchost.exe"
}
