package linux

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
)

// debootstrapCache is reused across runs: building it takes minutes and
// network, judging it well under a second.
const debootstrapCache = "/var/cache/snapscan-test/bookworm"

// TestDebootstrapBookworm judges a real Debian made by Debian's own tool:
// whatever its packages install must give nothing of medium or worse.
func TestDebootstrapBookworm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap creates device nodes and root-owned files")
	}
	if _, err := os.Stat(filepath.Join(debootstrapCache, "etc/os-release")); err != nil {
		if testing.Short() {
			t.Skip("-short: no cached debootstrap tree at " + debootstrapCache)
		}
		if _, err := exec.LookPath("debootstrap"); err != nil {
			t.Skip("debootstrap not installed")
		}
		partial := debootstrapCache + ".partial"
		os.RemoveAll(partial)
		if err := os.MkdirAll(filepath.Dir(debootstrapCache), 0o755); err != nil {
			t.Skip("cannot create the cache dir: ", err)
		}
		mirror := aptMirror()
		if mirror == "" {
			t.Skip("no Debian mirror configured in /etc/apt: nowhere to debootstrap from")
		}
		start := time.Now()
		out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", partial, mirror).CombinedOutput()
		if err != nil {
			os.RemoveAll(partial)
			t.Skipf("debootstrap failed (no network?): %v\n%s", err, tail(out))
		}
		if err := os.Rename(partial, debootstrapCache); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap took %s", time.Since(start).Round(time.Second))
	}
	fsys, err := dirfs.New(debootstrapCache)
	if err != nil {
		t.Fatal(err)
	}
	s := runAll(t, fsys)
	for _, f := range s.findings {
		if f.Severity >= report.Medium {
			t.Errorf("debootstrap bookworm: %s line %d %s %s: %s", f.Evidence.Path, f.Evidence.Line, f.Rule, f.Severity, f.Evidence.Match)
		}
	}
	kinds := map[string]int{}
	for _, i := range s.inv {
		kinds[i.Kind]++
	}
	// minbase has accounts, a few units and init scripts; an empty inventory
	// would mean the checks read nothing.
	if kinds["account"] < 15 || kinds["systemd"] == 0 {
		t.Errorf("inventory too small for a Debian tree: %v", kinds)
	}
	for _, e := range s.errs {
		t.Errorf("scan error: %s", e)
	}
	t.Logf("inventory %v, %d findings below medium", kinds, len(s.findings))
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// aptMirror is the Debian mirror this machine's apt already uses, so the
// test fetches from wherever the host is allowed to.
func aptMirror() string {
	if data, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "URIs:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					return f[0]
				}
			}
		}
	}
	if data, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && strings.HasPrefix(f[1], "http") {
				return f[1]
			}
		}
	}
	return ""
}
