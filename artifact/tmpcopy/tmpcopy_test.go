package tmpcopy

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func opener(files map[string]string, claim map[string]int64) Opener {
	return func(name string) (io.ReadCloser, int64, error) {
		c, ok := files[name]
		if !ok {
			return nil, 0, fs.ErrNotExist
		}
		size := int64(len(c))
		if n, ok := claim[name]; ok {
			size = n
		}
		return io.NopCloser(strings.NewReader(c)), size, nil
	}
}

func TestFiles(t *testing.T) {
	dir, err := Files([]string{"db", "db-wal"}, opener(map[string]string{"db": "main"}, nil), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "db")); !bytes.Equal(b, []byte("main")) {
		t.Errorf("copy %q", b)
	}
	for name, c := range map[string]struct {
		files map[string]string
		claim map[string]int64
		want  string
	}{
		"main missing": {map[string]string{"db-wal": "x"}, nil, "not exist"},
		"over the cap": {map[string]string{"db": strings.Repeat("x", 101)}, nil, "more than"},
		"claims 1 GiB": {map[string]string{"db": "x"}, map[string]int64{"db": 1 << 30}, "more than"},
		"short read":   {map[string]string{"db": "xy"}, map[string]int64{"db": 50}, "read 2 of 50"},
	} {
		if d, err := Files([]string{"db", "db-wal"}, opener(c.files, c.claim), 100); err == nil || !strings.Contains(err.Error(), c.want) || d != "" {
			t.Errorf("%s: %q %v", name, d, err)
		}
	}
}
