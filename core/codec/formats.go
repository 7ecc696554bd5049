package codec

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// encoder compresses one whole value, appending it to dst.
type encoder interface {
	encode(dst, value []byte) ([]byte, error)
}

// appendWriter is an io.Writer appending to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendTo returns dst with room for about what value compresses to.
func appendTo(dst, value []byte) *appendWriter {
	if cap(dst) == 0 {
		dst = make([]byte, 0, len(value)/2+64)
	}
	return &appendWriter{b: dst}
}

// streamWriter is a compressor writing to an io.Writer that can be reset
// onto another one and reused.
type streamWriter interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// pooledEncoder compresses through a pool of reusable stream writers.
type pooledEncoder struct {
	pool sync.Pool // of streamWriter
}

func newPooledEncoder(make func() (streamWriter, error)) (*pooledEncoder, error) {
	first, err := make() // validates the level once, up front
	if err != nil {
		return nil, err
	}
	e := &pooledEncoder{}
	e.pool.New = func() any {
		w, err := make()
		if err != nil { // cannot happen: the same options worked above
			panic(err)
		}
		return w
	}
	e.pool.Put(first)
	return e, nil
}

func (e *pooledEncoder) encode(dst, value []byte) ([]byte, error) {
	w := e.pool.Get().(streamWriter)
	buf := appendTo(dst, value)
	w.Reset(buf)
	_, err := w.Write(value)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	w.Reset(io.Discard) // drop the reference to buf before pooling
	e.pool.Put(w)
	if err != nil {
		return nil, err
	}
	return buf.b, nil
}

// zstdEncoder wraps one zstd encoder; EncodeAll is safe for concurrent use
// and pools its own state.
type zstdEncoder struct{ enc *zstd.Encoder }

func (e zstdEncoder) encode(dst, value []byte) ([]byte, error) {
	if cap(dst) == 0 {
		dst = make([]byte, 0, len(value)/2+64)
	}
	return e.enc.EncodeAll(value, dst), nil
}

// xzEncoder writes the xz container with a dictionary sized like xz's
// presets, but never larger than the value needs.
type xzEncoder struct{ dictCap int }

// xzPresetDict is the dictionary size of xz presets 1–9.
var xzPresetDict = [...]int{1: 1 << 20, 2: 2 << 20, 3: 4 << 20, 4: 4 << 20, 5: 8 << 20, 6: 8 << 20, 7: 16 << 20, 8: 32 << 20, 9: 64 << 20}

func (e xzEncoder) encode(dst, value []byte) ([]byte, error) {
	dict := 4096 // the smallest dictionary xz allows
	for dict < len(value) && dict < e.dictCap {
		dict <<= 1
	}
	buf := appendTo(dst, value)
	w, err := xz.WriterConfig{DictCap: dict, CheckSum: xz.CRC64}.NewWriter(buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(value); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.b, nil
}

// lz4Writer adapts *lz4.Writer (whose Reset takes the writer and keeps the
// options) to streamWriter.
type lz4Writer struct{ *lz4.Writer }

// s2Writer adapts *s2.Writer, whose Close keeps it reusable after Reset.
type s2Writer struct{ *s2.Writer }

// s2Encoder makes an empty value an empty stream (the stream identifier
// alone): the s2 writer writes nothing at all for it, which has no magic.
type s2Encoder struct{ *pooledEncoder }

func (e s2Encoder) encode(dst, value []byte) ([]byte, error) {
	out, err := e.pooledEncoder.encode(dst, value)
	if err == nil && len(out) == 0 {
		out = append(out, magicS2...)
	}
	return out, err
}

// bzip2Writer adapts dsnet's bzip2 writer, whose Reset returns an error.
type bzip2Writer struct{ *dsbzip2.Writer }

func (w bzip2Writer) Reset(dst io.Writer) { _ = w.Writer.Reset(dst) }

var lz4Levels = [...]lz4.CompressionLevel{0: lz4.Fast, 1: lz4.Level1, 2: lz4.Level2, 3: lz4.Level3, 4: lz4.Level4, 5: lz4.Level5, 6: lz4.Level6, 7: lz4.Level7, 8: lz4.Level8, 9: lz4.Level9}

// newEncoder returns the encoder of format f at level (already validated).
func newEncoder(f Format, level int) (encoder, error) {
	switch f {
	case Zlib:
		return newPooledEncoder(func() (streamWriter, error) { return zlib.NewWriterLevel(nil, level) })
	case Gzip:
		return newPooledEncoder(func() (streamWriter, error) { return gzip.NewWriterLevel(nil, level) })
	case Bzip2:
		return newPooledEncoder(func() (streamWriter, error) {
			w, err := dsbzip2.NewWriter(io.Discard, &dsbzip2.WriterConfig{Level: level})
			return bzip2Writer{w}, err
		})
	case LZMA:
		return xzEncoder{dictCap: xzPresetDict[level]}, nil
	case Zstd:
		// No checksum, like the zstd CLI's library default and pyzstd/zstandard
		// (redis already keeps values intact); the frame records the content
		// size, so a reader can size its destination (ContentSize).
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
		return zstdEncoder{enc}, nil
	case LZ4:
		return newPooledEncoder(func() (streamWriter, error) {
			w := lz4.NewWriter(nil)
			// 64 KiB blocks, like python-lz4's default: a reader needs buffers of one
			// block only (the library default, 4 MiB, costs that much per decode).
			err := w.Apply(lz4.CompressionLevelOption(lz4Levels[level]), lz4.ConcurrencyOption(1), lz4.BlockSizeOption(lz4.Block64Kb))
			return lz4Writer{w}, err
		})
	case S2:
		opts := []s2.WriterOption{s2.WriterConcurrency(1)}
		switch level {
		case 2:
			opts = append(opts, s2.WriterBetterCompression())
		case 3:
			opts = append(opts, s2.WriterBestCompression())
		}
		enc, err := newPooledEncoder(func() (streamWriter, error) { return s2Writer{s2.NewWriter(nil, opts...)}, nil })
		return s2Encoder{enc}, err
	}
	return nil, fmt.Errorf("no encoder for %v", f)
}

// decoders decode a whole stored value of one format, inflating it to at
// most limit bytes, appended to dst when it fits there.
var decoders = map[Format]func(dst, stored []byte, limit int) ([]byte, error){
	Zlib:  decodeZlib,
	Gzip:  decodeGzip,
	Bzip2: decodeBzip2,
	LZMA:  decodeXZ,
	Zstd:  decodeZstd,
	LZ4:   decodeLZ4,
	S2:    decodeS2,
}

// readAll reads r to its end, appending to dst (which must be empty; a new
// slice of about sizeHint bytes when dst has no capacity), refusing more
// than limit bytes. It reads straight into the destination and doubles it
// when full, never past limit, so a well-sized dst is written once and
// never copied, and a value that would inflate further is refused after
// limit bytes of work.
func readAll(dst []byte, r io.Reader, sizeHint, limit int) (out []byte, err error) {
	buf := dst
	if cap(buf) == 0 {
		buf = make([]byte, 0, min(max(sizeHint, 512), limit))
	}
	defer func() { inflated.Add(uint64(len(buf))) }()
	for {
		room := min(cap(buf), limit)
		if len(buf) >= room {
			if len(buf) >= limit {
				if err := endsHere(r); err != nil {
					return nil, err
				}
				return buf, nil
			}
			buf = slices.Grow(buf, min(max(len(buf), 512), limit-len(buf))) // doubles, rounded up to Go's size class
			room = min(cap(buf), limit)
		}
		n, err := r.Read(buf[len(buf):room])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// endsHere reports whether r is at its end: nil when it is, errTooLarge when
// it has more to give.
func endsHere(r io.Reader) error {
	var one [1]byte
	for range 100 { // a reader may return 0, nil a few times
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return errTooLarge
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// zlibReaders pools zlib readers; each is Reset onto the next input.
var zlibReaders sync.Pool

func decodeZlib(dst, stored []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(stored)
	var r io.ReadCloser
	if pooled, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := pooled.(zlib.Resetter).Reset(src, nil); err != nil {
			zlibReaders.Put(pooled)
			return nil, err
		}
		r = pooled
	} else {
		var err error
		if r, err = zlib.NewReader(src); err != nil {
			return nil, err
		}
	}
	out, err := readAll(dst, r, 4*len(stored), limit)
	if err == nil && src.Len() != 0 { // flate reads a bytes.Reader byte by byte: nothing is over-read
		err = errTrailing
	}
	zlibReaders.Put(r)
	return out, err
}

var gzipReaders sync.Pool // of *gzip.Reader

func decodeGzip(dst, stored []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(stored)
	r, ok := gzipReaders.Get().(*gzip.Reader)
	if ok {
		if err := r.Reset(src); err != nil {
			gzipReaders.Put(r)
			return nil, err
		}
	} else {
		var err error
		if r, err = gzip.NewReader(src); err != nil {
			return nil, err
		}
	}
	out, err := readAll(dst, r, gzipSizeHint(stored), limit)
	gzipReaders.Put(r)
	return out, err
}

// gzipSizeHint is the ISIZE trailer (the length mod 2^32 of the last
// member) when it is plausible for stored, else a guess from its length.
func gzipSizeHint(stored []byte) int {
	if len(stored) >= 18 {
		n := int(binary.LittleEndian.Uint32(stored[len(stored)-4:]))
		if n <= 1032*len(stored) { // deflate expands at most 1032:1
			return n + 1 // +1: room to see EOF without growing
		}
	}
	return 4 * len(stored)
}

func decodeBzip2(dst, stored []byte, limit int) ([]byte, error) {
	return readAll(dst, stdbzip2.NewReader(bytes.NewReader(stored)), 4*len(stored), limit)
}

// decodeXZ walks the value first: its chunks state what it decodes to, so a
// value past its limit is refused at once, the output is allocated at its
// exact size, and every block's dictionary is cut to what the block needs.
func decodeXZ(dst, stored []byte, limit int) ([]byte, error) {
	info, err := xzWalk(stored)
	if err != nil {
		return nil, err
	}
	if info.size > int64(limit) {
		return nil, errTooLarge
	}
	r, err := xz.ReaderConfig{SingleStream: false}.NewReader(bytes.NewReader(trimmedXZ(stored, info)))
	if err != nil {
		return nil, err
	}
	return readAll(dst, r, int(info.size)+1, limit) // +1: room to see the end without growing
}

// zstdDecoder is shared: DecodeAll is safe for concurrent use.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(DefaultMaxDecodedLen))
})

// decodeZstd decodes whole with DecodeAll when every frame states its
// content size (as zstd writers do unless they stream), which allocates the
// output once and can never produce more than the frames state; else it
// streams, growing the output as it goes.
func decodeZstd(dst, stored []byte, limit int) ([]byte, error) {
	size, known, err := zstdSize(stored)
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, errTooLarge
	}
	if !known {
		r, err := zstd.NewReader(bytes.NewReader(stored), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(uint64(max(limit, zstd.MinWindowSize))), zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return readAll(dst, r, 4*len(stored), limit)
	}
	d, err := zstdDecoder()
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(stored, dst)
	inflated.Add(uint64(max(len(out)-len(dst), 0)))
	if err != nil {
		return nil, err
	}
	return out, nil
}

var lz4Readers sync.Pool // of *lz4.Reader

func decodeLZ4(dst, stored []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(stored)
	r, ok := lz4Readers.Get().(*lz4.Reader)
	if ok {
		r.Reset(src)
	} else {
		r = lz4.NewReader(src)
		if err := r.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, err
		}
	}
	out, err := readAll(dst, r, 4*len(stored), limit)
	r.Reset(nil)
	lz4Readers.Put(r)
	if err == nil && src.Len() != 0 {
		err = errTrailing
	}
	return out, err
}

var s2Readers sync.Pool // of *s2.Reader

func decodeS2(dst, stored []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(stored)
	r, ok := s2Readers.Get().(*s2.Reader)
	if ok {
		r.Reset(src)
	} else {
		r = s2.NewReader(src, s2.ReaderMaxBlockSize(4<<20))
	}
	out, err := readAll(dst, r, 4*len(stored), limit)
	r.Reset(nil)
	s2Readers.Put(r)
	return out, err
}
