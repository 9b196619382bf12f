package scanner

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/internal/expect"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// The autostart image through our ext4 reader, the checks and the content
// sweep with its file hook: the planting spec holds (Redis dumps, shell
// startup, followed targets, the dropper, at/PAM/udev/XDG/motd, flags).
func TestAutostartImageMeetsPlantingSpec(t *testing.T) {
	rules, _, err := yarascan.Compile(yarascan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := testimg.Path(t, "linux-autostart.img")
	testimg.Unchanged(t, img)
	r := ScanImage(context.Background(), img, Options{Checks: checks(), Sweep: ruleSweeper{rules}, Version: "test"})
	report.Finalize(r)
	for _, e := range r.Errors {
		t.Errorf("scan error: %+v", e)
	}
	rows, err := expect.Read(filepath.Join(testimg.RepoRoot(t), "testdata/images/src/linux-autostart.expect"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range expect.Problems(rows, r.Findings, r.Inventory) {
		t.Error(p)
	}
	if v := report.Verdict(r); v == "clean" {
		t.Errorf("verdict %q", v)
	}
}
