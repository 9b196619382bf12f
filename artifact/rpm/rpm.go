// Package rpm reads the installed-package database of RHEL 9 / Fedora
// (/var/lib/rpm/rpmdb.sqlite: one header blob per package in the Packages
// table) and parses rpm header blobs for the facts package verification
// needs: name, version, file paths, digests and their algorithm, config
// flags. The SQLite file is read with modernc.org/sqlite (pure Go) from a
// copy, opened read-only and immutable.
//
// BerkeleyDB Packages files (RHEL 7/8) are not read: the only rpmdb reader
// served here (go-rpmdb, a 2021 pseudo-version) reads BerkeleyDB but keeps
// its header parser unexported and returns no file digests.
package rpm

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/snapscan/snapscan/artifact/tmpcopy"
)

// MaxDB bounds the copy of rpmdb.sqlite (a full server's is ~100 MiB).
const MaxDB = 512 << 20

// maxHeader bounds one header blob (rpm's own limit is 256 MiB; real ones
// are well under 1 MiB).
const maxHeader = 64 << 20

// Package is one installed package.
type Package struct {
	Name, Version, Release, Arch string
	Files                        []File
}

// File is one packaged file.
type File struct {
	Path   string
	Digest string // lower-case hex; "" for directories, links, ghosts
	Config bool   // %config
	Mode   uint16
}

// Digest algorithms (RPMTAG_FILEDIGESTALGO, PGP hash ids).
const (
	AlgoMD5    = 1
	AlgoSHA1   = 2
	AlgoSHA256 = 8
)

// Header tags used here.
const (
	tagName        = 1000
	tagVersion     = 1001
	tagRelease     = 1002
	tagArch        = 1022
	tagFileModes   = 1030
	tagFileDigests = 1035
	tagFileFlags   = 1037
	tagDirIndexes  = 1116
	tagBaseNames   = 1117
	tagDirNames    = 1118
	tagDigestAlgo  = 5011

	typeInt16       = 3
	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18N        = 9

	fileConfig = 1 << 0
)

type entry struct {
	typ         uint32
	offset, cnt int
}

// ParseHeader parses one header blob as the database stores it (no lead,
// no magic): index count, data length, the index, the data. The digest
// algorithm is returned with the package (MD5 when the header names none,
// as rpm does).
func ParseHeader(b []byte) (*Package, int, error) {
	if len(b) < 8 {
		return nil, 0, errors.New("header: too short")
	}
	il, dl := int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint32(b[4:]))
	if il <= 0 || il > 1<<16 || dl < 0 || dl > maxHeader || 8+il*16+dl > len(b) {
		return nil, 0, fmt.Errorf("header: %d entries, %d data bytes in a %d-byte blob", il, dl, len(b))
	}
	data := b[8+il*16 : 8+il*16+dl]
	idx := map[int32]entry{}
	for i := 0; i < il; i++ {
		e := b[8+i*16:]
		tag := int32(binary.BigEndian.Uint32(e))
		off, cnt := int(int32(binary.BigEndian.Uint32(e[8:]))), int(binary.BigEndian.Uint32(e[12:]))
		if off < 0 || off > dl || cnt < 0 || cnt > dl {
			return nil, 0, fmt.Errorf("header: tag %d points past the data", tag)
		}
		idx[tag] = entry{binary.BigEndian.Uint32(e[4:]), off, cnt}
	}
	str := func(tag int32) (string, error) {
		l, err := strs(data, idx, tag)
		if err != nil || len(l) == 0 {
			return "", err
		}
		return l[0], nil
	}
	p := &Package{}
	var err error
	if p.Name, err = str(tagName); err != nil || p.Name == "" {
		return nil, 0, fmt.Errorf("header: no name (%v)", err)
	}
	p.Version, _ = str(tagVersion)
	p.Release, _ = str(tagRelease)
	p.Arch, _ = str(tagArch)
	base, err1 := strs(data, idx, tagBaseNames)
	dirs, err2 := strs(data, idx, tagDirNames)
	di, err3 := ints(data, idx, tagDirIndexes, 4)
	digests, err4 := strs(data, idx, tagFileDigests)
	flags, err5 := ints(data, idx, tagFileFlags, 4)
	modes, err6 := ints(data, idx, tagFileModes, 2)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, 0, fmt.Errorf("header of %s: %w", p.Name, err)
	}
	if len(di) != len(base) {
		return nil, 0, fmt.Errorf("header of %s: %d dir indexes for %d files", p.Name, len(di), len(base))
	}
	for i, bn := range base {
		if di[i] < 0 || di[i] >= len(dirs) {
			return nil, 0, fmt.Errorf("header of %s: dir index %d of %d", p.Name, di[i], len(dirs))
		}
		f := File{Path: path.Clean("/" + dirs[di[i]] + bn)}
		if i < len(digests) {
			f.Digest = digests[i]
		}
		if i < len(flags) {
			f.Config = flags[i]&fileConfig != 0
		}
		if i < len(modes) {
			f.Mode = uint16(modes[i])
		}
		p.Files = append(p.Files, f)
	}
	algo := AlgoMD5
	if a, _ := ints(data, idx, tagDigestAlgo, 4); len(a) > 0 {
		algo = a[0]
	}
	return p, algo, nil
}

// strs reads a STRING, STRING_ARRAY or I18NSTRING entry; nil when absent.
func strs(data []byte, idx map[int32]entry, tag int32) ([]string, error) {
	e, ok := idx[tag]
	if !ok {
		return nil, nil
	}
	if e.typ != typeString && e.typ != typeStringArray && e.typ != typeI18N {
		return nil, fmt.Errorf("tag %d: type %d, want a string", tag, e.typ)
	}
	out := make([]string, 0, min(e.cnt, 1<<16))
	off := e.offset
	for i := 0; i < e.cnt; i++ {
		end := off
		for end < len(data) && data[end] != 0 {
			end++
		}
		if end >= len(data) {
			return nil, fmt.Errorf("tag %d: string %d runs past the data", tag, i)
		}
		out = append(out, string(data[off:end]))
		off = end + 1
	}
	return out, nil
}

// ints reads an INT16 or INT32 array entry of the given width.
func ints(data []byte, idx map[int32]entry, tag int32, width int) ([]int, error) {
	e, ok := idx[tag]
	if !ok {
		return nil, nil
	}
	if width == 4 && e.typ != typeInt32 || width == 2 && e.typ != typeInt16 {
		return nil, fmt.Errorf("tag %d: type %d, want a %d-byte integer", tag, e.typ, width)
	}
	if e.offset+e.cnt*width > len(data) {
		return nil, fmt.Errorf("tag %d: %d values past the data", tag, e.cnt)
	}
	out := make([]int, e.cnt)
	for i := range out {
		if width == 4 {
			out[i] = int(int32(binary.BigEndian.Uint32(data[e.offset+4*i:])))
		} else {
			out[i] = int(binary.BigEndian.Uint16(data[e.offset+2*i:]))
		}
	}
	return out, nil
}

// Opener opens one file of the database directory (rpmdb.sqlite,
// rpmdb.sqlite-wal) with its size; fs.ErrNotExist for an absent one.
type Opener = tmpcopy.Opener

// ReadSQLite copies rpmdb.sqlite and its write-ahead log (committed
// transactions not yet checkpointed into the main file) into a temporary
// directory, opens the copy read-only, and parses every header. Headers
// that do not parse are returned as errors; the other packages are kept.
func ReadSQLite(open Opener) ([]Package, []int, []error) {
	dir, err := tmpcopy.Files([]string{"rpmdb.sqlite", "rpmdb.sqlite-wal"}, open, MaxDB)
	if err != nil {
		return nil, nil, []error{fmt.Errorf("rpmdb.sqlite: %w", err)}
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "rpmdb.sqlite")
	// Read-only on our copy: SQLite may still create -shm beside it to read
	// the log, which is why the copy is in a directory of our own.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: p}).EscapedPath()+"?mode=ro")
	if err != nil {
		return nil, nil, []error{fmt.Errorf("rpmdb.sqlite: %w", err)}
	}
	defer db.Close()
	rows, err := db.Query("SELECT hnum, blob FROM Packages")
	if err != nil {
		return nil, nil, []error{fmt.Errorf("rpmdb.sqlite: %w", err)}
	}
	defer rows.Close()
	var (
		pkgs  []Package
		algos []int
		errs  []error
	)
	for rows.Next() {
		var hnum int64
		var blob []byte
		if err := rows.Scan(&hnum, &blob); err != nil {
			errs = append(errs, fmt.Errorf("rpmdb.sqlite: %w", err))
			continue
		}
		pk, algo, err := ParseHeader(blob)
		if err != nil {
			errs = append(errs, fmt.Errorf("rpmdb.sqlite: package #%d: %w", hnum, err))
			continue
		}
		pkgs, algos = append(pkgs, *pk), append(algos, algo)
	}
	if err := rows.Err(); err != nil {
		errs = append(errs, fmt.Errorf("rpmdb.sqlite: %w", err))
	}
	return pkgs, algos, errs
}
