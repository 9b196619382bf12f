package ntfsowner

import (
	"encoding/binary"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/snapscan/snapscan/fsread"
	"github.com/snapscan/snapscan/fsread/image"
	"github.com/snapscan/snapscan/internal/testimg"
)

// sid encodes S-1-auth-subs... in binary.
func sid(auth byte, subs ...uint32) []byte {
	b := []byte{1, byte(len(subs)), 0, 0, 0, 0, 0, auth}
	for _, s := range subs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

// sdsEntry is one $SDS entry with a self-relative descriptor owned by owner.
func sdsEntry(id uint32, owner []byte) []byte {
	sd := make([]byte, 20)
	sd[0] = 1
	binary.LittleEndian.PutUint16(sd[2:], 0x8004)
	binary.LittleEndian.PutUint32(sd[4:], 20)
	sd = append(sd, owner...)
	e := make([]byte, 20)
	binary.LittleEndian.PutUint32(e[4:], id)
	binary.LittleEndian.PutUint32(e[16:], uint32(20+len(sd)))
	e = append(e, sd...)
	for len(e)%16 != 0 {
		e = append(e, 0)
	}
	return e
}

func TestParse(t *testing.T) {
	var data []byte
	data = append(data, sdsEntry(256, sid(5, 18))...)
	data = append(data, sdsEntry(257, sid(5, 21, 1, 2, 3, 1001))...)
	data = append(data, make([]byte, sdsBlock-len(data))...) // the rest of block 0 is unused
	data = append(data, sdsEntry(256, sid(5, 32, 544))...)   // the mirror's copy of an id: first wins
	data = append(data, sdsEntry(300, []byte{1, 15, 0})...)  // a SID cut short: skipped
	data = append(data, sdsEntry(301, sid(5, 32, 545))...)
	o := Parse(data)
	want := Owners{256: "S-1-5-18", 257: "S-1-5-21-1-2-3-1001", 301: "S-1-5-32-545"}
	if len(o) != len(want) {
		t.Fatalf("owners %v, want %v", o, want)
	}
	for id, s := range want {
		if o[id] != s {
			t.Errorf("id %d: %q, want %q", id, o[id], s)
		}
	}
	for _, tc := range []struct {
		id   uint32
		name string
	}{{256, `NT AUTHORITY\SYSTEM`}, {257, "S-1-5-21-1-2-3-1001"}, {301, `BUILTIN\Users`}, {999, ""}, {0, ""}} {
		if got := o.Name(&fsread.Meta{SecurityID: tc.id}); got != tc.name {
			t.Errorf("Name(%d) = %q, want %q", tc.id, got, tc.name)
		}
	}
}

// A volume Windows 10 formatted (../shared/external): every file's owner
// as ntfs-3g's ntfssecaudit reads it from the same image (loop device, as
// root), and the owners seen include SYSTEM and a user's SID.
func TestWindowsVolumeAgainstNtfssecaudit(t *testing.T) {
	raw := testimg.ExternalGunzip(t, "images/ntfs-samples/ntfs-si-vs-fn.raw.gz")
	img, err := image.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	v := img.Volumes[0]
	fsys, err := v.FS()
	if err != nil {
		t.Fatal(err)
	}
	o, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	fsread.Walk(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || strings.HasPrefix(p, "$") || p == "." {
			return nil
		}
		info, err := d.Info()
		if err == nil {
			got["/"+p] = o[fsread.MetaOf(info).SecurityID]
		}
		return nil
	})
	if got["/test/test.txt"] == "" || !strings.HasPrefix(got["/test/test.txt"], "S-1-5-21-") {
		t.Errorf("owners %v: want a user's SID on /test/test.txt", got)
	}
	if _, err := exec.LookPath("ntfssecaudit"); err != nil || os.Geteuid() != 0 {
		t.Skip("ntfssecaudit (ntfs-3g) and root for a loop device are needed for the independent check")
	}
	out, err := exec.Command("losetup", "-r", "-o", strconv.FormatInt(v.Start, 10), "-f", "--show", raw).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", loop).Run()
	ownerRE := regexp.MustCompile(`(?m)^Windows owner (S-[0-9-]+)`)
	for p, sid := range got {
		out, _ := exec.Command("ntfssecaudit", loop, p).CombinedOutput()
		m := ownerRE.FindSubmatch(out)
		if m == nil {
			t.Errorf("%s: ntfssecaudit shows no owner:\n%s", p, out)
			continue
		}
		if string(m[1]) != sid {
			t.Errorf("%s: owner %q, ntfssecaudit says %s", p, sid, m[1])
		}
	}
}

// FuzzParse: no input panics, every owner is a well-formed SID, and the
// same bytes give the same owners.
func FuzzParse(f *testing.F) {
	f.Add(append(sdsEntry(256, sid(5, 18)), sdsEntry(257, sid(5, 21, 7, 1001))...))
	f.Add([]byte{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	sidRE := regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)*$`)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := Parse(data), Parse(data)
		if len(a) != len(b) {
			t.Fatal("two parses differ")
		}
		for id, s := range a {
			if !sidRE.MatchString(s) || b[id] != s {
				t.Fatalf("id %d: bad owner %q", id, s)
			}
		}
	})
}
