package lvm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread/container"
	"github.com/snapscan/snapscan/internal/testimg"
)

// dfvfs's lvm.qcow2: a PV made by LVM 2.03.06 on Fedora, inside QCOW2, with
// one VG holding one linear LV with an ext2 filesystem. Its metadata area
// holds two copies (seqno 1: vgcreate, seqno 2: lvcreate).
func openExternal(t *testing.T) (*VG, string) {
	t.Helper()
	path := testimg.External(t, "images/dfvfs/lvm.qcow2")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	d, err := container.Open(f, st.Size(), container.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vg, err := Open(d.ReaderAt, d.Size)
	if err != nil {
		t.Fatal(err)
	}
	return vg, path
}

func TestExternalListing(t *testing.T) {
	vg, path := openExternal(t)
	listing, err := os.ReadFile(filepath.Join(filepath.Dir(path), "LISTING.txt"))
	if err != nil {
		t.Skipf("no LISTING.txt beside %s: %v", path, err)
	}
	m := regexp.MustCompile(`(?m)^=== lvm\.qcow2 .*\n.*LVM2 PV .*UUID: ([-A-Za-z0-9]+), size: (\d+)`).FindSubmatch(listing)
	if m == nil {
		t.Fatal("LISTING.txt has no LVM2 PV line for lvm.qcow2")
	}
	size, _ := strconv.ParseInt(string(m[2]), 10, 64)
	if len(vg.PVs) != 1 || vg.PVs[0].UUID != string(m[1]) || vg.PVs[0].DevSize != size || !vg.PVs[0].Present {
		t.Errorf("PVs %+v, LISTING.txt says UUID %s size %d", vg.PVs, m[1], size)
	}
	t.Logf("VG %s seqno %d, LVs %d, notes %q", vg.Name, vg.Seqno, len(vg.LVs), vg.Notes)
	if vg.Seqno != 2 {
		t.Errorf("seqno %d: the committed copy is the second one", vg.Seqno)
	}
	if len(vg.LVs) != 1 || !vg.LVs[0].Supported {
		t.Fatalf("LVs %+v, want one readable LV", vg.LVs)
	}
	// The LV holds the ext2 filesystem dfvfs describes: its superblock magic
	// and the ext2_test volume name.
	sb := make([]byte, 1024)
	if _, err := vg.LVs[0].ReaderAt.ReadAt(sb, 1024); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(sb[56:]) != 0xEF53 || !bytes.HasPrefix(sb[120:], []byte("ext2_test")) {
		t.Errorf("LV does not start with the ext2_test filesystem (magic %#x, label %q)", binary.LittleEndian.Uint16(sb[56:]), sb[120:136])
	}
}

// The same image converted to raw by qemu-img and attached read-only: what
// LVM's own pvs/lvs say about it must match.
func TestExternalAgainstLVMTools(t *testing.T) {
	vg, path := openExternal(t)
	needRootAndTools(t, "lvm", "losetup", "qemu-img")
	raw := filepath.Join(t.TempDir(), "lvm.raw")
	if out, err := exec.Command("qemu-img", "convert", "-O", "raw", path, raw).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	out, err := exec.Command("losetup", "-f", "-r", "--show", raw).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	lvmJSON := func(args ...string) []map[string]string {
		t.Helper()
		full := append([]string{args[0], "--readonly", "--driverloaded", "n", "--devices", dev,
			"--config", "backup{backup=0 archive=0}", "--units", "b", "--nosuffix", "--reportformat", "json"}, args[1:]...)
		cmd := exec.Command("lvm", full...)
		cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("lvm %v: %v", full, err)
		}
		var r struct {
			Report []map[string][]map[string]string `json:"report"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Report) == 0 {
			t.Fatalf("lvm %v: %v\n%s", full, err, b)
		}
		for _, rows := range r.Report[0] {
			return rows
		}
		return nil
	}
	pvs := lvmJSON("pvs", "-o", "pv_uuid,vg_name,vg_uuid,vg_extent_size,vg_seqno,dev_size,pe_start")
	lvs := lvmJSON("lvs", "-a", "-o", "lv_name,lv_uuid,lv_size,segtype")
	if len(pvs) != 1 {
		t.Fatalf("pvs: %v", pvs)
	}
	p := pvs[0]
	for _, c := range [][2]string{
		{p["pv_uuid"], vg.PVs[0].UUID}, {p["vg_name"], vg.Name}, {p["vg_uuid"], vg.UUID},
		{p["vg_extent_size"], strconv.FormatInt(vg.ExtentSize, 10)}, {p["vg_seqno"], strconv.Itoa(vg.Seqno)},
		{p["dev_size"], strconv.FormatInt(vg.PVs[0].DevSize, 10)}, {p["pe_start"], strconv.FormatInt(vg.PVs[0].PEStart, 10)},
	} {
		if c[0] != c[1] {
			t.Errorf("pvs says %q, we read %q (pvs row %v)", c[0], c[1], p)
		}
	}
	if len(lvs) != len(vg.LVs) {
		t.Fatalf("lvs lists %d LVs, we %d", len(lvs), len(vg.LVs))
	}
	for i, l := range lvs {
		got := vg.LVs[i]
		if l["lv_name"] != got.Name || l["lv_uuid"] != got.UUID || l["lv_size"] != strconv.FormatInt(got.Size, 10) {
			t.Errorf("lvs row %v, we read %s %s %d", l, got.Name, got.UUID, got.Size)
		}
	}
	t.Logf("pvs %v; lvs %v", pvs, lvs)
}
