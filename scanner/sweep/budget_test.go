package sweep

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
)

// inFlightFS tracks the bytes of the files open at once.
type inFlightFS struct {
	fsread.FS
	mu       sync.Mutex
	now, max int64
	opens    int
}

func (c *inFlightFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return f, err
	}
	c.mu.Lock()
	c.opens++
	c.now += st.Size()
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	return &inFlightFile{File: f, c: c, size: st.Size()}, nil
}

type inFlightFile struct {
	fs.File
	c    *inFlightFS
	size int64
}

func (f *inFlightFile) Close() error {
	f.c.mu.Lock()
	f.c.now -= f.size
	f.c.mu.Unlock()
	return f.File.Close()
}

// With a memory budget the workers hold at most that much file content at
// once, whatever their number; a file bigger than the budget is skipped with
// the reason, and the rest are all swept.
func TestSweepMemoryBudget(t *testing.T) {
	root := t.TempDir()
	const small, budget = 600 << 10, 1 << 20
	for i := 0; i < 12; i++ {
		write(t, filepath.Join(root, fmt.Sprintf("f%02d", i)), strings.Repeat("x", small))
	}
	write(t, filepath.Join(root, "big"), strings.Repeat("y", 3<<20))
	cases := []struct {
		name      string
		maxMemory int64
		wantFiles int64
		maxHeld   int64
		skipped   string
	}{
		{"budget of one small file", budget, 12, budget, "/big"},
		{"no budget: workers × max file size", 0, 13, 4 * (3 << 20), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dirfs.New(root)
			if err != nil {
				t.Fatal(err)
			}
			fsys := &inFlightFS{FS: d}
			res := runFS(t, fsys, Options{Workers: 4, MaxMemory: tc.maxMemory})
			if res.Stats.Files != tc.wantFiles {
				t.Errorf("%d files swept, want %d", res.Stats.Files, tc.wantFiles)
			}
			if fsys.max > tc.maxHeld {
				t.Errorf("%d bytes of files open at once, want at most %d", fsys.max, tc.maxHeld)
			}
			if tc.skipped != "" {
				if len(res.Skipped) != 1 || res.Skipped[0].Path != tc.skipped || !strings.Contains(res.Skipped[0].Reason, "--max-memory") {
					t.Fatalf("skipped %+v, want %s skipped for the memory budget", res.Skipped, tc.skipped)
				}
			} else if len(res.Skipped) != 0 {
				t.Errorf("skipped %+v, want none", res.Skipped)
			}
			t.Logf("at most %d KiB open at once", fsys.max>>10)
		})
	}
}

// Hard links are one read: later names are listed as links of the first
// (up to maxLinksListed) and counted.
func TestSweepHardLinksReadOnce(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a/first"), minerConfig)
	const links = maxLinksListed + 20
	if err := os.Mkdir(filepath.Join(root, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < links; i++ {
		if err := os.Link(filepath.Join(root, "a/first"), filepath.Join(root, fmt.Sprintf("b/%04d", i))); err != nil {
			t.Skipf("no hard links here: %v", err)
		}
	}
	// One more name, that a file-name indicator knows: matched without a read.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "a/first"), filepath.Join(root, "etc/upat.sh")); err != nil {
		t.Fatal(err)
	}
	d, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	fsys := &inFlightFS{FS: d}
	res := runFS(t, fsys, Options{Rules: embeddedRules(t), IOCs: embeddedIOCs(t)})
	if fsys.opens != 1 || res.Stats.Files != 1 || res.Stats.Links != links+1 {
		t.Fatalf("%d opens, %d files swept, %d links counted; want 1, 1, %d", fsys.opens, res.Stats.Files, res.Stats.Links, links+1)
	}
	if len(res.Skipped) != maxLinksListed || !strings.Contains(res.Skipped[0].Reason, "hard link of /a/first") {
		t.Fatalf("%d listed, first %+v; want %d naming /a/first", len(res.Skipped), res.Skipped[0], maxLinksListed)
	}
	got := byPath(res)
	if len(got) != 2 || got["/a/first"].Check != CheckName || got["/etc/upat.sh"].Rule != "ioc.filename" {
		t.Fatalf("findings %+v, want the content's on /a/first and a file-name IOC on /etc/upat.sh", res.Findings)
	}
}
