package sweep

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snapscan/snapscan/report"
	"github.com/snapscan/snapscan/scanner/sweep/hook"
)

// recorder is a hook that keeps what it was shown.
type recorder struct {
	mu    sync.Mutex
	files map[string]hook.File
	heads map[string]string
	done  int
}

func (r *recorder) File(f hook.File) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[f.Path] = f
	r.heads[f.Path] = string(f.Head) // Head is only valid during the call
}

func (r *recorder) Done() ([]report.Finding, []report.InventoryItem, []report.ScanError) {
	r.done++
	return []report.Finding{{Rule: "hook.test", Evidence: report.Evidence{Path: "/zz"}}},
		[]report.InventoryItem{{Kind: "hook-test", Path: "/a"}},
		[]report.ScanError{{Path: "/hook-error", Stage: "sweep", Error: "test"}}
}

// Every regular file reaches the hook once, with the hash of its one read,
// its first bytes and its OS path; a file over the size cap with no hash;
// what Done returns joins the result.
func TestSweepFileHook(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("B", 300)
	write(t, filepath.Join(dir, "bin/tool"), "\x7fELF"+strings.Repeat("x", 100))
	write(t, filepath.Join(dir, "etc/conf"), "k=v\n")
	write(t, filepath.Join(dir, "big"), big)
	if err := os.Symlink("bin/tool", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{files: map[string]hook.File{}, heads: map[string]string{}}
	res := run(t, dir, Options{MountPoint: "/usr", MaxFileSize: 200, Hooks: []hook.Hook{rec}})
	if rec.done != 1 || len(rec.files) != 3 {
		t.Fatalf("hook saw %d files, Done called %d times: %v", len(rec.files), rec.done, rec.files)
	}
	for _, tc := range []struct{ path, content string }{{"bin/tool", "\x7fELF" + strings.Repeat("x", 100)}, {"etc/conf", "k=v\n"}} {
		f := rec.files[tc.path]
		sum := sha256.Sum256([]byte(tc.content))
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.OSPath != "/usr/"+tc.path || f.Meta == nil || f.Meta.Size != int64(len(tc.content)) {
			t.Errorf("%s: %+v", tc.path, f)
		}
		if want := tc.content[:min(len(tc.content), hook.HeadSize)]; rec.heads[tc.path] != want {
			t.Errorf("%s: head %q, want %q", tc.path, rec.heads[tc.path], want)
		}
	}
	if f := rec.files["big"]; f.SHA256 != "" || f.Meta.Size != 300 || rec.heads["big"] != "" {
		t.Errorf("file over the cap: %+v head %q", f, rec.heads["big"])
	}
	if len(res.Errors) != 1 || res.Errors[0].Path != "/hook-error" {
		t.Errorf("errors %+v", res.Errors)
	}
	if len(res.Inventory) != 1 || res.Inventory[0].Kind != "hook-test" {
		t.Errorf("inventory %+v", res.Inventory)
	}
	found := false
	for _, f := range res.Findings {
		found = found || f.Rule == "hook.test"
	}
	if !found {
		t.Errorf("hook finding not in the result: %+v", res.Findings)
	}
}

// vouch verifies the files whose MD5 it was given, like a package database.
type vouch struct{ md5 map[string]string }

func (v vouch) File(hook.File) {}
func (v vouch) Done() ([]report.Finding, []report.InventoryItem, []report.ScanError) {
	return nil, nil, nil
}
func (v vouch) Verified(f hook.File) bool { return f.MD5 != "" && v.md5[f.Path] == f.MD5 }

// A verified file is hashed but not YARA-scanned only with SkipVerified; a
// file whose digest differs is always scanned.
func TestSweepSkipVerified(t *testing.T) {
	dir := t.TempDir()
	miner := "stratum+tcp://pool.minexmr.com:4444 --donate-level 1 xmrig 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
	write(t, filepath.Join(dir, "usr/bin/vouched"), miner)
	write(t, filepath.Join(dir, "usr/bin/changed"), miner)
	v := vouch{md5: map[string]string{"usr/bin/vouched": fmt.Sprintf("%x", md5.Sum([]byte(miner))), "usr/bin/changed": "00000000000000000000000000000000"}}
	for _, skip := range []bool{false, true} {
		res := run(t, dir, Options{Rules: embeddedRules(t), Hooks: []hook.Hook{v}, SkipVerified: skip})
		got := byPath(res)
		if _, ok := got["/usr/bin/changed"]; !ok {
			t.Errorf("skip=%v: the unverified file was not scanned", skip)
		}
		_, found := got["/usr/bin/vouched"]
		if found == skip || res.Stats.VerifiedNotSwept != map[bool]int64{false: 0, true: 1}[skip] || res.Stats.Files != 2 {
			t.Errorf("skip=%v: vouched file found=%v, stats %+v", skip, found, res.Stats)
		}
	}
}
