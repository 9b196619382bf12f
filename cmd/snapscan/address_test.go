package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
)

// Every finding's address opens the file it judged, on every bundled image:
// 'snapscan cat' of it gives the bytes whose SHA-256 the finding carries,
// and 'snapscan stat' of it shows the finding's inode. Files reached
// through an fstab mount (/home on its own volume) are where this failed.
func TestEveryFindingAddressOpensItsFile(t *testing.T) {
	checked := 0
	for _, name := range testimg.Names(t) {
		t.Run(name, func(t *testing.T) {
			p := img(t, name)
			r := scanJSON(t, p)
			// Inventory items (SSH keys are always listed) are named the
			// same way: their address opens the file they were read from.
			for _, it := range r.Inventory {
				ev := report.Evidence{Volume: it.Volume, Path: it.Path, VolumePath: it.VolumePath}
				if _, errs, code := run(t, "cat", report.Address(p, &ev)); code != report.ExitClean {
					t.Errorf("inventory %s %s: cat %s: exit %d %s", it.Kind, it.Path, report.Address(p, &ev), code, errs)
				}
			}
			for _, f := range r.Findings {
				ev := f.Evidence
				if ev.Path == "" || ev.Volume == "" {
					continue
				}
				addr := report.Address(p, &ev)
				if ev.SHA256 != "" {
					out, errs, code := run(t, "cat", addr)
					sum := sha256.Sum256([]byte(out))
					if code != report.ExitClean || hex.EncodeToString(sum[:]) != ev.SHA256 {
						t.Errorf("%s %s: cat %s: exit %d %s, sha256 %x, finding has %s", f.Rule, ev.Path, addr, code, errs, sum, ev.SHA256)
					}
					checked++
				}
				if ev.Inode != 0 {
					out, errs, code := run(t, "stat", "--json", addr)
					var sv statView
					if code != report.ExitClean || json.Unmarshal([]byte(out), &sv) != nil || sv.Inode != ev.Inode {
						t.Errorf("%s %s: stat %s: exit %d %s, inode %d, finding has %d", f.Rule, ev.Path, addr, code, errs, sv.Inode, ev.Inode)
					}
				}
			}
		})
	}
	if checked == 0 {
		t.Error("no finding with a file hash on any bundled image")
	}
	t.Logf("%d finding addresses opened", checked)
}

// The same image under two names in two directories gives the same finding
// ids, SARIF fingerprints included: CI names images per build.
func TestIDsSurviveRenames(t *testing.T) {
	for _, name := range []string{"linux-infected.img", "windows-infected.img", "ext4-bare.img"} {
		t.Run(name, func(t *testing.T) {
			src := img(t, name)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			var ids [2][]string
			var fps [2][]string
			for i, p := range []string{
				filepath.Join(t.TempDir(), "a", name),
				filepath.Join(t.TempDir(), "builds", "42", "golden-build42.img"),
			} {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o444); err != nil {
					t.Fatal(err)
				}
				for _, f := range scanJSON(t, p).Findings {
					ids[i] = append(ids[i], f.ID)
				}
				sarif, errs, code := run(t, "scan", "-f", "sarif", p)
				if code != report.ExitClean {
					t.Fatalf("scan %s: exit %d %s", p, code, errs)
				}
				var log struct {
					Runs []struct {
						Results []struct {
							PartialFingerprints map[string]string `json:"partialFingerprints"`
						} `json:"results"`
					} `json:"runs"`
				}
				if err := json.Unmarshal([]byte(sarif), &log); err != nil {
					t.Fatal(err)
				}
				for _, res := range log.Runs[0].Results {
					for k, v := range res.PartialFingerprints {
						fps[i] = append(fps[i], k+"="+v)
					}
				}
			}
			slices.Sort(fps[0])
			slices.Sort(fps[1])
			if len(ids[0]) == 0 || !slices.Equal(ids[0], ids[1]) {
				t.Errorf("ids differ across renames (%d vs %d findings):\n%v\n%v", len(ids[0]), len(ids[1]), ids[0], ids[1])
			}
			if len(fps[0]) == 0 || !slices.Equal(fps[0], fps[1]) {
				t.Errorf("SARIF fingerprints differ across renames")
			}
		})
	}
}

// scanJSON runs 'snapscan scan -f json ARGS...' and decodes the report.
func scanJSON(t *testing.T, args ...string) report.Report {
	t.Helper()
	out, errs, code := run(t, append([]string{"scan", "-f", "json"}, args...)...)
	if code != report.ExitClean {
		t.Fatalf("scan %v: exit %d: %s", args, code, errs)
	}
	var r report.Report
	if err := json.Unmarshal(oneJSON(t, out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}
