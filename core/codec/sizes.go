package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/klauspost/compress/zstd"
)

// Walks over the container structure of a stored value, without
// decompressing it, that learn what decoding it would produce: so a value
// that would inflate past its limit is refused before any work, and the
// output is allocated once at its exact size.

var errStructure = errors.New("malformed container")

// zstdSize returns the total content size the frames of stored state, and
// known = false when some frame does not state it. It walks every frame's
// blocks (their headers give their stored sizes).
func zstdSize(stored []byte) (size int, known bool, err error) {
	known = true
	for len(stored) > 0 {
		var h zstd.Header
		if err := h.Decode(stored); err != nil {
			return 0, false, err
		}
		if h.Skippable {
			n := uint64(h.HeaderSize) + uint64(h.SkippableSize)
			if n > uint64(len(stored)) {
				return 0, false, errStructure
			}
			stored = stored[n:]
			continue
		}
		if !h.HasFCS {
			known = false
		} else if size += int(min(h.FrameContentSize, 1<<40)); size > 1<<40 {
			size = 1 << 40 // far past any limit; keeps the sum from overflowing
		}
		rest, err := skipZstdBlocks(stored[h.HeaderSize:])
		if err != nil {
			return 0, false, err
		}
		if h.HasCheckSum {
			if len(rest) < 4 {
				return 0, false, errStructure
			}
			rest = rest[4:]
		}
		stored = rest
	}
	return size, known, nil
}

// skipZstdBlocks returns what follows the last block of a frame.
func skipZstdBlocks(b []byte) ([]byte, error) {
	for {
		if len(b) < 3 {
			return nil, errStructure
		}
		h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		last, typ, n := h&1 == 1, (h>>1)&3, int(h>>3)
		switch typ {
		case 1: // RLE: one byte repeated n times
			n = 1
		case 3:
			return nil, errStructure
		}
		if n > len(b)-3 {
			return nil, errStructure
		}
		b = b[3+n:]
		if last {
			return b, nil
		}
	}
}

// xzInfo is what the walk of an xz value learns: the bytes it decodes to,
// and the blocks whose header declares a dictionary larger than the block
// needs (the decoder allocates each block's dictionary whole, whatever the
// block holds: Python's lzma declares 8 MiB for a 10-byte value, a hostile
// value 4 GiB).
type xzInfo struct {
	size  int64
	trims []xzTrim
}

// xzTrim is a block header whose dictionary size byte (at prop) can be
// lowered to dict, which still covers everything the block decodes (no
// match reaches further back than the block's own output).
type xzTrim struct {
	start, size, prop int // the header's offset and length; the byte's offset
	dict              byte
}

// trimmedXZ returns stored with every block's dictionary lowered as info
// found possible (each header's CRC32 recomputed), or stored itself when
// none needs it.
func trimmedXZ(stored []byte, info xzInfo) []byte {
	if len(info.trims) == 0 {
		return stored
	}
	out := bytes.Clone(stored)
	for _, t := range info.trims {
		out[t.prop] = t.dict
		h := out[t.start : t.start+t.size]
		binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	}
	return out
}

// xzDictSize is the dictionary size an LZMA2 properties byte (0..40) encodes.
func xzDictSize(p byte) int64 {
	if p == 40 {
		return 1<<32 - 1
	}
	return int64(2|p&1) << (p/2 + 11)
}

// xzWalk walks the streams, blocks and LZMA2 chunks of an xz value
// (xz-file-format 1.2.1), adding up the chunks' uncompressed sizes.
func xzWalk(stored []byte) (info xzInfo, err error) {
	b := stored
	for len(b) > 0 {
		if len(b) < 12 || string(b[:6]) != string(magicXZ) || b[6] != 0 || b[7] > 0x0f {
			return info, errStructure
		}
		check := xzCheckSize[b[7]]
		b = b[12:]
		for len(b) > 0 && b[0] != 0 { // blocks, until the index indicator
			if b, err = xzBlock(b, len(stored)-len(b), check, &info); err != nil {
				return info, err
			}
		}
		if b, err = xzIndexAndFooter(b); err != nil {
			return info, err
		}
		for len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0 { // stream padding
			b = b[4:]
		}
	}
	return info, nil
}

// xzCheckSize is the size of a block's check field by the stream's check type.
var xzCheckSize = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// xzBlock walks one block, at offset at of the value: its header (for the
// LZMA2 dictionary size), its LZMA2 chunks, padding and check; it returns
// what follows.
func xzBlock(b []byte, at, check int, info *xzInfo) ([]byte, error) {
	hsize := (int(b[0]) + 1) * 4
	if hsize > len(b) || b[1]&0x3c != 0 {
		return nil, errStructure
	}
	h := b[2 : hsize-4] // optional sizes, filter flags, padding
	var ok bool
	for bit := byte(0x40); bit != 0; bit <<= 1 { // compressed, then uncompressed size
		if b[1]&bit != 0 {
			if _, h, ok = uvarint(h); !ok {
				return nil, errStructure
			}
		}
	}
	prop := -1
	for f := int(b[1]&3) + 1; f > 0; f-- {
		var id, n uint64
		if id, h, ok = uvarint(h); !ok {
			return nil, errStructure
		}
		if n, h, ok = uvarint(h); !ok || n > uint64(len(h)) {
			return nil, errStructure
		}
		if id == 0x21 { // LZMA2: one byte of properties, the dictionary size
			if n != 1 || h[0] > 40 {
				return nil, errStructure
			}
			prop = hsize - 4 - len(h)
		}
		h = h[n:]
	}
	if prop < 0 { // LZMA2 is the last filter of every chain a reader decodes
		return nil, errStructure
	}
	data := b[hsize:]
	rest, size, err := skipLZMA2(data)
	if err != nil {
		return nil, err
	}
	info.size += size
	need := byte(0) // the smallest dictionary (4 KiB up) that holds the block's output
	for need < 40 && xzDictSize(need) < size {
		need++
	}
	if need < b[prop] {
		info.trims = append(info.trims, xzTrim{start: at, size: hsize, prop: at + prop, dict: need})
	}
	used := hsize + len(data) - len(rest)
	pad := (4 - used%4) % 4
	if pad+check > len(rest) {
		return nil, errStructure
	}
	return rest[pad+check:], nil
}

// skipLZMA2 walks LZMA2 chunks to their end marker, adding up what they
// decode to; it returns what follows the marker.
func skipLZMA2(b []byte) (rest []byte, size int64, err error) {
	for {
		if len(b) == 0 {
			return nil, 0, errStructure
		}
		c := b[0]
		switch {
		case c == 0:
			return b[1:], size, nil
		case c == 1 || c == 2: // stored chunk
			if len(b) < 3 {
				return nil, 0, errStructure
			}
			n := int(binary.BigEndian.Uint16(b[1:])) + 1
			if n > len(b)-3 {
				return nil, 0, errStructure
			}
			size += int64(n)
			b = b[3+n:]
		case c >= 0x80: // LZMA chunk
			head := 5
			if c >= 0xc0 {
				head = 6 // new properties
			}
			if len(b) < head {
				return nil, 0, errStructure
			}
			size += int64(c&0x1f)<<16 + int64(binary.BigEndian.Uint16(b[1:])) + 1
			n := int(binary.BigEndian.Uint16(b[3:])) + 1
			if n > len(b)-head {
				return nil, 0, errStructure
			}
			b = b[head+n:]
		default:
			return nil, 0, errStructure
		}
	}
}

// xzIndexAndFooter skips a stream's index (b starts at its indicator) and
// footer.
func xzIndexAndFooter(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errStructure
	}
	start := len(b)
	n, rest, ok := uvarint(b[1:])
	if !ok || n > uint64(len(rest)) { // every record takes at least two bytes
		return nil, errStructure
	}
	for ; n > 0; n-- {
		for range 2 { // unpadded size, uncompressed size
			if _, rest, ok = uvarint(rest); !ok {
				return nil, errStructure
			}
		}
	}
	used := start - len(rest)
	pad := (4 - used%4) % 4
	if pad+4+12 > len(rest) || string(rest[pad+4+10:pad+4+12]) != "YZ" {
		return nil, errStructure
	}
	return rest[pad+4+12:], nil
}

// uvarint reads xz's multibyte integer (at most 9 bytes).
func uvarint(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, b[i+1:], true
		}
	}
	return 0, nil, false
}
