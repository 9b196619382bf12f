// Package zoneid decodes a Zone.Identifier alternate data stream: the
// "mark of the web" Windows attaches to downloaded files, an INI text whose
// [ZoneTransfer] section names the security zone the file came from and,
// since Windows 10, the page and URL it was downloaded from.
package zoneid

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// MaxSize bounds the stream read; real ones are a few hundred bytes.
const MaxSize = 64 << 10

// StreamName is the stream Windows writes.
const StreamName = "Zone.Identifier"

// Zone is a decoded Zone.Identifier.
type Zone struct {
	ZoneID      int    // 0 local machine, 1 intranet, 2 trusted, 3 internet, 4 restricted; -1 when absent
	ReferrerURL string // the page the link was on
	HostURL     string // what was downloaded
	HostIPAddr  string
	AppZoneID   string
	LastWriter  string // LastWriterPackageFamilyName: the app that wrote it
}

var zoneNames = map[int]string{0: "local machine", 1: "local intranet", 2: "trusted sites", 3: "internet", 4: "restricted sites"}

// ZoneName names the zone.
func (z Zone) ZoneName() string {
	if n, ok := zoneNames[z.ZoneID]; ok {
		return n
	}
	if z.ZoneID < 0 {
		return ""
	}
	return "zone " + strconv.Itoa(z.ZoneID)
}

// Parse decodes the stream (UTF-8, or UTF-16 with a BOM as some tools write
// it). Unknown keys and other sections are ignored; it never fails, since
// a damaged mark of the web is still worth showing as far as it reads.
func Parse(b []byte) Zone {
	if len(b) > MaxSize {
		b = b[:MaxSize]
	}
	if dec, _, err := transform.Bytes(unicode.BOMOverride(unicode.UTF8.NewDecoder()), b); err == nil {
		b = dec
	}
	z := Zone{ZoneID: -1}
	in := false
	for _, raw := range bytes.Split(b, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if strings.HasPrefix(line, "[") {
			in = strings.EqualFold(strings.Trim(line, "[] "), "ZoneTransfer")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "zoneid":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				z.ZoneID = n
			}
		case "referrerurl":
			z.ReferrerURL = v
		case "hosturl":
			z.HostURL = v
		case "hostipaddress":
			z.HostIPAddr = v
		case "appzoneid":
			z.AppZoneID = v
		case "lastwriterpackagefamilyname":
			z.LastWriter = v
		}
	}
	return z
}
