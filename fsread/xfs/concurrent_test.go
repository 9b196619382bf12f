package xfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
)

// TestConcurrent reads different files from one FS in 8 goroutines, in
// small chunks at scattered offsets so that the reads interleave; every
// hash must match. Run with -race.
func TestConcurrent(t *testing.T) {
	v := variants[0]
	fsys := openImage(t, buildImage(t, v))
	var files []spec
	for _, s := range v.tree() {
		if s.kind == '-' && (len(s.data) > 1000 || len(files) < 40) {
			files = append(files, s)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(files)*3; i += 8 {
				s := files[i%len(files)]
				f, err := fsys.Open(s.path)
				if err != nil {
					errs <- err
					return
				}
				ra := f.(io.ReaderAt)
				got := make([]byte, len(s.data))
				// Back to front in odd-sized chunks.
				chunk := 4093 + g*512
				for off := len(got); off > 0; off -= chunk {
					lo := max(0, off-chunk)
					if _, err := ra.ReadAt(got[lo:off], int64(lo)); err != nil && err != io.EOF {
						errs <- fmt.Errorf("%s at %d: %w", s.path, lo, err)
						f.Close()
						return
					}
				}
				f.Close()
				if !bytes.Equal(got, s.data) {
					errs <- fmt.Errorf("%s: content differs under concurrency (goroutine %d)", s.path, g)
					return
				}
				if _, err := fsys.ReadDir("bigdir"); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFSTest runs the io/fs conformance checks on the subtrees of one
// image that hold no device nodes or broken links (Open refuses those by
// design, which fstest counts as errors).
func TestFSTest(t *testing.T) {
	v := variants[0]
	fsys := openImage(t, buildImage(t, v))
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"etc", []string{"passwd", "cron.d/miner", "ld.so.preload"}},
		{"home", []string{"miner/.ssh/authorized_keys"}},
		{"small", []string{"a", "b", "c"}},
		{"leafdir", []string{"entry-0149-zzzzzz"}},
		{"longnames", []string{"x"}},
	} {
		sub, err := fs.Sub(fsys, tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := fstest.TestFS(sub, tc.want...); err != nil {
			t.Errorf("%s: %v", tc.dir, err)
		}
	}
}
