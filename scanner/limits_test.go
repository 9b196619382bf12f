package scanner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// flood is a check that reports far more than any real file warrants.
type flood struct{ inv, errs, files int }

func (flood) Name() string { return "flood" }
func (flood) OS() string   { return "linux" }
func (f flood) Run(_ context.Context, t *check.Target, out check.Sink) error {
	for n := 0; n < max(f.files, 1); n++ {
		p := "/etc/cron.d/big"
		if n > 0 {
			p = fmt.Sprintf("/etc/cron.d/more%d", n)
		}
		for i := 0; i < f.inv; i++ {
			out.Inventory(report.InventoryItem{Kind: "cron", Path: p, Line: i + 1, Summary: "job"})
		}
	}
	for i := 0; i < f.errs; i++ {
		out.Error("/etc/cron.d/big", fmt.Errorf("line %d is not a valid cron entry", i+1))
	}
	return nil
}

// What one file's check output may cost the report: past the caps it is
// counted in Stats, and the file says how many errors were left out.
func TestReportCaps(t *testing.T) {
	cases := []struct {
		name                   string
		inv, errs, files       int
		wantInv, wantErrs      int
		invOmitted, errOmitted int64
	}{
		{"within the caps", maxInventoryPerFile, maxErrorsPerFile, 1, maxInventoryPerFile, maxErrorsPerFile, 0, 0},
		{"past the caps", 3 * maxInventoryPerFile, maxErrorsPerFile + 250, 1, maxInventoryPerFile, maxErrorsPerFile + 1, 2 * maxInventoryPerFile, 250},
		{"past the scan's cap", maxInventoryPerFile, 0, maxInventory/maxInventoryPerFile + 7, maxInventory, 0, 7 * maxInventoryPerFile, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ScanDir(context.Background(), t.TempDir(), "linux", Options{Checks: []check.Check{flood{tc.inv, tc.errs, tc.files}}})
			var errs []report.ScanError
			for _, e := range r.Errors {
				if e.Stage == "check:flood" {
					errs = append(errs, e)
				}
			}
			if len(r.Inventory) != tc.wantInv || r.Stats.InventoryOmitted != tc.invOmitted {
				t.Errorf("%d inventory items, %d omitted; want %d and %d", len(r.Inventory), r.Stats.InventoryOmitted, tc.wantInv, tc.invOmitted)
			}
			if len(errs) != tc.wantErrs || r.Stats.ErrorsOmitted != tc.errOmitted {
				t.Errorf("%d errors, %d omitted; want %d and %d", len(errs), r.Stats.ErrorsOmitted, tc.wantErrs, tc.errOmitted)
			}
			if tc.errOmitted > 0 {
				last := errs[len(errs)-1]
				if want := fmt.Sprintf("%d more errors in this file not listed", tc.errOmitted); last.Path != "/etc/cron.d/big" || !strings.Contains(last.Error, want) {
					t.Errorf("last error %+v, want one on the file saying %q", last, want)
				}
			}
			if r.Stats.MemoryLimit != DefaultMaxMemory {
				t.Errorf("memory limit %d in the report, want the default %d", r.Stats.MemoryLimit, DefaultMaxMemory)
			}
		})
	}
}
