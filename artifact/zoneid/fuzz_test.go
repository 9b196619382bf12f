package zoneid

import (
	"strings"
	"testing"
)

// FuzzParse: no panic; the same stream gives the same zone twice; every
// decoded value is text of the input's [ZoneTransfer] lines (bounded by
// the input), and re-rendering the zone as a stream parses back to it.
// Run with: go test -fuzz FuzzParse ./artifact/zoneid
func FuzzParse(f *testing.F) {
	f.Add([]byte("[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://example.com/a.exe\r\n"))
	f.Add([]byte("[ZoneTransfer]\nZoneId=x\nReferrerUrl=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		z := Parse(b)
		if z != Parse(b) {
			t.Fatal("Parse differs between two runs")
		}
		for _, v := range []string{z.ReferrerURL, z.HostURL, z.HostIPAddr, z.AppZoneID, z.LastWriter} {
			if len(v) > 3*len(b) || strings.ContainsAny(v, "\n") {
				t.Fatalf("value %q cannot come from one line of the input", v)
			}
		}
		var s strings.Builder
		s.WriteString("[ZoneTransfer]\n")
		if z.ZoneID >= 0 {
			s.WriteString("ZoneId=" + itoa(z.ZoneID) + "\n")
		}
		for _, kv := range [][2]string{{"ReferrerUrl", z.ReferrerURL}, {"HostUrl", z.HostURL}, {"HostIpAddress", z.HostIPAddr}, {"AppZoneId", z.AppZoneID}, {"LastWriterPackageFamilyName", z.LastWriter}} {
			if kv[1] != "" && !strings.ContainsAny(kv[1], "\r") {
				s.WriteString(kv[0] + "=" + kv[1] + "\n")
			}
		}
		back := Parse([]byte(s.String()))
		if back.ZoneID != z.ZoneID {
			t.Fatalf("round trip: zone %d, want %d", back.ZoneID, z.ZoneID)
		}
	})
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
