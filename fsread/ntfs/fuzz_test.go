package ntfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/fuzzcheck"
)

// The fuzz seeds come from a 2 MiB mkntfs volume made once per process (no
// root needed: ntfscp writes into the image file), so no binary image is
// committed; the one committed seed is 8 KiB of a Windows $LogFile.

// tinyFiles are copied into the tiny image by ntfscp.
var tinyFiles = map[string][]byte{"hosts": hostsData, "Run Key.txt": []byte("x.exe\n"), unicodeName: randBytes(9, 3000)}

var (
	tinyOnce sync.Once
	tinyImg  []byte
	tinyErr  error
)

func tinyImage(t testing.TB) []byte {
	t.Helper()
	needTool(t, "mkntfs", "ntfscp")
	tinyOnce.Do(func() {
		p := filepath.Join(workDir, "tiny.img")
		if tinyErr = os.WriteFile(p, make([]byte, 2<<20), 0o644); tinyErr != nil {
			return
		}
		if tinyErr = run("mkntfs", "-F", "-f", "-Q", "-c", "512", "-L", "Tiny", p); tinyErr != nil {
			return
		}
		for name, data := range tinyFiles {
			src := filepath.Join(workDir, "src-"+strings.ReplaceAll(name, " ", "_"))
			if tinyErr = os.WriteFile(src, data, 0o644); tinyErr != nil {
				return
			}
			if tinyErr = run("ntfscp", "-f", p, src, name); tinyErr != nil {
				return
			}
		}
		tinyImg, tinyErr = os.ReadFile(p)
	})
	if tinyErr != nil {
		t.Fatalf("building the tiny image: %v", tinyErr)
	}
	return tinyImg
}

// TestTinyImage needs no root: mkntfs and ntfscp write the image file.
func TestTinyImage(t *testing.T) {
	fsys, err := New(bytes.NewReader(tinyImage(t)), 0, "tiny.img")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range tinyFiles {
		for _, spelling := range []string{name, strings.ToUpper(name), strings.ToLower(name)} {
			got, err := fs.ReadFile(fsys, spelling)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%q: %d bytes, want %d (%v)", spelling, len(got), len(want), err)
			}
		}
	}
	ents, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var user int
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "$") {
			user++
		}
	}
	if user != len(tinyFiles) {
		t.Errorf("%d non-metafile entries in the root, want %d", user, len(tinyFiles))
	}
}

// The structure-aware targets below lay the fuzzer's bytes over one
// structure of the tiny image, in memory (no copy of the image per input),
// redoing the update-sequence fix-ups so the record passes them and the
// parsers behind them are reached. Each input is checked by checkVolume.

// FuzzNew mutates the boot sector and the clusters before the $MFT.
func FuzzNew(f *testing.F) {
	fx := fixtureOf(f)
	f.Add(bytes.Clone(fx.img[:512]))
	f.Add(bytes.Clone(fx.img[:fx.mftOff]))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkVolume(t, fuzzcheck.NewOverlay(fx.img, fuzzcheck.Patch{Off: 0, Data: data[:min(len(data), int(fx.mftOff))]}))
	})
}

// FuzzMFTRecord replaces one of the first MFT records ($MFT, $LogFile,
// $Volume, the root, $UpCase, the user files) with a mutated one: the
// fuzzer sees the record with its fix-ups applied, and they are redone.
func FuzzMFTRecord(f *testing.F) {
	fx := fixtureOf(f)
	for _, n := range []int{0, mftLogFile, mftVolume, mftRoot, mftUpCase, fx.firstUser, fx.firstUser + 1, fx.firstUser + 2} {
		f.Add(uint8(n), fx.logical(fx.recordOff(n), fx.bt.recordSize))
	}
	f.Fuzz(func(t *testing.T, which uint8, rec []byte) {
		n := int(which) % fx.records
		off := fx.recordOff(n)
		checkVolume(t, fuzzcheck.NewOverlay(fx.img, fuzzcheck.Patch{Off: off, Data: fx.protected(off, fx.bt.recordSize, rec)}))
	})
}

// FuzzIndexRecord replaces an INDX block of the root directory's index.
func FuzzIndexRecord(f *testing.F) {
	fx := fixtureOf(f)
	for i, off := range fx.indx {
		f.Add(uint8(i), fx.logical(off, fx.bt.indexSize))
	}
	f.Fuzz(func(t *testing.T, which uint8, blk []byte) {
		off := fx.indx[int(which)%len(fx.indx)]
		checkVolume(t, fuzzcheck.NewOverlay(fx.img, fuzzcheck.Patch{Off: off, Data: fx.protected(off, fx.bt.indexSize, blk)}))
	})
}

// FuzzLogFile replaces $LogFile's two restart pages (4 KiB each, fix-ups
// redone) and checks the recovery verdict: clean only when a restart page
// says the log is closed, or the log is empty.
func FuzzLogFile(f *testing.F) {
	fx := fixtureOf(f)
	win := windowsRestart(f)
	f.Add(win)
	f.Add(restartWith(win, 0, 0))             // client in use, clean flag cleared: dirty
	f.Add(bytes.Repeat([]byte{0xFF}, 2*4096)) // empty, as mkntfs leaves it
	f.Fuzz(func(t *testing.T, pages []byte) {
		pages = pages[:min(len(pages), 2*4096)]
		var patch []byte
		for p := 0; p < len(pages); p += 4096 {
			patch = append(patch, fx.protected(fx.logOff+int64(p), 4096, pages[p:min(p+4096, len(pages))])...)
		}
		img := fuzzcheck.NewOverlay(fx.img, fuzzcheck.Patch{Off: fx.logOff, Data: patch})
		rec := checkRecovery(t, img)
		if rec.State == fsread.RecoveryNone && !closedLog(img.Bytes()[fx.logOff:fx.logOff+2*4096]) {
			t.Fatalf("clean verdict but no restart page says the log is closed: %+v", rec)
		}
	})
}

// closedLog is the test's own reading of the two restart pages (fix-ups
// applied): the log is closed when both are 0xFF, or when a page with a
// restart signature names no client in use or carries the clean flag.
func closedLog(pages []byte) bool {
	if bytes.Count(pages, []byte{0xFF}) == len(pages) {
		return true
	}
	for p := 0; p+4096 <= len(pages); p += 4096 {
		pg := bytes.Clone(pages[p : p+4096])
		if m := string(pg[:4]); m != "RSTR" && m != "CHKD" {
			continue
		}
		if string(pg[:4]) == "RSTR" && fixup(pg) != nil {
			continue
		}
		a := int(binary.LittleEndian.Uint16(pg[0x18:]))
		if a+0x10 > len(pg) {
			continue
		}
		if binary.LittleEndian.Uint16(pg[a+0x0C:]) == logNoClient || binary.LittleEndian.Uint16(pg[a+0x0E:])&raVolumeClean != 0 {
			return true
		}
	}
	return false
}

// checkVolume opens the image and asserts what must hold whatever the
// bytes: no panic or hang, bounded allocation, no read outside the image,
// a listing consistent with Lstat and reads (fuzzcheck.Walk), a recovery
// record that is clean or dirty with a reason, and the same result from a
// second pass over the volume, whose caches (decoded entries, directory
// listings) are then warm: a cached answer must be the one first decoded.
// The second pass runs for one input in four (picked by a hash of the
// image bytes, so a failing input fails again): it costs as much as the
// first, and the fuzzer's throughput buys more than a check on every
// input. It returns the recovery record.
func checkVolume(t *testing.T, img *fuzzcheck.Overlay) (rec fsread.Recovery) {
	var first, second string
	again := patchHash(img)%4 == 0
	fuzzcheck.Run(t, fuzzcheck.Limits{}, func() {
		fsys, err := New(img, img.Size, "fuzz.img")
		if err != nil {
			return
		}
		first, rec = volumePass(t, fsys)
		second = first
		if again {
			second, _ = volumePass(t, fsys)
		}
	})
	fuzzcheck.Same(t, "volume", first, second)
	return rec
}

// checkRecovery is checkVolume for inputs that only change $LogFile: the
// recovery record (which reads $LogFile's restart pages through the MFT)
// from two separate opens.
func checkRecovery(t *testing.T, img *fuzzcheck.Overlay) (rec fsread.Recovery) {
	var first, second string
	fuzzcheck.Run(t, fuzzcheck.Limits{}, func() {
		for _, out := range []*string{&first, &second} {
			fsys, err := New(img, img.Size, "fuzz.img")
			if err != nil {
				*out = "New: " + err.Error()
				continue
			}
			r := fsread.RecoveryOf(fsys)
			assertRecovery(t, r)
			*out = fmt.Sprintf("%s %q", r, r.Warnings)
			rec = r
		}
	})
	fuzzcheck.Same(t, "recovery", first, second)
	return rec
}

func patchHash(img *fuzzcheck.Overlay) uint32 {
	var h uint32
	for _, p := range img.Patches {
		h = crc32.Update(h, crc32.IEEETable, p.Data)
	}
	return h
}

func assertRecovery(t *testing.T, rec fsread.Recovery) {
	switch {
	case rec.State == fsread.RecoveryDirty && rec.Reason == "":
		t.Fatalf("dirty without a reason: %+v", rec)
	case rec.State != fsread.RecoveryDirty && rec.State != fsread.RecoveryNone:
		t.Fatalf("recovery state %q: NTFS is never replayed", rec.State)
	}
}

// walkLimits keeps an input cheap: the first 4 KiB of each file reach the
// stream and runlist code as well as 64 KiB would.
var walkLimits = fuzzcheck.WalkLimits{Entries: 500, Read: 4096}

func volumePass(t *testing.T, fsys fsread.FS) (string, fsread.Recovery) {
	rec := fsread.RecoveryOf(fsys)
	assertRecovery(t, rec)
	return rec.String() + "\n" + strings.Join(rec.Warnings, "\n") + "\n" + fuzzcheck.Walk(t, fsys, walkLimits), rec
}

// fixture is the tiny image and where its structures are, found once per
// process.
type fixture struct {
	img       []byte
	bt        *boot
	mftOff    int64
	records   int     // MFT records in the $MFT's first run
	firstUser int     // first record ntfscp filled
	indx      []int64 // INDX blocks of the root's index
	logOff    int64   // $LogFile's first byte
}

var (
	fxOnce sync.Once
	fx     *fixture
	fxErr  error
)

func fixtureOf(t testing.TB) *fixture {
	img := tinyImage(t)
	fxOnce.Do(func() { fx, fxErr = findStructures(img) })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return fx
}

func findStructures(img []byte) (*fixture, error) {
	fsys, err := New(bytes.NewReader(img), int64(len(img)), "tiny.img")
	if err != nil {
		return nil, err
	}
	b := fsys.(*volume).b
	fx := &fixture{img: img, bt: b.boot, mftOff: int64(b.boot.mftLCN) * b.boot.clusterSize}
	mft, err := b.record(0)
	if err != nil {
		return nil, err
	}
	for _, a := range mft.EnumerateAttributes(b.ctx) {
		if a.Type().Value == atData && !a.IsResident() {
			if runs := a.RunList(); len(runs) > 0 {
				fx.records = int(runs[0].Length * b.boot.clusterSize / b.boot.recordSize)
			}
			break
		}
	}
	for n := 16; n < fx.records; n++ {
		if ei, err := b.inspect(uint64(n)); err == nil && len(ei.names) > 0 && ei.names[0].Parent == mftRoot {
			fx.firstUser = n
			break
		}
	}
	log, err := b.record(mftLogFile)
	if err != nil {
		return nil, err
	}
	for _, a := range log.EnumerateAttributes(b.ctx) {
		if a.Type().Value == atData && !a.IsResident() {
			if runs := a.RunList(); len(runs) > 0 && runs[0].Length*b.boot.clusterSize >= 2*4096 {
				fx.logOff = runs[0].Offset * b.boot.clusterSize
			}
		}
	}
	root, err := b.record(mftRoot)
	if err != nil {
		return nil, err
	}
	for _, a := range root.EnumerateAttributes(b.ctx) {
		if a.Type().Value == atIndexAlloc && !a.IsResident() {
			for _, r := range a.RunList() {
				for o := int64(0); o+b.boot.indexSize <= r.Length*b.boot.clusterSize; o += b.boot.indexSize {
					if off := r.Offset*b.boot.clusterSize + o; string(img[off:off+4]) == "INDX" {
						fx.indx = append(fx.indx, off)
					}
				}
			}
		}
	}
	switch {
	case fx.records < 64 || fx.firstUser == 0:
		return nil, fmt.Errorf("tiny image: %d records in the first $MFT run, first user file %d", fx.records, fx.firstUser)
	case fx.logOff == 0:
		return nil, fmt.Errorf("tiny image: $LogFile's first run not found")
	case len(fx.indx) == 0:
		return nil, fmt.Errorf("tiny image: the root has no INDX block")
	}
	return fx, nil
}

func (fx *fixture) recordOff(n int) int64 { return fx.mftOff + int64(n)*fx.bt.recordSize }

// logical returns the size bytes at off with their fix-ups applied: the
// record as NTFS means it, which is what the fuzzer mutates.
func (fx *fixture) logical(off, size int64) []byte {
	b := bytes.Clone(fx.img[off : off+size])
	if err := fixup(b); err != nil {
		panic(fmt.Sprintf("tiny image: record at %d: %v", off, err))
	}
	return b
}

// protected lays rec over the logical record at off (size bytes; rec may
// be shorter) and redoes the update sequence protection NTFS writes.
func (fx *fixture) protected(off, size int64, rec []byte) []byte {
	out := make([]byte, size)
	if allFF(fx.img[off : off+size]) {
		copy(out, fx.img[off:off+size])
	} else {
		copy(out, fx.logical(off, size))
	}
	copy(out, rec)
	protect(out)
	return out
}

// protect is fixup's inverse: each 512-byte sector's last two bytes go to
// the update sequence array and are replaced by the update sequence
// number. An array the record cannot hold is left as the fuzzer made it.
func protect(rec []byte) {
	if len(rec) < 8 {
		return
	}
	off := int(binary.LittleEndian.Uint16(rec[4:]))
	cnt := int(binary.LittleEndian.Uint16(rec[6:]))
	if cnt < 2 || cnt-1 > len(rec)/512 || off+2*cnt > len(rec) {
		return
	}
	for i := 1; i < cnt; i++ {
		end := i*512 - 2
		rec[off+2*i], rec[off+2*i+1] = rec[end], rec[end+1]
		rec[end], rec[end+1] = rec[off], rec[off+1]
	}
}

// windowsRestart is the two restart pages of a $LogFile that Windows 10
// wrote (from ntfs-samples' ntfs-lastaccess.raw, CC0), fix-ups applied.
func windowsRestart(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/win10-logfile-restart.bin")
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < len(b); p += 4096 {
		if err := fixup(b[p : p+4096]); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// restartWith sets the restart area's client-in-use list and flags in both
// logical restart pages.
func restartWith(pages []byte, inUse, flags uint16) []byte {
	out := bytes.Clone(pages)
	for p := 0; p < len(out); p += 4096 {
		a := p + int(binary.LittleEndian.Uint16(out[p+0x18:]))
		binary.LittleEndian.PutUint16(out[a+0x0C:], inUse)
		binary.LittleEndian.PutUint16(out[a+0x0E:], flags)
	}
	return out
}

func FuzzLookup(f *testing.F) {
	fsys, err := New(bytes.NewReader(tinyImage(f)), 0, "tiny.img")
	if err != nil {
		f.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "Run Key.txt"); err != nil || string(b) != "x.exe\n" {
		f.Fatalf("tiny image lacks its files: %q %v", b, err)
	}
	for _, s := range []string{"hosts", "HOSTS", "Run Key.txt", unicodeName, "$MFT", "$Extend/$Quota", ".", "a/../hosts", "hosts/x", "RUNKEY~1.TXT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fi, err := fsys.Stat(name)
		if err != nil {
			return
		}
		if fi.Mode().IsRegular() {
			b, err := fs.ReadFile(fsys, name)
			if err != nil || int64(len(b)) != fi.Size() {
				t.Fatalf("%q: stat size %d, read %d bytes (%v)", name, fi.Size(), len(b), err)
			}
		}
		// Lookup is case-insensitive: for an ASCII name the upper-case
		// spelling must name the same MFT entry.
		if up := strings.ToUpper(name); up != name && isASCII(name) {
			fu, err := fsys.Stat(up)
			if err != nil || fsread.MetaOf(fu).Inode != fsread.MetaOf(fi).Inode {
				t.Fatalf("%q found but %q: %v", name, up, err)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
