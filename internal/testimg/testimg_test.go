package testimg

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB records what Unchanged, External and Path report instead of failing or skipping the real test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errors   []string
	skipped  string
	fatal    string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(s string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(s, a...))
}
func (f *fakeTB) Skipf(s string, a ...any)  { f.skipped = fmt.Sprintf(s, a...); runtime.Goexit() }
func (f *fakeTB) Fatalf(s string, a ...any) { f.fatal = fmt.Sprintf(s, a...); runtime.Goexit() }

// run calls fn on a fresh fakeTB in its own goroutine (Skipf and Fatalf end it the way testing does), then runs
// the registered cleanups in reverse order.
func run(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestRepoRootHoldsThisModule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("module github.com/snapscan/snapscan")) {
		t.Fatalf("RepoRoot found a go.mod of another module:\n%s", data)
	}
}

// Every committed image must decompress to the bytes SHA256SUMS promises, and every .gz must be listed: a .gz
// rebuilt without re-running make.sh to its end, or a stale checksum, fails here.
func TestEveryImageMatchesSHA256SUMS(t *testing.T) {
	dir := filepath.Join(RepoRoot(t), ImagesDir)
	sums, err := readSums(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	gzs, _ := filepath.Glob(filepath.Join(dir, "*.gz"))
	if len(gzs) == 0 {
		t.Skip("no committed images: run testdata/images/make.sh as root")
	}
	for _, gz := range gzs {
		if _, ok := sums[strings.TrimSuffix(filepath.Base(gz), ".gz")]; !ok {
			t.Errorf("%s is not listed in SHA256SUMS", filepath.Base(gz))
		}
	}
	for _, name := range Names(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, name+".gz")); err != nil {
				t.Fatalf("SHA256SUMS lists %s but its .gz is missing: %v", name, err)
			}
			p := Path(t, name)
			got, err := fileSHA256(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != sums[name] {
				t.Fatalf("%s: SHA-256 %s, SHA256SUMS says %s", p, got, sums[name])
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o444 {
				t.Errorf("%s: mode %v, want read-only 0444", p, st.Mode().Perm())
			}
			if again := Path(t, name); again != p {
				t.Errorf("second Path(%q) = %s, want the cached %s", name, again, p)
			}
		})
	}
}

func TestPathSkipsWhenNotBuilt(t *testing.T) {
	f := run(func(tb testing.TB) { Path(tb, "no-such-image.img") })
	if f.skipped == "" || f.fatal != "" {
		t.Fatalf("Path on a missing image: skipped=%q fatal=%q, want a skip", f.skipped, f.fatal)
	}
	if !strings.Contains(f.skipped, "no-such-image.img.gz") {
		t.Errorf("skip message does not name the image: %q", f.skipped)
	}
}

func TestExternalSkipsWhenAbsent(t *testing.T) {
	f := run(func(tb testing.TB) { External(tb, "no/such/file-from-testimg") })
	if f.skipped == "" || !strings.Contains(f.skipped, "no/such/file-from-testimg") {
		t.Fatalf("External on an absent path: skipped=%q, want a skip naming it", f.skipped)
	}
}

func writeGz(t *testing.T, path string, content []byte) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMaterialize(t *testing.T) {
	content := []byte("not really a disk image\n")
	want := sha(content)
	cases := []struct {
		name    string
		want    string
		tamper  bool // overwrite the cached copy before the second call
		wantErr bool
	}{
		{"fresh copy", want, false, false},
		{"tampered copy is replaced", want, true, false},
		{"checksum mismatch", sha([]byte("other")), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, cache := t.TempDir(), t.TempDir()
			gz := filepath.Join(src, "x.img.gz")
			writeGz(t, gz, content)
			p, err := materialize(cache, gz, "x.img", tc.want)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("materialize with a wrong checksum succeeded: %s", p)
				}
				if left, _ := filepath.Glob(filepath.Join(cache, "*", "*")); len(left) != 0 {
					t.Errorf("a failed materialize left files behind: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
				t.Fatalf("cached copy holds %q", got)
			}
			if tc.tamper {
				os.Chmod(p, 0o644)
				if err := os.WriteFile(p, []byte("scribbled"), 0o644); err != nil {
					t.Fatal(err)
				}
				cacheMu.Lock()
				delete(verified, p) // as a new test binary would see it
				cacheMu.Unlock()
			}
			p2, err := materialize(cache, gz, "x.img", tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p2); p2 != p || !bytes.Equal(got, content) {
				t.Fatalf("second materialize: %s holding %q, want %s holding the original", p2, got, p)
			}
			if st, _ := os.Stat(p2); st.Mode().Perm() != 0o444 {
				t.Errorf("mode %v, want 0444", st.Mode().Perm())
			}
		})
	}
}

// Concurrent callers (as parallel test binaries would be) all end with the one verified copy.
func TestMaterializeConcurrent(t *testing.T) {
	content := bytes.Repeat([]byte("block"), 1<<16)
	src, cache := t.TempDir(), t.TempDir()
	gz := filepath.Join(src, "c.img.gz")
	writeGz(t, gz, content)
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = materialize(cache, gz, "c.img", sha(content))
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("caller %d: %s, %v; caller 0: %s", i, paths[i], errs[i], paths[0])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(paths[0]), "*.tmp*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestUnchanged(t *testing.T) {
	cases := []struct {
		name    string
		modify  func(path string) error
		wantErr bool
	}{
		{"untouched", func(string) error { return nil }, false},
		{"read only", func(p string) error { _, err := os.ReadFile(p); return err }, false},
		{"one byte flipped", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[3] ^= 1
			return os.WriteFile(p, b, 0o644)
		}, true},
		{"appended", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte{0})
			return f.Close()
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "scratch.img")
			if err := os.WriteFile(p, []byte("scratch image content"), 0o644); err != nil {
				t.Fatal(err)
			}
			f := run(func(tb testing.TB) {
				Unchanged(tb, p)
				if err := tc.modify(p); err != nil {
					t.Error(err)
				}
			})
			if f.fatal != "" {
				t.Fatalf("Unchanged failed fatally: %s", f.fatal)
			}
			if got := len(f.errors) > 0; got != tc.wantErr {
				t.Fatalf("errors reported: %q, want an error: %v", f.errors, tc.wantErr)
			}
		})
	}
}

func TestUnchangedOnMissingFileIsFatal(t *testing.T) {
	f := run(func(tb testing.TB) { Unchanged(tb, filepath.Join(t.TempDir(), "absent")) })
	if f.fatal == "" {
		t.Fatal("Unchanged on a missing file did not fail")
	}
}

func TestReadSums(t *testing.T) {
	cases := []struct {
		name, text string
		want       map[string]string
		wantErr    bool
	}{
		{"two entries", strings.Repeat("a", 64) + "  one.img\n" + strings.Repeat("b", 64) + " *two.img\n",
			map[string]string{"one.img": strings.Repeat("a", 64), "two.img": strings.Repeat("b", 64)}, false},
		{"empty", "", map[string]string{}, false},
		{"short hash", "abc  one.img\n", nil, true},
		{"no name", strings.Repeat("a", 64) + "  \n", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "SHA256SUMS")
			os.WriteFile(p, []byte(tc.text), 0o644)
			got, err := readSums(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
