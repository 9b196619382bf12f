// Package k8s parses what a kubelet starts from disk: static pod manifests
// (/etc/kubernetes/manifests/*.yaml) and the staticPodPath of its config
// file. Only the fields that decide what runs and what of the host it
// reaches are read.
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// MaxManifest bounds one manifest (kubeadm's are a few KiB).
const MaxManifest = 1 << 20

// Pod is one static pod.
type Pod struct {
	Name, Namespace string
	HostPID         bool
	HostNetwork     bool
	HostIPC         bool
	RestartPolicy   string
	Volumes         map[string]string // volume name -> hostPath path ("" for other kinds)
	Containers      []Container
}

// Container is one container of a pod.
type Container struct {
	Name, Image string
	Command     []string
	Args        []string
	Env         []string // NAME=value
	Privileged  bool
	CapAdd      []string
	Mounts      []Mount
}

// Mount is a volumeMount resolved against the pod's volumes.
type Mount struct {
	HostPath  string // "" when the volume is not a hostPath
	MountPath string
	ReadOnly  bool
}

type podYAML struct {
	Kind     string
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		HostPID       bool   `yaml:"hostPID"`
		HostNetwork   bool   `yaml:"hostNetwork"`
		HostIPC       bool   `yaml:"hostIPC"`
		RestartPolicy string `yaml:"restartPolicy"`
		Volumes       []struct {
			Name     string
			HostPath *struct{ Path string } `yaml:"hostPath"`
		}
		Containers     []containerYAML
		InitContainers []containerYAML `yaml:"initContainers"`
	}
}

type containerYAML struct {
	Name, Image string
	Command     []string
	Args        []string
	Env         []struct{ Name, Value string }
	Security    *struct {
		Privileged   *bool
		Capabilities *struct{ Add []string }
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

// ParseManifest reads a manifest file: one or more YAML documents, of which
// the Pods are returned (the kubelet ignores other kinds there).
func ParseManifest(data []byte) ([]Pod, error) {
	if len(data) > MaxManifest {
		return nil, fmt.Errorf("manifest larger than %d bytes", MaxManifest)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var pods []Pod
	for i := 0; i < 64; i++ {
		var y podYAML
		err := dec.Decode(&y)
		if errors.Is(err, io.EOF) {
			return pods, nil
		}
		if err != nil {
			return pods, fmt.Errorf("document %d: %w", i+1, err)
		}
		if y.Kind != "Pod" {
			continue
		}
		pods = append(pods, podOf(&y))
	}
	return pods, errors.New("more than 64 YAML documents")
}

func podOf(y *podYAML) Pod {
	p := Pod{Name: y.Metadata.Name, Namespace: y.Metadata.Namespace, HostPID: y.Spec.HostPID, HostNetwork: y.Spec.HostNetwork,
		HostIPC: y.Spec.HostIPC, RestartPolicy: y.Spec.RestartPolicy, Volumes: map[string]string{}}
	if p.RestartPolicy == "" {
		p.RestartPolicy = "Always"
	}
	for _, v := range y.Spec.Volumes {
		hp := ""
		if v.HostPath != nil {
			hp = v.HostPath.Path
		}
		p.Volumes[v.Name] = hp
	}
	for _, c := range append(append([]containerYAML{}, y.Spec.InitContainers...), y.Spec.Containers...) {
		pc := Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args}
		for _, e := range c.Env {
			pc.Env = append(pc.Env, e.Name+"="+e.Value)
		}
		if c.Security != nil {
			pc.Privileged = c.Security.Privileged != nil && *c.Security.Privileged
			if c.Security.Capabilities != nil {
				pc.CapAdd = c.Security.Capabilities.Add
			}
		}
		for _, m := range c.VolumeMounts {
			pc.Mounts = append(pc.Mounts, Mount{HostPath: p.Volumes[m.Name], MountPath: m.MountPath, ReadOnly: m.ReadOnly})
		}
		p.Containers = append(p.Containers, pc)
	}
	return p
}

// StaticPodPath reads staticPodPath from a kubelet config file
// (KubeletConfiguration YAML); "" when it sets none.
func StaticPodPath(data []byte) (string, error) {
	if len(data) > MaxManifest {
		return "", fmt.Errorf("kubelet config larger than %d bytes", MaxManifest)
	}
	var c struct {
		StaticPodPath string `yaml:"staticPodPath"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return "", err
	}
	return c.StaticPodPath, nil
}
