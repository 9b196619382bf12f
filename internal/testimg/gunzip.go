package testimg

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ExternalGunzip decompresses the external test file rel (a .gz under
// ../shared/external, see External) into the test's temporary directory
// and returns the copy's path; it skips the test when rel is absent.
func ExternalGunzip(t testing.TB, rel string) string {
	t.Helper()
	src := External(t, rel)
	dst := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".gz"))
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatalf("testimg: %s: %v", src, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatalf("testimg: %s: %v", src, err)
	}
	return dst
}
