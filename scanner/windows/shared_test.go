package windows

import (
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/scanner/check"
)

// countingFS counts the opens of each path, to show that a hive several
// checks read is read once per target.
type countingFS struct {
	fsread.FS
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.FS.Open(name)
}

func TestHiveReadOncePerTarget(t *testing.T) {
	base := targetFor(t, stagedTree(t))
	cfs := &countingFS{FS: base.FS, opens: map[string]int{}}
	tg := &check.Target{FS: cfs, Volume: base.Volume, OS: base.OS}
	s := runAll(t, tg)
	if len(s.findings) == 0 {
		t.Fatal("no findings: the checks did not read the hives")
	}
	readers := 0
	for p, n := range cfs.opens {
		if strings.EqualFold(p, softwareHive) {
			readers++
			if n != 1 {
				t.Errorf("%s opened %d times by %d checks, want once", p, n, len(Checks()))
			}
		}
	}
	if readers == 0 {
		t.Errorf("SOFTWARE never opened (opens: %v)", cfs.opens)
	}
}
