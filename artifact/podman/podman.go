// Package podman parses containers/storage's container list
// (storage/overlay-containers/containers.json), which Podman, Buildah and
// CRI-O share: container ID, names, image and the container's own layer.
// The OCI spec beside it (overlay-containers/<id>/userdata/config.json) is
// read with containerd.ParseSpec. Podman's restart policy lives in libpod's
// database: RestartPolicies reads bolt_state.db, RestartPoliciesSQL
// Podman 5's db.sql.
package podman

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/snapscan/snapscan/artifact/boltdb"
	"github.com/snapscan/snapscan/artifact/tmpcopy"
)

// MaxList bounds containers.json (a few KiB per container).
const MaxList = 16 << 20

// Container is one entry of containers.json.
type Container struct {
	ID        string
	Names     []string
	ImageID   string
	ImageName string // from the metadata's image-name, when present
	Layer     string // the container's read-write layer: overlay/<Layer>/diff
	Created   string
}

// ParseContainers reads containers.json.
func ParseContainers(data []byte) ([]Container, error) {
	if len(data) > MaxList {
		return nil, fmt.Errorf("containers.json larger than %d bytes", MaxList)
	}
	var raw []struct {
		ID       string   `json:"id"`
		Names    []string `json:"names"`
		Image    string   `json:"image"`
		Layer    string   `json:"layer"`
		Metadata string   `json:"metadata"`
		Created  string   `json:"created"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("containers.json: %w", err)
	}
	var out []Container
	for _, r := range raw {
		if r.ID == "" {
			continue
		}
		c := Container{ID: r.ID, Names: r.Names, ImageID: r.Image, Layer: r.Layer, Created: r.Created}
		// metadata is a JSON document inside a string (libpod's).
		var md struct {
			ImageName string `json:"image-name"`
		}
		if json.Unmarshal([]byte(r.Metadata), &md) == nil {
			c.ImageName = md.ImageName
		}
		out = append(out, c)
	}
	return out, nil
}

// RestartPolicies reads libpod's BoltDB state (storage/libpod/bolt_state.db:
// bucket "ctr", one bucket per container ID, key "config" holding the
// container's JSON configuration) for each container's restart policy.
func RestartPolicies(r io.Reader, size int64) (map[string]string, error) {
	out := map[string]string{}
	err := boltdb.View("bolt_state.db", r, size, func(tx *bolt.Tx) error {
		ctrs := tx.Bucket([]byte("ctr"))
		if ctrs == nil {
			return errors.New("bolt_state.db: no ctr bucket (not libpod's state)")
		}
		return ctrs.ForEachBucket(func(id []byte) error {
			var cfg struct {
				RestartPolicy string `json:"restart_policy"`
			}
			if raw := ctrs.Bucket(id).Get([]byte("config")); raw != nil && json.Unmarshal(raw, &cfg) == nil {
				out[string(id)] = cfg.RestartPolicy
			}
			return nil
		})
	})
	return out, err
}

// RestartPoliciesSQL reads Podman 5's SQLite state (storage/db.sql and its
// write-ahead log) from a bounded copy: table ContainerConfig, one JSON
// configuration per container.
func RestartPoliciesSQL(open tmpcopy.Opener) (map[string]string, error) {
	dir, err := tmpcopy.Files([]string{"db.sql", "db.sql-wal"}, open, boltdb.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("db.sql: %w", err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.Join(dir, "db.sql")}).EscapedPath()+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("db.sql: %w", err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT ID, JSON FROM ContainerConfig")
	if err != nil {
		return nil, fmt.Errorf("db.sql: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, js string
		if err := rows.Scan(&id, &js); err != nil {
			return out, fmt.Errorf("db.sql: %w", err)
		}
		var cfg struct {
			RestartPolicy string `json:"restart_policy"`
		}
		if json.Unmarshal([]byte(js), &cfg) == nil {
			out[id] = cfg.RestartPolicy
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("db.sql: %w", err)
	}
	return out, nil
}
