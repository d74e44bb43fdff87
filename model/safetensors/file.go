package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	"github.com/posttrain/posttrain/internal/fileio"
)

// File is one opened .safetensors file. Open reads and validates only the
// header; tensor bytes are read on demand with ReadAt, so memory use is the
// converted tensors, not the whole file, and a file truncated after Open gives
// an error instead of an out-of-bounds read. A File is safe for concurrent
// reads.
type File struct {
	Path     string
	Metadata map[string]string // header "__metadata__"; nil when absent

	tensors   map[string]TensorInfo
	names     []string    // sorted
	src       io.ReaderAt // the whole file
	dataStart int64       // 8 + header length
	closer    io.Closer   // nil for Parse
	closed    atomic.Bool
}

// Open opens and validates the safetensors file at path.
func Open(path string) (*File, error) {
	// Stat before open: opening a FIFO blocks until a writer appears.
	if err := fileio.CheckRegular(path, 0); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	f, err := newFile(path, fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Parse validates an in-memory safetensors file exactly as Open does; path
// only names it in errors. The File reads from data, which must not change.
func Parse(path string, data []byte) (*File, error) {
	return newFile(path, bytes.NewReader(data), int64(len(data)))
}

func newFile(path string, src io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, malformed(path, "file is %d bytes, shorter than the 8-byte header length", size)
	}
	var prefix [8]byte
	if _, err := src.ReadAt(prefix[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", path, err)
	}
	headerLen := binary.LittleEndian.Uint64(prefix[:])
	if headerLen > MaxHeaderBytes {
		return nil, malformed(path, "header length %d exceeds the limit of %d bytes", headerLen, MaxHeaderBytes)
	}
	if headerLen > uint64(size-8) {
		return nil, malformed(path, "header length %d exceeds the %d bytes after the length prefix (file truncated?)", headerLen, size-8)
	}
	header := make([]byte, headerLen)
	if _, err := src.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading %d-byte header: %w", path, headerLen, err)
	}
	dataStart := 8 + int64(headerLen)
	tensors, metadata, err := parseHeader(path, header, size-dataStart)
	if err != nil {
		return nil, err
	}
	f := &File{
		Path:      path,
		Metadata:  metadata,
		tensors:   make(map[string]TensorInfo, len(tensors)),
		names:     make([]string, 0, len(tensors)),
		src:       src,
		dataStart: dataStart,
	}
	for _, t := range tensors {
		f.tensors[t.Name] = t
		f.names = append(f.names, t.Name)
	}
	slices.Sort(f.names)
	return f, nil
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info describes the named tensor; ok is false when the file has no such tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	info, ok := f.tensors[name]
	info.Shape = slices.Clone(info.Shape)
	return info, ok
}

// readChunkBytes bounds the raw bytes held at once while converting a tensor.
const readChunkBytes = 1 << 20

// Float32 reads the named tensor and converts it to float32 (F32, BF16 and
// F16 only); it returns the data in row-major order and the shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	info, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s: %q", ErrNotFound, f.Path, name)
	}
	decode, ok := decoders[info.DType]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s: tensor %q has dtype %s, want F32, BF16 or F16", ErrUnsupportedDType, f.Path, name, info.DType)
	}
	if f.closed.Load() {
		return nil, nil, fmt.Errorf("%w: %s: reading tensor %q", ErrClosed, f.Path, name)
	}
	elemSize := dtypeSizes[info.DType]
	total := info.End - info.Begin // header validation: total == numel × elemSize
	out := make([]float32, total/elemSize)
	buf := make([]byte, min(total, readChunkBytes/elemSize*elemSize))
	for done := int64(0); done < total; {
		chunk := buf[:min(int64(len(buf)), total-done)]
		if _, err := f.src.ReadAt(chunk, f.dataStart+info.Begin+done); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %s: reading tensor %q bytes [%d, %d): %w", f.Path, name, info.Begin, info.End, err)
		}
		decode(out[done/elemSize:(done+int64(len(chunk)))/elemSize], chunk)
		done += int64(len(chunk))
	}
	return out, slices.Clone(info.Shape), nil
}

// Close releases the underlying file. Reading after Close returns ErrClosed.
func (f *File) Close() error {
	if f.closed.Swap(true) || f.closer == nil {
		return nil
	}
	if err := f.closer.Close(); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", f.Path, err)
	}
	return nil
}
