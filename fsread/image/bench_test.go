package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
)

// The hot paths of a scan over a real ext4 image, through the same layers the scanner uses (image.Open, volume
// detection, the ext4 adapter behind fsread.NewFS): the tree walk with a forensic stat per entry (the sweep's
// discovery), reading every regular file (the sweep's I/O), and path lookups of known persistence places (the
// targeted checks). The same tree read from the host directory through dirfs is the kernel baseline.
//
//	go test -run '^$' -bench . -benchmem ./fsread/image

const (
	benchFiles = 2400
	benchDirs  = 60
)

var (
	benchOnce              sync.Once
	benchImg, benchSrc     string
	benchBytes, benchCount int64
	benchErr               error
)

// benchImage builds (once per machine: the content is deterministic, so it is cached under os.TempDir by a key of
// its recipe) a tree of benchFiles files in nested directories, sizes 0..128 KiB with a few of 1..4 MiB, some
// symlinks, and an ext4 image of it made by mke2fs -d.
func benchImage(b *testing.B) (img, src string, bytes, files int64) {
	b.Helper()
	if _, err := exec.LookPath("mke2fs"); err != nil {
		b.Skip("mke2fs (e2fsprogs) not installed: cannot build the benchmark image")
	}
	benchOnce.Do(func() {
		key := sha256.Sum256(fmt.Appendf(nil, "v1 %d %d", benchFiles, benchDirs))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("snapscan-bench-%d", os.Getuid()), hex.EncodeToString(key[:8]))
		benchSrc, benchImg = filepath.Join(dir, "tree"), filepath.Join(dir, "ext4.img")
		benchBytes, benchCount, benchErr = writeTree(benchSrc)
		if benchErr != nil {
			return
		}
		if _, err := os.Stat(benchImg); err == nil {
			return
		}
		tmp := benchImg + ".tmp"
		size := fmt.Sprintf("%dM", benchBytes*2>>20+32)
		if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", benchSrc, tmp, size).CombinedOutput(); err != nil {
			benchErr = fmt.Errorf("mke2fs: %v: %s", err, out)
			return
		}
		benchErr = os.Rename(tmp, benchImg)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchImg, benchSrc, benchBytes, benchCount
}

// writeTree writes the deterministic tree (again, if a previous run left it) and returns its byte and file count.
func writeTree(root string) (total, files int64, err error) {
	rng := rand.New(rand.NewPCG(8, 8))
	buf := make([]byte, 4<<20)
	for i := range buf {
		buf[i] = byte(rng.UintN(256))
	}
	for i := 0; i < benchFiles; i++ {
		size := rng.IntN(128 << 10)
		switch {
		case i%400 == 7:
			size = 1<<20 + rng.IntN(3<<20)
		case i%9 == 0:
			size = rng.IntN(200) // config-sized
		}
		d := i % benchDirs
		p := filepath.Join(root, fmt.Sprintf("l1-%02d", d%6), fmt.Sprintf("l2-%02d", d), fmt.Sprintf("f%05d", i))
		if st, err := os.Stat(p); err != nil || st.Size() != int64(size) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, 0, err
			}
			off := rng.IntN(len(buf) - size + 1)
			if err := os.WriteFile(p, buf[off:off+size], 0o644); err != nil {
				return 0, 0, err
			}
		} else {
			rng.IntN(len(buf) - size + 1)
		}
		if i%50 == 0 {
			l := p + ".lnk"
			os.Remove(l)
			if err := os.Symlink(filepath.Base(p), l); err != nil {
				return 0, 0, err
			}
		}
		total += int64(size)
		files++
	}
	return total, files, nil
}

func openBenchFS(b *testing.B, img string) fsread.FS {
	b.Helper()
	fsys, closeFn, err := openImageFS(img)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeFn)
	return fsys
}

func openImageFS(img string) (fsread.FS, func(), error) {
	im, err := Open(img)
	if err != nil {
		return nil, nil, err
	}
	if len(im.Volumes) != 1 || !im.Volumes[0].Scannable {
		im.Close()
		return nil, nil, fmt.Errorf("benchmark image: want one scannable volume, got %+v", im.Volumes)
	}
	fsys, err := im.Volumes[0].FS()
	if err != nil {
		im.Close()
		return nil, nil, err
	}
	return fsys, func() { im.Close() }, nil
}

// benchFS is each reader of the same tree: the image through our ext4 adapter, and the host directory.
func benchFS(b *testing.B) (img, host fsread.FS, bytes, files int64) {
	p, src, bytes, files := benchImage(b)
	h, err := dirfs.New(src)
	if err != nil {
		b.Fatal(err)
	}
	return openBenchFS(b, p), h, bytes, files
}

// walkStat walks fsys the way the sweep discovers work: every entry, with the forensic stat of each.
func walkStat(fsys fs.FS) (regular int64, err error) {
	err = fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if fsread.MetaOf(info) == nil {
			return fmt.Errorf("%s: no forensic metadata", p)
		}
		if d.Type().IsRegular() {
			regular++
		}
		return nil
	})
	return regular, err
}

// BenchmarkWalk: "cold" opens the image afresh each time (what one scan pays: every directory parsed and every
// inode read once); "warm" reuses one FS, whose inode and directory caches then hold the tree.
func BenchmarkWalk(b *testing.B) {
	img, host, _, files := benchFS(b)
	p, _, _, _ := benchImage(b)
	noop := func() {}
	for _, r := range []struct {
		name string
		fsys func() (fsread.FS, func(), error)
	}{
		{"ext4-image/cold", func() (fsread.FS, func(), error) { return openImageFS(p) }},
		{"ext4-image/warm", func() (fsread.FS, func(), error) { return img, noop, nil }},
		{"host-dir", func() (fsread.FS, func(), error) { return host, noop, nil }},
	} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				fsys, done, err := r.fsys()
				if err != nil {
					b.Fatal(err)
				}
				n, err := walkStat(fsys)
				done()
				if err != nil {
					b.Fatal(err)
				}
				// lost+found holds nothing; the image must show exactly the files written.
				if n != files {
					b.Fatalf("walk found %d regular files, want %d", n, files)
				}
			}
			b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// readAll reads every regular file of fsys with `workers` goroutines, each with its own 1 MiB buffer (the sweep's
// shape), and returns the bytes read.
func readAll(fsys fs.FS, paths []string, workers int) (int64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		first error
	)
	next := make(chan string)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			var n int64
			for p := range next {
				f, err := fsys.Open(p)
				if err == nil {
					var k int64
					k, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
					n += k
					f.Close()
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return total, first
}

func regularFiles(b *testing.B, fsys fs.FS) []string {
	var paths []string
	err := fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return paths
}

func BenchmarkReadAll(b *testing.B) {
	img, host, bytes, _ := benchFS(b)
	for _, r := range []struct {
		name string
		fsys fsread.FS
	}{{"ext4-image", img}, {"host-dir", host}} {
		paths := regularFiles(b, r.fsys)
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", r.name, workers), func(b *testing.B) {
				b.SetBytes(bytes)
				for b.Loop() {
					n, err := readAll(r.fsys, paths, workers)
					if err != nil {
						b.Fatal(err)
					}
					if n != bytes {
						b.Fatalf("read %d bytes, want %d", n, bytes)
					}
				}
			})
		}
	}
}

// BenchmarkLookup is the targeted checks' access pattern: Stat and read a few known paths deep in the tree,
// each resolved from the root, never walking.
func BenchmarkLookup(b *testing.B) {
	img, host, _, _ := benchFS(b)
	var paths []string
	for i := 0; i < benchFiles; i += benchFiles / 100 {
		d := i % benchDirs
		paths = append(paths, fmt.Sprintf("l1-%02d/l2-%02d/f%05d", d%6, d, i))
	}
	for _, r := range []struct {
		name string
		fsys fsread.FS
	}{{"ext4-image", img}, {"host-dir", host}} {
		b.Run(r.name, func(b *testing.B) {
			buf := make([]byte, 4096)
			for b.Loop() {
				for _, p := range paths {
					if _, err := r.fsys.Stat(p); err != nil {
						b.Fatal(err)
					}
					f, err := r.fsys.Open(p)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := f.Read(buf); err != nil && err != io.EOF {
						b.Fatal(err)
					}
					f.Close()
				}
			}
			b.ReportMetric(float64(len(paths))*float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}

// BenchmarkOpenImage is the fixed cost of a scan before any file: open the image, probe for a partition table
// and filesystem, mount the ext4 reader.
func BenchmarkOpenImage(b *testing.B) {
	p, _, _, _ := benchImage(b)
	for b.Loop() {
		im, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := im.Volumes[0].FS(); err != nil {
			b.Fatal(err)
		}
		im.Close()
	}
}
