package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *Container {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("testdata", name, "config.v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.ReadFile(filepath.Join("testdata", name, "hostconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(cfg, host)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, cname, image, restart, pid, net string
		privileged, running                   bool
		mounts                                []Mount
		cmdHas                                string
	}{
		{"nginx", "web", "nginx:1.25", "unless-stopped", "", "bridge", false, true,
			[]Mount{{"bind", "/srv/www", "/usr/share/nginx/html", false}}, "nginx -g daemon off;"},
		{"node-exporter", "node-exporter", "quay.io/prometheus/node-exporter:latest", "unless-stopped", "host", "host", false, true,
			[]Mount{{"bind", "/", "/host", false}}, "--path.rootfs=/host"},
		{"miner", "kube-sync", "alpine:latest", "always", "", "bridge", true, true,
			[]Mount{{"bind", "/", "/host", true}}, "chroot /host bash -c curl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := load(t, tc.name)
			if c.Name != tc.cname || c.Image != tc.image || c.Restart != tc.restart || c.PidMode != tc.pid || c.NetworkMode != tc.net ||
				c.Privileged != tc.privileged || c.Running != tc.running || !c.AutoRestart() || c.Driver != "overlay2" || len(c.ID) != 64 {
				t.Errorf("%+v", c)
			}
			if !reflect.DeepEqual(c.Mounts, tc.mounts) {
				t.Errorf("mounts %+v, want %+v", c.Mounts, tc.mounts)
			}
			if !strings.Contains(c.Command(), tc.cmdHas) {
				t.Errorf("command %q", c.Command())
			}
		})
	}
}

func TestParseBind(t *testing.T) {
	for in, want := range map[string]Mount{
		"/:/host":                 {"bind", "/", "/host", true},
		"/:/host:ro,rslave":       {"bind", "/", "/host", false},
		"/var/run/docker.sock:/s": {"bind", "/var/run/docker.sock", "/s", true},
		"data:/var/lib/mysql:rw":  {"volume", "data", "/var/lib/mysql", true},
		"/anonymous":              {"volume", "", "/anonymous", true},
	} {
		if got := ParseBind(in); got != want {
			t.Errorf("%s: %+v, want %+v", in, got, want)
		}
	}
}

// A container created but never started has no MountPoints: binds and
// Mounts of hostconfig.json stand in; a broken hostconfig keeps the config.
func TestParseFallbacks(t *testing.T) {
	c, err := Parse([]byte(`{"ID":"abc","Name":"/x","Config":{"Image":"img","Cmd":"sh"}}`),
		[]byte(`{"Binds":["/etc:/e:ro"],"Mounts":[{"Type":"bind","Source":"/root","Target":"/r"}],"RestartPolicy":{"Name":"no"}}`))
	if err != nil || len(c.Mounts) != 2 || c.Mounts[0] != (Mount{"bind", "/etc", "/e", false}) || c.Mounts[1] != (Mount{"bind", "/root", "/r", true}) ||
		c.AutoRestart() || !reflect.DeepEqual(c.Cmd, []string{"sh"}) {
		t.Errorf("%+v %v", c, err)
	}
	c, err = Parse([]byte(`{"ID":"abc","Config":{"Image":"img"}}`), []byte(`{"Binds":`))
	if c == nil || c.Image != "img" || err == nil || !strings.Contains(err.Error(), "hostconfig.json") {
		t.Errorf("broken hostconfig: %+v %v", c, err)
	}
	for _, bad := range []string{``, `[]`, `{"ID":""}`, `{"ID":"a","Config":{"Cmd":5}}`} {
		if c, err := Parse([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error (%+v)", bad, c)
		}
	}
	if _, err := Parse(make([]byte, MaxStateFile+1), nil); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	// Small seeds keep the fuzzer fast; the full fixtures are TestParse's.
	f.Add([]byte(`{"ID":"a","Name":"/w","Path":"chroot","Args":["/host"],"Config":{"Image":"alpine","Entrypoint":"sh","Cmd":["-c","x"],"Env":["A=1"]},"State":{"Running":true}}`), []byte(`{"Privileged":true,"RestartPolicy":{"Name":"always"},"PidMode":"host"}`))
	f.Add([]byte(`{"ID":"a","MountPoints":{"/h":{"Source":"/","Destination":"/h","RW":true}}}`), []byte(`{"Binds":["/:/h"]}`))
	f.Fuzz(func(t *testing.T, cfg, host []byte) {
		c, err := Parse(cfg, host)
		c2, err2 := Parse(cfg, host)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(c, c2) {
			t.Fatal("different result twice")
		}
		if c == nil {
			return
		}
		if c.ID == "" {
			t.Fatal("container without an ID")
		}
		seen := map[string]bool{}
		for _, m := range c.Mounts {
			if seen[m.Destination] && m.Destination != "" {
				t.Fatalf("destination %q twice", m.Destination)
			}
			seen[m.Destination] = true
		}
	})
}
