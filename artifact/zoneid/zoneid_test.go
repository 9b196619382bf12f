package zoneid

import (
	"testing"
	"unicode/utf16"
)

func utf16le(s string) []byte {
	b := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func TestParse(t *testing.T) {
	edge := "[ZoneTransfer]\r\nZoneId=3\r\nReferrerUrl=https://github.com/xmrig/xmrig/releases\r\nHostUrl=https://github.com/xmrig/xmrig/releases/download/v6.21.0/xmrig-6.21.0-msvc-win64.zip\r\n"
	cases := []struct {
		name string
		in   []byte
		want Zone
	}{
		{"edge download", []byte(edge), Zone{ZoneID: 3, ReferrerURL: "https://github.com/xmrig/xmrig/releases", HostURL: "https://github.com/xmrig/xmrig/releases/download/v6.21.0/xmrig-6.21.0-msvc-win64.zip"}},
		{"xp style", []byte("[ZoneTransfer]\nZoneId=3\n"), Zone{ZoneID: 3}},
		{"utf-16 with BOM", utf16le("[ZoneTransfer]\r\nZoneId=4\r\nHostIpAddress=198.51.100.7\r\n"), Zone{ZoneID: 4, HostIPAddr: "198.51.100.7"}},
		{"other section only", []byte("[Other]\nZoneId=2\n"), Zone{ZoneID: -1}},
		{"garbage", []byte{0, 1, 2, 0xff}, Zone{ZoneID: -1}},
	}
	for _, c := range cases {
		if got := Parse(c.in); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if n := (Zone{ZoneID: 3}).ZoneName(); n != "internet" {
		t.Errorf("zone name %q", n)
	}
}
