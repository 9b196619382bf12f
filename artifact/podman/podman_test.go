package podman

import (
	"bytes"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The layout containers/storage writes (podman 4.x, trimmed to one entry).
const list = `[{"id":"5b1c0e7a9d2f4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c","names":["web"],"image":"a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6","layer":"0f3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e","metadata":"{\"image-name\":\"docker.io/library/nginx:latest\",\"image-id\":\"a8758716bb6a\",\"name\":\"web\",\"created-at\":1714644671,\"mountlabel\":\"\"}","created":"2024-05-02T10:11:11.987654321Z","flags":{"MountLabel":"","ProcessLabel":""}}]`

func TestParseContainers(t *testing.T) {
	cs, err := ParseContainers([]byte(list))
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	c := cs[0]
	if c.ImageName != "docker.io/library/nginx:latest" || !reflect.DeepEqual(c.Names, []string{"web"}) || len(c.Layer) != 64 {
		t.Errorf("%+v", c)
	}
	for _, bad := range []string{"", "{}", `[{"id":5}]`} {
		if _, err := ParseContainers([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseContainers(f *testing.F) {
	f.Add([]byte(`[{"id":"a","names":["n"],"metadata":"{\"image-name\":\"x\"}"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseContainers(data)
		cs2, _ := ParseContainers(data)
		if !reflect.DeepEqual(cs, cs2) {
			t.Fatal("different result twice")
		}
		for _, c := range cs {
			if c.ID == "" {
				t.Fatal("container without ID")
			}
		}
		_ = err
	})
}

// bolt_state.db written with the bbolt library in libpod's layout.
func TestRestartPolicies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bolt_state.db")
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		ctr, _ := tx.CreateBucket([]byte("ctr"))
		for id, pol := range map[string]string{"m1": "always", "n1": ""} {
			b, _ := ctr.CreateBucket([]byte(id))
			b.Put([]byte("config"), []byte(`{"id":"`+id+`","name":"x","restart_policy":"`+pol+`","rootfsImageName":"alpine"}`))
		}
		tx.CreateBucket([]byte("all-ctrs"))
		return nil
	})
	db.Close()
	data, _ := os.ReadFile(p)
	got, err := RestartPolicies(bytes.NewReader(data), int64(len(data)))
	if err != nil || !reflect.DeepEqual(got, map[string]string{"m1": "always", "n1": ""}) {
		t.Errorf("%v %v", got, err)
	}
	if _, err := RestartPolicies(bytes.NewReader(data[:len(data)/3]), int64(len(data)/3)); err == nil || !strings.Contains(err.Error(), "bolt_state.db") {
		t.Errorf("truncated: %v", err)
	}
}

// db.sql written by SQLite itself (modernc.org/sqlite) with libpod's table.
func TestRestartPoliciesSQL(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "db.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"PRAGMA journal_mode=WAL",
		"CREATE TABLE ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL, PodID TEXT, JSON TEXT NOT NULL)",
		`INSERT INTO ContainerConfig VALUES ('m1', 'sync', NULL, '{"id":"m1","restart_policy":"always"}'), ('n1', 'web', NULL, '{"id":"n1"}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// Read while the writer still holds its log: the rows may live in db.sql-wal only.
	open := func(name string) (io.ReadCloser, int64, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, 0, err
		}
		fi, _ := f.Stat()
		return f, fi.Size(), nil
	}
	got, err := RestartPoliciesSQL(open)
	db.Close()
	if err != nil || !reflect.DeepEqual(got, map[string]string{"m1": "always", "n1": ""}) {
		t.Errorf("%v %v", got, err)
	}
	if _, err := RestartPoliciesSQL(func(string) (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader("not a database at all, not at all")), 33, nil
	}); err == nil || !strings.Contains(err.Error(), "db.sql") {
		t.Errorf("garbage: %v", err)
	}
}
