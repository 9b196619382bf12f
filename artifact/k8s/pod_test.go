package k8s

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	data, _ := os.ReadFile("testdata/kube-apiserver.yaml")
	pods, err := ParseManifest(data)
	if err != nil || len(pods) != 1 {
		t.Fatal(pods, err)
	}
	p := pods[0]
	c := p.Containers[0]
	if p.Name != "kube-apiserver" || !p.HostNetwork || p.HostPID || p.RestartPolicy != "Always" || c.Image != "registry.k8s.io/kube-apiserver:v1.29.4" ||
		c.Privileged || len(c.Mounts) != 3 || c.Mounts[0] != (Mount{"/etc/ssl/certs", "/etc/ssl/certs", true}) {
		t.Errorf("%+v", p)
	}
	data, _ = os.ReadFile("testdata/kube-sync.yaml")
	pods, err = ParseManifest(data)
	if err != nil || len(pods) != 1 {
		t.Fatal(pods, err)
	}
	c = pods[0].Containers[0]
	if !c.Privileged || !pods[0].HostPID || !reflect.DeepEqual(c.Mounts, []Mount{{"/", "/host", false}}) || c.Command[0] != "chroot" {
		t.Errorf("%+v", pods[0])
	}
}

func TestParseManifestBad(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":   "kind: Pod\nspec: [\n",
		"wrong type": "kind: Pod\nspec:\n  containers: 5\n",
		"oversized":  strings.Repeat("#", MaxManifest+1),
	} {
		if _, err := ParseManifest([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Other kinds are skipped; several documents are read.
	pods, err := ParseManifest([]byte("kind: ConfigMap\n---\nkind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n"))
	if err != nil || len(pods) != 2 || pods[1].Name != "b" {
		t.Errorf("%+v %v", pods, err)
	}
	if p, err := StaticPodPath([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n")); p != "/etc/kubernetes/manifests" || err != nil {
		t.Errorf("%q %v", p, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("kind: Pod\nspec:\n  hostPID: true\n  containers:\n  - name: a\n    image: b\n    volumeMounts: [{name: h, mountPath: /h}]\n  volumes: [{name: h, hostPath: {path: /}}]\n"))
	f.Add([]byte("kind: Pod\n---\nkind: Pod\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pods, err := ParseManifest(data)
		pods2, err2 := ParseManifest(data)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(pods, pods2) {
			t.Fatal("different result twice")
		}
		for _, p := range pods {
			if p.RestartPolicy == "" {
				t.Fatal("empty restart policy")
			}
			for _, c := range p.Containers {
				for _, m := range c.Mounts {
					if m.HostPath != "" && p.Volumes == nil {
						t.Fatal("mount without volumes")
					}
				}
			}
		}
	})
}
