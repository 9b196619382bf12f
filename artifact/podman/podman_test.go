package podman

import (
	"reflect"
	"testing"
)

// The layout containers/storage writes (podman 4.x, trimmed to one entry).
const list = `[{"id":"5b1c0e7a9d2f4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c","names":["web"],"image":"a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6","layer":"0f3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e5d7c9b1a3e","metadata":"{\"image-name\":\"docker.io/library/nginx:latest\",\"image-id\":\"a8758716bb6a\",\"name\":\"web\",\"created-at\":1714644671,\"mountlabel\":\"\"}","created":"2024-05-02T10:11:11.987654321Z","flags":{"MountLabel":"","ProcessLabel":""}}]`

func TestParseContainers(t *testing.T) {
	cs, err := ParseContainers([]byte(list))
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	c := cs[0]
	if c.ImageName != "docker.io/library/nginx:latest" || !reflect.DeepEqual(c.Names, []string{"web"}) || len(c.Layer) != 64 {
		t.Errorf("%+v", c)
	}
	for _, bad := range []string{"", "{}", `[{"id":5}]`} {
		if _, err := ParseContainers([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseContainers(f *testing.F) {
	f.Add([]byte(`[{"id":"a","names":["n"],"metadata":"{\"image-name\":\"x\"}"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseContainers(data)
		cs2, _ := ParseContainers(data)
		if !reflect.DeepEqual(cs, cs2) {
			t.Fatal("different result twice")
		}
		for _, c := range cs {
			if c.ID == "" {
				t.Fatal("container without ID")
			}
		}
		_ = err
	})
}
