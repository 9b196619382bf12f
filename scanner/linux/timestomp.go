package linux

import (
	"context"
	"fmt"
	"time"

	"github.com/snapscan/snapscan/scanner/check"
)

// Timestomp reports persistence files whose birth time is later than their
// modification time, as touch -r (or copying a timestamp) leaves them on
// ext4 and XFS. Package-installed files look the same (dpkg keeps the
// packaged mtime), so files a dpkg list names are left out, and what is
// left is low evidence.
type Timestomp struct{}

func (Timestomp) Name() string { return "timestomp" }
func (Timestomp) OS() string   { return "linux" }

// stompSlack absorbs clock granularity between inode creation and the
// first write.
const stompSlack = time.Minute

func (c Timestomp) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	var owned func(string) bool
	loaded := false
	for _, fp := range r.expandGlobs(p.list("timestomp", "path")) {
		m, ok := r.lstat(fp)
		if !ok || !m.Mode.IsRegular() || m.Btime.IsZero() || m.Mtime.IsZero() || !m.Btime.After(m.Mtime.Add(stompSlack)) {
			continue
		}
		if !loaded {
			loaded = true
			owned = r.dpkgOwned(p.list("common", "dpkg-info")[0])
		}
		if owned != nil && owned(fp) {
			continue
		}
		r.emit("timestomp.birth-after-mtime", r.metaEvidence(fp, m), fmt.Sprintf("%s was created %s but claims to have been modified %s, %s earlier.", fp,
			m.Btime.UTC().Format(time.RFC3339), m.Mtime.UTC().Format(time.RFC3339), m.Btime.Sub(m.Mtime).Round(time.Second)))
	}
	return ctx.Err()
}
