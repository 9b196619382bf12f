package windows

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/internal/testimg"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// scanNTFS runs every Windows check on a bare NTFS image.
func scanNTFS(t *testing.T, path string) *memSink {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fsys, err := ntfs.New(f, 0, "windows-infected.img")
	if err != nil {
		t.Fatal(err)
	}
	if !IsRoot(fsys) {
		t.Skipf("%s holds no Windows/System32/config/SOFTWARE: it predates src/windows-infected.pre.sh; rebuild it with testdata/images/make.sh windows-infected.img", path)
	}
	s := newSink()
	tg := &check.Target{FS: fsys, Volume: "test", OS: "windows"}
	for _, c := range Checks() {
		if err := c.Run(context.Background(), tg, s); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
	}
	return s
}

// verdicts reduces findings to what must not depend on the filesystem.
func verdicts(s *memSink) []string {
	var out []string
	for _, f := range s.findings {
		out = append(out, strings.Join([]string{f.Rule, f.Severity.String(), f.Technique, f.Evidence.Path, f.Evidence.Key, f.Evidence.Match, f.Evidence.SHA256}, " | "))
	}
	sort.Strings(out)
	return out
}

// TestNTFSImage scans windows-infected.img, the planted tree made into NTFS
// by mkntfs and ntfs-3g, through our NTFS reader. The verdicts, evidence keys
// and content hashes must be exactly those of the same tree read from a host
// directory, and the scan must leave the image unchanged.
func TestNTFSImage(t *testing.T) {
	img := testimg.Path(t, "windows-infected.img")
	got := scanNTFS(t, img)
	testimg.Unchanged(t, img)
	want := runAll(t, targetFor(t, stagedTree(t)))
	if len(got.errors) != 0 {
		t.Errorf("errors reading the NTFS image: %v", got.errors)
	}
	g, w := verdicts(got), verdicts(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("NTFS and directory scans differ:\nNTFS:\n%s\ndir:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	if len(got.inventory) != len(want.inventory) {
		t.Errorf("inventory: %d items on NTFS, %d from the directory", len(got.inventory), len(want.inventory))
	}
	for _, f := range got.findings {
		if f.Severity >= report.Medium && (f.Evidence.Inode == 0 || f.Evidence.Mtime == nil) {
			t.Errorf("%s: NTFS evidence lacks MFT entry or times: %+v", f.Rule, f.Evidence)
		}
	}
}
