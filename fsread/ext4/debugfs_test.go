package ext4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// dstat is what `debugfs stat` prints about one inode.
type dstat struct {
	ino        uint64
	typ        string
	mode       uint32 // permission, setuid, setgid, sticky
	flags      uint32
	uid, gid   uint32
	size       int64
	links      uint32
	times      map[string]time.Time
	fastLink   string
	isFastLink bool
}

var (
	reInode = regexp.MustCompile(`^Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)\s+Flags: (0x[0-9a-f]+)`)
	reUser  = regexp.MustCompile(`^User:\s+(\d+)\s+Group:\s+(\d+)(?:\s+Project:\s+\d+)?\s+Size: (\d+)`)
	reLinks = regexp.MustCompile(`^Links: (\d+)`)
	reTime  = regexp.MustCompile(`^\s*(ctime|atime|mtime|crtime): 0x([0-9a-f]+)(?::([0-9a-f]+))? -- (.+)$`)
	reFast  = regexp.MustCompile(`^Fast link dest: "(.*)"$`)
)

func quote(p string) string { return `"` + p + `"` }

// debugfsBatch runs one debugfs with many requests and returns each
// request's output, in order.
func debugfsBatch(t testing.TB, img string, reqs []string) []string {
	t.Helper()
	cmdFile := filepath.Join(t.TempDir(), "cmds")
	if err := os.WriteFile(cmdFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runCmd(t, "debugfs", "-f", cmdFile, img)
	var res []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "debugfs: ") {
			res = append(res, "")
			continue
		}
		if len(res) > 0 {
			res[len(res)-1] += line + "\n"
		}
	}
	if len(res) != len(reqs) {
		t.Fatalf("debugfs answered %d of %d requests", len(res), len(reqs))
	}
	return res
}

func parseStat(t testing.TB, out string) *dstat {
	t.Helper()
	d := &dstat{times: map[string]time.Time{}}
	for _, line := range strings.Split(out, "\n") {
		if m := reInode.FindStringSubmatch(line); m != nil {
			d.ino, _ = strconv.ParseUint(m[1], 10, 64)
			d.typ = m[2]
			mode, _ := strconv.ParseUint(m[3], 8, 32)
			d.mode = uint32(mode)
			f, _ := strconv.ParseUint(m[4], 0, 32)
			d.flags = uint32(f)
		} else if m := reUser.FindStringSubmatch(line); m != nil {
			u, _ := strconv.ParseUint(m[1], 10, 32)
			g, _ := strconv.ParseUint(m[2], 10, 32)
			d.uid, d.gid = uint32(u), uint32(g)
			d.size, _ = strconv.ParseInt(m[3], 10, 64)
		} else if m := reLinks.FindStringSubmatch(line); m != nil {
			l, _ := strconv.ParseUint(m[1], 10, 32)
			d.links = uint32(l)
		} else if m := reTime.FindStringSubmatch(line); m != nil {
			// The seconds come from debugfs's own date rendering (TZ=UTC),
			// the nanoseconds from the raw extra field.
			ts, err := time.Parse("Mon Jan _2 15:04:05 2006", m[4])
			if err != nil {
				t.Fatalf("time %q: %v", m[4], err)
			}
			if m[3] != "" {
				x, _ := strconv.ParseUint(m[3], 16, 32)
				ts = ts.Add(time.Duration(x >> 2))
			}
			d.times[m[1]] = ts.UTC()
		} else if m := reFast.FindStringSubmatch(line); m != nil {
			d.fastLink, d.isFastLink = m[1], true
		}
	}
	if d.ino == 0 {
		t.Fatalf("unparsable debugfs stat:\n%s", out)
	}
	return d
}

var debugfsTypes = map[string]fs.FileMode{
	"regular": 0, "directory": fs.ModeDir, "symlink": fs.ModeSymlink, "FIFO": fs.ModeNamedPipe,
	"socket": fs.ModeSocket, "character special": fs.ModeDevice | fs.ModeCharDevice, "block special": fs.ModeDevice,
}

// walkOurs lists every entry of fsys with its metadata, by path.
func walkOurs(t testing.TB, fsys fsread.FS) (map[string]*fsread.Meta, []string) {
	t.Helper()
	metas := map[string]*fsread.Meta{}
	var order []string
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			t.Errorf("info %s: %v", p, err)
			return nil
		}
		m := fsread.MetaOf(info)
		if d.Type() != m.Mode.Type() {
			t.Errorf("%s: dirent type %v, inode type %v", p, d.Type(), m.Mode.Type())
		}
		metas[p] = m
		order = append(order, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return metas, order
}

func hashFS(fsys fs.FS, p string) (string, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// compareDebugfs checks every entry our reader lists against debugfs:
// directory listings, stat fields and content. It returns the number of
// entries compared.
func compareDebugfs(t *testing.T, img string, fsys fsread.FS, extraTimes bool) int {
	metas, order := walkOurs(t, fsys)
	dumpDir := t.TempDir()
	var reqs []string
	for _, p := range order {
		reqs = append(reqs, "stat "+quote("/"+p))
	}
	nStat := len(reqs)
	dumps := map[string]string{}
	var dirs []string
	for i, p := range order {
		m := metas[p]
		switch {
		case m.Mode.IsDir():
			dirs = append(dirs, p)
			reqs = append(reqs, "ls -p "+quote("/"+p))
		case m.Mode.IsRegular() || m.Mode&fs.ModeSymlink != 0:
			out := filepath.Join(dumpDir, strconv.Itoa(i))
			dumps[p] = out
			reqs = append(reqs, "dump "+quote("/"+p)+" "+quote(out))
		}
	}
	res := debugfsBatch(t, img, reqs)

	for i, p := range order {
		m, d := metas[p], parseStat(t, res[i])
		if d.ino != m.Inode {
			t.Errorf("%s: inode %d, debugfs %d", p, m.Inode, d.ino)
		}
		if typ, ok := debugfsTypes[d.typ]; !ok || typ != m.Mode.Type() {
			t.Errorf("%s: type %v, debugfs %q", p, m.Mode.Type(), d.typ)
		}
		perm := uint32(m.Mode.Perm())
		if m.Mode&fs.ModeSetuid != 0 {
			perm |= 0o4000
		}
		if m.Mode&fs.ModeSetgid != 0 {
			perm |= 0o2000
		}
		if m.Mode&fs.ModeSticky != 0 {
			perm |= 0o1000
		}
		if perm != d.mode {
			t.Errorf("%s: mode %o, debugfs %o", p, perm, d.mode)
		}
		if m.Flags != d.flags || m.UID != d.uid || m.GID != d.gid || m.Size != d.size || m.Nlink != d.links {
			t.Errorf("%s: flags %#x uid %d gid %d size %d links %d; debugfs %#x %d %d %d %d",
				p, m.Flags, m.UID, m.GID, m.Size, m.Nlink, d.flags, d.uid, d.gid, d.size, d.links)
		}
		for name, got := range map[string]time.Time{"mtime": m.Mtime, "atime": m.Atime, "ctime": m.Ctime, "crtime": m.Btime} {
			want, ok := d.times[name]
			if !ok && got.IsZero() {
				continue
			}
			if !got.Equal(want) {
				t.Errorf("%s: %s %v, debugfs %v", p, name, got, want)
			}
		}
		if extraTimes != !d.times["crtime"].IsZero() {
			t.Errorf("%s: crtime present %v, want %v", p, !d.times["crtime"].IsZero(), extraTimes)
		}
		if d.isFastLink && d.fastLink != m.LinkTarget {
			t.Errorf("%s: link %q, debugfs %q", p, m.LinkTarget, d.fastLink)
		}
	}

	k := nStat
	for _, p := range order {
		m := metas[p]
		switch {
		case m.Mode.IsDir():
			var want []string
			for _, line := range strings.Split(res[k], "\n") {
				// /inode/mode/uid/gid/name/size/
				f := strings.Split(line, "/")
				if len(f) < 7 || f[1] == "0" || f[5] == "." || f[5] == ".." {
					continue
				}
				want = append(want, f[5]+"@"+f[1])
			}
			ents, err := fsys.ReadDir(p)
			if err != nil {
				t.Errorf("readdir %s: %v", p, err)
			}
			var got []string
			for _, e := range ents {
				got = append(got, e.Name()+"@"+strconv.FormatUint(metas[path.Join(p, e.Name())].Inode, 10))
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: entries differ\n ours    %v\n debugfs %v", p, got, want)
			}
			k++
		case m.Mode.IsRegular():
			// debugfs dumps the whole inline area of an inline_data file,
			// past i_size; the kernel (and we) stop at i_size.
			if err := os.Truncate(dumps[p], m.Size); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			want, err := hashFile(dumps[p])
			if err != nil {
				t.Errorf("%s: debugfs dump: %v", p, err)
			}
			f, err := fsys.Open(p)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				k++
				continue
			}
			f.Close()
			got, err := hashFS(fsys, p)
			if err != nil || got != want {
				t.Errorf("%s: sha256 %s (%v), debugfs %s", p, got, err, want)
			}
			k++
		case m.Mode&fs.ModeSymlink != 0:
			b, err := os.ReadFile(dumps[p])
			if err != nil {
				t.Errorf("%s: debugfs dump: %v", p, err)
			}
			target, err := fsys.ReadLink(p)
			if err != nil {
				t.Errorf("readlink %s: %v", p, err)
			}
			if !d2fast(res, order, p) && target != string(b) {
				t.Errorf("%s: slow link %q, debugfs %q", p, target, b)
			}
			if target != m.LinkTarget {
				t.Errorf("%s: ReadLink %q, Meta.LinkTarget %q", p, target, m.LinkTarget)
			}
			k++
		}
	}
	return len(order)
}

// d2fast reports whether debugfs showed p as a fast link (then dump has no data).
func d2fast(res []string, order []string, p string) bool {
	i := slices.Index(order, p)
	return strings.Contains(res[i], "Fast link dest:")
}

func TestDebugfsOracle(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := image(t, v)
			fsys := openImage(t, img)
			n := compareDebugfs(t, img, fsys, v.extraTimes)
			if n < 330 {
				t.Errorf("only %d entries compared; the tree has more", n)
			}
			t.Logf("%d entries compared with debugfs", n)
		})
	}
}

// TestTreeFacts checks the things the tree was built to exercise, so a
// variant that silently lost them (no htree, no holes) is noticed.
func TestTreeFacts(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			fsys := openImage(t, image(t, v))
			info, ok := InfoOf(fsys)
			if !ok {
				t.Fatal("InfoOf: not an ext FS")
			}
			wantKind := strings.SplitN(v.name, "-", 2)[0]
			if info.Kind != wantKind {
				t.Errorf("kind %q, want %q", info.Kind, wantKind)
			}
			st := func(p string) *fsread.Meta {
				fi, err := fsys.Lstat(p)
				if err != nil {
					t.Fatalf("lstat %s: %v", p, err)
				}
				return fsread.MetaOf(fi)
			}
			if m := st("flags/immutable"); !m.Immutable() || m.AppendOnly() {
				t.Errorf("immutable flags %#x", m.Flags)
			}
			if m := st("flags/appendonly"); !m.AppendOnly() || m.Immutable() {
				t.Errorf("append-only flags %#x", m.Flags)
			}
			if m := st("owners/high"); m.UID != 100000 || m.GID != 200000 {
				t.Errorf("high ids %d:%d", m.UID, m.GID)
			}
			if m := st("owners/owned"); m.UID != 1234 || m.GID != 5678 || m.Mode != 0o640 {
				t.Errorf("owned %d:%d %v", m.UID, m.GID, m.Mode)
			}
			if m := st("modes/setuid"); m.Mode != fs.ModeSetuid|0o755 {
				t.Errorf("setuid mode %v", m.Mode)
			}
			if m := st("modes/setgid"); m.Mode != fs.ModeSetgid|0o755 {
				t.Errorf("setgid mode %v", m.Mode)
			}
			if m := st("modes/sticky"); m.Mode != fs.ModeDir|fs.ModeSticky|0o777 {
				t.Errorf("sticky mode %v", m.Mode)
			}
			if m := st("special/fifo"); m.Mode.Type() != fs.ModeNamedPipe {
				t.Errorf("fifo mode %v", m.Mode)
			}
			if m := st("special/socket"); m.Mode.Type() != fs.ModeSocket {
				t.Errorf("socket mode %v", m.Mode)
			}
			if m := st("hard/a"); m.Nlink != 3 || m.Inode != st("dir1/hl").Inode {
				t.Errorf("hard link nlink %d", m.Nlink)
			}
			m := st("times/ns")
			if v.extraTimes {
				// 0x12345678 plus epoch bit 1 (2^32 s), 0x499602d1>>2 ns.
				want := time.Unix(0x12345678+1<<32, 0x499602d1>>2).UTC()
				if !m.Mtime.Equal(want) {
					t.Errorf("mtime %v, want %v", m.Mtime, want)
				}
			} else if !m.Mtime.Equal(time.Unix(0x12345678, 0)) || !m.Btime.IsZero() {
				t.Errorf("128-byte inode times: mtime %v btime %v", m.Mtime, m.Btime)
			}
			if m := st("many"); strings.HasPrefix(v.name, "ext4") && m.Flags&0x1000 == 0 {
				t.Errorf("many/ has no htree index (flags %#x): the test would not cover htree", m.Flags)
			}
			for link, want := range map[string]string{"links/fast59": "f4097", "links/slow60": "f4097", "links/slow": "target"} {
				target, err := fsys.ReadLink(link)
				if err != nil || !strings.HasSuffix(target, want) {
					t.Errorf("readlink %s = %q, %v", link, target, err)
				}
			}
			for _, p := range []string{"links/slowok", "links/rel", "links/abs", "links/fast59", "links/slow60", "links/dirlink/dir2/dir3/deep.txt"} {
				if _, err := fs.ReadFile(fsys, p); err != nil {
					t.Errorf("following %s: %v", p, err)
				}
			}
			if _, err := fsys.Open("links/loop"); err == nil {
				t.Error("self-referencing link opened")
			}
			if _, err := fsys.Open("links/dangling"); err == nil {
				t.Error("dangling link opened")
			}
			if strings.HasPrefix(v.name, "ext4") && v.name != "ext4-inline" {
				b, err := fs.ReadFile(fsys, "prealloc")
				if err != nil || len(b) != 8*int(info.BlockSize) || bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
					t.Errorf("uninitialized extents: %d bytes, %v, want %d zeros", len(b), err, 8*info.BlockSize)
				}
			}
			vol, err := openVolume(t, image(t, v))
			if err != nil {
				t.Fatal(err)
			}
			ents, err := vol.ReadDir(rootIno)
			if err != nil || len(ents) < 10 {
				t.Fatalf("root: %d entries, %v", len(ents), err)
			}
			for _, e := range ents {
				if e.TypeKnown == strings.Contains(v.name, "nofiletype") {
					t.Errorf("%s: TypeKnown %v without the filetype feature: %v", e.Name, e.TypeKnown, strings.Contains(v.name, "nofiletype"))
				}
			}
			sp, err := fs.ReadFile(fsys, "sparse.bin")
			if err != nil {
				t.Fatal(err)
			}
			if string(sp[:5]) != "start" || string(sp[1<<20+123:1<<20+129]) != "middle" || string(sp[len(sp)-3:]) != "end" || sp[4096] != 0 {
				t.Error("sparse file content wrong")
			}
			if v.deepSparse && string(sp[68<<20+5:68<<20+20]) != "triple-indirect" {
				t.Error("triple-indirect block wrong")
			}
		})
	}
}

// TestMetaBGLayout makes sure the meta_bg variant really puts descriptor
// blocks outside the first group and inodes in more than one group, so the
// oracles above cover that layout.
func TestMetaBGLayout(t *testing.T) {
	v := variantNamed("ext4-metabg")
	vol, err := openVolume(t, image(t, v))
	if err != nil {
		t.Fatal(err)
	}
	per := uint64(vol.bs / vol.descSize())
	if n := uint64(len(vol.itable)); n <= per {
		t.Fatalf("%d groups fit one descriptor block (%d): meta_bg not exercised", n, per)
	}
	if blk := vol.descBlock(1); blk != uint64(vol.sb.firstDataBlock)+per*uint64(vol.sb.blocksPerGroup) {
		t.Errorf("second descriptor block at %d", blk)
	}
	metas, _ := walkOurs(t, openImage(t, image(t, v)))
	maxIno := uint64(0)
	for _, m := range metas {
		maxIno = max(maxIno, m.Inode)
	}
	if maxIno <= uint64(vol.ipg) {
		t.Errorf("all inodes in group 0 (max %d, %d per group)", maxIno, vol.ipg)
	}
}
