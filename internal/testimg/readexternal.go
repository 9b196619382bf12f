package testimg

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/ulikunitz/xz"
)

var externalCache sync.Map

// maxExternal caps what ReadExternal decompresses: the largest external
// hive is 15 MiB.
const maxExternal = 64 << 20

// ReadExternal returns the bytes of rel under the shared external test data,
// decompressed when it ends in .xz (the regipy hives), cached per process.
// It skips the test when the file is absent, as External does.
func ReadExternal(t testing.TB, rel string) []byte {
	t.Helper()
	p := External(t, rel)
	if b, ok := externalCache.Load(p); ok {
		return b.([]byte)
	}
	var out []byte
	var err error
	if !strings.HasSuffix(p, ".xz") {
		out, err = os.ReadFile(p)
	} else if out, err = exec.Command("xz", "-dc", p).Output(); err != nil {
		// The xz tool is ~50x faster than the pure-Go decoder on these
		// multi-MiB hives; the decoder is the fallback where it is missing.
		out, err = xzDecode(p)
	}
	if err != nil {
		t.Fatalf("testimg: reading %s: %v", rel, err)
	}
	externalCache.Store(p, out)
	return out
}

func xzDecode(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := xz.NewReader(f)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = io.Copy(&b, io.LimitReader(r, maxExternal))
	return b.Bytes(), err
}
