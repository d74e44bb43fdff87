package safetensors

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and every
// tensor of an accepted file must lie inside its data section and read back
// (or, for dtypes without a float32 conversion, fail with ErrUnsupportedDType).
func FuzzParse(f *testing.F) {
	f.Add(encodeFile(f, []Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "b", Shape: []int{3}, Data: []float32{-1, 0, 1}},
	}, map[string]string{"k": "v"}, F32))
	f.Add(encodeFile(f, []Tensor{{Name: "h", Shape: []int{2}, Data: []float32{1, 2}}}, nil, BF16))
	f.Add(rawFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I8","shape":[1],"data_offsets":[4,5]}}`, []byte{0, 0x3c, 1, 0, 7}))
	f.Add(rawFile(`{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add([]byte{1, 2, 3})
	f.Add(withLength(MaxHeaderBytes+1, []byte("{}")))
	f.Add(withLength(64, []byte("{}")))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"__metadata__":{"a":1}}`, nil))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.safetensors", data)
		if err != nil {
			return
		}
		dataLen := int64(len(data)) - 8 - int64(binary.LittleEndian.Uint64(data[:8]))
		names := file.Names()
		if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("names not sorted and unique: %q", names)
		}
		for _, name := range names {
			info, ok := file.Info(name)
			if !ok {
				t.Fatalf("Names lists %q but Info does not find it", name)
			}
			if info.Begin < 0 || info.Begin > info.End || info.End > dataLen {
				t.Fatalf("tensor %q at [%d, %d] outside data section of %d bytes", name, info.Begin, info.End, dataLen)
			}
			values, shape, err := file.Float32(name)
			if _, converts := decoders[info.DType]; !converts {
				if !errors.Is(err, ErrUnsupportedDType) {
					t.Fatalf("tensor %q dtype %s: got error %v, want ErrUnsupportedDType", name, info.DType, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("accepted tensor %q does not read: %v", name, err)
			}
			numel := 1
			for _, d := range shape {
				numel *= d
			}
			if numel != len(values) || int64(numel)*dtypeSizes[info.DType] != info.End-info.Begin {
				t.Fatalf("tensor %q: shape %v, %d values, bytes [%d, %d]", name, shape, len(values), info.Begin, info.End)
			}
		}
	})
}
