//go:build bench_compare

// The comparison benchmark needs two third-party readers; it is behind a
// build tag so that the default build never links them:
//
//	go test -tags bench_compare -run TestCompareLibraries -bench HashAllFiles -benchtime 1x ./fsread/ext4
package ext4

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	diskfsfile "github.com/diskfs/go-diskfs/backend/file"
	diskfsext4 "github.com/diskfs/go-diskfs/filesystem/ext4"
	masahiro "github.com/masahiro331/go-ext4-filesystem/ext4"
)

var (
	benchOnce  sync.Once
	benchImg   string
	benchWant  map[string][32]byte
	benchBytes int64
	benchErr   error
)

// benchImage builds a ~50 MB ext4 image holding 3000 files in 30
// directories, sizes spread from a few bytes to 64 KiB, and records the
// SHA-256 of every file as written.
func benchImage(tb testing.TB) (string, map[string][32]byte, int64) {
	needTools(tb, "mke2fs")
	benchOnce.Do(func() {
		src := filepath.Join(imgDir, "bench-src")
		benchWant = map[string][32]byte{}
		for i := 0; i < 3000; i++ {
			p := fmt.Sprintf("d%02d/file-%04d.dat", i%30, i)
			size := (i * 7919) % (32 << 10)
			if i%10 == 0 {
				size = 64<<10 - i // a few larger files
			}
			data := pattern(size, uint64(i))
			full := filepath.Join(src, p)
			if benchErr = os.MkdirAll(filepath.Dir(full), 0o755); benchErr != nil {
				return
			}
			if benchErr = os.WriteFile(full, data, 0o644); benchErr != nil {
				return
			}
			benchWant[p] = sha256.Sum256(data)
			benchBytes += int64(size)
		}
		benchImg = filepath.Join(imgDir, "bench.img")
		runCmd(tb, "mke2fs", "-q", "-F", "-t", "ext4", "-d", src, benchImg, "96M")
	})
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchImg, benchWant, benchBytes
}

type reader struct {
	name string
	root string // what the reader accepts as its root in fs.WalkDir
	open func(tb testing.TB, img string) fs.FS
}

var readers = []reader{
	{"snapscan", ".", func(tb testing.TB, img string) fs.FS { return openImage(tb, img) }},
	{"masahiro331", "/", func(tb testing.TB, img string) fs.FS {
		f, size := openRaw(tb, img)
		fsys, err := masahiro.NewFS(*io.NewSectionReader(f, 0, size), nil)
		if err != nil {
			tb.Fatal(err)
		}
		return fsys
	}},
	{"diskfs", ".", func(tb testing.TB, img string) fs.FS {
		f, size := openRaw(tb, img)
		fsys, err := diskfsext4.Read(diskfsfile.New(f, true), size, 0, 512)
		if err != nil {
			tb.Fatal(err)
		}
		return fsys
	}},
}

func openRaw(tb testing.TB, img string) (*os.File, int64) {
	f, err := os.Open(img)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	return f, st.Size()
}

// hashAll walks fsys and hashes every regular file, returning the files
// whose content is not what was written and the ones it could not read.
func hashAll(fsys fs.FS, root string, want map[string][32]byte) (wrong, failed int) {
	seen := 0
	fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			failed++
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		w, ok := want[strings.TrimPrefix(p, "/")]
		if !ok {
			return nil // lost+found and the like
		}
		seen++
		f, err := fsys.Open(p)
		if err != nil {
			failed++
			return nil
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			failed++
		} else if [32]byte(h.Sum(nil)) != w {
			wrong++
		}
		return nil
	})
	return wrong, failed + len(want) - seen
}

func BenchmarkHashAllFiles(b *testing.B) {
	img, want, total := benchImage(b)
	for _, r := range readers {
		b.Run(r.name, func(b *testing.B) {
			fsys := r.open(b, img)
			b.SetBytes(total)
			b.ResetTimer()
			var wrong, failed int
			for i := 0; i < b.N; i++ {
				wrong, failed = hashAll(fsys, r.root, want)
			}
			b.ReportMetric(float64(wrong), "wrong-files")
			b.ReportMetric(float64(failed), "unread-files")
		})
	}
}

// TestCompareLibraries checks content correctness of each reader on the
// benchmark image, sequentially and with 8 goroutines reading at once.
func TestCompareLibraries(t *testing.T) {
	img, want, _ := benchImage(t)
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			fsys := r.open(t, img)
			wrong, failed := hashAll(fsys, r.root, want)
			t.Logf("sequential: %d wrong, %d unread of %d", wrong, failed, len(want))
			var paths []string
			for p := range want {
				paths = append(paths, p)
			}
			var mu sync.Mutex
			pwrong, pfailed := 0, 0
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < len(paths); i += 8 {
						f, err := fsys.Open(paths[i])
						if err != nil {
							mu.Lock()
							pfailed++
							mu.Unlock()
							continue
						}
						h := sha256.New()
						_, err = io.Copy(h, f)
						f.Close()
						mu.Lock()
						if err != nil {
							pfailed++
						} else if [32]byte(h.Sum(nil)) != want[paths[i]] {
							pwrong++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			t.Logf("8 goroutines: %d wrong, %d unread of %d", pwrong, pfailed, len(want))
			if r.name == "snapscan" && wrong+failed+pwrong+pfailed > 0 {
				t.Error("our reader must read every file correctly")
			}
		})
	}
}
