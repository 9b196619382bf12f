package xfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The fuzz targets share one tiny image per process: mkfs.xfs -p with 1 KiB
// blocks and a small tree covering every directory format, built once per
// machine (cached in the temp directory under a name that depends on the
// tree and the mkfs version, so fuzz workers do not run mkfs each) and held
// as a sparse map of its non-zero blocks: a 32 MiB image in ~150 KiB.

// sparseImage is a read-only image of which only the non-zero blocks are
// stored.
type sparseImage struct {
	size, bs int64
	blocks   map[int64][]byte
	meta     []int64 // non-zero blocks that are not file data, sorted
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	for done := 0; done < n; {
		blk, in := (off+int64(done))/s.bs, (off+int64(done))%s.bs
		k := int(min(int64(n-done), s.bs-in))
		if b, ok := s.blocks[blk]; ok {
			copy(p[done:done+k], b[in:])
		} else {
			clear(p[done : done+k])
		}
		done += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// patchedImage is a sparse image with one block replaced, and a check that
// the reader never asks for bytes outside the image.
type patchedImage struct {
	t    testing.TB
	base io.ReaderAt
	size int64
	blk  int64
	b    []byte
}

func (p *patchedImage) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > p.size {
		p.t.Fatalf("read of %d bytes at %d outside the image of %d", len(b), off, p.size)
	}
	n, err := p.base.ReadAt(b, off)
	if p.b != nil {
		start := p.blk * int64(len(p.b))
		lo, hi := max(start, off), min(start+int64(len(p.b)), off+int64(n))
		if lo < hi {
			copy(b[lo-off:hi-off], p.b[lo-start:hi-start])
		}
	}
	return n, err
}

var tinyTree = func() []spec {
	out := []spec{
		{path: "etc", kind: 'd', perm: 0o755},
		{path: "etc/passwd", kind: '-', perm: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{path: "etc/cron.d", kind: 'd', perm: 0o755},
		{path: "etc/cron.d/job", kind: '-', perm: 0o644, data: []byte("* * * * * root /bin/true\n")},
		{path: "bin", kind: 'd', perm: 0o755},
		{path: "bin/tool", kind: '-', perm: 0o755, data: bytes.Repeat([]byte("tool"), 1500)},
		{path: "link", kind: 'l', perm: 0o777, target: "/etc/passwd"},
		{path: "fifo", kind: 'p', perm: 0o644},
		{path: "null", kind: 'c', perm: 0o666, major: 1, minor: 3},
		{path: "block", kind: 'd', perm: 0o755},
		{path: "leaf", kind: 'd', perm: 0o755},
	}
	for i := 0; i < 12; i++ {
		out = append(out, spec{path: fmt.Sprintf("block/f%02d", i), kind: '-', perm: 0o644, data: []byte{byte('a' + i), '\n'}})
	}
	for i := 0; i < 60; i++ {
		out = append(out, spec{path: fmt.Sprintf("leaf/entry-%03d-%s", i, strings.Repeat("x", i%20)), kind: '-', perm: 0o600})
	}
	return out
}()

var (
	tinyMu   sync.Mutex
	tinyImgs = map[bool]*sparseImage{}
)

// tinyImage returns the shared tiny v5 image, skipping without mkfs.xfs.
func tinyImage(t testing.TB) *sparseImage { return tinyImageOf(t, false) }

// tinyImageOf returns the tiny v5 or (v4) v4 image.
func tinyImageOf(t testing.TB, v4 bool) *sparseImage {
	t.Helper()
	needTool(t, "mkfs.xfs")
	tinyMu.Lock()
	defer tinyMu.Unlock()
	if img, ok := tinyImgs[v4]; ok {
		return img
	}
	img, err := buildTiny(v4)
	if err != nil {
		t.Fatal(err)
	}
	tinyImgs[v4] = img
	return img
}

func buildTiny(v4 bool) (*sparseImage, error) {
	ver, _ := exec.Command("mkfs.xfs", "-V").Output()
	h := sha256.New()
	fmt.Fprintf(h, "%s%v%v", ver, tinyTree, v4)
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("snapscan-xfs-tiny-%x.img", h.Sum(nil)[:6]))
	raw, err := os.ReadFile(cache)
	if err != nil {
		dir, err := os.MkdirTemp("", "snapscan-xfs-tiny-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		proto := writeProto(fatalTB{}, dir, tinyTree)
		img := filepath.Join(dir, "tiny.img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			return nil, err
		}
		if err := os.Truncate(img, 32<<20); err != nil {
			return nil, err
		}
		args := []string{"-q", "-f", "-b", "size=1024", "-L", "tiny", "-p", proto, img}
		if v4 {
			args = append([]string{"-m", "crc=0"}, args...)
		}
		cmd := exec.Command("mkfs.xfs", args...)
		cmd.Env = append(os.Environ(), "TEST_DIR=1", "TEST_DEV=1", "QA_CHECK_FS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mkfs.xfs: %v: %s", err, out)
		}
		if raw, err = os.ReadFile(img); err != nil {
			return nil, err
		}
		// Sparse (only the non-zero blocks are written) and atomic:
		// concurrent workers may race to create it.
		tmp := cache + fmt.Sprintf(".%d", os.Getpid())
		if f, err := os.Create(tmp); err == nil {
			err = f.Truncate(int64(len(raw)))
			for off := 0; err == nil && off < len(raw); off += 4096 {
				if b := raw[off:min(off+4096, len(raw))]; slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
					_, err = f.WriteAt(b, int64(off))
				}
			}
			if f.Close() == nil && err == nil {
				os.Rename(tmp, cache)
			}
			os.Remove(tmp)
		}
	}
	return sparseOf(raw)
}

// sparseOf keeps the non-zero blocks of raw and lists those that hold
// metadata (not file data), found by reading the valid image once.
func sparseOf(raw []byte) (*sparseImage, error) {
	sb, err := parseSuper(raw)
	if err != nil {
		return nil, err
	}
	s := &sparseImage{size: int64(len(raw)), bs: int64(sb.blockSize), blocks: map[int64][]byte{}}
	for off := int64(0); off < s.size; off += s.bs {
		b := raw[off : off+s.bs]
		if slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
			s.blocks[off/s.bs] = slices.Clone(b)
		}
	}
	v, err := open(s, s.size)
	if err != nil {
		return nil, err
	}
	data := map[int64]bool{}
	walkBackend(v, 1000, func(n uint64, m fs.FileMode) {
		if !m.IsRegular() {
			return
		}
		in, err := v.inode(n)
		if err != nil || (in.format != fmtExtents && in.format != fmtBtree) {
			return
		}
		ext, _ := v.extents(in)
		for _, e := range ext {
			for b := e.blk; b < e.blk+e.n; b++ {
				data[int64(b)] = true
			}
		}
	})
	for b := range s.blocks {
		if !data[b] {
			s.meta = append(s.meta, b)
		}
	}
	slices.Sort(s.meta)
	return s, nil
}

// walkBackend visits up to budget nodes breadth first.
func walkBackend(v *volume, budget int, visit func(uint64, fs.FileMode)) {
	queue, seen := []uint64{v.Root()}, map[uint64]bool{}
	for len(queue) > 0 && budget > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n], budget = true, budget-1
		m, err := v.Meta(n)
		if err != nil {
			continue
		}
		visit(n, m.Mode)
		if m.Mode.IsDir() {
			ents, _ := v.ReadDir(n)
			for _, e := range ents {
				queue = append(queue, e.Node)
			}
		}
	}
}

// fatalTB lets writeProto run outside a test (setup shared by workers).
type fatalTB struct{ testing.TB }

func (fatalTB) Helper()                   {}
func (fatalTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (fatalTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// fixCRCs recomputes the v5 checksums of the structures in a block after a
// mutation, so that what the fuzzer changed is what the reader sees as
// valid metadata (as an attacker would craft it), not a checksum mismatch.
func fixCRCs(b []byte, isz int) {
	put := func(s []byte, at int) {
		if at+4 > len(s) {
			return
		}
		var z [4]byte
		c := crc32.Update(0, castagnoli, s[:at])
		c = crc32.Update(c, castagnoli, z[:])
		c = crc32.Update(c, castagnoli, s[at+4:])
		binary.LittleEndian.PutUint32(s[at:], c)
	}
	for sec := 0; sec+bbSize <= len(b); sec += bbSize {
		s := b[sec : sec+bbSize]
		switch be32(s, 0) {
		case sbMagic:
			put(s, 224)
		case 0x58414746: // XAGF
			put(s, 216)
		case 0x58414749: // XAGI
			put(s, 312)
		case 0x5841464c: // XAFL
			put(s, 32)
		}
	}
	if be16(b, 0) == inodeMagic && isz > 0 {
		for o := 0; o+isz <= len(b); o += isz {
			if be16(b, o) == inodeMagic && b[o+4] == 3 {
				put(b[o:o+isz], 0x64)
			}
		}
		return
	}
	switch be32(b, 0) {
	case dirBlockMagicV5, dirDataMagicV5, 0x58444633:
		put(b, 4)
	case 0x41423342, 0x41423343, 0x49414233, 0x46494233, 0x524d4233, 0x52334643:
		put(b, 52)
	case 0x424d4133:
		put(b, 64)
	case symlinkMagic:
		put(b, 12)
	default:
		switch be16(b, 8) {
		case 0x3df1, 0x3dff, 0x3ebe, 0x3bee:
			put(b, 12)
		}
	}
}

// listing is a digest of what a walk of v shows, for the same-input-twice
// and round-trip invariants: every entry a directory lists must be found by
// Lookup under its name, and every read must stay bounded.
func listing(t testing.TB, v *volume, budget int) string {
	var out strings.Builder
	walkBackend(v, budget, func(n uint64, m fs.FileMode) {
		meta, _ := v.Meta(n)
		fmt.Fprintf(&out, "%d %v %d|", n, m, meta.Size)
		switch {
		case m.IsDir():
			ents, err := v.ReadDir(n)
			if err != nil {
				fmt.Fprintf(&out, "E%v|", err)
				return
			}
			first := map[string]uint64{}
			for _, e := range ents {
				if _, dup := first[e.Name]; !dup {
					first[e.Name] = e.Node
				}
			}
			for name, node := range first {
				if got, err := v.Lookup(n, name); err != nil || got != node {
					t.Errorf("directory %d lists %q as %d, Lookup gives %d (%v)", n, name, node, got, err)
				}
			}
		case m&fs.ModeSymlink != 0:
			l, err := v.ReadLink(n)
			if err == nil && len(l) > symlinkMax {
				t.Errorf("symlink %d of %d bytes", n, len(l))
			}
			fmt.Fprintf(&out, "%q|", l)
		case m.IsRegular():
			ra, size, err := v.Open(n)
			if err != nil {
				return
			}
			var buf [512]byte
			k, err := ra.ReadAt(buf[:], 0)
			if k > len(buf) || (int64(k) < min(size, int64(len(buf))) && err == nil) {
				t.Errorf("file %d: read %d bytes of %d without an error", n, k, size)
			}
			fmt.Fprintf(&out, "%x|", crc32.ChecksumIEEE(buf[:k]))
		}
	})
	return out.String()
}
