package ntfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
)

// TestConcurrentReads reads different files from one FS in 8 goroutines,
// several rounds each, comparing hashes; run with -race.
func TestConcurrentReads(t *testing.T) {
	fsys := openImage(t, testImage(t))
	files := map[string][]byte{
		"big.bin":                                    randBytes(2, 3<<20),
		"sparse.bin":                                 sparseWant(),
		"Compressed/data.txt":                        compressible(),
		"Windows/System32/notepad.exe":               randBytes(3, 70000),
		"Windows/System32/drivers/etc/hosts":         hostsData,
		"Users/Alice/Junction/drivers/etc/hosts":     hostsData,
		"Program Files/Some App/app with spaces.exe": randBytes(1, 5000),
		"Windows/Temp/file-0398.tmp":                 []byte("temp 398\n"),
	}
	var names []string
	want := map[string][32]byte{}
	for n, b := range files {
		names = append(names, n)
		want[n] = sha256.Sum256(b)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				n := names[(g+round)%len(names)]
				f, err := fsys.Open(n)
				if err != nil {
					errs <- err
					return
				}
				h := sha256.New()
				// Odd buffer sizes cross chunk and compression-unit edges.
				_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 7919+g*1000))
				f.Close()
				if err != nil {
					errs <- err
					return
				}
				if [32]byte(h.Sum(nil)) != want[n] {
					errs <- errors.New(n + ": hash differs")
				}
				if _, err := fsys.ReadDir("Windows/Temp"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// within fails the test if f does not return in d: a corrupt image must
// not hang the scan.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("no answer within %v", d)
	}
}

// exercise opens a volume and reads everything it can; it reports whether
// New succeeded and how many errors the walk met. It must not panic.
func exercise(r io.ReaderAt, size int64) (opened bool, errs int, err error) {
	fsys, err := New(r, size, "corrupt.img")
	if err != nil {
		return false, 0, err
	}
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs++
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fsys.ReadLink(p)
			fsys.Stat(p)
			return nil
		}
		if _, err := d.Info(); err != nil {
			errs++
		}
		if d.Type().IsRegular() {
			if _, err := fs.ReadFile(fsys, p); err != nil {
				errs++
			}
		}
		return nil
	})
	return true, errs, nil
}

func TestCorruption(t *testing.T) {
	img, err := os.ReadFile(testImage(t))
	if err != nil {
		t.Fatal(err)
	}
	fsys := openImage(t, testImage(t))
	mftInfo, err := fsys.Stat("$MFT")
	if err != nil {
		t.Fatal(err)
	}
	// The $MFT's first 128 records are contiguous at the boot sector's LCN.
	bt, err := parseBoot(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	mftOff := int64(bt.mftLCN) * bt.clusterSize
	mftLen := min(mftInfo.Size(), 128*bt.recordSize)

	// Each case mutates a fresh copy of the image in one reused buffer.
	buf := make([]byte, len(img))
	tests := []struct {
		name     string
		mutate   func(b []byte) []byte
		wantOpen bool  // New must succeed (and then report errors) or fail
		wantErr  error // New's error must wrap this, if set
		wantRead bool  // reading everything must meet at least one error
	}{
		{"zeroed boot sector", func(b []byte) []byte { clear(b[:512]); return b }, false, ErrNotNTFS, false},
		{"bad cluster size", func(b []byte) []byte { b[0x0D] = 3; return b }, false, ErrNotNTFS, false},
		{"MFT beyond volume", func(b []byte) []byte { b[0x37] = 0x7f; return b }, false, ErrNotNTFS, false},
		{"truncated before the MFT", func(b []byte) []byte { return b[:mftOff] }, false, fsread.ErrCorrupt, false},
		{"truncated to 1 MiB", func(b []byte) []byte { return b[:1<<20] }, false, nil, true},
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }, true, nil, true},
		{"zeroed MFT record 0", func(b []byte) []byte { clear(b[mftOff : mftOff+bt.recordSize]); return b }, false, fsread.ErrCorrupt, false},
		{"zeroed root directory", func(b []byte) []byte {
			clear(b[mftOff+5*bt.recordSize : mftOff+6*bt.recordSize])
			return b
		}, false, fsread.ErrCorrupt, false},
		{"zeroed $UpCase record", func(b []byte) []byte {
			clear(b[mftOff+10*bt.recordSize : mftOff+11*bt.recordSize])
			return b
		}, true, nil, true},
	}
	// Random byte flips over the MFT region, seeded so failures replay.
	for seed := range uint64(12) {
		flips := 1 + int(seed)*8
		tests = append(tests, struct {
			name     string
			mutate   func(b []byte) []byte
			wantOpen bool
			wantErr  error
			wantRead bool
		}{
			name: fmt.Sprintf("MFT flips seed %d", seed),
			mutate: func(b []byte) []byte {
				r := rand.New(rand.NewPCG(seed, 42))
				for range flips {
					b[mftOff+r.Int64N(mftLen)] ^= byte(1 + r.IntN(255))
				}
				return b
			},
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			within(t, 15*time.Second, func() {
				copy(buf, img)
				image := tc.mutate(buf)
				opened, errs, err := exercise(bytes.NewReader(image), int64(len(image)))
				if err != nil {
					t.Logf("New: %v", err)
				} else {
					t.Logf("opened; %d errors during the walk", errs)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("New error %v, want %v", err, tc.wantErr)
				}
				if tc.wantRead && opened && errs == 0 {
					t.Errorf("read everything without an error")
				}
				if tc.wantOpen && !opened {
					t.Errorf("New failed: %v", err)
				}
			})
		})
	}
}
