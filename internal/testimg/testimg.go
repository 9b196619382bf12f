// Package testimg hands tests the disk images that testdata/images/make.sh builds with real tools and commits
// gzip-compressed: each is decompressed once into a cache shared by all test binaries, checked against
// testdata/images/SHA256SUMS and made read-only, so tests need neither root nor the image tools.
package testimg

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/fsread"
)

// ImagesDir is the repository-relative folder holding the committed images, SHA256SUMS and images.conf.
const ImagesDir = "testdata/images"

// RepoRoot returns the directory holding go.mod, found by walking up from the working directory (go test runs each
// package in its own folder, so a fixed relative path would differ per package).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testimg: %v", err)
	}
	return root
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

func repoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = fmt.Errorf("finding the repository root: %w", err)
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

// External returns the path of rel under the shared external test data (../shared/external beside the repository,
// where CI puts it). It skips the test when that file or folder is absent, because those files are never copied
// into the repository.
func External(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", "external", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("testimg: external test data %s is absent (expected at ../shared/external beside the repository): %v", rel, err)
	}
	return p
}

// Names lists the images recorded in SHA256SUMS (decompressed names such as "ext4-bare.img"), sorted.
func Names(t testing.TB) []string {
	t.Helper()
	sums, err := readSums(filepath.Join(RepoRoot(t), ImagesDir, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("testimg: %v", err)
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Path returns the path of a decompressed, read-only (0444) copy of testdata/images/NAME.gz, e.g. Path(t,
// "ext4-bare.img"). The copy lives under os.TempDir()/snapscan-testimg-<uid>/<first 16 hex digits of the SHA-256
// of the .gz>/NAME, so a rebuilt image never meets a stale copy; it is written to a temporary file and renamed into place,
// which keeps parallel test binaries safe, and its SHA-256 is checked against SHA256SUMS. Skips the test when the
// .gz is not there (not built yet).
func Path(t testing.TB, name string) string {
	t.Helper()
	root := RepoRoot(t)
	gz := filepath.Join(root, ImagesDir, name+".gz")
	if _, err := os.Stat(gz); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("testimg: %s is not built (run testdata/images/make.sh as root): %v", name+".gz", err)
	}
	sums, err := readSums(filepath.Join(root, ImagesDir, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("testimg: %v", err)
	}
	want, ok := sums[name]
	if !ok {
		t.Fatalf("testimg: %s has no entry in %s/SHA256SUMS (re-run testdata/images/make.sh)", name, ImagesDir)
	}
	// Per user: a cache left by a root run must not make an unprivileged run fail on permissions.
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("snapscan-testimg-%d", os.Getuid()))
	p, err := materialize(cache, gz, name, want)
	if err != nil {
		t.Fatalf("testimg: %v", err)
	}
	return p
}

var (
	cacheMu  sync.Mutex
	verified = map[string]bool{} // cache paths whose content this process has hashed already
)

// materialize decompresses gz into cacheRoot/<key>/name unless a copy with the wanted SHA-256 is already there.
func materialize(cacheRoot, gz, name, want string) (string, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	gzSum, err := fileSHA256(gz)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheRoot, gzSum[:16])
	final := filepath.Join(dir, name)
	if verified[final] {
		return final, nil
	}
	if got, err := fileSHA256(final); err == nil {
		if got == want {
			verified[final] = true
			return final, nil
		}
		// Someone wrote to the cached copy (root ignores 0444): start again from the .gz.
		if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("replacing tampered cache copy %s: %w", final, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating image cache %s: %w", dir, err)
	}
	got, tmp, err := decompress(gz, dir, name)
	if err != nil {
		return "", err
	}
	if got != want {
		os.Remove(tmp)
		return "", fmt.Errorf("%s decompresses to SHA-256 %s, but SHA256SUMS says %s (re-run testdata/images/make.sh)", gz, got, want)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("installing %s: %w", final, err)
	}
	verified[final] = true
	return final, nil
}

// decompress writes gz's content to a new 0444 temporary file in dir and returns its SHA-256 and path.
func decompress(gz, dir, name string) (sum, tmp string, err error) {
	in, err := os.Open(gz)
	if err != nil {
		return "", "", err
	}
	defer in.Close()
	zr, err := gzip.NewReader(bufio.NewReader(in))
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", gz, err)
	}
	out, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return "", "", fmt.Errorf("decompressing %s: %w", gz, err)
	}
	tmp = out.Name()
	fail := func(err error) (string, string, error) {
		out.Close()
		os.Remove(tmp)
		return "", "", fmt.Errorf("decompressing %s: %w", gz, err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), zr); err != nil {
		return fail(err)
	}
	if err := zr.Close(); err != nil {
		return fail(err)
	}
	if err := out.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	return hex.EncodeToString(h.Sum(nil)), tmp, nil
}

// Unchanged hashes path now and registers a cleanup that fails the test if the SHA-256 has changed by the end:
// the tool's promise never to write to an image, checked after whatever the test ran against it.
func Unchanged(t testing.TB, path string) {
	t.Helper()
	before, err := fileSHA256(path)
	if err != nil {
		t.Fatalf("testimg: %v", err)
	}
	t.Cleanup(func() {
		if err := checkUnchanged(path, before); err != nil {
			t.Errorf("testimg: read-only promise broken: %v", err)
		}
	})
}

func checkUnchanged(path, before string) error {
	after, err := fileSHA256(path)
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("%s changed during the test: SHA-256 %s before, %s after", path, before, after)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var sumLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](\S.*)$`)

// readSums parses sha256sum output: "HEX  NAME" per line.
func readSums(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading image checksums: %w", err)
	}
	sums := map[string]string{}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		m := sumLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s:%d: not a sha256sum line: %q", path, i+1, line)
		}
		sums[m[2]] = m[1]
	}
	return sums, nil
}

// OpenFS opens the filesystem image at path read-only with a reader's
// constructor (ext4.New, xfs.New, ntfs.New), closing the file when the test
// ends.
func OpenFS(t testing.TB, path string, newFS func(io.ReaderAt, int64, string) (fsread.FS, error)) fsread.FS {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := newFS(f, st.Size(), filepath.Base(path))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	return fsys
}
