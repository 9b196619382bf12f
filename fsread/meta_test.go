package fsread

import (
	"io/fs"
	"testing"
)

func TestModeStringMatchesLs(t *testing.T) {
	for _, tc := range []struct {
		m    fs.FileMode
		want string
	}{
		{fs.ModeDir | fs.ModeSticky | 0o777, "drwxrwxrwt"},
		{fs.ModeSetuid | 0o755, "-rwsr-xr-x"},
		{fs.ModeSetuid | 0o644, "-rwSr--r--"},
		{fs.ModeSetgid | 0o755, "-rwxr-sr-x"},
		{fs.ModeSymlink | 0o777, "lrwxrwxrwx"},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, "crw-rw-rw-"},
		{fs.ModeDevice | 0o660, "brw-rw----"},
		{fs.ModeNamedPipe | 0o644, "prw-r--r--"},
		{fs.ModeSocket | 0o755, "srwxr-xr-x"},
		{fs.ModeDir | fs.ModeSticky | 0o770, "drwxrwx--T"},
	} {
		if got := ModeString(tc.m); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.m, got, tc.want)
		}
	}
}

func TestUnixModeAndDirentFileType(t *testing.T) {
	for _, tc := range []struct {
		mode uint16
		want string
	}{
		{0o104755, "-rwsr-xr-x"}, {0o041777, "drwxrwxrwt"}, {0o120777, "lrwxrwxrwx"},
		{0o010644, "prw-r--r--"}, {0o020620, "crw--w----"}, {0o060660, "brw-rw----"}, {0o140755, "srwxr-xr-x"},
	} {
		if got := ModeString(UnixMode(tc.mode)); got != tc.want {
			t.Errorf("%o: %s, want %s", tc.mode, got, tc.want)
		}
	}
	if UnixMode(0o170644)&fs.ModeIrregular == 0 {
		t.Error("an unknown type is not marked irregular")
	}
	for ft, want := range map[uint8]fs.FileMode{1: 0, 2: fs.ModeDir, 7: fs.ModeSymlink, 5: fs.ModeNamedPipe} {
		if got, ok := DirentFileType(ft); !ok || got != want {
			t.Errorf("ft %d: %v %v", ft, got, ok)
		}
	}
	if _, ok := DirentFileType(0); ok {
		t.Error("type 0 (unknown) reported as known")
	}
}
