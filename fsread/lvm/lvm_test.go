package lvm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// report is what testdata/mklvm.sh saves from lvs/pvs/vgs: LVM's own view of
// the layout, independent of this package.
type report struct {
	LVs []struct {
		Name     string `json:"lv_name"`
		Attr     string `json:"lv_attr"`
		Size     string `json:"lv_size"`
		Segtype  string `json:"segtype"`
		SegStart string `json:"seg_start_pe"`
		SegSize  string `json:"seg_size_pe"`
		Ranges   string `json:"seg_pe_ranges"`
		Stripes  string `json:"stripes"`
		StripeSz string `json:"stripe_size"`
	} `json:"lvs"`
	PVs []struct {
		Name    string `json:"pv_name"`
		UUID    string `json:"pv_uuid"`
		PEStart string `json:"pe_start"`
	} `json:"pvs"`
	VG struct {
		Name       string `json:"vg_name"`
		UUID       string `json:"vg_uuid"`
		ExtentSize string `json:"vg_extent_size"`
		Seqno      string `json:"vg_seqno"`
	} `json:"vg"`
}

type expectFS struct {
	lv     string
	length int64
	sha256 string
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("report value %q: %v", s, err)
	}
	return v
}

func loadReport(t *testing.T, reportPath, expectPath string) (*report, []expectFS) {
	t.Helper()
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", reportPath, err)
	}
	f, err := os.Open(expectPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exp []expectFS
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 3 {
			t.Fatalf("%s: bad line %q", expectPath, sc.Text())
		}
		exp = append(exp, expectFS{c[0], atoi(t, c[1]), c[2]})
	}
	if len(exp) == 0 {
		t.Fatalf("%s: no filesystems expected", expectPath)
	}
	return &rep, exp
}

// checkAgainstReport compares the VG read from the images with LVM's report,
// and every filesystem written per that report with what the LV reader returns.
// present lists the device names (as in the report) whose images were given.
func checkAgainstReport(t *testing.T, vg *VG, rep *report, exp []expectFS, present []string) {
	t.Helper()
	if vg.Name != rep.VG.Name || vg.UUID != rep.VG.UUID {
		t.Errorf("VG %s %s, LVM says %s %s", vg.Name, vg.UUID, rep.VG.Name, rep.VG.UUID)
	}
	if vg.ExtentSize != atoi(t, rep.VG.ExtentSize) || int64(vg.Seqno) != atoi(t, rep.VG.Seqno) {
		t.Errorf("extent size %d seqno %d, LVM says %s %s", vg.ExtentSize, vg.Seqno, rep.VG.ExtentSize, rep.VG.Seqno)
	}
	devUUID := map[string]string{}
	pvByUUID := map[string]PV{}
	for _, p := range vg.PVs {
		pvByUUID[p.UUID] = p
	}
	for _, p := range rep.PVs {
		devUUID[p.Name] = p.UUID
		pv, ok := pvByUUID[p.UUID]
		if !ok {
			t.Errorf("PV %s (%s) missing", p.UUID, p.Name)
			continue
		}
		if pv.PEStart != atoi(t, p.PEStart) {
			t.Errorf("PV %s pe_start %d, LVM says %s", p.UUID, pv.PEStart, p.PEStart)
		}
		if want := slices.Contains(present, p.Name); pv.Present != want {
			t.Errorf("PV %s Present=%v, want %v", p.UUID, pv.Present, want)
		}
	}
	if len(vg.PVs) != len(rep.PVs) {
		t.Errorf("%d PVs, LVM reports %d", len(vg.PVs), len(rep.PVs))
	}

	lvs := map[string]*LV{}
	for i := range vg.LVs {
		lvs[vg.LVs[i].Name] = &vg.LVs[i]
	}
	seen := map[string]int{}
	for _, r := range rep.LVs {
		if strings.HasPrefix(r.Name, "[") { // hidden: LVM brackets internal LVs
			if _, ok := lvs[strings.Trim(r.Name, "[]")]; ok {
				t.Errorf("internal LV %s listed as a volume", r.Name)
			}
			continue
		}
		lv := lvs[r.Name]
		if lv == nil {
			t.Errorf("LV %s (%s) not found", r.Name, r.Segtype)
			continue
		}
		if lv.Size != atoi(t, r.Size) {
			t.Errorf("LV %s size %d, LVM says %s", r.Name, lv.Size, r.Size)
		}
		i := seen[r.Name]
		seen[r.Name]++
		if i >= len(lv.Segments) {
			t.Errorf("LV %s: %d segments, LVM reports more", r.Name, len(lv.Segments))
			continue
		}
		seg := lv.Segments[i]
		if seg.StartExtent != atoi(t, r.SegStart) || seg.ExtentCount != atoi(t, r.SegSize) {
			t.Errorf("LV %s segment %d: extents %d+%d, LVM says %s+%s", r.Name, i, seg.StartExtent, seg.ExtentCount, r.SegStart, r.SegSize)
		}
		linearish := r.Segtype == "linear" || r.Segtype == "striped"
		if linearish {
			if seg.StripeSize != atoi(t, r.StripeSz) {
				t.Errorf("LV %s segment %d: stripe size %d, LVM says %s", r.Name, i, seg.StripeSize, r.StripeSz)
			}
			ranges := strings.Fields(r.Ranges)
			if len(ranges) != len(seg.Stripes) {
				t.Errorf("LV %s segment %d: %d stripes, LVM says %q", r.Name, i, len(seg.Stripes), r.Ranges)
			}
			for k, rg := range ranges[:min(len(ranges), len(seg.Stripes))] {
				dev, pe, _ := strings.Cut(rg, ":")
				first, _, _ := strings.Cut(pe, "-")
				pv := findPV(vg, seg.Stripes[k].PV)
				if pv == nil || pv.UUID != devUUID[dev] || seg.Stripes[k].StartExtent != atoi(t, first) {
					t.Errorf("LV %s segment %d stripe %d: %+v, LVM says %s", r.Name, i, k, seg.Stripes[k], rg)
				}
			}
		}
		// Readable exactly when every segment is linear/striped on present
		// PVs and the LV is not a snapshot's copy-on-write store (attr 's').
		want := linearish && r.Attr[0] != 's'
		for _, rg := range strings.Fields(r.Ranges) {
			dev, _, _ := strings.Cut(rg, ":")
			if !slices.Contains(present, dev) {
				want = false
			}
		}
		if !want && lv.Supported {
			t.Errorf("LV %s (%s, attr %s, on %s) claims to be readable", r.Name, r.Segtype, r.Attr, r.Ranges)
		}
		if want && seen[r.Name] == 1 && !lv.Supported && !strings.HasPrefix(lv.Reason, "missing PV") {
			t.Errorf("LV %s (%s) unsupported: %s", r.Name, r.Segtype, lv.Reason)
		}
		if !lv.Supported && (lv.Reason == "" || lv.ReaderAt != nil) {
			t.Errorf("LV %s unsupported with reason %q and reader %v", r.Name, lv.Reason, lv.ReaderAt)
		}
	}
	for name, lv := range lvs {
		if seen[name] != len(lv.Segments) {
			t.Errorf("LV %s: %d segments, LVM reports %d", name, len(lv.Segments), seen[name])
		}
	}

	for _, e := range exp {
		lv := lvs[e.lv]
		if lv == nil || !lv.Supported {
			continue // checked above against the report
		}
		got := sha256.New()
		if _, err := io.Copy(got, io.NewSectionReader(lv.ReaderAt, 0, e.length)); err != nil {
			t.Errorf("LV %s: %v", e.lv, err)
			continue
		}
		if h := hex.EncodeToString(got.Sum(nil)); h != e.sha256 {
			t.Errorf("LV %s: first %d bytes hash %s, the filesystem written there %s", e.lv, e.length, h, e.sha256)
		}
		// The os-release written into the tree is in there somewhere.
		buf := make([]byte, e.length)
		if _, err := lv.ReaderAt.ReadAt(buf, 0); err != nil {
			t.Errorf("LV %s: %v", e.lv, err)
		} else if !bytes.Contains(buf, []byte("ID="+e.lv+"\n")) {
			t.Errorf("LV %s: os-release content not found", e.lv)
		}
		if n, err := lv.ReaderAt.ReadAt(make([]byte, 10), lv.Size-4); n != 4 || err != io.EOF {
			t.Errorf("LV %s: read across the end gave %d, %v; want 4, EOF", e.lv, n, err)
		}
	}
}

func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.LimitReader(z, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The committed image was made by testdata/mklvm.sh (NPV=1); its report and
// filesystem hashes were saved beside it at the same time.
func TestCommittedImage(t *testing.T) {
	img := gunzip(t, "testdata/lvm1.img.gz")
	rep, exp := loadReport(t, "testdata/lvm1.report.json", "testdata/lvm1.expect.tsv")
	vg, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstReport(t, vg, rep, exp, []string{rep.PVs[0].Name})
	reasons := map[string]string{}
	for _, lv := range vg.LVs {
		reasons[lv.Name] = lv.Reason
	}
	for lv, want := range map[string]string{
		"root":  "",
		"data":  "",
		"pool":  "thin pool: not supported",
		"thin1": "thin volume: not supported",
		"r1":    "raid1: not supported",
		"snap":  "snapshot of root: not supported (this is its copy-on-write store)",
	} {
		if got, ok := reasons[lv]; !ok || got != want {
			t.Errorf("LV %s: reason %q (listed %v), want %q", lv, got, ok, want)
		}
	}
	// mklvm.sh created "gap" and removed it again; the older copies in the
	// metadata ring still show it.
	if notes := strings.Join(vg.Notes, "\n"); !strings.Contains(notes, "LV gap is in an older copy") || strings.Count(notes, "older copy") != 1 {
		t.Errorf("notes %q: want exactly the removed LV gap", vg.Notes)
	}
	if len(vg.LVs) != 6 {
		t.Errorf("%d LVs listed, want the 6 visible ones", len(vg.LVs))
	}
}

// vgcfgbackup writes the same metadata in its commented, indented form; both
// must parse to the same VG.
func TestBackupFileMatchesOnDisk(t *testing.T) {
	img := gunzip(t, "testdata/lvm1.img.gz")
	disk, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("testdata/lvm1.meta.txt")
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeVGText(text)
	if err != nil {
		t.Fatal(err)
	}
	pd := &pvDisk{Disk: Disk{bytes.NewReader(img), int64(len(img))}, label: &pvLabel{UUID: disk.PVs[0].UUID}}
	backup, err := build(m.root, m.vgKey, []*pvDisk{pd})
	if err != nil {
		t.Fatal(err)
	}
	strip := func(vg *VG) string {
		for i := range vg.LVs {
			vg.LVs[i].ReaderAt = nil
		}
		vg.Notes = nil // the backup file has no history
		return fmt.Sprintf("%+v", *vg)
	}
	if a, b := strip(disk), strip(backup); a != b {
		t.Errorf("on disk:\n%s\nbackup file:\n%s", a, b)
	}
}

func TestConcurrentReads(t *testing.T) {
	img := gunzip(t, "testdata/lvm1.img.gz")
	_, exp := loadReport(t, "testdata/lvm1.report.json", "testdata/lvm1.expect.tsv")
	vg, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	lvs := map[string]*LV{}
	for i := range vg.LVs {
		lvs[vg.LVs[i].Name] = &vg.LVs[i]
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		e := exp[g%len(exp)]
		wg.Go(func() {
			h := sha256.New()
			// Odd-sized reads cross segment boundaries at varying places.
			if _, err := io.CopyBuffer(h, io.NewSectionReader(lvs[e.lv].ReaderAt, 0, e.length), make([]byte, 4093+g*517)); err != nil {
				t.Error(err)
				return
			}
			if hex.EncodeToString(h.Sum(nil)) != e.sha256 {
				t.Errorf("goroutine %d: LV %s differs", g, e.lv)
			}
		})
	}
	wg.Wait()
}

func needRootAndTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop devices and LVM tools")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// TestLVMTools builds fresh VGs with the real LVM tools (testdata/mklvm.sh),
// including a striped LV and one spanning two PVs, and reads every LV back.
func TestLVMTools(t *testing.T) {
	needRootAndTools(t, "lvm", "losetup", "mke2fs", "jq", "dd")
	for _, npv := range []int{1, 2} {
		t.Run(fmt.Sprintf("%dpv", npv), func(t *testing.T) {
			dir := t.TempDir()
			vgName := fmt.Sprintf("snapscan_lvmtest_%d_%d", os.Getpid(), npv)
			cmd := exec.Command("bash", "testdata/mklvm.sh", dir, vgName, strconv.Itoa(npv))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			// The script removes its VG and loop devices itself (trap on exit).
			if err := cmd.Run(); err != nil {
				t.Fatalf("mklvm.sh: %v\n%s", err, stderr.String())
			}
			rep, exp := loadReport(t, filepath.Join(dir, "report.json"), filepath.Join(dir, "expect.tsv"))
			devOf := map[string]string{} // image file -> loop device named in the report
			tsv, err := os.ReadFile(filepath.Join(dir, "devices.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(tsv)), "\n") {
				file, dev, _ := strings.Cut(line, "\t")
				devOf[file] = dev
			}
			var disks []Disk
			var devs []string
			for i := 0; i < npv; i++ {
				name := fmt.Sprintf("pv%d.img", i)
				f, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				st, _ := f.Stat()
				disks = append(disks, Disk{f, st.Size()})
				devs = append(devs, devOf[name])
			}
			vg, err := OpenDisks(disks...)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstReport(t, vg, rep, exp, devs)
			if npv == 2 {
				// Only the first image: LVs touching the second PV are missing it.
				vg1, err := Open(disks[0].ReaderAt, disks[0].Size)
				if err != nil {
					t.Fatal(err)
				}
				checkAgainstReport(t, vg1, rep, exp, devs[:1])
				// pv1 has no metadata area: alone it names no VG; given first,
				// pv0's metadata describes it.
				if _, err := Open(disks[1].ReaderAt, disks[1].Size); err == nil || !strings.Contains(err.Error(), "no metadata area") {
					t.Errorf("pv1 alone: %v, want a no-metadata error", err)
				}
				vg2, err := OpenDisks(disks[1], disks[0])
				if err != nil {
					t.Fatal(err)
				}
				checkAgainstReport(t, vg2, rep, exp, devs)
				for _, lv := range vg1.LVs {
					wantMissing := lv.Name == "stripe" || lv.Name == "span"
					if got := lv.Reason == "missing PV "+vg.PVs[1].UUID; got != wantMissing {
						t.Errorf("LV %s with pv1 absent: reason %q", lv.Name, lv.Reason)
					}
				}
			}
		})
	}
}
