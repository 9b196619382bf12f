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
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/snapscan/snapscan/artifact/boltdb"
)

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

// ReadFile reads the containers of a meta.db (size bytes from r) through a
// bounded, read-only copy (package boltdb).
func ReadFile(r io.Reader, size int64) ([]Container, error) {
	var cs []Container
	err := boltdb.View("meta.db", r, size, func(tx *bolt.Tx) error {
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
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Namespace != cs[j].Namespace {
			return cs[i].Namespace < cs[j].Namespace
		}
		return cs[i].ID < cs[j].ID
	})
	return cs, nil
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
