package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// A miner config in a Docker container's own layer is found by the sweep
// and names the container (from the container check's inventory).
func TestContainerLayerLinked(t *testing.T) {
	rules, _, err := yarascan.Compile(yarascan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	src := filepath.Join("..", "artifact", "docker", "testdata", "miner")
	id := "c0ffee11d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9"
	mount := "9d3b6f0a1c2e4f6a"
	files := map[string]string{
		"etc/os-release": "ID=debian\n",
		"etc/passwd":     "root:x:0:0:root:/root:/bin/bash\n",
		"var/lib/docker/image/overlay2/layerdb/mounts/" + id + "/mount-id": mount,
		"var/lib/docker/overlay2/" + mount + "/diff/tmp/.x/config.json":    `{"pools":[{"url":"pool.supportxmr.com:3333","user":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"}],"cpu":{"enabled":true},"donate-level":1}`,
	}
	for _, n := range []string{"config.v2.json", "hostconfig.json"} {
		data, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		files["var/lib/docker/containers/"+id+"/"+n] = string(data)
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(c), 0o644)
	}
	r := ScanDir(context.Background(), root, "linux", Options{Checks: checks(), Sweep: ruleSweeper{rules}, Version: "test"})
	var layerFinding, containerFinding *report.Finding
	for i, f := range r.Findings {
		switch {
		case strings.HasSuffix(f.Evidence.Path, "/diff/tmp/.x/config.json") && f.Check == "sweep":
			layerFinding = &r.Findings[i]
		case f.Rule == "container.host-root-miner":
			containerFinding = &r.Findings[i]
		}
	}
	if containerFinding == nil || layerFinding == nil {
		t.Fatalf("container finding %v, layer finding %v", containerFinding, layerFinding)
	}
	if !strings.Contains(layerFinding.Description, "belongs to container kube-sync") || !strings.Contains(layerFinding.Description, id) {
		t.Errorf("layer finding not linked: %q", layerFinding.Description)
	}
}
