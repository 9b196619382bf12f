package scanner

import (
	"path"
	"strings"

	"github.com/snapscan/snapscan/report"
)

// linkContainerLayers names, in every finding on a file inside a
// container's own layer (overlay2/<id>/diff, swept like any other file),
// the container it belongs to: the container check inventories each
// container with its layer directory, the sweep knows only the file.
func linkContainerLayers(r *report.Report) {
	type owner struct{ layer, what string }
	var owners []owner
	for _, it := range r.Inventory {
		if it.Kind != "container" || it.Fields["layer"] == "" {
			continue
		}
		owners = append(owners, owner{path.Clean(it.Fields["layer"]) + "/",
			"container " + it.Fields["name"] + " (" + it.Fields["runtime"] + ", image " + it.Fields["image"] + ", id " + it.Fields["id"] + ", state " + it.Path + ")"})
	}
	if len(owners) == 0 {
		return
	}
	// A file's OS path: its volume's mount point in a target, plus its path.
	mounts := map[string][]string{}
	for _, t := range r.Targets {
		mounts[t.Volume] = append(mounts[t.Volume], "/")
		for mp, vol := range t.Mounts {
			mounts[vol] = append(mounts[vol], mp)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		for _, mp := range mounts[f.Evidence.Volume] {
			p := path.Join(mp, f.Evidence.Path)
			for _, o := range owners {
				if strings.HasPrefix(p, o.layer) && !strings.Contains(f.Description, o.what) {
					f.Description = strings.TrimSpace(f.Description + " This file belongs to " + o.what + ".")
				}
			}
		}
	}
}
