package linux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/snapscan/snapscan/artifact/containerd"
	"github.com/snapscan/snapscan/artifact/docker"
	"github.com/snapscan/snapscan/artifact/k8s"
	"github.com/snapscan/snapscan/artifact/podman"
	"github.com/snapscan/snapscan/artifact/tmpcopy"
	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/check"
)

// Containers reads the container runtimes' state on disk (Docker's
// config.v2.json and hostconfig.json, rootful and rootless; containerd's
// meta.db; kubelet static pods; Podman's containers/storage), inventories
// every container as an autostart and judges its command, image and how
// much of the host it reaches. On a cloud workload the runtime's state is
// the autostart: the daemon restarts what it lists.
type Containers struct{}

func (Containers) Name() string { return "containers" }
func (Containers) OS() string   { return "linux" }

func (c Containers) Run(ctx context.Context, t *check.Target, out check.Sink) error {
	r := newRun(c.Name(), t, out)
	p := priv()
	roots := r.expandGlobsIn(p.list("container", "docker-root"), peopleHomes(t))
	for _, root := range roots {
		dir := path.Join(root, "containers")
		for _, e := range capEntries(r, dir, r.readDirQuiet(dir)) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if e.IsDir() {
				r.dockerContainer(root, path.Join(dir, e.Name()))
			}
		}
	}
	if mp := p.list("container", "containerd-meta"); len(mp) > 0 {
		r.containerdMeta(mp[0])
	}
	r.staticPods(ctx)
	for _, root := range r.expandGlobsIn(p.list("container", "podman-root"), peopleHomes(t)) {
		r.podman(root)
	}
	return nil
}

// podman reads containers/storage's list, each container's OCI spec and
// libpod's state for restart policies (bolt_state.db, or Podman 5's
// db.sql); units podman generated are judged by the systemd check.
func (r *run) podman(root string) {
	lp := path.Join(root, "overlay-containers", "containers.json")
	f, _ := r.readStateMax(lp, podman.MaxList)
	if f == nil {
		return
	}
	cs, err := podman.ParseContainers(f.Data)
	if err != nil {
		r.out.Error(lp, fmt.Errorf("%s: %s: %w", r.t.Volume, lp, err))
		return
	}
	restart := map[string]string{}
	bp := path.Join(root, "libpod", "bolt_state.db")
	if m, ok := r.stat(bp); ok {
		if bf, err := r.t.FS.Open(check.Clean(bp)); err == nil {
			if restart, err = podman.RestartPolicies(bf, m.Size); err != nil {
				r.out.Error(bp, fmt.Errorf("%s: %s: %w", r.t.Volume, bp, err))
			}
			bf.Close()
		}
	} else if _, ok := r.stat(path.Join(root, "db.sql")); ok {
		sp := path.Join(root, "db.sql")
		var err error
		if restart, err = podman.RestartPoliciesSQL(fsOpener(r.t.FS, root)); err != nil {
			r.out.Error(sp, fmt.Errorf("%s: %s: %w", r.t.Volume, sp, err))
		}
	}
	for _, c := range cs {
		d := &docker.Container{ID: c.ID, Image: nonEmptyStr(c.ImageName, c.ImageID), Restart: restart[c.ID]}
		if len(c.Names) > 0 {
			d.Name = c.Names[0]
		}
		sp := path.Join(root, "overlay-containers", c.ID, "userdata", "config.json")
		if sf, _ := r.readState(sp); sf != nil {
			if spec, err := containerd.ParseSpec(sf.Data); err != nil {
				r.out.Error(sp, fmt.Errorf("%s: %s: %w", r.t.Volume, sp, err))
			} else {
				fromSpec(d, spec)
			}
		}
		layer := ""
		if c.Layer != "" && !strings.ContainsAny(c.Layer, "/\x00") {
			layer = path.Join(root, "overlay", c.Layer, "diff")
		}
		r.judgeContainer(f, d, "podman", layer)
	}
}

// staticPods reads the manifests the kubelet starts by itself: the
// standard directory and the staticPodPath of its config.
func (r *run) staticPods(ctx context.Context) {
	p := priv()
	dirs := append([]string{}, p.list("container", "static-pod-dir")...)
	for _, cfg := range p.list("container", "kubelet-config") {
		if f := r.read(cfg); f != nil {
			sp, err := k8s.StaticPodPath(f.Data)
			if err != nil {
				r.out.Error(cfg, fmt.Errorf("%s: %s: %w", r.t.Volume, cfg, err))
			} else if sp != "" && !slices.Contains(dirs, path.Clean(sp)) {
				dirs = append(dirs, path.Clean(sp))
			}
		}
	}
	for _, dir := range dirs {
		for _, e := range capEntries(r, dir, r.readDirQuiet(dir)) {
			if ctx.Err() != nil || e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue // the kubelet skips dot files too
			}
			mp := path.Join(dir, e.Name())
			f, err := check.ReadFileMax(r.t, mp, k8s.MaxManifest)
			if err != nil {
				r.out.Error(mp, fmt.Errorf("%s: %s: %w", r.t.Volume, mp, err))
				continue
			}
			pods, err := k8s.ParseManifest(f.Data)
			if err != nil {
				r.out.Error(mp, fmt.Errorf("%s: %s: %w", r.t.Volume, mp, err))
			}
			for _, pod := range pods {
				for _, c := range pod.Containers {
					r.judgeContainer(f, fromPod(pod, c), "static pod", "")
				}
			}
		}
	}
}

func fromPod(p k8s.Pod, c k8s.Container) *docker.Container {
	d := &docker.Container{ID: p.Namespace + "/" + p.Name + "/" + c.Name, Name: p.Name + "/" + c.Name, Image: c.Image,
		Env: c.Env, Privileged: c.Privileged, CapAdd: c.CapAdd}
	args := append(append([]string{}, c.Command...), c.Args...)
	if len(args) > 0 {
		d.Path, d.Args = args[0], args[1:]
	}
	if p.RestartPolicy != "Never" {
		d.Restart = docker.RestartKubelet
	}
	for _, m := range c.Mounts {
		if m.HostPath != "" {
			d.Mounts = append(d.Mounts, docker.Mount{Type: "bind", Source: m.HostPath, Destination: m.MountPath, RW: !m.ReadOnly})
		}
	}
	if p.HostPID {
		d.PidMode = "host"
	}
	if p.HostNetwork {
		d.NetworkMode = "host"
	}
	if p.HostIPC {
		d.IpcMode = "host"
	}
	return d
}

// containerdMeta reads containerd's bbolt database from a bounded temporary
// copy (bbolt maps a file; the image is never opened for writing).
func (r *run) containerdMeta(p string) {
	m, ok := r.stat(p)
	if !ok {
		return
	}
	f, err := r.t.FS.Open(check.Clean(p))
	if err != nil {
		r.out.Error(p, fmt.Errorf("%s: %w", r.t.Volume, err))
		return
	}
	cs, err := containerd.ReadFile(f, m.Size)
	f.Close()
	if err != nil {
		r.out.Error(p, fmt.Errorf("%s: %s: %w", r.t.Volume, p, err))
	}
	ev := r.metaEvidence(p, m)
	for _, c := range cs {
		dc := fromContainerd(c)
		if c.SpecErr != "" {
			r.out.Error(p, fmt.Errorf("%s: %s: container %s/%s: %s", r.t.Volume, p, c.Namespace, c.ID, c.SpecErr))
		}
		r.judgeContainer(&check.File{Evidence: ev}, dc, "containerd "+c.Namespace, "")
	}
}

// fromContainerd states a containerd record in the terms the judgement uses.
func fromContainerd(c containerd.Container) *docker.Container {
	d := &docker.Container{ID: c.ID, Name: c.Labels["io.kubernetes.container.name"], Image: c.Image, Labels: c.Labels}
	switch {
	case c.Namespace == "k8s.io":
		d.Restart = docker.RestartKubelet
	case c.Labels["containerd.io/restart.status"] == "running":
		d.Restart = docker.RestartContainerd
	}
	if c.Spec != nil {
		fromSpec(d, c.Spec)
	}
	return d
}

// fromSpec states what an OCI runtime spec runs and reaches of the host.
func fromSpec(d *docker.Container, s *containerd.Spec) {
	if s.Process != nil {
		if len(s.Process.Args) > 0 {
			d.Path, d.Args = s.Process.Args[0], s.Process.Args[1:]
		}
		d.Env = s.Process.Env
		if s.Process.Capabilities != nil {
			for _, cp := range s.Process.Capabilities.Bounding {
				d.Privileged = d.Privileged || cp == "CAP_SYS_ADMIN"
			}
		}
	}
	for _, m := range s.Mounts {
		bind := m.Type == "bind"
		rw := true
		for _, o := range m.Options {
			bind = bind || o == "bind" || o == "rbind"
			rw = rw && o != "ro"
		}
		if bind {
			d.Mounts = append(d.Mounts, docker.Mount{Type: "bind", Source: m.Source, Destination: m.Destination, RW: rw})
		}
	}
	if s.HostNamespace("pid") {
		d.PidMode = "host"
	}
	if s.HostNamespace("network") {
		d.NetworkMode = "host"
	}
	if s.HostNamespace("ipc") {
		d.IpcMode = "host"
	}
}

// readState reads one state file with docker's cap: a file claiming to be
// larger is reported and not parsed (never read beyond the cap).
func (r *run) readState(p string) (*check.File, bool) {
	return r.readStateMax(p, docker.MaxStateFile)
}

func (r *run) readStateMax(p string, max int) (*check.File, bool) {
	f, err := check.ReadFileMax(r.t, p, max)
	if err != nil {
		if f == nil && absent(err) {
			return nil, true
		}
		if errors.Is(err, check.ErrTooLarge) {
			err = fmt.Errorf("larger than %d bytes: not parsed", max)
		}
		r.out.Error(p, fmt.Errorf("%s: %s: %w", r.t.Volume, p, err))
		return nil, false
	}
	return f, true
}

func (r *run) dockerContainer(root, dir string) {
	cfgPath := path.Join(dir, "config.v2.json")
	cfg, _ := r.readState(cfgPath)
	if cfg == nil {
		return // absent (nothing the daemon would start) or reported
	}
	var hostData []byte
	if h, _ := r.readState(path.Join(dir, "hostconfig.json")); h != nil {
		hostData = h.Data
	}
	c, err := docker.Parse(cfg.Data, hostData)
	if err != nil {
		r.out.Error(cfgPath, fmt.Errorf("%s: %s: %w", r.t.Volume, cfgPath, err))
		if c == nil {
			return
		}
	}
	layer := r.dockerLayer(root, c)
	r.judgeContainer(cfg, c, "docker", layer)
}

// dockerLayer is where the container's own files lie (the content sweep
// reads them like any other): overlay2/<mount-id>/diff.
func (r *run) dockerLayer(root string, c *docker.Container) string {
	if c.Driver == "" {
		return ""
	}
	f := r.read(path.Join(root, "image", c.Driver, "layerdb", "mounts", c.ID, "mount-id"))
	if f == nil {
		return ""
	}
	id := strings.TrimSpace(string(f.Data))
	if id == "" || strings.ContainsAny(id, "/\x00") {
		return ""
	}
	return path.Join(root, c.Driver, id, "diff")
}

// minerImage says the image repository is a known miner.
func minerImage(image string) bool {
	repo := strings.ToLower(image)
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	repo = strings.TrimPrefix(strings.TrimPrefix(repo, "docker.io/"), "library/")
	for _, m := range priv().list("container", "miner-image") {
		if repo == m {
			return true
		}
	}
	return false
}

// containerAccess names what of the host a container reaches.
type containerAccess struct {
	rootRW bool     // writable bind of /
	risks  []string // every setting worth naming
	severe []string // the settings that make container.risky
}

func accessOf(c *docker.Container) containerAccess {
	var a containerAccess
	sensitive := priv().set("container", "sensitive-bind")
	if c.Privileged {
		a.risks = append(a.risks, "privileged")
		a.severe = append(a.severe, "privileged")
	}
	for _, cp := range c.CapAdd {
		if cp = strings.TrimPrefix(strings.ToUpper(cp), "CAP_"); cp == "SYS_ADMIN" || cp == "ALL" || cp == "SYS_MODULE" || cp == "SYS_PTRACE" {
			a.risks = append(a.risks, "cap-add "+cp)
			a.severe = append(a.severe, "cap-add "+cp)
		}
	}
	for _, m := range c.Mounts {
		src := docker.HostSource(m)
		if !sensitive[src] {
			continue
		}
		mode := "ro"
		if m.RW {
			mode = "rw"
			a.severe = append(a.severe, "writable bind of "+src)
			a.rootRW = a.rootRW || src == "/"
		} else if strings.HasSuffix(src, ".sock") {
			// A read-only bind of a socket still lets the container talk to it.
			a.severe = append(a.severe, "bind of "+src)
		}
		a.risks = append(a.risks, fmt.Sprintf("bind %s:%s (%s)", src, m.Destination, mode))
	}
	if c.PidMode == "host" {
		a.risks = append(a.risks, "host PID namespace")
	}
	if c.NetworkMode == "host" {
		a.risks = append(a.risks, "host network")
	}
	if c.IpcMode == "host" {
		a.risks = append(a.risks, "host IPC")
	}
	return a
}

func (r *run) judgeContainer(cfg *check.File, c *docker.Container, runtime, layer string) {
	name := c.Name
	if name == "" {
		name = c.ID[:min(len(c.ID), 12)]
	}
	cmd := c.Command()
	if cmd == "" {
		cmd = strings.Join(append(append([]string{}, c.Entry...), c.Cmd...), " ")
	}
	a := accessOf(c)
	var mounts []string
	for _, m := range c.Mounts {
		mode := "ro"
		if m.RW {
			mode = "rw"
		}
		mounts = append(mounts, fmt.Sprintf("%s:%s:%s", nonEmptyStr(m.Source, m.Type), m.Destination, mode))
	}
	fields := map[string]string{
		"runtime": runtime, "id": c.ID, "name": name, "image": c.Image, "command": cmd, "restart": nonEmptyStr(c.Restart, "no"),
		"privileged": fmt.Sprint(c.Privileged), "mounts": strings.Join(mounts, " "), "pid": c.PidMode, "network": c.NetworkMode,
		"running": fmt.Sprint(c.Running),
	}
	if len(a.risks) > 0 {
		fields["risks"] = strings.Join(a.risks, ", ")
	}
	if layer != "" {
		fields["layer"] = layer
	}
	r.inventory("container", cfg.Evidence.Path, 0, fmt.Sprintf("%s %s (%s): %s", runtime, name, c.Image, cmd), fields)

	// Image, command and environment are all places a miner's options land.
	judged := cmd + " " + c.Image + " " + strings.Join(c.Env, " ")
	v := JudgeCommand(judged)
	miner := minerImage(c.Image)
	high := miner || len(v.Markers) > 0 || len(v.Rules) > 0 && v.Rules[0].Severity >= report.High
	ev := cfg.Evidence
	ev.Match = oneLine(cmd)
	if runtime != "docker" {
		// Many containers share one database or manifest: say which.
		ev.Match = oneLine(name + " (" + c.ID + "): " + cmd)
	}
	var why []string
	for _, rule := range v.Rules {
		why = append(why, rule.Title)
	}
	for _, m := range v.Markers {
		why = append(why, m.Family+" marker "+m.Pattern)
	}
	if miner {
		why = append(why, "known miner image "+c.Image)
	}
	desc := fmt.Sprintf("%s container %s (id %s), image %s, restart policy %s; command: %s.", runtime, name, c.ID, c.Image, nonEmptyStr(c.Restart, "no"), oneLine(cmd))
	if len(a.risks) > 0 {
		desc += " Host access: " + strings.Join(a.risks, ", ") + "."
	}
	if len(why) > 0 {
		desc += " Matched: " + strings.Join(why, "; ") + "."
	}
	if layer != "" {
		desc += " Its files: " + layer + " (swept with the rest of the volume)."
	}
	kv := []string{"name", name, "image", nonEmptyStr(c.Image, c.ImageID)}
	hostRoot := c.Privileged && a.rootRW
	switch {
	case hostRoot && high:
		r.emit("container.host-root-miner", ev, desc, kv...)
	case hostRoot && c.AutoRestart():
		r.emit("container.host-root-autostart", ev, desc, kv...)
	case high:
		r.emit("container.miner", ev, desc, kv...)
	case v.Suspicious():
		r.emit("container.command", ev, desc, kv...)
	case len(a.severe) > 0:
		sort.Strings(a.severe)
		r.emit("container.risky", ev, desc, append(kv, "why", strings.Join(a.severe, ", "))...)
	}
}

func nonEmptyStr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// fsOpener opens the files of one directory of fsys for tmpcopy.
func fsOpener(fsys fsread.FS, dir string) tmpcopy.Opener {
	return func(name string) (io.ReadCloser, int64, error) {
		p := check.Clean(path.Join(dir, name))
		fi, err := fsys.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		f, err := fsys.Open(p)
		return f, fi.Size(), err
	}
}
