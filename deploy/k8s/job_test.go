// Package k8s holds the Kubernetes manifests; this test keeps the Indexed
// Job consistent with how snapscan shards a batch.
package k8s

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/snapscan/snapscan/batch"
)

type job struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    *int   `yaml:"completions"`
		Parallelism    *int   `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy   string         `yaml:"restartPolicy"`
				SecurityContext map[string]any `yaml:"securityContext"`
				Containers      []struct {
					Name string `yaml:"name"`
					Args []string
					Env  []struct {
						Name      string         `yaml:"name"`
						Value     string         `yaml:"value"`
						ValueFrom map[string]any `yaml:"valueFrom"`
					} `yaml:"env"`
					SecurityContext map[string]any `yaml:"securityContext"`
					VolumeMounts    []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						ReadOnly  bool   `yaml:"readOnly"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ReadOnly bool `yaml:"readOnly"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func TestIndexedJob(t *testing.T) {
	raw, err := os.ReadFile("snapscan-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var j job
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&j); err != nil {
		t.Fatal(err)
	}
	if j.APIVersion != "batch/v1" || j.Kind != "Job" || j.Spec.CompletionMode != "Indexed" {
		t.Fatalf("%s %s completionMode %q: want an Indexed batch/v1 Job", j.APIVersion, j.Kind, j.Spec.CompletionMode)
	}
	if j.Spec.Completions == nil || j.Spec.Parallelism == nil {
		t.Fatal("completions and parallelism must be set")
	}
	n, par := *j.Spec.Completions, *j.Spec.Parallelism
	if n < 1 || par < 1 || par > n {
		t.Errorf("completions %d, parallelism %d: want 1 <= parallelism <= completions", n, par)
	}
	ps := j.Spec.Template.Spec
	if ps.RestartPolicy != "Never" && ps.RestartPolicy != "OnFailure" {
		t.Errorf("restartPolicy %q", ps.RestartPolicy)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.Name == "JOB_COMPLETION_INDEX" && !strings.Contains(stringOf(e.ValueFrom), "batch.kubernetes.io/job-completion-index") {
			t.Errorf("JOB_COMPLETION_INDEX comes from %v, not the completion-index annotation", e.ValueFrom)
		}
	}
	if _, ok := env["JOB_COMPLETION_INDEX"]; !ok {
		t.Error("JOB_COMPLETION_INDEX is not declared in env, so $(JOB_COMPLETION_INDEX) in args is not expanded")
	}

	// --shard's value, with the env expanded as the kubelet does, must
	// parse for every index and name exactly `completions` shards.
	shard := ""
	for i, a := range c.Args {
		if a == "--shard" && i+1 < len(c.Args) {
			shard = c.Args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--shard="); ok {
			shard = v
		}
	}
	if !strings.Contains(shard, "$(JOB_COMPLETION_INDEX)") {
		t.Fatalf("--shard %q does not use $(JOB_COMPLETION_INDEX)", shard)
	}
	for idx := range n {
		env["JOB_COMPLETION_INDEX"] = strconv.Itoa(idx)
		i, count, err := batch.ParseShard(expand(shard, env))
		if err != nil || i != idx || count != n {
			t.Errorf("index %d: --shard %q gives %d/%d (%v), want %d/%d", idx, expand(shard, env), i, count, err, idx, n)
		}
	}
	// Shards must not write over each other's results.
	args := strings.Join(c.Args, " ")
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--output") || strings.HasPrefix(a, "--at-risk-list") || strings.HasPrefix(a, "--clean-list") {
			if !strings.Contains(a, "$(JOB_COMPLETION_INDEX)") {
				t.Errorf("%s: every shard would write the same file", a)
			}
		}
	}
	if !strings.Contains(args, "--format=jsonl") && !strings.Contains(args, "--format jsonl") {
		t.Errorf("args %q: shards should write JSONL for snapscan merge", args)
	}

	// Images are mounted read-only, from a read-only claim.
	readOnlyVol := map[string]bool{}
	for _, v := range ps.Volumes {
		readOnlyVol[v.Name] = v.PVC == nil || v.PVC.ReadOnly
	}
	imagesRO := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/images" {
			imagesRO = m.ReadOnly && readOnlyVol[m.Name]
		}
	}
	if !imagesRO {
		t.Error("the images volume is not mounted read-only (mount and claim)")
	}

	// snapscan needs no root and no privilege.
	if v, ok := c.SecurityContext["privileged"]; ok && v != false {
		t.Errorf("privileged: %v", v)
	}
	if c.SecurityContext["allowPrivilegeEscalation"] != false {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if ps.SecurityContext["runAsNonRoot"] != true {
		t.Error("runAsNonRoot is not true")
	}
	if u, ok := ps.SecurityContext["runAsUser"].(int); !ok || u == 0 {
		t.Errorf("runAsUser %v", ps.SecurityContext["runAsUser"])
	}
	if regexp.MustCompile(`(?m)^\s*privileged:\s*true`).Match(raw) || strings.Contains(string(raw), "hostPath") {
		t.Error("the manifest asks for privilege or host paths")
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand does the kubelet's $(VAR) expansion of args.
func expand(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func stringOf(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}
