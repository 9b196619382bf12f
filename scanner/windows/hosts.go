package windows

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

const hostsFile = "Windows/System32/drivers/etc/hosts"

// Hosts reports hosts-file lines that name a mining pool: pinned to an
// address (miners do it so that DNS filtering does not stop them) or blocked.
type Hosts struct{}

func (Hosts) Name() string { return "hosts" }
func (Hosts) OS() string   { return "windows" }

func (c Hosts) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r, err := loadRules()
	if err != nil {
		return err
	}
	p, err := resolveFold(t.FS, hostsFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			out.Error("/"+hostsFile, fmt.Errorf("%s: %w", t.Volume, err))
		}
		return nil
	}
	f, err := check.ReadFile(t, p)
	if err != nil {
		out.Error("/"+p, fmt.Errorf("%s: %w", t.Volume, err))
		if f == nil {
			return nil
		}
	}
	info := r.placeInfo["hosts"]
	sc := bufio.NewScanner(bytes.NewReader(f.Data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		body := line
		if i := strings.IndexByte(body, '#'); i >= 0 {
			body = body[:i]
		}
		fields := strings.Fields(body)
		if len(fields) < 2 || net.ParseIP(fields[0]) == nil {
			continue
		}
		addr := net.ParseIP(fields[0])
		kind := "pinned"
		if addr.IsLoopback() || addr.IsUnspecified() {
			kind = "blocked"
		}
		hr, ok := r.hosts[kind]
		if !ok || hr.sev.none {
			continue
		}
		for _, name := range fields[1:] {
			pool := poolOf(name, r.pools)
			if pool == "" {
				continue
			}
			ev := f.Evidence
			ev.Line, ev.Match, ev.Key = n, line, name
			fd := report.Finding{
				Rule:          "hosts." + hr.rule,
				Check:         c.Name(),
				Title:         fmt.Sprintf("%s: %s at %s", hr.title, name, fields[0]),
				Severity:      hr.sev.Severity,
				Technique:     hr.technique,
				TechniqueName: r.techniques[hr.technique],
				Description:   fmt.Sprintf("Line %d of the hosts file points %s (pool %s) at %s.", n, name, pool, fields[0]),
				Evidence:      ev,
				Remediation:   strings.NewReplacer("{key}", fmt.Sprintf("%d (%s)", n, line), "{path}", ev.Path, "{name}", name, "{target}", name).Replace(info.remediation),
			}
			fd.ID = report.FindingID(&fd)
			out.Finding(fd)
		}
	}
	return nil
}
