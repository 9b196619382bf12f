package scanner

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/expect"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	"github.com/snapscan/snapscan/scanner/linux"
	"github.com/snapscan/snapscan/scanner/windows"
)

var update = flag.Bool("update", false, "rewrite golden files")

func checks() []check.Check { return append(linux.Checks(), windows.Checks()...) }

func scan(t *testing.T, name string) *report.Report {
	t.Helper()
	img := testimg.Path(t, name)
	testimg.Unchanged(t, img)
	r := ScanImage(context.Background(), img, Options{Checks: checks(), Version: "test"})
	report.Finalize(r)
	return r
}

// The planted image, read through our partition and ext4 readers with /home
// on its own volume, must give exactly what the planting spec lists: the
// same spec the Linux checks meet on the source tree.
func TestInfectedImageMeetsPlantingSpec(t *testing.T) {
	r := scan(t, "linux-infected.img")
	if len(r.Targets) != 1 || r.Targets[0].OS != "linux" || r.Targets[0].Mounts["/home"] != "linux-infected.img@2" {
		t.Fatalf("targets: %+v (want one linux root with /home from partition 2)", r.Targets)
	}
	for _, v := range r.Volumes {
		if !v.Scanned {
			t.Errorf("volume %s not scanned: %s", v.Name, v.Reason)
		}
	}
	for _, e := range r.Errors {
		t.Errorf("scan error: %+v", e)
	}
	rows, err := expect.Read(filepath.Join(testimg.RepoRoot(t), "testdata/images/src/linux-infected.expect"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range expect.Problems(rows, r.Findings, r.Inventory) {
		t.Error(p)
	}
	// Evidence a real image carries and a directory tree cannot fake.
	for _, f := range r.Findings {
		if f.Rule == "immutable.flag" && (len(f.Evidence.Flags) == 0 || f.Evidence.Inode == 0) {
			t.Errorf("immutable finding without flag or inode evidence: %+v", f.Evidence)
		}
		if f.Evidence.Volume == "" || f.Evidence.Mtime == nil || f.Remediation == "" || f.Technique == "" {
			t.Errorf("finding %s %s lacks evidence: %+v", f.Rule, f.Evidence.Path, f.Evidence)
		}
	}
	golden(t, "linux-infected", r)
}

func TestCleanImageHasNothingOfMediumOrWorse(t *testing.T) {
	r := scan(t, "linux-clean.img")
	if len(r.Targets) != 1 {
		t.Fatalf("targets: %+v", r.Targets)
	}
	for _, f := range r.Findings {
		if f.Severity >= report.Medium {
			t.Errorf("clean image: %s %s %s:%d %s", f.Severity, f.Rule, f.Evidence.Path, f.Evidence.Line, f.Evidence.Match)
		}
	}
	if len(r.Inventory) < 30 {
		t.Errorf("inventory of a Debian host has only %d entries", len(r.Inventory))
	}
	// Its fstab names a /home volume the image does not have: said, not hidden.
	if !strings.Contains(r.Targets[0].Comment, "LABEL=home") {
		t.Errorf("missing fstab volume not reported: %q", r.Targets[0].Comment)
	}
}

// Every bundled image: each volume is either scanned or says why not, and
// an OS root is found where one was built.
func TestEveryBundledImageScans(t *testing.T) {
	for _, tc := range []struct {
		name      string
		scanned   int
		notReason string // substring of the reason of the volume not scanned
		os        string
	}{
		{"ext4-bare.img", 1, "", "linux"},
		{"gpt-efi-ext4.img", 1, "vfat", "linux"},
		{"mbr-disk.img", 2, "swap", "linux"},
		{"ntfs-windows.img", 1, "", ""},
		{"windows-infected.img", 1, "", "windows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, tc.name)
			scanned := 0
			for _, v := range r.Volumes {
				if v.Scanned {
					scanned++
				} else if tc.notReason == "" || !strings.Contains(v.Reason, tc.notReason) {
					t.Errorf("volume %s not scanned: %q", v.Name, v.Reason)
				}
			}
			if scanned != tc.scanned {
				t.Errorf("%d volumes scanned, want %d", scanned, tc.scanned)
			}
			var oses []string
			for _, tg := range r.Targets {
				oses = append(oses, tg.OS)
			}
			if got := strings.Join(oses, ","); got != tc.os {
				t.Errorf("targets %q, want %q", got, tc.os)
			}
		})
	}
}

// Bad images are reports with reasons, never panics, and never "clean".
func TestBadImagesAreReportedNotFatal(t *testing.T) {
	src, err := os.ReadFile(testimg.Path(t, "linux-infected.img"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mk := func(name string, f func([]byte) []byte) string {
		b := f(append([]byte(nil), src...))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o444); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zeroAt := func(off, n int) func([]byte) []byte {
		return func(b []byte) []byte {
			for i := off; i < off+n && i < len(b); i++ {
				b[i] = 0
			}
			return b
		}
	}
	part1 := 1 << 20 // make.sh aligns the first partition at 1 MiB
	cases := []struct {
		name    string
		path    string
		wantErr string // in an error or a volume reason
	}{
		{"missing", filepath.Join(dir, "nope.img"), "no such file"},
		{"empty", mk("empty.img", func([]byte) []byte { return nil }), "empty file"},
		{"truncated", mk("trunc.img", func(b []byte) []byte { return b[:len(b)/3] }), "truncated"},
		{"zeroed root superblock", mk("zsb.img", zeroAt(part1+1024, 1024)), "zsb.img@1: no known filesystem signature"},
		{"garbage table", mk("garbage.img", func(b []byte) []byte {
			for i := 0; i < 64<<10; i++ {
				b[i] = byte(i*7 + 3)
			}
			return b
		}), "no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ScanImage(context.Background(), tc.path, Options{Checks: checks()})
			report.Finalize(r)
			var msgs []string
			for _, e := range r.Errors {
				msgs = append(msgs, e.Error)
			}
			for _, v := range r.Volumes {
				msgs = append(msgs, v.Name+": "+v.Reason)
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tc.wantErr) {
				t.Errorf("errors and reasons do not mention %q:\n%s", tc.wantErr, all)
			}
			if report.Verdict(r) == "clean" {
				t.Errorf("a damaged image came out clean")
			}
		})
	}
}

// golden compares the findings (the part of a report that does not depend
// on when and where it ran) with testdata/<name>.golden.json.
func golden(t *testing.T, name string, r *report.Report) {
	t.Helper()
	type row struct {
		ID, Rule, Severity, Technique, Family, Volume, Path string
		Line                                                int
		SHA256                                              string
	}
	var rows []row
	for _, f := range r.Findings {
		rows = append(rows, row{f.ID, f.Rule, f.Severity.String(), f.Technique, f.Family, f.Evidence.Volume, f.Evidence.Path, f.Evidence.Line, f.Evidence.SHA256})
	}
	got, _ := json.MarshalIndent(rows, "", "  ")
	p := filepath.Join("testdata", name+".golden.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(p, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./scanner -update to create it)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("findings differ from %s (go test ./scanner -update, then review the diff):\n%s", p, firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  golden: %s\n  got:    %s", i+1, x, y)
		}
	}
	return ""
}
