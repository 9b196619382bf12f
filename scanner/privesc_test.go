package scanner

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/expect"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/sweep"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// ruleSweeper is the CLI's sweep (embedded YARA rules, the Linux file hook
// on volumes a Linux root mounts) without the CLI.
type ruleSweeper struct{ rules *yarascan.Rules }

func (s ruleSweeper) Sweep(ctx context.Context, fsys fsread.FS, volume, mp string) SweepResult {
	opts := sweep.Options{Volume: volume, MountPoint: mp, Rules: s.rules}
	if mp != "" {
		opts.Hooks = append(opts.Hooks, linux.NewFileHook(fsys, volume, mp))
	}
	res, err := sweep.Run(ctx, fsys, opts)
	if err != nil {
		return SweepResult{Errors: []report.ScanError{{Volume: volume, Stage: "sweep", Error: err.Error()}}}
	}
	return SweepResult{Findings: res.Findings, Skipped: res.Skipped, Errors: res.Errors, Inventory: res.Inventory, Files: res.Stats.Files, Bytes: res.Stats.Bytes}
}

// The privilege-and-stealth image through our ext4 reader, the checks and
// the content sweep with its file hook: the whole planting spec holds,
// YARA rows included, and every set-id file is in the inventory.
func TestPrivescImageMeetsPlantingSpec(t *testing.T) {
	rules, _, err := yarascan.Compile(yarascan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := testimg.Path(t, "linux-privesc.img")
	testimg.Unchanged(t, img)
	r := ScanImage(context.Background(), img, Options{Checks: checks(), Sweep: ruleSweeper{rules}, Version: "test"})
	report.Finalize(r)
	for _, e := range r.Errors {
		t.Errorf("scan error: %+v", e)
	}
	rows, err := expect.Read(filepath.Join(testimg.RepoRoot(t), "testdata/images/src/linux-privesc.expect"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range expect.Problems(rows, r.Findings, r.Inventory) {
		t.Error(p)
	}
	setid := 0
	for _, i := range r.Inventory {
		if i.Kind == "setid-file" {
			setid++
		}
	}
	// su, passwd, crontab, kupdate, sd-helper, pwck-helper (hook) and the
	// /var/tmp and /home ones (suid check).
	if setid != 8 {
		t.Errorf("%d set-id files inventoried, want 8", setid)
	}
	for _, f := range r.Findings {
		if f.Severity >= report.Medium && (f.Technique == "" || f.TechniqueName == "") {
			t.Errorf("%s %s: no ATT&CK technique", f.Rule, f.Evidence.Path)
		}
	}
}
