package yarascan

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The LKM rootkit rules' benign twin: every module of Debian's cloud kernel
// package, unpacked by scanner/linux's TestDistroKernelModules, matches no
// embedded rule at all.
func TestDistroModulesMatchNoRule(t *testing.T) {
	const dir = "/var/cache/snapscan-test/kernel-cloud/lib/modules"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no unpacked kernel package at " + dir + " (go test ./scanner/linux -run DistroKernel as root creates it)")
	}
	r := compileEmbedded(t)
	sc, err := r.NewScanner(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".ko") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		ms, err := sc.Scan(data, Vars{Filename: d.Name(), Filepath: filepath.Dir(p), Extension: ".ko", Filetype: Filetype(data)})
		if err != nil {
			return err
		}
		if len(ms) > 0 {
			t.Errorf("%s matches %v", p, names(ms))
		}
		return nil
	})
	if err != nil || n < 500 {
		t.Fatalf("%d modules scanned (%v)", n, err)
	}
	t.Logf("%d distribution modules, no match", n)
}
