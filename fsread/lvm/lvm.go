// Package lvm reads LVM2 volume groups from disk images without device-mapper:
// it parses the PV label, the metadata area and the VG metadata text, and maps
// linear and striped logical volumes onto the image as io.ReaderAt.
package lvm

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// VG is a volume group as described by the newest metadata found on its PVs.
type VG struct {
	Name, UUID string
	ExtentSize int64 // bytes
	PVs        []PV
	LVs        []LV // user-visible LVs only; internal ones (_tmeta, _rimage_0, ...) are not listed
	Seqno      int
	// Notes are facts an examiner should know (PVs absent from the image,
	// damaged metadata copies, a newer uncommitted copy); they do not stop a scan.
	Notes []string
}

// PV is a physical volume listed in the VG metadata.
type PV struct {
	Name    string // metadata name, "pv0"
	UUID    string
	Device  string // device path when the metadata was written; a hint only
	DevSize int64  // bytes
	PEStart int64  // byte offset of the first extent on the PV
	PECount int64
	Present bool // the PV is one of the images given to Open
}

// LV is a logical volume.
type LV struct {
	Name, UUID string
	Size       int64 // bytes
	Segments   []Segment
	Supported  bool
	Reason     string      // why it cannot be read: "thin pool: not supported", "missing PV <uuid>", ...
	ReaderAt   io.ReaderAt // nil when !Supported; reads past Size return io.EOF
}

// Segment is one run of logical extents.
type Segment struct {
	StartExtent, ExtentCount int64
	Type                     string // "striped" (linear is striped with one stripe), "thin", "raid1", ...
	StripeSize               int64  // bytes; 0 for linear
	Stripes                  []Stripe
}

// Stripe is where one stripe of a segment starts.
type Stripe struct {
	PV          string // metadata PV name ("pv0"), or an LV name for stacked segments
	StartExtent int64
}

// Disk is one image that may hold a PV.
type Disk struct {
	ReaderAt io.ReaderAt
	Size     int64
}

// Open finds an LVM2 physical volume label in the first 4 sectors of r and
// returns the volume group it belongs to, parsed from the PV's metadata area
// (the copy with the highest seqno). LVs on PVs that are not in r are reported
// with Supported=false.
func Open(r io.ReaderAt, size int64) (*VG, error) {
	return OpenDisks(Disk{r, size})
}

// OpenDisks is Open for a VG spread over several images: the first disk's VG
// is returned, and the other disks supply its remaining PVs. Disks holding
// other VGs or no PV are ignored with a note.
func OpenDisks(disks ...Disk) (vg *VG, err error) {
	defer func() {
		if p := recover(); p != nil {
			vg, err = nil, fmt.Errorf("lvm: malformed volume group (internal error: %v)", p)
		}
	}()
	if len(disks) == 0 {
		return nil, errors.New("lvm: no disks")
	}
	pvs := make([]*pvDisk, len(disks))
	var notes []string
	for i, d := range disks {
		pd, err := probe(d)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			notes = append(notes, fmt.Sprintf("disk %d: %v", i, err))
			continue
		}
		pvs[i] = pd
	}
	// The first disk names the VG: by its own metadata, or, for a PV created
	// without a metadata area, by the metadata of another disk listing it.
	first := pvs[0]
	var best *pvDisk
	for _, pd := range pvs {
		switch {
		case pd == nil || pd.meta == nil:
		case first.meta != nil && pd.meta.uuid != first.meta.uuid:
		case first.meta == nil && !listsPV(pd.meta, first.label.UUID):
		case best == nil || pd.meta.seqno > best.meta.seqno:
			best = pd
		}
	}
	if best == nil {
		return nil, fmt.Errorf("lvm: PV %s: %s", first.label.UUID, firstOr(first.notes, "no metadata area holds VG metadata"))
	}
	for i, pd := range pvs[1:] {
		if pd != nil && pd.meta != nil && pd.meta.uuid != best.meta.uuid {
			notes = append(notes, fmt.Sprintf("disk %d: PV %s belongs to VG %s, not %s", i+1, pd.label.UUID, pd.meta.name, best.meta.name))
			pvs[i+1] = nil
		}
	}
	for _, pd := range pvs {
		if pd != nil {
			notes = append(notes, pd.notes...)
		}
	}
	vg, err = build(best.meta.root, best.meta.vgKey, pvs)
	if err != nil {
		return nil, err
	}
	vg.Notes = append(notes, vg.Notes...)
	vg.Notes = append(vg.Notes, removedLVs(best.meta, best.history)...)
	return vg, nil
}

func listsPV(m *vgText, uuid string) bool {
	for _, p := range m.root.get(m.vgKey).get("physical_volumes").Section {
		if id, _ := p.str("id"); id == uuid {
			return true
		}
	}
	return false
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// pvDisk is one image with its label and the newest VG metadata it holds.
type pvDisk struct {
	Disk
	label   *pvLabel
	meta    *vgText
	history []summary
	notes   []string
}

type vgText struct {
	root       *node
	vgKey      string
	name, uuid string
	seqno      int64
}

func probe(d Disk) (*pvDisk, error) {
	if d.ReaderAt == nil || d.Size < labelScan*sectorSize {
		return nil, ErrNotLVM
	}
	buf := make([]byte, labelScan*sectorSize)
	if err := readFull(d.ReaderAt, buf, 0); err != nil {
		return nil, fmt.Errorf("lvm: label: %w", err)
	}
	l, err := parseLabel(buf)
	if err != nil {
		return nil, err
	}
	pd := &pvDisk{Disk: d, label: l}
	for _, a := range l.Metadata {
		committed, damaged := mdaCommitted(d, a, &pd.notes)
		var cur *vgText
		if committed != nil {
			m, err := decodeVGText(committed)
			if err != nil {
				pd.notes = append(pd.notes, fmt.Sprintf("PV %s: metadata area at %d: %v; scanning it for older copies", l.UUID, a.Offset, err))
				damaged = true
			} else {
				cur = m
			}
		}
		// Older copies stay in the ring until overwritten: the fallback when
		// the committed one is unusable, and a record of removed LVs.
		var newest *vgText
		for _, c := range scanRing(d, a) {
			m, err := decodeVGText(c)
			if err != nil {
				continue
			}
			pd.history = append(pd.history, summary{m.uuid, m.seqno, visibleLVs(m)})
			if newest == nil || m.seqno > newest.seqno {
				newest = m
			}
		}
		switch {
		case cur != nil && newest != nil && newest.uuid == cur.uuid && newest.seqno > cur.seqno:
			pd.notes = append(pd.notes, fmt.Sprintf("PV %s: metadata area at %d holds an uncommitted copy with seqno %d; using the committed seqno %d", l.UUID, a.Offset, newest.seqno, cur.seqno))
		case cur == nil && damaged && newest != nil:
			pd.notes = append(pd.notes, fmt.Sprintf("PV %s: using the newest copy found in the metadata area at %d, seqno %d", l.UUID, a.Offset, newest.seqno))
			cur = newest
		}
		if cur != nil && (pd.meta == nil || cur.seqno > pd.meta.seqno) {
			pd.meta = cur
		}
	}
	return pd, nil
}

// summary is what an old metadata copy contributes: which LVs it listed.
type summary struct {
	uuid  string
	seqno int64
	lvs   []string
}

func visibleLVs(m *vgText) []string {
	var out []string
	if lvs := m.root.get(m.vgKey).get("logical_volumes"); lvs != nil {
		for _, l := range lvs.Section {
			if l.Kind == kindSection && slices.Contains(l.strList("status"), "VISIBLE") {
				out = append(out, l.Key)
			}
		}
	}
	return out
}

// removedLVs notes LVs that older copies of the VG list but the current one
// does not: removed (or renamed) LVs whose extents may still hold data.
func removedLVs(cur *vgText, history []summary) []string {
	now := map[string]bool{}
	if lvs := cur.root.get(cur.vgKey).get("logical_volumes"); lvs != nil {
		for _, l := range lvs.Section {
			now[l.Key] = true
		}
	}
	last := map[string]int64{}
	for _, h := range history {
		if h.uuid != cur.uuid || h.seqno >= cur.seqno {
			continue
		}
		for _, n := range h.lvs {
			if !now[n] {
				last[n] = max(last[n], h.seqno)
			}
		}
	}
	var notes []string
	for _, n := range slices.Sorted(maps.Keys(last)) {
		notes = append(notes, fmt.Sprintf("LV %s is in an older copy of the metadata (seqno %d) but not in the current one: removed or renamed; its extents may still hold its data", n, last[n]))
	}
	return notes
}

// mdaCommitted returns the committed metadata copy of one metadata area, or
// damaged=true (with a note) when the header or the copy is unusable.
func mdaCommitted(d Disk, a area, notes *[]string) (text []byte, damaged bool) {
	if a.Offset > uint64(d.Size) || a.Size > uint64(d.Size)-a.Offset || a.Size <= mdaHeaderSize {
		*notes = append(*notes, fmt.Sprintf("metadata area %d+%d outside the %d-byte image", a.Offset, a.Size, d.Size))
		return nil, false
	}
	hb := make([]byte, mdaHeaderSize)
	var h *mdaHeader
	err := readFull(d.ReaderAt, hb, int64(a.Offset))
	if err == nil {
		h, err = parseMDAHeader(hb)
	}
	if err == nil && h.Start != a.Offset {
		err = fmt.Errorf("metadata area header says it starts at %d", h.Start)
	}
	if err == nil && len(h.Locns) > 0 && h.Locns[0].Flags&rawLocnIgnore != 0 {
		return nil, false // metadata deliberately kept elsewhere (pvchange --metadataignore)
	}
	if err == nil && len(h.Locns) > 0 {
		if text, err = readText(d.ReaderAt, d.Size, a.Offset, a.Size, h.Locns[0]); err == nil {
			return text, false
		}
	}
	if err == nil {
		return nil, false // an empty area: no VG yet
	}
	*notes = append(*notes, fmt.Sprintf("metadata area at %d: %v; scanning it for older copies", a.Offset, err))
	return nil, true
}

// scanRing finds metadata texts in a damaged area by their shape: LVM aligns
// each copy to a sector and ends it with a NUL.
func scanRing(d Disk, a area) [][]byte {
	if a.Offset > uint64(d.Size) || a.Size > uint64(d.Size)-a.Offset || a.Size <= mdaHeaderSize || a.Size > maxTextSize {
		return nil
	}
	ring := make([]byte, a.Size-mdaHeaderSize)
	if readFull(d.ReaderAt, ring, int64(a.Offset+mdaHeaderSize)) != nil {
		return nil
	}
	// Copies do not overlap, so the scan resumes after each one; the caps keep
	// a ring full of NUL-less look-alikes from costing more than a few parses.
	var out [][]byte
	for off := 0; off < len(ring) && len(out) < maxRingCopies; off += sectorSize {
		if !looksLikeVGText(ring[off:]) {
			continue
		}
		end := slices.Index(ring[off:], 0)
		if end < 0 {
			// The copy wraps to the start of the ring.
			wrap := slices.Index(ring[:off], 0)
			if wrap < 0 {
				break
			}
			out = append(out, append(slices.Clone(ring[off:]), ring[:wrap]...))
			break
		}
		out = append(out, ring[off:off+end])
		off += end &^ (sectorSize - 1)
	}
	return out
}

const maxRingCopies = 64

func looksLikeVGText(b []byte) bool {
	i := 0
	for i < len(b) && i < 256 && isIdentByte(b[i]) {
		i++
	}
	return i > 0 && strings.HasPrefix(string(b[i:min(len(b), i+12)]), " {\nid = \"")
}

func decodeVGText(text []byte) (*vgText, error) {
	root, err := parseConfig(text)
	if err != nil {
		return nil, err
	}
	for _, n := range root.Section {
		if n.Kind != kindSection || n.get("physical_volumes") == nil {
			continue
		}
		id, _ := n.str("id")
		seq, ok := n.int("seqno")
		if !ok || seq < 0 || seq > 1<<31-1 {
			return nil, fmt.Errorf("VG %s: no valid seqno", n.Key)
		}
		return &vgText{root: root, vgKey: n.Key, name: n.Key, uuid: id, seqno: seq}, nil
	}
	return nil, errors.New("no volume group section in metadata text")
}

// Caps on what one VG may declare; LVM's own limits are far below these.
const (
	maxLVs      = 1 << 14
	maxSegments = 1 << 14 // per LV
	maxStripes  = 128     // LVM's MAX_STRIPES
	maxExtent   = 1 << 40 // bytes
)

func build(root *node, key string, disks []*pvDisk) (*VG, error) {
	v := root.get(key)
	vg := &VG{Name: key}
	vg.UUID, _ = v.str("id")
	seq, _ := v.int("seqno")
	vg.Seqno = int(seq)
	es, ok := v.int("extent_size")
	if !ok || es <= 0 || es > maxExtent/sectorSize {
		return nil, fmt.Errorf("lvm: VG %s: bad extent_size %d", key, es)
	}
	vg.ExtentSize = es * sectorSize

	byName := map[string]*pvDisk{}
	for _, p := range v.get("physical_volumes").Section {
		if p.Kind != kindSection {
			continue
		}
		pv := PV{Name: p.Key}
		pv.UUID, _ = p.str("id")
		pv.Device, _ = p.str("device")
		ds, _ := p.int("dev_size")
		ps, _ := p.int("pe_start")
		pc, _ := p.int("pe_count")
		if ds < 0 || ps < 0 || pc < 0 || ds > 1<<53 || ps > 1<<53 || pc > 1<<53 {
			return nil, fmt.Errorf("lvm: VG %s: PV %s: negative or huge size", key, p.Key)
		}
		pv.DevSize, pv.PEStart, pv.PECount = ds*sectorSize, ps*sectorSize, pc
		for _, d := range disks {
			if d != nil && d.label.UUID == pv.UUID {
				pv.Present = true
				byName[pv.Name] = d
				if pv.DevSize > d.Size {
					vg.Notes = append(vg.Notes, fmt.Sprintf("PV %s is %d bytes, the image only %d: the image is truncated", pv.UUID, pv.DevSize, d.Size))
				}
			}
		}
		if !pv.Present {
			vg.Notes = append(vg.Notes, fmt.Sprintf("PV %s (%s) is not in the image", pv.UUID, pv.Device))
		}
		vg.PVs = append(vg.PVs, pv)
	}

	lvs := v.get("logical_volumes")
	if lvs == nil {
		return vg, nil
	}
	if len(lvs.Section) > maxLVs {
		return nil, fmt.Errorf("lvm: VG %s: %d LVs, more than %d", key, len(lvs.Section), maxLVs)
	}
	// A snapshot's user-visible name belongs to its copy-on-write store, a
	// plain striped LV without the VISIBLE flag; only the hidden snapshotN LV
	// says what it is. LVM shows the store when the origin is visible.
	cow := map[string]string{}
	allLVs := map[string]bool{}
	visible := map[string]bool{}
	for _, l := range lvs.Section {
		allLVs[l.Key] = true
		visible[l.Key] = slices.Contains(l.strList("status"), "VISIBLE")
		for _, s := range l.Section {
			if t, _ := s.str("type"); s.Kind == kindSection && t == "snapshot" {
				c, _ := s.str("cow_store")
				o, _ := s.str("origin")
				cow[c] = o
			}
		}
	}
	for _, l := range lvs.Section {
		if o, isCOW := cow[l.Key]; l.Kind != kindSection || !visible[l.Key] && !(isCOW && visible[o]) {
			continue
		}
		lv := buildLV(vg, &l, byName, allLVs)
		if o, ok := cow[lv.Name]; ok {
			lv.Supported, lv.ReaderAt = false, nil
			lv.Reason = fmt.Sprintf("snapshot of %s: not supported (this is its copy-on-write store)", o)
		}
		vg.LVs = append(vg.LVs, lv)
	}
	return vg, nil
}

func unsupported(t string) string {
	switch {
	case t == "thin-pool":
		return "thin pool: not supported"
	case t == "thin":
		return "thin volume: not supported"
	case t == "snapshot":
		return "snapshot: not supported"
	case strings.HasPrefix(t, "raid"), t == "mirror", t == "cache", t == "cache-pool", t == "writecache",
		t == "vdo", t == "vdo-pool", t == "integrity":
		return t + ": not supported"
	}
	return fmt.Sprintf("segment type %q: not supported", t)
}

func buildLV(vg *VG, l *node, byName map[string]*pvDisk, allLVs map[string]bool) LV {
	lv := LV{Name: l.Key}
	lv.UUID, _ = l.str("id")
	fail := func(format string, a ...any) LV {
		lv.Supported, lv.ReaderAt = false, nil
		if lv.Reason == "" {
			lv.Reason = fmt.Sprintf(format, a...)
		}
		return lv
	}
	var segs []*node
	for i := range l.Section {
		if s := &l.Section[i]; s.Kind == kindSection && strings.HasPrefix(s.Key, "segment") {
			segs = append(segs, s)
		}
	}
	if len(segs) > maxSegments {
		return fail("%d segments, more than %d", len(segs), maxSegments)
	}
	r := &lvReader{}
	var next int64 // extents mapped so far; segments must follow each other
	for _, s := range segs {
		seg := Segment{}
		seg.StartExtent, _ = s.int("start_extent")
		seg.ExtentCount, _ = s.int("extent_count")
		seg.Type, _ = s.str("type")
		if seg.StartExtent < 0 || seg.ExtentCount <= 0 || seg.StartExtent > 1<<53 || seg.ExtentCount > 1<<53 {
			return fail("%s: bad extent range", s.Key)
		}
		end, ok := mulOK(seg.StartExtent+seg.ExtentCount, vg.ExtentSize)
		if !ok {
			return fail("%s: size overflows", s.Key)
		}
		lv.Size = max(lv.Size, end)
		if seg.Type != "striped" {
			if lv.Reason == "" {
				lv.Reason = unsupported(seg.Type)
			}
			lv.Segments = append(lv.Segments, seg)
			continue
		}
		ss, _ := s.int("stripe_size")
		n, _ := s.int("stripe_count")
		if n < 1 || n > maxStripes || ss < 0 || ss > maxExtent/sectorSize || (n > 1 && ss == 0) {
			return fail("%s: bad stripe_count %d / stripe_size %d", s.Key, n, ss)
		}
		if n > 1 {
			seg.StripeSize = ss * sectorSize
		}
		list := s.get("stripes")
		if list == nil || list.Kind != kindList || int64(len(list.List)) != 2*n {
			return fail("%s: stripes list does not hold %d stripes", s.Key, n)
		}
		if seg.ExtentCount%n != 0 {
			return fail("%s: %d extents do not divide into %d stripes", s.Key, seg.ExtentCount, n)
		}
		perStripe := seg.ExtentCount / n
		m := mapped{lvOff: seg.StartExtent * vg.ExtentSize, size: seg.ExtentCount * vg.ExtentSize, stripeSize: seg.StripeSize}
		for i := 0; i < len(list.List); i += 2 {
			name, start := list.List[i], list.List[i+1]
			if name.Kind != kindString || start.Kind != kindInt || start.Int < 0 || start.Int > 1<<53 {
				return fail("%s: malformed stripes list", s.Key)
			}
			seg.Stripes = append(seg.Stripes, Stripe{PV: name.Str, StartExtent: start.Int})
			if lv.Reason != "" {
				continue
			}
			d, ok := byName[name.Str]
			if !ok {
				if allLVs[name.Str] {
					lv.Reason = fmt.Sprintf("stacked on LV %s (pvmove in progress?): not supported", name.Str)
				} else if pv := findPV(vg, name.Str); pv != nil {
					lv.Reason = "missing PV " + pv.UUID
				} else {
					lv.Reason = fmt.Sprintf("%s: unknown PV %q", s.Key, name.Str)
				}
				continue
			}
			pv := findPV(vg, name.Str)
			base := pv.PEStart + start.Int*vg.ExtentSize
			stop, ok := mulOK(start.Int+perStripe, vg.ExtentSize)
			if !ok || stop > d.Size-pv.PEStart {
				lv.Reason = fmt.Sprintf("%s: extents %d..%d of PV %s lie beyond the end of the image", s.Key, start.Int, start.Int+perStripe-1, pv.UUID)
				continue
			}
			m.stripes = append(m.stripes, stripeMap{r: d.ReaderAt, off: base})
		}
		if seg.StartExtent != next {
			return fail("%s starts at extent %d, expected %d", s.Key, seg.StartExtent, next)
		}
		next = seg.StartExtent + seg.ExtentCount
		lv.Segments = append(lv.Segments, seg)
		r.segs = append(r.segs, m)
	}
	if lv.Reason != "" {
		return fail("")
	}
	if len(segs) == 0 {
		return fail("no segments")
	}
	for i := 1; i < len(lv.Segments); i++ {
		if lv.Segments[i].StartExtent < lv.Segments[i-1].StartExtent {
			return fail("segments out of order")
		}
	}
	r.size = lv.Size
	lv.Supported, lv.ReaderAt = true, r
	return lv
}

func findPV(vg *VG, name string) *PV {
	for i := range vg.PVs {
		if vg.PVs[i].Name == name {
			return &vg.PVs[i]
		}
	}
	return nil
}

func mulOK(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<62 {
		return 0, false
	}
	return int64(lo), true
}
