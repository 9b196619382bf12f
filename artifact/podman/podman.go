// Package podman parses containers/storage's container list
// (storage/overlay-containers/containers.json), which Podman, Buildah and
// CRI-O share: container ID, names, image and the container's own layer.
// The OCI spec beside it (overlay-containers/<id>/userdata/config.json) is
// read with containerd.ParseSpec. Podman's restart policy lives in libpod's
// database (bolt_state.db or db.sql), which this package does not read.
package podman

import (
	"encoding/json"
	"fmt"
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
