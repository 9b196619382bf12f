package yarascan

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/signatures"
)

func compileEmbedded(t *testing.T) *Rules {
	t.Helper()
	r, diags, err := Compile(Options{})
	if err != nil {
		t.Fatalf("embedded rules: %v\n%v", err, diags)
	}
	return r
}

// Every embedded rule must carry the meta the report needs, and the only
// compile warnings allowed are the documented slow-string ones.
func TestEmbeddedRulesMeta(t *testing.T) {
	r, diags, err := Compile(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Level != "warning" || d.Rule != "SNAP_Monero_Wallet" || !strings.Contains(d.Message, "slow down") {
			t.Errorf("unexpected diagnostic: %s", d)
		}
		if !strings.HasPrefix(d.File, "embedded:yara/") || d.Line == 0 {
			t.Errorf("diagnostic without file and line: %+v", d)
		}
	}
	infos := r.List()
	if len(infos) < 15 {
		t.Fatalf("only %d embedded rules", len(infos))
	}
	tech := regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	for _, ri := range infos {
		if !strings.HasPrefix(ri.Name, "SNAP_") {
			t.Errorf("%s: embedded rules are named SNAP_*", ri.Name)
		}
		if ri.Namespace != EmbeddedNamespace || ri.Source != EmbeddedSource {
			t.Errorf("%s: namespace %q source %q", ri.Name, ri.Namespace, ri.Source)
		}
		for _, k := range []string{"description", "severity", "attack", "reference"} {
			if ri.Meta[k] == "" {
				t.Errorf("%s: missing meta %s", ri.Name, k)
			}
		}
		if _, err := report.ParseSeverity(ri.Meta["severity"]); err != nil {
			t.Errorf("%s: %v", ri.Name, err)
		}
		if !tech.MatchString(ri.Meta["attack"]) || ri.Technique != ri.Meta["attack"] {
			t.Errorf("%s: attack %q technique %q", ri.Name, ri.Meta["attack"], ri.Technique)
		}
		if TechniqueName(ri.Technique) == "" {
			t.Errorf("%s: technique %s has no name in yara/techniques.txt", ri.Name, ri.Technique)
		}
		if slices.Contains(ri.Tags, "family") && ri.Family == "" {
			t.Errorf("%s: family-tagged rule without family meta", ri.Name)
		}
	}
	// Pool and wallet mentions must stay low: a text naming a pool is not a miner.
	for name, max := range map[string]report.Severity{"SNAP_Mining_Pool_Domain": report.Info, "SNAP_Stratum_URL": report.Low, "SNAP_Monero_Wallet": report.Low} {
		ri, ok := r.Info(EmbeddedNamespace, name)
		if !ok || ri.Severity > max {
			t.Errorf("%s: present %v severity %v, want <= %v", name, ok, ri.Severity, max)
		}
	}
}

// The pool rule and ioc/pools.txt must name the same pools.
func TestPoolRuleMatchesPoolList(t *testing.T) {
	src, err := signatures.Files.ReadFile("yara/stratum_pools.yar")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	i := strings.Index(body, "rule SNAP_Mining_Pool_Domain")
	j := strings.Index(body[i:], "condition:")
	inRule := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$p[0-9]+ = "([^"]+)"`).FindAllStringSubmatch(body[i:i+j], -1) {
		inRule[strings.ToLower(m[1])] = true
	}
	pools := signatures.MustList("ioc/pools.txt")
	if len(pools) == 0 {
		t.Fatal("pools.txt is empty")
	}
	inList := map[string]bool{}
	for _, e := range pools {
		d := strings.ToLower(e.Field(0))
		inList[d] = true
		if !inRule[d] {
			t.Errorf("pool %s (pools.txt:%d) missing from SNAP_Mining_Pool_Domain", d, e.Line)
		}
	}
	for d := range inRule {
		if !inList[d] {
			t.Errorf("SNAP_Mining_Pool_Domain names %s, not in pools.txt", d)
		}
	}
}

func writeFile(t *testing.T, p, s string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const externalsRule = `
rule user_path_rule : custom
{
    meta:
        description = "fires only on /opt/app/run.sh"
        score = 80
        mitre_attack = "T1059.004"
    strings:
        $a = "hello"
    condition:
        $a and filepath == "/opt/app" and filename == "run.sh" and extension == ".sh"
}

rule user_loki_vars
{
    condition:
        filetype == "ELF" and owner == "root" and md5 != ""
}
`

func names(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Info.Name)
	}
	slices.Sort(out)
	return out
}

func TestUserRuleExternals(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "custom.yar"), externalsRule)
	r, diags, err := Compile(Options{Paths: []string{p}, NoEmbedded: true})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	ri, ok := r.Info(p, "user_path_rule")
	if !ok {
		t.Fatalf("rule not listed under namespace %s: %+v", p, r.List())
	}
	if ri.Severity != report.High || ri.Technique != "T1059.004" || ri.Source != p || !slices.Equal(ri.Tags, []string{"custom"}) {
		t.Errorf("info = %+v", ri)
	}
	sc, err := r.NewScanner(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	elf := []byte("\x7fELF hello")
	for _, tc := range []struct {
		name string
		vars Vars
		want []string
	}{
		{"right path", Vars{Filename: "run.sh", Filepath: "/opt/app", Extension: ".sh", Filetype: "ELF", MD5: "x", Owner: "root"}, []string{"user_loki_vars", "user_path_rule"}},
		{"other dir", Vars{Filename: "run.sh", Filepath: "/opt/other", Extension: ".sh", Filetype: "ELF"}, nil},
		{"other name", Vars{Filename: "run.bash", Filepath: "/opt/app", Extension: ".bash"}, nil},
		// Variables are reset per scan: nothing leaks from the first case.
		{"no vars", Vars{}, nil},
	} {
		ms, err := sc.Scan(elf, tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(ms); !slices.Equal(got, tc.want) {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckReportsFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "rules", "good.yar"), "rule ok { condition: filename == \"x\" }\n")
	bad := writeFile(t, filepath.Join(dir, "rules", "sub", "bad.yara"), "rule fine { condition: true }\n\nrule broken {\n  strings:\n    $a = \"x\"\n  condition:\n    $b\n}\n")
	undef := writeFile(t, filepath.Join(dir, "rules", "undef.yar"), "rule u {\n condition:\n  nosuchvar == 1\n}\n")
	writeFile(t, filepath.Join(dir, "rules", "notes.txt"), "not a rule")

	diags := Check([]string{filepath.Join(dir, "rules")})
	byFile := map[string][]Diagnostic{}
	for _, d := range diags {
		byFile[d.File] = append(byFile[d.File], d)
	}
	if len(byFile[good]) != 0 {
		t.Errorf("good file: %v", byFile[good])
	}
	// libyara reports an undefined identifier where the parser reduces the
	// condition, which may be the rule's closing line: accept the span of
	// the broken rule, never the good rule before it.
	for _, tc := range []struct {
		file     string
		from, to int
		text     string
	}{{bad, 7, 8, "$b"}, {undef, 3, 4, "nosuchvar"}} {
		ds := byFile[tc.file]
		if len(ds) == 0 || ds[0].Level != "error" || ds[0].Line < tc.from || ds[0].Line > tc.to || !strings.Contains(ds[0].Message, tc.text) {
			t.Errorf("%s: diagnostics %+v, want an error on lines %d-%d about %s", tc.file, ds, tc.from, tc.to, tc.text)
		}
	}
	if len(byFile) != 2 {
		t.Errorf("diagnostics for %d files, want 2: %v", len(byFile), diags)
	}

	// Compile fails as a whole and still names every broken file.
	_, cdiags, err := Compile(Options{Paths: []string{filepath.Join(dir, "rules")}})
	if err == nil {
		t.Fatal("Compile accepted a broken rule file")
	}
	var files []string
	for _, d := range cdiags {
		if d.Level == "error" {
			files = append(files, d.File)
		}
	}
	slices.Sort(files)
	if want := []string{bad, undef}; !slices.Equal(slices.Compact(files), want) {
		t.Errorf("Compile errors name %v, want %v", files, want)
	}
}

func TestEmbeddedCheckClean(t *testing.T) {
	for _, d := range Check(nil) {
		if d.Level == "error" {
			t.Errorf("embedded: %s", d)
		}
	}
}

// A file compiled by yarac (with the LOKI externals declared) loads
// beside the sources and gets its variables set per scan.
func TestCompiledRulesFile(t *testing.T) {
	yarac, err := exec.LookPath("yarac")
	if err != nil {
		t.Skip("yarac not installed (Debian package yara)")
	}
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "c.yar"), "rule compiled_one { strings: $a = \"needle\" condition: $a and filename == \"hay.txt\" }\n")
	out := filepath.Join(dir, "c.bin") // no telling extension: the magic decides
	if b, err := exec.Command(yarac, "-d", "filename=", src, out).CombinedOutput(); err != nil {
		t.Fatalf("yarac: %v %s", err, b)
	}
	r, diags, err := Compile(Options{Paths: []string{out}})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	ri, ok := r.Info("default", "compiled_one")
	if !ok || ri.Source != out {
		t.Fatalf("compiled rule info %+v %v", ri, ok)
	}
	sc, err := r.NewScanner(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	ms, err := sc.Scan([]byte("a needle here"), Vars{Filename: "hay.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ms); !slices.Equal(got, []string{"compiled_one"}) {
		t.Errorf("matched %v", got)
	}
	if ms, _ := sc.Scan([]byte("a needle here"), Vars{Filename: "other.txt"}); len(ms) != 0 {
		t.Errorf("compiled rule ignored filename: %v", names(ms))
	}
}

func TestScoreAndMetaInterpretation(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		sev  report.Severity
		tech string
	}{
		{map[string]string{"severity": "critical", "attack": "T1496"}, report.Critical, "T1496"},
		{map[string]string{"severity": "HIGH"}, report.High, ""},
		{map[string]string{"score": "70", "mitre_attack": "TA0040, T1496.001"}, report.Medium, "T1496.001"},
		{map[string]string{"score": "40"}, report.Low, ""},
		{map[string]string{"score": "39"}, report.Info, ""},
		{map[string]string{"score": "100"}, report.Critical, ""},
		{map[string]string{"score": "junk"}, DefaultSeverity, ""},
		{map[string]string{}, DefaultSeverity, ""},
	} {
		ri := RuleInfo{Meta: tc.meta}
		ri.interpret()
		if ri.Severity != tc.sev || ri.Technique != tc.tech {
			t.Errorf("%v: severity %v technique %q, want %v %q", tc.meta, ri.Severity, ri.Technique, tc.sev, tc.tech)
		}
	}
}

func TestFiletype(t *testing.T) {
	if err := FiletypeTableError(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		head string
		want string
	}{
		{"\x7fELF\x02\x01", "ELF"},
		{"MZ\x90\x00", "EXE"},
		{"PK\x03\x04", "ZIP"},
		{"#!/bin/sh\n", "SCRIPT"},
		{"\xfd7zXZ\x00", "XZ"},
		{"hello", UnknownFiletype},
		{"", UnknownFiletype},
	} {
		if got := Filetype([]byte(tc.head)); got != tc.want {
			t.Errorf("Filetype(%q) = %s, want %s", tc.head, got, tc.want)
		}
	}
}

func TestNewScannerNoRules(t *testing.T) {
	var r *Rules
	if _, err := r.NewScanner(0); err != ErrNoRules {
		t.Errorf("err = %v", err)
	}
}

// libyara's timeout is whole seconds; a slow rule over a large buffer must
// stop near it with ErrTimeout rather than run to the end.
func TestScanTimeout(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "slow.yar"), "rule slow { condition: for all i in (0..filesize-1) : (uint8(i) != 0xff and uint16(i) != 0xffff) }\n")
	r, _, err := Compile(Options{Paths: []string{p}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.NewScanner(time.Millisecond) // raised to MinTimeout
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	buf := make([]byte, 256<<20)
	start := time.Now()
	_, err = sc.Scan(buf, Vars{})
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Skipf("scan finished in %v without timing out (fast machine): err %v", el, err)
	}
	if el > 5*time.Second {
		t.Errorf("timeout after %v, want about %v", el, MinTimeout)
	}
}

func TestListWithUserRules(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "a.yar"), "rule a_one : t1 t2 { meta: description = \"d\" severity = \"low\" condition: false }\n")
	infos, _, err := List(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var emb, user int
	for _, ri := range infos {
		switch ri.Source {
		case EmbeddedSource:
			emb++
		case p:
			user++
			if ri.Name != "a_one" || ri.Severity != report.Low || !slices.Equal(ri.Tags, []string{"t1", "t2"}) || ri.Description != "d" {
				t.Errorf("%+v", ri)
			}
		default:
			t.Errorf("rule %s from %q", ri.Name, ri.Source)
		}
	}
	if emb < 15 || user != 1 {
		t.Errorf("%d embedded, %d user rules", emb, user)
	}
}

// Relative includes resolve from the including file, as with the yara CLI,
// whatever the working directory.
func TestUserRuleInclude(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lib", "common.yar"), "private rule has_needle { strings: $n = \"needle\" condition: $n }\n")
	main := writeFile(t, filepath.Join(dir, "main.yar"), "include \"lib/common.yar\"\nrule uses_include { condition: has_needle }\n")
	r, diags, err := Compile(Options{Paths: []string{main}, NoEmbedded: true})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	sc, err := r.NewScanner(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	ms, err := sc.Scan([]byte("a needle"), Vars{})
	if err != nil || !slices.Equal(names(ms), []string{"uses_include"}) {
		t.Errorf("%v %v", names(ms), err)
	}
}
