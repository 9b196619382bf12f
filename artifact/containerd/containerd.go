// Package containerd reads containerd's metadata database
// (io.containerd.metadata.v1.bolt/meta.db, a bbolt file) for its
// containers: v1/<namespace>/containers/<id> with image, labels and the
// OCI runtime spec. bbolt needs a file it can mmap, so the caller hands a
// copy in a temporary directory (ReadFile does that from any reader, with a
// bounded size); the copy is opened read-only and never written.
package containerd

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxDB bounds the copy of meta.db (a busy Kubernetes node's is tens of MiB).
const MaxDB = 512 << 20

// Container is one container record.
type Container struct {
	Namespace, ID string
	Image         string
	Labels        map[string]string
	Snapshotter   string
	SnapshotKey   string
	Runtime       string
	Spec          *Spec // nil when the record has none or it does not parse
	SpecErr       string
}

// Spec is the part of the OCI runtime spec that decides what runs and what
// of the host it reaches.
type Spec struct {
	Process *struct {
		Args         []string `json:"args"`
		Env          []string `json:"env"`
		Capabilities *struct {
			Bounding []string `json:"bounding"`
		} `json:"capabilities"`
	} `json:"process"`
	Mounts []struct {
		Destination string   `json:"destination"`
		Type        string   `json:"type"`
		Source      string   `json:"source"`
		Options     []string `json:"options"`
	} `json:"mounts"`
	Linux *struct {
		Namespaces []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"namespaces"`
	} `json:"linux"`
}

// HostNamespace says the container shares the host's namespace of this type
// ("pid", "network", "ipc"): the spec lists no new one.
func (s *Spec) HostNamespace(typ string) bool {
	if s == nil || s.Linux == nil {
		return false
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == typ {
			// A path joins an existing namespace: PID 1's is the host's.
			return strings.HasPrefix(n.Path, "/proc/1/")
		}
	}
	return true
}

// ParseSpecAny decodes the "spec" value: a protobuf google.protobuf.Any
// (field 1 type_url, field 2 value) whose value is the spec as JSON.
func ParseSpecAny(b []byte) (*Spec, error) {
	var value []byte
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("spec: bad protobuf key")
		}
		b = b[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			if _, n = binary.Uvarint(b); n <= 0 {
				return nil, errors.New("spec: bad varint")
			}
			b = b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, errors.New("spec: length past the end")
			}
			if field == 2 {
				value = b[n : n+int(l)]
			}
			b = b[n+int(l):]
		default:
			return nil, fmt.Errorf("spec: unexpected wire type %d", wire)
		}
	}
	if value == nil {
		return nil, errors.New("spec: no value")
	}
	return ParseSpec(value)
}

// ParseSpec decodes an OCI runtime spec as JSON (a bundle's config.json,
// as Podman keeps in userdata/config.json).
func ParseSpec(b []byte) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return &s, nil
}

// ReadFile copies r (size bytes, a meta.db read from an image) into a
// temporary file and reads its containers.
func ReadFile(r io.Reader, size int64) ([]Container, error) {
	if size > MaxDB {
		return nil, fmt.Errorf("meta.db is %d bytes, more than the %d read", size, MaxDB)
	}
	dir, err := os.MkdirTemp("", "snapscan-containerd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "meta.db")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, io.LimitReader(r, MaxDB))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copying meta.db: %w", err)
	}
	if n < size {
		return nil, fmt.Errorf("meta.db: read %d of %d bytes", n, size)
	}
	return Open(p)
}

// Open reads the containers of a bbolt file at p, opened read-only. A
// truncated or corrupt file is an error, never a crash: bbolt panics on
// bad pages and faults on pages past the end of its mapping, and both are
// turned into errors here.
func Open(p string) (cs []Container, err error) {
	if err := checkSize(p); err != nil {
		return nil, err
	}
	db, err := bolt.Open(p, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("meta.db: %w", err)
	}
	defer db.Close()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			cs, err = nil, fmt.Errorf("meta.db: corrupt database: %v", p)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		v1 := tx.Bucket([]byte("v1"))
		if v1 == nil {
			return errors.New("meta.db: no v1 bucket (not containerd's metadata)")
		}
		return v1.ForEachBucket(func(ns []byte) error {
			cb := v1.Bucket(ns).Bucket([]byte("containers"))
			if cb == nil {
				return nil
			}
			return cb.ForEachBucket(func(id []byte) error {
				cs = append(cs, container(string(ns), string(id), cb.Bucket(id)))
				return nil
			})
		})
	})
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Namespace != cs[j].Namespace {
			return cs[i].Namespace < cs[j].Namespace
		}
		return cs[i].ID < cs[j].ID
	})
	return cs, err
}

func container(ns, id string, b *bolt.Bucket) Container {
	c := Container{Namespace: ns, ID: id, Image: string(b.Get([]byte("image"))),
		Snapshotter: string(b.Get([]byte("snapshotter"))), SnapshotKey: string(b.Get([]byte("snapshotKey")))}
	if lb := b.Bucket([]byte("labels")); lb != nil {
		c.Labels = map[string]string{}
		lb.ForEach(func(k, v []byte) error {
			c.Labels[string(k)] = string(v)
			return nil
		})
	}
	if rb := b.Bucket([]byte("runtime")); rb != nil {
		c.Runtime = string(rb.Get([]byte("name")))
	}
	if raw := b.Get([]byte("spec")); raw != nil {
		s, err := ParseSpecAny(raw)
		if err != nil {
			c.SpecErr = err.Error()
		}
		c.Spec = s
	}
	return c
}

// checkSize compares the file with the high-water mark its meta pages
// claim: a truncated copy is named as such before bbolt maps it.
func checkSize(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := make([]byte, 64)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return fmt.Errorf("meta.db: %d bytes, too short for a bbolt file", fi.Size())
	}
	// Page header (16 bytes), then meta: magic, version, page size.
	if binary.LittleEndian.Uint32(hdr[16:]) != 0xED0CDAED {
		return errors.New("meta.db: not a bbolt file (bad magic)")
	}
	ps := int64(binary.LittleEndian.Uint32(hdr[24:]))
	if ps < 512 || ps > 1<<16 {
		return fmt.Errorf("meta.db: page size %d", ps)
	}
	var hwm int64
	for i := int64(0); i < 2; i++ {
		m := make([]byte, 64)
		if _, err := f.ReadAt(m, i*ps); err != nil {
			continue
		}
		// meta: magic 4, version 4, pageSize 4, flags 4, root 16, freelist 8, pgid 8.
		if pg := int64(binary.LittleEndian.Uint64(m[16+40:])); pg > hwm && binary.LittleEndian.Uint32(m[16:]) == 0xED0CDAED {
			hwm = pg
		}
	}
	if hwm*ps > fi.Size() {
		return fmt.Errorf("meta.db: truncated: %d bytes, its meta pages claim %d pages of %d bytes", fi.Size(), hwm, ps)
	}
	return nil
}
