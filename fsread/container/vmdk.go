package container

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
)

// VMDK sparse extent header flags.
const (
	vmdkFlagZeroGrain  = 1 << 2
	vmdkFlagCompressed = 1 << 16
	vmdkFlagMarkers    = 1 << 17
	vmdkGDAtEnd        = 0xffffffffffffffff
)

// vmdkDescriptor is what this reader needs from a text descriptor.
type vmdkDescriptor struct {
	createType string
	parentCID  string
	parentHint string
	extents    []string // "RW 128 SPARSE \"name\"" lines, as written
	names      []string
}

func parseVMDKDescriptor(b []byte) vmdkDescriptor {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	var d vmdkDescriptor
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, "\"") {
			v = strings.Trim(strings.TrimSpace(v), "\"")
			switch strings.TrimSpace(k) {
			case "createType":
				d.createType = v
			case "parentCID":
				d.parentCID = v
			case "parentFileNameHint":
				d.parentHint = v
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "RW" || f[0] == "RDONLY" || f[0] == "NOACCESS") {
			d.extents = append(d.extents, line)
			if i := strings.IndexByte(line, '"'); i >= 0 {
				if j := strings.IndexByte(line[i+1:], '"'); j >= 0 {
					d.names = append(d.names, line[i+1:i+1+j])
				}
			}
		}
	}
	return d
}

// vmdkDescriptorOnly explains why a text descriptor cannot be opened alone.
func vmdkDescriptorOnly(f *file) error {
	b, err := f.read("vmdk descriptor", 0, min(f.size, 64<<10))
	if err != nil {
		return err
	}
	d := parseVMDKDescriptor(b)
	ct := d.createType
	if ct == "" {
		ct = "unknown createType"
	}
	hint := "its extents are separate files"
	if len(d.names) > 0 {
		hint += fmt.Sprintf(" (%s)", strings.Join(d.names, ", "))
	}
	hint += "; open a flat extent directly as raw, or convert the set with qemu-img convert -O raw"
	return &UnsupportedError{fmt.Sprintf("vmdk descriptor-only/split disk (%s)", ct), hint}
}

type vmdkHeader struct {
	version    uint32
	flags      uint32
	capacity   uint64 // sectors
	grainSize  uint64 // sectors
	descOff    uint64
	descSize   uint64
	gtes       uint32
	gdOff      uint64
	compressAl uint16
}

func parseVMDKHeader(b []byte) vmdkHeader {
	le := binary.LittleEndian
	return vmdkHeader{
		version:    le.Uint32(b[4:]),
		flags:      le.Uint32(b[8:]),
		capacity:   le.Uint64(b[12:]),
		grainSize:  le.Uint64(b[20:]),
		descOff:    le.Uint64(b[28:]),
		descSize:   le.Uint64(b[36:]),
		gtes:       le.Uint32(b[44:]),
		gdOff:      le.Uint64(b[56:]),
		compressAl: le.Uint16(b[77:]),
	}
}

// vmdkSparse reads a hosted sparse extent (monolithicSparse or
// streamOptimized): a grain directory of grain tables of grain offsets, read
// a page at a time through the table cache when a grain is first looked up,
// so a directory the header claims costs nothing until it is used.
type vmdkSparse struct {
	f          *file
	grainBytes int64
	gtes       int64
	tables     *tablePages
	gdOff      int64 // bytes
	gdEntries  int64
	compressed bool
	markers    bool
	zeroGrain  bool

	mu    sync.Mutex
	cache map[int64][]byte // decompressed grains by grain number
	order []int64
}

// vmdkCacheBytes caps the decompressed-grain cache whatever the grain size.
const vmdkCacheBytes = 8 << 20

func openVMDK(f *file) (*Disk, error) {
	b, err := f.read("vmdk header", 0, 512)
	if err != nil {
		return nil, fmt.Errorf("vmdk: %w", err)
	}
	h := parseVMDKHeader(b)
	var notes []string
	if h.gdOff == vmdkGDAtEnd {
		// streamOptimized written as a stream: the real header is the
		// footer, the second-to-last sector (before the end-of-stream
		// marker).
		fb, err := f.read("vmdk footer", f.size-1024, 512)
		if err != nil || string(fb[:4]) != "KDMV" {
			return nil, fmt.Errorf("vmdk: grain directory is at the end of the stream, but there is no footer header before the last sector: truncated")
		}
		h = parseVMDKHeader(fb)
		if h.gdOff == vmdkGDAtEnd {
			return nil, fmt.Errorf("vmdk: footer header does not give the grain directory offset")
		}
	}
	if h.version < 1 || h.version > 3 {
		return nil, &UnsupportedError{fmt.Sprintf("vmdk sparse extent version %d", h.version), "only versions 1 to 3 are read"}
	}
	if h.grainSize == 0 || h.grainSize > 2048 || h.grainSize&(h.grainSize-1) != 0 {
		return nil, fmt.Errorf("vmdk: grain size %d sectors is not a power of two up to 1 MiB", h.grainSize)
	}
	if h.gtes == 0 || h.gtes > 512 {
		return nil, fmt.Errorf("vmdk: %d entries per grain table, outside 1..512", h.gtes)
	}
	if h.capacity > 1<<53 {
		return nil, fmt.Errorf("vmdk: capacity %d sectors is implausible", h.capacity)
	}
	if h.flags&vmdkFlagCompressed != 0 && h.compressAl != 1 {
		return nil, &UnsupportedError{"vmdk", fmt.Sprintf("compression algorithm %d (only deflate is defined)", h.compressAl)}
	}
	format := "vmdk (monolithicSparse)"
	if h.flags&vmdkFlagCompressed != 0 {
		format = "vmdk (streamOptimized)"
	}
	if h.descOff != 0 || h.descSize != 0 {
		if h.descSize > 2048 || h.descOff > uint64(f.size)/512 {
			return nil, fmt.Errorf("vmdk: embedded descriptor at sector %d (%d sectors) is outside the file or too large", h.descOff, h.descSize)
		}
		db, err := f.read("vmdk embedded descriptor", int64(h.descOff)*512, int64(h.descSize)*512)
		if err != nil {
			return nil, fmt.Errorf("vmdk: %w", err)
		}
		d := parseVMDKDescriptor(db)
		if len(d.extents) == 0 {
			return nil, fmt.Errorf("vmdk: invalid embedded descriptor: no extent description")
		}
		if d.parentHint != "" || (d.parentCID != "" && !strings.EqualFold(d.parentCID, "ffffffff")) {
			return nil, &UnsupportedError{"vmdk (child/delta disk)", fmt.Sprintf("parent %q not followed", d.parentHint)}
		}
		if len(d.extents) > 1 {
			return nil, &UnsupportedError{"vmdk (multi-extent)", fmt.Sprintf("%d extents (%s)", len(d.extents), strings.Join(d.names, ", "))}
		}
		if d.createType != "" {
			format = "vmdk (" + d.createType + ")"
		}
	} else {
		notes = append(notes, "VMDK sparse extent without an embedded descriptor (part of a split set?): read on its own")
	}
	perGT := h.grainSize * uint64(h.gtes)
	nGD := (h.capacity + perGT - 1) / perGT
	if h.gdOff > uint64(f.size)/512 {
		return nil, fmt.Errorf("vmdk: grain directory at sector %d lies outside the file (%d bytes): truncated or corrupt", h.gdOff, f.size)
	}
	if nGD > uint64(f.size)/4 {
		return nil, fmt.Errorf("vmdk: grain directory of %d entries cannot fit in the file (%d bytes): corrupt", nGD, f.size)
	}
	if nGD*4 > uint64(f.size)-h.gdOff*512 {
		return nil, fmt.Errorf("vmdk: grain directory at sector %d (%d entries) lies outside the file (%d bytes): truncated or corrupt", h.gdOff, nGD, f.size)
	}
	v := &vmdkSparse{
		f:          f,
		grainBytes: int64(h.grainSize) * 512,
		gtes:       int64(h.gtes),
		tables:     newTablePages(f, binary.LittleEndian),
		gdOff:      int64(h.gdOff) * 512,
		gdEntries:  int64(nGD),
		compressed: h.flags&vmdkFlagCompressed != 0,
		markers:    h.flags&vmdkFlagMarkers != 0,
		zeroGrain:  h.flags&vmdkFlagZeroGrain != 0,
		cache:      map[int64][]byte{},
	}
	return &Disk{Format: format, Size: int64(h.capacity) * 512, ReaderAt: v, Notes: notes}, nil
}

func (v *vmdkSparse) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		cur := off + int64(n)
		g := cur / v.grainBytes
		in := cur % v.grainBytes
		chunk := p[n:min(len(p), n+int(v.grainBytes-in))]
		if err := v.readGrain(chunk, g, in); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

func (v *vmdkSparse) readGrain(p []byte, g, in int64) error {
	gdi := g / v.gtes
	if gdi >= v.gdEntries {
		return fmt.Errorf("grain %d is past the grain directory", g)
	}
	gt, err := v.tables.u32(v.gdOff+4*gdi, fmt.Sprintf("vmdk grain directory entry %d", gdi))
	if err != nil {
		return err
	}
	if gt == 0 {
		zero(p)
		return nil
	}
	gtOff := int64(gt) * 512
	if gtOff > v.f.size-4*v.gtes {
		return fmt.Errorf("vmdk grain table %d at offset %d lies outside the file (%d bytes): truncated or corrupt", gdi, gtOff, v.f.size)
	}
	sec, err := v.tables.u32(gtOff+4*(g%v.gtes), fmt.Sprintf("vmdk grain table %d", gdi))
	if err != nil {
		return err
	}
	if sec == 0 || (sec == 1 && v.zeroGrain) {
		zero(p)
		return nil
	}
	if !v.compressed {
		return v.f.readFull(p, int64(sec)*512+in, fmt.Sprintf("vmdk grain %d", g))
	}
	data, err := v.inflated(g, sec)
	if err != nil {
		return err
	}
	copy(p, data[in:])
	return nil
}

// inflated returns grain g, decompressed, from a small shared cache: a
// sequential reader otherwise inflates the same grain once per block.
func (v *vmdkSparse) inflated(g int64, sec uint32) ([]byte, error) {
	v.mu.Lock()
	d, ok := v.cache[g]
	v.mu.Unlock()
	if ok {
		return d, nil
	}
	what := fmt.Sprintf("vmdk compressed grain %d", g)
	start := int64(sec) * 512
	if start >= v.f.size {
		return nil, fmt.Errorf("%s points to offset %d, outside the file (%d bytes): truncated or corrupt", what, start, v.f.size)
	}
	// A compressed grain is never larger than twice the grain plus its
	// marker; the file end bounds it too.
	avail := min(v.f.size-start, 2*v.grainBytes+12)
	buf, err := v.f.read(what, start, avail)
	if err != nil {
		return nil, err
	}
	if v.markers {
		if len(buf) < 12 {
			return nil, fmt.Errorf("%s: marker cut short", what)
		}
		size := int64(binary.LittleEndian.Uint32(buf[8:]))
		if size == 0 || size > int64(len(buf))-12 {
			return nil, fmt.Errorf("%s: compressed size %d does not fit in the file", what, size)
		}
		buf = buf[12 : 12+size]
	}
	zr, err := zlib.NewReader(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	d = make([]byte, v.grainBytes)
	if _, err := io.ReadFull(zr, d); err != nil {
		return nil, fmt.Errorf("%s: inflating: %w", what, err)
	}
	v.mu.Lock()
	if _, ok := v.cache[g]; !ok {
		if int64(len(v.order)+1)*v.grainBytes > vmdkCacheBytes && len(v.order) > 0 {
			delete(v.cache, v.order[0])
			v.order = v.order[1:]
		}
		v.cache[g] = d
		v.order = append(v.order, g)
	}
	v.mu.Unlock()
	return d, nil
}
