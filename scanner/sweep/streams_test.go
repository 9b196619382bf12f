package sweep

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapscan/snapscan/fsread/ntfs"
	"github.com/snapscan/snapscan/internal/ntfsimg"
	"github.com/snapscan/snapscan/signatures/yarascan"
)

// TestSweepStreams sweeps an NTFS image (mkntfs, ntfs-3g mount; root) whose
// clean file carries a stream matching a rule: the match is reported on
// FILE:STREAM with the stream's hashes; the same text in a Zone.Identifier
// stream is not swept.
func TestSweepStreams(t *testing.T) {
	ntfsimg.Need(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "m.yar")
	write(t, rulesFile, `rule marker { strings: $m = "ADS-MARKER" condition: $m }`)
	r, _, err := yarascan.Compile(yarascan.Options{Paths: []string{rulesFile}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	img := ntfsimg.New(t, "8M")
	ntfsimg.Write(t, img, map[string]string{"clean.txt": "nothing to see\n", "download.zip": "nothing to see\n"}, []ntfsimg.Stream{
		{File: "clean.txt", Name: "payload", Data: "run ADS-MARKER now"},
		{File: "download.zip", Name: "Zone.Identifier", Data: "[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://x/ADS-MARKER\r\n"},
	})
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	fsys, err := ntfs.New(f, st.Size(), "ads")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), fsys, Options{Rules: r, Volume: "ads", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Evidence.Path != "/clean.txt:payload" || res.Findings[0].Evidence.Size != 18 || res.Findings[0].Evidence.SHA256 == "" {
		t.Errorf("findings: %+v", res.Findings)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors: %+v", res.Errors)
	}
}
