// Package docker parses the Docker daemon's per-container state files as
// they lie under /var/lib/docker/containers/<id>/ (and rootless
// ~/.local/share/docker): config.v2.json (moby's container.Container) and
// hostconfig.json (moby's container.HostConfig), into the facts that decide
// whether a container is an autostart with the host in reach.
package docker

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// MaxStateFile bounds config.v2.json and hostconfig.json: real ones are a
// few KiB (a large Env is tens of KiB).
const MaxStateFile = 4 << 20

// Container is one container's configuration.
type Container struct {
	ID, Name string
	Image    string // as the user named it (Config.Image), e.g. "nginx:1.25"
	ImageID  string // "sha256:..."
	Driver   string // storage driver, e.g. overlay2
	Path     string // the process that runs: entrypoint or cmd head
	Args     []string
	Entry    []string // Config.Entrypoint
	Cmd      []string // Config.Cmd
	Env      []string
	User     string
	Labels   map[string]string
	Running  bool
	Created  string

	// From hostconfig.json.
	Restart     string // no, always, unless-stopped, on-failure
	Privileged  bool
	CapAdd      []string
	PidMode     string
	NetworkMode string
	IpcMode     string
	UsernsMode  string
	Mounts      []Mount
}

// Mount is one bind or volume as the daemon will set it up.
type Mount struct {
	Type        string // bind, volume, tmpfs
	Source      string // host path (binds) or volume name
	Destination string
	RW          bool
}

// Command is the process line: path and arguments as one string.
func (c *Container) Command() string {
	return strings.TrimSpace(strings.Join(append([]string{c.Path}, c.Args...), " "))
}

// Restart policies of containers other runtimes start: the kubelet keeps
// a pod's containers running, containerd's restart monitor those labelled.
const (
	RestartKubelet    = "kubelet"
	RestartContainerd = "containerd-restart-monitor"
)

// AutoRestart says the daemon starts the container again by itself (at boot
// or when it exits): the container is an autostart.
func (c *Container) AutoRestart() bool {
	switch c.Restart {
	case "always", "unless-stopped", "on-failure", RestartKubelet, RestartContainerd:
		return true
	}
	return false
}

// configV2 is the part of moby's container.Container that matters here.
type configV2 struct {
	ID      string
	Name    string
	Image   string
	Driver  string
	Path    string
	Args    []string
	Created string
	State   struct{ Running bool }
	Config  *struct {
		Image      string
		Entrypoint strOrList
		Cmd        strOrList
		Env        []string
		User       string
		Labels     map[string]string
	}
	MountPoints map[string]struct {
		Source      string
		Destination string
		RW          bool
		Type        string
		Name        string
	}
}

type hostConfig struct {
	Binds         []string
	RestartPolicy struct{ Name string }
	Privileged    bool
	CapAdd        []string
	PidMode       string
	NetworkMode   string
	IpcMode       string
	UsernsMode    string
	Mounts        []struct {
		Type     string
		Source   string
		Target   string
		ReadOnly bool
	}
}

// strOrList is a JSON string or array of strings (moby's StrSlice accepts both).
type strOrList []string

func (s *strOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Parse reads config.v2.json and, when not nil, hostconfig.json. A
// hostconfig that does not parse is returned as an error with the config's
// facts kept.
func Parse(config, host []byte) (*Container, error) {
	if len(config) > MaxStateFile || len(host) > MaxStateFile {
		return nil, fmt.Errorf("state file larger than %d bytes", MaxStateFile)
	}
	var v configV2
	if err := json.Unmarshal(config, &v); err != nil {
		return nil, fmt.Errorf("config.v2.json: %w", err)
	}
	if v.ID == "" {
		return nil, fmt.Errorf("config.v2.json: no container ID")
	}
	c := &Container{ID: v.ID, Name: strings.TrimPrefix(v.Name, "/"), ImageID: v.Image, Driver: v.Driver,
		Path: v.Path, Args: v.Args, Created: v.Created, Running: v.State.Running}
	if v.Config != nil {
		c.Image, c.Entry, c.Cmd, c.Env, c.User, c.Labels = v.Config.Image, v.Config.Entrypoint, v.Config.Cmd, v.Config.Env, v.Config.User, v.Config.Labels
	}
	for _, m := range v.MountPoints {
		t := m.Type
		if t == "" && m.Name == "" {
			t = "bind"
		}
		c.Mounts = append(c.Mounts, Mount{Type: t, Source: m.Source, Destination: m.Destination, RW: m.RW})
	}
	var err error
	if host != nil {
		err = parseHost(host, c)
	}
	sort.Slice(c.Mounts, func(i, j int) bool { return c.Mounts[i].Destination < c.Mounts[j].Destination })
	return c, err
}

func parseHost(data []byte, c *Container) error {
	var h hostConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("hostconfig.json: %w", err)
	}
	c.Restart, c.Privileged, c.CapAdd = h.RestartPolicy.Name, h.Privileged, h.CapAdd
	c.PidMode, c.NetworkMode, c.IpcMode, c.UsernsMode = h.PidMode, h.NetworkMode, h.IpcMode, h.UsernsMode
	// MountPoints (config.v2.json) is what the daemon resolved; binds and
	// mounts fill in what it does not hold (a container never started).
	have := map[string]bool{}
	for _, m := range c.Mounts {
		have[m.Destination] = true
	}
	add := func(m Mount) {
		if m.Destination != "" && !have[m.Destination] {
			have[m.Destination] = true
			c.Mounts = append(c.Mounts, m)
		}
	}
	for _, b := range h.Binds {
		add(ParseBind(b))
	}
	for _, m := range h.Mounts {
		add(Mount{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly})
	}
	return nil
}

// ParseBind reads a -v value: "src:dst[:opts]", opts comma-separated
// (ro, rw, z, Z, rshared, ...). A source that is not a path is a volume.
func ParseBind(s string) Mount {
	parts := strings.Split(s, ":")
	m := Mount{Type: "bind", RW: true}
	switch len(parts) {
	case 1:
		m.Destination, m.Type = parts[0], "volume"
		return m
	default:
		m.Source, m.Destination = parts[0], parts[1]
		if len(parts) > 2 {
			for _, o := range strings.Split(parts[2], ",") {
				if o == "ro" {
					m.RW = false
				}
			}
		}
	}
	if !strings.HasPrefix(m.Source, "/") {
		m.Type = "volume"
	}
	return m
}

// HostSource cleans a bind source for comparison ("/" for "//", "/etc/").
func HostSource(m Mount) string {
	if m.Type != "bind" || m.Source == "" {
		return ""
	}
	return path.Clean(m.Source)
}
