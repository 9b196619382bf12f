package main

import (
	"strings"
	"testing"

	"github.com/snapscan/snapscan/internal/ntfsimg"
)

// TestStreamsLsCat builds a small NTFS image (mkntfs, ntfs-3g; root) holding
// a file with two alternate data streams and reads them back: ls lists
// FILE:STREAM after the file, cat FILE:STREAM writes the stream, and a
// stream that does not exist is an error.
func TestStreamsLsCat(t *testing.T) {
	img := ntfsimg.New(t, "8M")
	ntfsimg.Write(t, img, map[string]string{"notes.txt": "main\n"}, []ntfsimg.Stream{
		{File: "notes.txt", Name: "Zone.Identifier", Data: "[ZoneTransfer] ZoneId=3"},
		{File: "notes.txt", Name: "hidden.exe", Data: "MZ-stand-in"},
	})
	out, errs, code := run(t, "ls", img+":/")
	if code != 0 || !strings.Contains(out, "notes.txt\nnotes.txt:Zone.Identifier\nnotes.txt:hidden.exe\n") && !strings.Contains(out, "notes.txt\nnotes.txt:hidden.exe\nnotes.txt:Zone.Identifier\n") {
		t.Errorf("ls: code %d, out %q, err %q", code, out, errs)
	}
	out, _, code = run(t, "ls", "-l", img+":/notes.txt")
	if code != 0 || !strings.Contains(out, " 11 ") || !strings.Contains(out, "notes.txt:hidden.exe") {
		t.Errorf("ls -l: code %d, out %q", code, out)
	}
	for stream, want := range map[string]string{"": "main\n", ":hidden.exe": "MZ-stand-in", ":Zone.Identifier": "[ZoneTransfer] ZoneId=3"} {
		out, errs, code := run(t, "cat", img+":/notes.txt"+stream)
		if code != 0 || out != want {
			t.Errorf("cat notes.txt%s: code %d, out %q, err %q", stream, code, out, errs)
		}
	}
	if _, _, code := run(t, "cat", img+":/notes.txt:absent"); code == 0 {
		t.Errorf("cat of an absent stream succeeded")
	}
}
