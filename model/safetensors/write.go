package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"

	"github.com/posttrain/posttrain/internal/fileio"
)

// Tensor is a float32 tensor to write; len(Data) must equal the product of Shape.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// headerEntry is one tensor's header record as the reference implementation writes it.
type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Write writes tensors, in the given order, to path in dtype (F32, or BF16
// rounded to nearest even). The header metadata is {"format": "pt"} (what
// transformers expects) merged with metadata. The file is written to a
// temporary file in the same directory, synced and renamed over path, so a
// reader never sees a partial file.
func Write(path string, tensors []Tensor, metadata map[string]string, dtype DType) error {
	if err := checkTensors(tensors, dtype); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	header, err := encodeHeader(tensors, metadata, dtype)
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		return writeFileBody(w, header, tensors, dtype)
	})
}

// checkTensors rejects what would produce an unreadable or ambiguous file:
// unwritable dtypes, empty, reserved or repeated names, negative dimensions
// and data lengths that differ from the shape's element count.
func checkTensors(tensors []Tensor, dtype DType) error {
	if _, ok := encoders[dtype]; !ok {
		return fmt.Errorf("%w: dtype %q, want F32 or BF16", ErrInvalidTensor, dtype)
	}
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == "":
			return fmt.Errorf("%w: empty tensor name", ErrInvalidTensor)
		case t.Name == metadataKey:
			return fmt.Errorf("%w: tensor name %q is reserved", ErrInvalidTensor, t.Name)
		case seen[t.Name]:
			return fmt.Errorf("%w: tensor %q given twice", ErrInvalidTensor, t.Name)
		}
		seen[t.Name] = true
		dims := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = int64(d)
		}
		numel, err := shapeProduct(dims)
		if err != nil {
			return fmt.Errorf("%w: tensor %q: shape %v: %v", ErrInvalidTensor, t.Name, t.Shape, err)
		}
		if numel != int64(len(t.Data)) {
			return fmt.Errorf("%w: tensor %q: shape %v holds %d elements, data has %d", ErrInvalidTensor, t.Name, t.Shape, numel, len(t.Data))
		}
	}
	return nil
}

// encodeHeader returns the length prefix and JSON header, padded with spaces
// to a multiple of 8 bytes like the reference implementation so that the
// data section starts aligned. Tensors are laid out contiguously in order.
func encodeHeader(tensors []Tensor, metadata map[string]string, dtype DType) ([]byte, error) {
	merged := map[string]string{"format": "pt"}
	maps.Copy(merged, metadata)
	entries := make(map[string]any, len(tensors)+1)
	entries[metadataKey] = merged
	elemSize := dtypeSizes[dtype]
	var offset int64
	for _, t := range tensors {
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar is "shape": [], never null
		}
		end := offset + int64(len(t.Data))*elemSize
		entries[t.Name] = headerEntry{DType: dtype, Shape: shape, DataOffsets: [2]int64{offset, end}}
		offset = end
	}
	var buf bytes.Buffer
	buf.Write(make([]byte, 8)) // length prefix, filled in below
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		return nil, fmt.Errorf("encoding header: %w", err)
	}
	buf.Truncate(buf.Len() - 1) // Encode's trailing newline
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	out := buf.Bytes()
	headerLen := len(out) - 8
	if headerLen > MaxHeaderBytes {
		return nil, fmt.Errorf("header of %d bytes exceeds the limit of %d", headerLen, MaxHeaderBytes)
	}
	binary.LittleEndian.PutUint64(out[:8], uint64(headerLen))
	return out, nil
}

// writeFileBody writes the header then each tensor's little-endian elements,
// converting a bounded chunk at a time.
func writeFileBody(w io.Writer, header []byte, tensors []Tensor, dtype DType) error {
	if _, err := w.Write(header); err != nil {
		return err
	}
	encode := encoders[dtype]
	elemSize := int(dtypeSizes[dtype])
	const chunkElems = 1 << 16
	buf := make([]byte, chunkElems*elemSize)
	for _, t := range tensors {
		for start := 0; start < len(t.Data); start += chunkElems {
			src := t.Data[start:min(start+chunkElems, len(t.Data))]
			encode(buf, src)
			if _, err := w.Write(buf[:len(src)*elemSize]); err != nil {
				return fmt.Errorf("tensor %q: %w", t.Name, err)
			}
		}
	}
	return nil
}

// writeAtomic writes path via path+".tmp-XXXX" in the same directory: write,
// fsync, rename, then fsync the directory so the rename itself is durable.
// On failure the temporary file is removed and path is untouched.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("safetensors: writing %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(fileio.SharedMode()); err != nil { // CreateTemp makes 0600; weights are meant to be shared (0644 under the umask)
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable. Windows cannot fsync a
// directory (and needs not), so it is skipped there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// dataBytes is the size of a tensor's data in dtype.
func dataBytes(t Tensor, dtype DType) int64 {
	return int64(len(t.Data)) * dtypeSizes[dtype]
}
