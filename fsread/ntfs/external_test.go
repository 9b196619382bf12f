package ntfs

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// External images made by others: go-ntfs's charlie (with golden listings
// from go-ntfs and The Sleuth Kit) and NTFS volumes formatted by Windows 10.
const externalDir = "/work/shared/external/images"

func external(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(externalDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("external test data absent (%s): %v", p, err)
	}
	return p
}

// decompress writes the image to dir, leaving all-zero blocks as holes.
func decompress(t *testing.T, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var r io.Reader
	switch {
	case strings.HasSuffix(src, ".bz2"):
		r = bzip2.NewReader(bufio.NewReaderSize(in, 1<<20))
	case strings.HasSuffix(src, ".gz"):
		zr, err := gzip.NewReader(bufio.NewReaderSize(in, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		t.Fatalf("unknown compression: %s", src)
	}
	name := filepath.Join(dir, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(src), ".bz2"), ".gz"))
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if !bytes.Equal(buf[:n], zero[:n]) {
				if _, err := out.WriteAt(buf[:n], off); err != nil {
					t.Fatal(err)
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("decompressing %s: %v", src, err)
		}
	}
	if err := out.Truncate(off); err != nil {
		t.Fatal(err)
	}
	return name
}

// tskListing parses "r/r 38-128-3:\tNine.txt" lines of fls output into
// path (before any ":stream") -> MFT entry and type.
type tskEntry struct {
	mft uint64
	dir bool
}

var tskLine = regexp.MustCompile(`^([rd])/[rd] (\d+)-\d+-\d+:\t(.+)$`)

func parseTSK(t *testing.T, lines []string) map[string]tskEntry {
	out := map[string]tskEntry{}
	for _, l := range lines {
		m := tskLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		mft, _ := strconv.ParseUint(m[2], 10, 64)
		p, _, _ := strings.Cut(m[3], ":")
		if prev, ok := out[p]; ok && prev.mft != mft {
			t.Fatalf("TSK listing: %s has two MFT entries", p)
		}
		out[p] = tskEntry{mft: mft, dir: m[1] == "d" && !strings.Contains(m[3], ":")}
	}
	return out
}

// compareTSK asserts the same paths, MFT entries and types as fls.
func compareTSK(t *testing.T, fsys fsread.FS, want map[string]tskEntry) {
	t.Helper()
	got := map[string]tskEntry{}
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		got[p] = tskEntry{mft: fsread.MetaOf(fi).Inode, dir: fi.IsDir()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("empty TSK listing")
	}
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s (MFT %d): listed by TSK, not by fsread", p, w.mft)
		case g.mft != w.mft:
			t.Errorf("%s: MFT entry %d, TSK %d", p, g.mft, w.mft)
		case w.dir && !g.dir:
			t.Errorf("%s: TSK says directory", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: listed by fsread, not by TSK", p)
		}
	}
}

func TestCharlie(t *testing.T) {
	dir := external(t, "go-ntfs")
	img := decompress(t, filepath.Join(dir, "charlie.dd.bz2"), t.TempDir())
	fsys := openImage(t, img)

	listing, err := os.ReadFile(filepath.Join(dir, "LISTING.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("tsk", func(t *testing.T) {
		compareTSK(t, fsys, parseTSK(t, strings.Split(string(listing), "\n")))
	})

	t.Run("probe", func(t *testing.T) {
		f, _ := os.Open(img)
		defer f.Close()
		info, err := Probe(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Label != "Charlie" || info.Serial != "A4A408C8A4089F44" || info.RecordSize != 1024 || info.MFTCluster != 3157 {
			t.Errorf("Probe = %+v", info)
		}
	})

	// go-ntfs's golden ls: one row per stream, first table line per row.
	t.Run("ls.golden", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "charlie.ls.golden"))
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, "|")
			if len(f) != 8 || !strings.Contains(f[1], "-") {
				continue
			}
			id, full, name := strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.TrimSpace(f[6])
			size, _ := strconv.ParseInt(strings.TrimSpace(f[3]), 10, 64)
			mtime, err := time.Parse("2006-01-02 15:04:05.999999999", strings.TrimSpace(f[4]))
			if err != nil {
				t.Fatalf("golden mtime %q: %v", f[4], err)
			}
			isDir := strings.TrimSpace(f[5]) == "true"
			mft, _ := strconv.ParseUint(strings.SplitN(id, "-", 2)[0], 10, 64)
			p := strings.TrimPrefix(full, "/")
			if p == "." {
				continue
			}
			rows++
			fi, err := fsys.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			m := fsread.MetaOf(fi)
			if m.Inode != mft || !m.Mtime.Equal(mtime) || fi.IsDir() != (isDir && !strings.Contains(name, ":")) {
				t.Errorf("%s: inode %d mtime %v dir %v; golden %d %v %v", name, m.Inode, m.Mtime, fi.IsDir(), mft, mtime, isDir)
			}
			_, stream, isADS := strings.Cut(name, ":")
			switch {
			case isADS:
				ss, err := Streams(fsys, p)
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				found := false
				for _, s := range ss {
					found = found || (s.Name == stream && s.Size == size)
				}
				if !found {
					t.Errorf("%s: stream of %d bytes not among %v", name, size, ss)
				}
				if r, err := OpenStream(fsys, p, stream); err != nil || r.Size() != size {
					t.Errorf("%s: OpenStream: %v", name, err)
				}
			case !isDir && m.Attributes&AttrDirectory == 0 && m.Size != size:
				t.Errorf("%s: size %d, golden %d", name, m.Size, size)
			}
		}
		if rows < 15 {
			t.Errorf("parsed only %d golden rows", rows)
		}
	})

	// go-ntfs's golden stat of Nine.txt: SI and FILE_NAME times. Its Size
	// (5005) is the first $DATA go-ntfs meets, the ":111" stream; the
	// unnamed stream is 5000 bytes, as its ls golden says.
	t.Run("stat.golden", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "charlie.stat.golden"))
		if err != nil {
			t.Fatal(err)
		}
		type times struct{ CreateTime, FileModifiedTime, MFTModifiedTime, AccessedTime time.Time }
		var g struct {
			MFTID     uint64
			SI_Times  times
			Filenames []struct {
				Times times
				Type  string
				Name  string
			}
		}
		if err := json.Unmarshal(b[bytes.IndexByte(b, '{'):], &g); err != nil {
			t.Fatal(err)
		}
		fi, err := fsys.Stat("nine.TXT")
		if err != nil {
			t.Fatal(err)
		}
		m := fsread.MetaOf(fi)
		if m.Inode != g.MFTID || m.Size != 5000 || !m.Btime.Equal(g.SI_Times.CreateTime) || !m.Mtime.Equal(g.SI_Times.FileModifiedTime) ||
			!m.Ctime.Equal(g.SI_Times.MFTModifiedTime) || !m.Atime.Equal(g.SI_Times.AccessedTime) {
			t.Errorf("meta %+v, golden %+v", m, g.SI_Times)
		}
		fns, err := FileNames(fsys, "Nine.txt")
		if err != nil || len(fns) != len(g.Filenames) {
			t.Fatalf("FileNames %v %v, golden %d", fns, err, len(g.Filenames))
		}
		for i, w := range g.Filenames {
			f := fns[i]
			if f.Name != w.Name || f.Parent != 5 || !f.Btime.Equal(w.Times.CreateTime) || !f.Mtime.Equal(w.Times.FileModifiedTime) ||
				!f.Ctime.Equal(w.Times.MFTModifiedTime) || !f.Atime.Equal(w.Times.AccessedTime) {
				t.Errorf("FILE_NAME %+v, golden %+v", f, w)
			}
		}
		if got := readAll(t, fsys, "Nine.txt"); len(got) != 5000 {
			t.Errorf("read %d bytes", len(got))
		}
	})

	if why := canMount(); why == "" {
		t.Run("ntfs-3g", func(t *testing.T) { oracleAt(t, fsys, img, 0) })
	}
}

func readAll(t *testing.T, fsys fsread.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oracleAt compares fsys with ntfs-3g's view of the volume at off in img.
func oracleAt(t *testing.T, fsys fsread.FS, img string, off int64) {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", "-r", "-o", strconv.FormatInt(off, 10), img).Output()
	if err != nil {
		t.Skipf("needs a loop device: losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer run("losetup", "-d", dev)
	mnt, umount, err := mountNTFS(dev, true)
	if err != nil {
		t.Fatalf("ntfs-3g: %v", err)
	}
	defer umount()
	ours := snapshotFS(t, fsys)
	theirs := snapshotHost(t, mnt)
	compareOracle(t, ours, theirs, mnt)
	t.Logf("compared %d entries with ntfs-3g", len(ours))
}

// mbrFirst returns the byte offset and size of the first MBR partition.
func mbrFirst(t *testing.T, img string) (int64, int64) {
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s [512]byte
	if _, err := f.ReadAt(s[:], 0); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(s[510:]) != 0xAA55 || s[0x1BE+4] != 0x07 {
		t.Fatalf("%s: no MBR with an NTFS partition first", img)
	}
	return int64(binary.LittleEndian.Uint32(s[0x1BE+8:])) * 512, int64(binary.LittleEndian.Uint32(s[0x1BE+12:])) * 512
}

var tskHeader = regexp.MustCompile(`^=== (\S+)\.gz -> `)

// TestWindowsSamples reads NTFS volumes that Windows 10 formatted.
func TestWindowsSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 1 GiB per image")
	}
	dir := external(t, "ntfs-samples")
	listing, err := os.ReadFile(filepath.Join(dir, "LISTING.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Split LISTING.txt into per-image fls listings and fsstat facts.
	per := map[string][]string{}
	var cur string
	for _, l := range strings.Split(string(listing), "\n") {
		if m := tskHeader.FindStringSubmatch(l); m != nil {
			cur = m[1]
		}
		if cur != "" {
			per[cur] = append(per[cur], l)
		}
	}
	tests := []struct {
		image string
		label string
		check func(t *testing.T, fsys fsread.FS)
	}{
		{"ntfs-si-vs-fn.raw", "SI-vs-FN", func(t *testing.T, fsys fsread.FS) {
			// Hex-edited: SI times in 2015-11, FILE_NAME times in 2014-12.
			fi, err := fsys.Stat("test/test.txt")
			if err != nil {
				t.Fatal(err)
			}
			m := fsread.MetaOf(fi)
			fns, err := FileNames(fsys, "test/test.txt")
			if err != nil || len(fns) == 0 {
				t.Fatal(err)
			}
			for _, ts := range []time.Time{m.Mtime, m.Atime, m.Ctime, m.Btime} {
				if ts.Year() != 2015 || ts.Month() != 11 {
					t.Errorf("SI time %v, want 2015-11", ts)
				}
			}
			for _, ts := range []time.Time{fns[0].Mtime, fns[0].Atime, fns[0].Ctime, fns[0].Btime} {
				if ts.Year() != 2014 || ts.Month() != 12 {
					t.Errorf("FILE_NAME time %v, want 2014-12", ts)
				}
			}
		}},
		{"ntfs-lastaccess.raw", "Last access", func(t *testing.T, fsys fsread.FS) {
			// The SI last access is the later of the two the ReadMe names
			// (12:37:55 in the author's time zone, so the hour is not checked).
			fi, err := fsys.Stat("TEST/1.TXT")
			if err != nil {
				t.Fatal(err)
			}
			a := fsread.MetaOf(fi).Atime
			if a.Year() != 2019 || a.Month() != 3 || a.Minute() != 37 || a.Second() != 55 {
				t.Errorf("SI atime %v, want 2019-03-03 xx:37:55", a)
			}
		}},
		{"ntfs-ptrn.raw", "Slack", nil},
		{"ntfs-ramslack.raw", "RAM Slack", func(t *testing.T, fsys fsread.FS) {
			// Formatted with compression on: Windows wrote 1.txt LZNT1-compressed
			// (its bytes are compared with ntfs-3g's by the oracle below).
			fi, err := fsys.Stat("1.txt")
			if err != nil {
				t.Fatal(err)
			}
			if m := fsread.MetaOf(fi); m.Attributes&AttrCompressed == 0 || m.Size == 0 {
				t.Errorf("1.txt: attributes %#x size %d, want compressed", m.Attributes, m.Size)
			}
		}},
		{"ntfs-2m.raw", "", func(t *testing.T, fsys fsread.FS) {
			// 2 MiB clusters, which go-ntfs's own boot parser refuses.
			if _, err := fsys.Stat("$MFT"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			img := decompress(t, filepath.Join(dir, tc.image+".gz"), t.TempDir())
			off, size := mbrFirst(t, img)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			vol := io.NewSectionReader(f, off, size)
			info, err := Probe(vol)
			if err != nil {
				t.Fatal(err)
			}
			fsys, err := New(vol, size, tc.image)
			if err != nil {
				t.Fatal(err)
			}
			lines := per[tc.image]
			var files, bytes int64
			err = fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return nil
				}
				if d.Type().IsRegular() {
					b, err := fs.ReadFile(fsys, p)
					if err != nil {
						t.Errorf("%s: %v", p, err)
					}
					files++
					bytes += int64(len(b))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: label %q, cluster %d, %d files, %d bytes read", tc.image, info.Label, info.ClusterSize, files, bytes)
			// Each was detached from Windows 10 after a clean shutdown: the
			// dirty bit is clear and both restart pages carry the clean flag.
			if rec := fsread.RecoveryOf(fsys); rec.State != fsread.RecoveryNone || len(rec.Warnings) != 0 {
				t.Errorf("recovery %s %q, want clean", rec, rec.Warnings)
			} else {
				t.Logf("%s: recovery %s", tc.image, rec)
			}
			for _, l := range lines {
				if v, ok := strings.CutPrefix(l, "Volume Serial Number: "); ok && v != info.Serial {
					t.Errorf("serial %s, fsstat %s", info.Serial, v)
				}
				if v, ok := strings.CutPrefix(l, "Volume Name: "); ok && v != info.Label {
					t.Errorf("label %q, fsstat %q", info.Label, v)
				}
			}
			if tc.label != "" && info.Label != tc.label {
				t.Errorf("label %q, want %q", info.Label, tc.label)
			}
			if want := parseTSK(t, lines); len(want) > 0 {
				compareTSK(t, fsys, want)
			}
			if tc.check != nil {
				tc.check(t, fsys)
			}
			if why := canMount(); why == "" {
				oracleAt(t, fsys, img, off)
			} else {
				t.Log(why)
			}
		})
	}
}
