package windows

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/snapscan/snapscan/artifact/cim"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// WMI reports WMI permanent event subscriptions found in the CIM
// repository's OBJECTS.DATA: consumers (what runs), filters (when) and
// bindings (which filter fires which consumer). The repository is searched
// by content (artifact/cim), which every inventory item says, and what a
// CommandLineEventConsumer or ActiveScriptEventConsumer holds is judged with
// the command and marker rules.
type WMI struct{}

func (WMI) Name() string { return "wmi" }
func (WMI) OS() string   { return "windows" }

// method is how the repository was read, for the inventory.
const wmiMethod = "content scan of OBJECTS.DATA (the CIM repository's index and pages are not parsed)"

// maxObjectsData bounds the repository read; real ones are tens of MiB.
const maxObjectsData = 1 << 30

func (c WMI) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	for _, name := range []string{"Windows/System32/wbem/Repository/OBJECTS.DATA", "Windows/System32/wbem/Repository/FS/OBJECTS.DATA"} {
		if check.Deadline(ctx) {
			return ctx.Err()
		}
		p, err := resolveFold(t.FS, name)
		if err != nil {
			continue
		}
		c.repository(r, t, out, p)
	}
	return nil
}

func (c WMI) repository(r *rules, t *check.Target, out check.Sink, p string) {
	f, err := check.ReadFileMax(t, p, maxObjectsData)
	if err != nil && f == nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		return
	} else if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
	}
	res, err := cim.Scan(bytes.NewReader(f.Data), int64(len(f.Data)))
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
	}
	if res.Truncated {
		out.Error("/"+p, fmt.Errorf("%s: more than %d WMI records; the rest of OBJECTS.DATA was not looked at", t.Volume, cim.MaxRecords))
	}
	for _, rec := range res.Records {
		c.record(r, out, f.Evidence, rec)
	}
	for _, b := range res.Bindings {
		emit(r, c.Name(), out, entry{Place: "wmi", Kind: "wmi-binding", Name: b.Consumer, Key: fmt.Sprintf("offset %d", b.Offset),
			Command: fmt.Sprintf("%s %q <- __EventFilter %q", b.ConsumerClass, b.Consumer, b.Filter), Ev: f.Evidence,
			Says:   fmt.Sprintf("WMI binding: filter %q fires %s %q", b.Filter, b.ConsumerClass, b.Consumer),
			Fields: map[string]string{"consumer_class": b.ConsumerClass, "consumer": b.Consumer, "filter": b.Filter, "method": wmiMethod}}, nil)
	}
}

func (c WMI) record(r *rules, out check.Sink, ev report.Evidence, rec cim.Record) {
	name := ""
	if len(rec.Strings) > 0 {
		name = rec.Strings[0]
	}
	fields := map[string]string{"class": rec.Class, "strings": clip(strings.Join(rec.Strings, " | "), 2048), "method": wmiMethod}
	e := entry{Place: "wmi", Kind: "wmi-consumer", Name: rec.Class, Key: fmt.Sprintf("offset %d", rec.Offset), Ev: ev, Fields: fields,
		Command: clip(strings.Join(rec.Strings, " | "), 1024)}
	if rec.Class == "__EventFilter" {
		e.Kind = "wmi-filter"
		e.Says = fmt.Sprintf("WMI event filter %q: %s", name, clip(e.Command, 1024))
		emit(r, c.Name(), out, e, nil)
		return
	}
	e.Says = fmt.Sprintf("WMI %s %q holds: %s", rec.Class, name, clip(e.Command, 1024))
	wc, known := r.evasion.wmiConsumers[rec.Class]
	var hits []hit
	if known && !wc.sev.none {
		hits = append(hits, hit{Rule: "wmi-consumer", Title: wc.title, Severity: wc.sev.Severity, Technique: "T1546.003", Match: name})
	}
	switch wc.how {
	case "commands":
		for _, s := range rec.Strings[min(1, len(rec.Strings)):] {
			if e.Target == "" && strings.ContainsAny(s, `\ .`) {
				e.Target = r.parseCommand(s, "").Exe
			}
			for _, h := range r.judge(s, "", servicePlace) {
				h.Text = s
				hits = append(hits, h)
			}
		}
	case "script":
		hits = append(hits, r.judgeText(strings.Join(rec.Strings, "\n"))...)
	}
	emit(r, c.Name(), out, e, dedupe(hits))
}
