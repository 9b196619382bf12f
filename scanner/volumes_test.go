package scanner

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// TestTruncatedFilesystemIsNotScanned: a copy shorter than the size its
// superblock (ext4) or boot sector (NTFS) states is reported truncated, its
// volume is not "scanned", and the report is incomplete; the whole image
// is neither.
func TestTruncatedFilesystemIsNotScanned(t *testing.T) {
	for _, tc := range []struct {
		image string
		keep  int64
		want  string
	}{
		{"ext4-bare.img", 2 << 20, "its ext4 filesystem claims 8.0 MiB (8388608 bytes), the image holds 2.0 MiB (2097152 bytes)"},
		{"ntfs-windows.img", 4 << 20, "its ntfs filesystem claims"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			src := testimg.Path(t, tc.image)
			whole := scan(t, tc.image)
			for _, v := range whole.Volumes {
				if v.Truncated || !v.Scanned {
					t.Fatalf("the whole image: volume %s truncated=%v scanned=%v (%s)", v.Name, v.Truncated, v.Scanned, v.Reason)
				}
			}
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "short.img")
			os.WriteFile(p, data[:tc.keep], 0o444)
			r := ScanImage(context.Background(), p, Options{Checks: checks(), Version: "test"})
			report.Finalize(r)
			if len(r.Volumes) != 1 {
				t.Fatalf("volumes: %+v", r.Volumes)
			}
			v := r.Volumes[0]
			if !v.Truncated || v.Scanned || !strings.Contains(v.Reason, tc.want) {
				t.Errorf("volume truncated=%v scanned=%v reason %q, want %q", v.Truncated, v.Scanned, v.Reason, tc.want)
			}
			if ok, why := report.Incomplete(r); !ok || !strings.Contains(why, "truncated") {
				t.Errorf("Incomplete = %v %q", ok, why)
			}
			if code := report.ExitCode(r, report.Policy{FailOn: report.Medium, FindingsCode: 1}); code != report.ExitIncomplete {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// TestRecoveryRecorded: every opened ext4 volume of the bundled images
// carries its recovery state (clean: they were unmounted cleanly).
func TestRecoveryRecorded(t *testing.T) {
	for _, name := range []string{"ext4-bare.img", "linux-infected.img", "mbr-disk.img"} {
		r := scan(t, name)
		for _, v := range r.Volumes {
			if !v.Scanned {
				continue
			}
			if v.Recovery == nil || v.Recovery.State != report.RecoveryClean {
				t.Errorf("%s %s (%s): recovery %+v, want clean", name, v.Name, v.Filesystem, v.Recovery)
			}
		}
	}
}

// TestHiveSink: hives the checks report land on their target, once each
// (case-insensitively), sorted, dirty winning over clean.
func TestHiveSink(t *testing.T) {
	r := &report.Report{Targets: []report.Target{{OS: "linux", Volume: "a"}, {OS: "windows", Volume: "b"}}}
	c := &collector{r: r, mu: &sync.Mutex{}}
	dirty := report.Recovery{State: report.RecoveryDirty, Reason: "no log"}
	cleanRec := report.Recovery{State: report.RecoveryClean}
	var wg sync.WaitGroup
	for i, h := range []report.HiveState{
		{Path: "/Windows/System32/config/SYSTEM", Recovery: cleanRec},
		{Path: "/Windows/System32/config/SOFTWARE", Recovery: cleanRec},
		{Path: "/windows/system32/config/system", Recovery: dirty},
		{Path: "/Windows/System32/config/SOFTWARE", Recovery: cleanRec},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check.ReportHive(c.forCheck("check"+string(rune('a'+i)), &check.Target{Volume: "b"}, 1), h)
		}()
	}
	wg.Wait()
	hs := r.Targets[1].Hives
	if len(hs) != 2 || len(r.Targets[0].Hives) != 0 {
		t.Fatalf("hives %+v", r.Targets)
	}
	if !strings.HasSuffix(hs[0].Path, "SOFTWARE") || hs[1].Recovery.State != report.RecoveryDirty {
		t.Errorf("hives %+v", hs)
	}
	if ok, why := report.Incomplete(r); !ok || !strings.Contains(why, "registry hive") {
		t.Errorf("a dirty hive: Incomplete = %v %q", ok, why)
	}
}

// TestTruncatedLogicalVolume: an LV whose extents lie past the end of a
// cut-short image is reported truncated, and the scan incomplete.
func TestTruncatedLogicalVolume(t *testing.T) {
	f, err := os.Open("../fsread/lvm/testdata/lvm1.img.gz")
	if err != nil {
		t.Skipf("LVM fixture absent: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "lvm-short.img")
	os.WriteFile(p, data[:4<<20], 0o444)
	r := ScanImage(context.Background(), p, Options{Checks: checks(), Version: "test"})
	report.Finalize(r)
	truncated := 0
	for _, v := range r.Volumes {
		if v.Truncated {
			truncated++
			if v.Scanned {
				t.Errorf("%s truncated and scanned", v.Name)
			}
		}
	}
	if truncated == 0 {
		t.Fatalf("no truncated volume: %+v", r.Volumes)
	}
	if ok, why := report.Incomplete(r); !ok || !strings.Contains(why, "truncated") {
		t.Errorf("Incomplete = %v %q", ok, why)
	}
}
