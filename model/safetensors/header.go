package safetensors

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// MaxHeaderBytes is the sane header-size limit (100 MiB like the Rust crate).
const MaxHeaderBytes = 100 << 20

// metadataKey is the reserved header key holding the string-to-string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a file. Begin and End are byte offsets
// relative to the start of the data section (just after the header).
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// parseHeader decodes and validates the JSON header of the file at path whose
// data section is dataLen bytes long. It checks every entry's fields and
// types, that shapes are non-negative and their products do not overflow,
// that byte lengths match shape × dtype size for known dtypes, that every
// tensor lies inside the data section and that no two tensors overlap.
func parseHeader(path string, header []byte, dataLen int64) ([]TensorInfo, map[string]string, error) {
	members, err := decodeObject(header)
	if err != nil {
		return nil, nil, malformed(path, "header: %v", err)
	}
	var metadata map[string]string
	var tensors []TensorInfo
	for _, m := range members {
		if m.Key == metadataKey {
			if metadata, err = parseMetadata(m.Value); err != nil {
				return nil, nil, malformed(path, "header %s: %v", metadataKey, err)
			}
			continue
		}
		info, err := parseTensorEntry(path, m.Key, m.Value, dataLen)
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, info)
	}
	if err := checkNoOverlap(path, tensors); err != nil {
		return nil, nil, err
	}
	return tensors, metadata, nil
}

// parseMetadata decodes "__metadata__": an object of strings, or null.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if jsonKind(raw) == "null" {
		return nil, nil
	}
	members, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	metadata := make(map[string]string, len(members))
	for _, m := range members {
		s, err := decodeString(m.Value)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", m.Key, err)
		}
		metadata[m.Key] = s
	}
	return metadata, nil
}

// parseTensorEntry validates one {"dtype","shape","data_offsets"} entry.
func parseTensorEntry(path, name string, raw json.RawMessage, dataLen int64) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	if kind := jsonKind(raw); kind != "an object" {
		return info, malformedTensor(path, name, "entry is %s, want an object with dtype, shape and data_offsets", kind)
	}
	members, err := decodeObject(raw)
	if err != nil {
		return info, malformedTensor(path, name, "%v", err)
	}
	fields := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		fields[m.Key] = m.Value
	}
	for _, key := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := fields[key]; !ok {
			return info, malformedTensor(path, name, "field %q is missing", key)
		}
	}

	dtype, err := decodeString(fields["dtype"])
	if err != nil {
		return info, malformedTensor(path, name, "dtype: %v", err)
	}
	if dtype == "" {
		return info, malformedTensor(path, name, "dtype is empty")
	}
	info.DType = DType(dtype)

	dims, err := decodeIntArray(fields["shape"])
	if err != nil {
		return info, malformedTensor(path, name, "shape: %v", err)
	}
	numel, err := shapeProduct(dims)
	if err != nil {
		return info, malformedTensor(path, name, "shape %v: %v", dims, err)
	}
	info.Shape = make([]int, len(dims))
	for i, d := range dims {
		info.Shape[i] = int(d) // fits: shapeProduct checked d <= math.MaxInt
	}

	offsets, err := decodeIntArray(fields["data_offsets"])
	if err != nil {
		return info, malformedTensor(path, name, "data_offsets: %v", err)
	}
	if len(offsets) != 2 {
		return info, malformedTensor(path, name, "data_offsets has %d elements, want [begin, end]", len(offsets))
	}
	info.Begin, info.End = offsets[0], offsets[1]
	switch {
	case info.Begin < 0 || info.Begin > info.End:
		return info, malformedTensor(path, name, "data_offsets [%d, %d]: want 0 <= begin <= end", info.Begin, info.End)
	case info.End > dataLen:
		return info, malformedTensor(path, name, "data_offsets [%d, %d]: end is beyond the data section of %d bytes (file truncated?)", info.Begin, info.End, dataLen)
	}

	if size, known := dtypeSizes[info.DType]; known {
		if numel > math.MaxInt64/size || numel*size != info.End-info.Begin {
			return info, malformedTensor(path, name, "data_offsets [%d, %d] give %d bytes, want %d elements (shape %v) × %d bytes (%s)",
				info.Begin, info.End, info.End-info.Begin, numel, dims, size, info.DType)
		}
	}
	return info, nil
}

// shapeProduct returns the element count of a shape, rejecting negative
// dimensions and products that overflow int64 (or int on 32-bit machines).
func shapeProduct(dims []int64) (int64, error) {
	numel := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, errNegativeDim
		}
		if d > math.MaxInt {
			return 0, errShapeOverflow
		}
		if d != 0 && numel > math.MaxInt64/d {
			return 0, errShapeOverflow
		}
		numel *= d
	}
	return numel, nil
}

var (
	errNegativeDim   = errors.New("negative dimension")
	errShapeOverflow = errors.New("element count overflows int64")
)

// checkNoOverlap sorts a copy of the tensors by begin offset and checks that
// each one ends at or before the next one begins. Zero-length tensors may
// share an offset with anything.
func checkNoOverlap(path string, tensors []TensorInfo) error {
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	var prev *TensorInfo
	for i := range sorted {
		cur := &sorted[i]
		if cur.Begin == cur.End {
			continue
		}
		if prev != nil && cur.Begin < prev.End {
			return malformedTensor(path, cur.Name, "data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				cur.Begin, cur.End, prev.Name, prev.Begin, prev.End)
		}
		prev = cur
	}
	return nil
}
