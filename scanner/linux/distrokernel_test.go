package linux

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
)

// distroKernelCache holds Debian's cloud kernel package unpacked (1,100
// real modules): the benign twin of the kernel-module checks and of the LKM
// rootkit rules (signatures/yarascan reads the same directory).
const distroKernelCache = "/var/cache/snapscan-test/kernel-cloud"

func distroKernel(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(distroKernelCache, "lib/modules")); err == nil {
		return distroKernelCache
	}
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("no unpacked kernel package at " + distroKernelCache + " (built by this test as root without -short)")
	}
	dep, err := exec.Command("apt-cache", "depends", "linux-image-cloud-amd64").Output()
	if err != nil {
		t.Skipf("apt-cache: %v", err)
	}
	pkg := ""
	for _, l := range strings.Split(string(dep), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			pkg = f[1]
		}
	}
	if pkg == "" {
		t.Skip("apt knows no linux-image-cloud-amd64 (apt-get update first)")
	}
	tmp := t.TempDir()
	cmd := exec.Command("apt-get", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	partial := distroKernelCache + ".partial"
	os.RemoveAll(partial)
	if len(debs) != 1 {
		t.Skipf("downloaded %v", debs)
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], partial).CombinedOutput(); err != nil {
		t.Skipf("dpkg-deb -x: %v\n%s", err, out)
	}
	if err := os.Rename(partial, distroKernelCache); err != nil {
		t.Fatal(err)
	}
	return distroKernelCache
}

// TestDistroKernelModules: a real kernel package's modules, named in
// modules-load.d as a distribution does, give nothing of medium or worse,
// through the check and through the sweep's file hook.
func TestDistroKernelModules(t *testing.T) {
	dir := distroKernel(t)
	// The package ships no modules.dep (depmod writes it at install): the
	// test writes what depmod would list, in a copy of the tree's index only.
	vers, _ := filepath.Glob(filepath.Join(dir, "lib/modules/*"))
	if len(vers) != 1 {
		t.Fatalf("kernel versions: %v", vers)
	}
	var dep strings.Builder
	n := 0
	err := filepath.WalkDir(vers[0], func(p string, d fs.DirEntry, err error) error {
		if err == nil && isModuleName(d.Name()) {
			rel, _ := filepath.Rel(vers[0], p)
			dep.WriteString(rel + ":\n")
			n++
			head := make([]byte, 64)
			f, _ := os.Open(p)
			f.Read(head)
			f.Close()
			if !isModuleContent(head) {
				t.Errorf("%s: not recognised as a module", p)
			}
		}
		return err
	})
	if err != nil || n < 500 {
		t.Fatalf("%d modules (%v)", n, err)
	}
	root := t.TempDir()
	ver := filepath.Base(vers[0])
	mod := filepath.Join(root, "lib/modules", ver)
	os.MkdirAll(filepath.Join(root, "etc/modules-load.d"), 0o755)
	os.MkdirAll(mod, 0o755)
	os.WriteFile(filepath.Join(mod, "modules.dep"), []byte(dep.String()), 0o644)
	os.Symlink(filepath.Join(vers[0], "kernel"), filepath.Join(mod, "kernel"))
	os.WriteFile(filepath.Join(root, "etc/modules-load.d/cloud.conf"), []byte("vsock_loopback\nvmw_vsock_virtio_transport\naf-key\n"), 0o644)
	fsys, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s := runCheck(t, KernelModules{}, fsys)
	for _, f := range s.findings {
		t.Errorf("distribution kernel: %s %s %s", f.Evidence.Path, f.Rule, f.Severity)
	}
	// Without modules.dep the modules on disk are the index.
	os.Remove(filepath.Join(mod, "modules.dep"))
	os.Remove(filepath.Join(mod, "kernel"))
	// Hard links where the cache and the temp dir share a filesystem.
	if err := exec.Command("cp", "-al", filepath.Join(vers[0], "kernel"), mod).Run(); err != nil {
		os.RemoveAll(filepath.Join(mod, "kernel"))
		if out, err := exec.Command("cp", "-a", filepath.Join(vers[0], "kernel"), mod).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	os.WriteFile(filepath.Join(root, "etc/modules-load.d/rk.conf"), []byte("diamorphine\n"), 0o644)
	s = runCheck(t, KernelModules{}, fsys)
	if len(s.findings) != 1 || s.findings[0].Rule != "kmod.load-missing" || s.findings[0].Evidence.Path != "/etc/modules-load.d/rk.conf" {
		t.Errorf("without modules.dep: %s", s.dump())
	}
	kfs, err := dirfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	hf, _ := feedHook(t, kfs, NewFileHook(kfs, "kernel", "/"), "/")
	for _, f := range hf {
		if f.Severity >= report.Medium {
			t.Errorf("file hook on the kernel package: %s %s", f.Evidence.Path, f.Rule)
		}
	}
	t.Logf("%d modules of %s judged", n, ver)
}
