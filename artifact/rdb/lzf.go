package rdb

import (
	"errors"
	"fmt"
)

// lzfDecompress inflates an LZF stream (liblzf's lzf_d.c, as Redis writes
// it) into exactly ulen bytes: a control byte below 32 starts a literal run
// of ctrl+1 bytes; any other is a back reference of length ctrl>>5 (+ a
// byte when 7) + 2 at distance ((ctrl&31)<<8 | next byte) + 1.
func lzfDecompress(src []byte, ulen int) ([]byte, error) {
	out := make([]byte, 0, ulen)
	for i := 0; i < len(src); {
		ctrl := int(src[i])
		i++
		if ctrl < 32 {
			n := ctrl + 1
			if i+n > len(src) {
				return nil, errors.New("LZF literal runs past the input")
			}
			if len(out)+n > ulen {
				return nil, fmt.Errorf("LZF output exceeds the declared %d bytes", ulen)
			}
			out = append(out, src[i:i+n]...)
			i += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if i >= len(src) {
				return nil, errors.New("LZF reference cut")
			}
			n += int(src[i])
			i++
		}
		if i >= len(src) {
			return nil, errors.New("LZF reference cut")
		}
		ref := len(out) - ((ctrl&0x1f)<<8 | int(src[i])) - 1
		i++
		n += 2
		if ref < 0 {
			return nil, errors.New("LZF reference before the start")
		}
		if len(out)+n > ulen {
			return nil, fmt.Errorf("LZF output exceeds the declared %d bytes", ulen)
		}
		for j := 0; j < n; j++ { // byte by byte: the source may overlap the output
			out = append(out, out[ref+j])
		}
	}
	if len(out) != ulen {
		return nil, fmt.Errorf("LZF output %d bytes, declared %d", len(out), ulen)
	}
	return out, nil
}
