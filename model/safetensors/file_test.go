package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureModel is the tiny-llama3 weights from Hugging Face.
func fixtureModel(t testing.TB) string { return fixtures.Path(t, "tiny-llama3", "model.safetensors") }

func TestFixtureTinyLlama3(t *testing.T) {
	f, err := Open(fixtureModel(t))
	require.NoError(t, err)
	defer f.Close()

	assert.Equal(t, "pt", f.Metadata["format"])
	names := f.Names()
	assert.IsIncreasing(t, names)
	assert.Contains(t, names, "model.embed_tokens.weight")
	assert.Contains(t, names, "model.layers.1.mlp.down_proj.weight")
	assert.NotContains(t, names, "lm_head.weight", "tiny-llama3 ties its embeddings")

	info, ok := f.Info("model.embed_tokens.weight")
	require.True(t, ok)
	assert.Equal(t, F32, info.DType)
	assert.Equal(t, []int{512, 64}, info.Shape)

	data, shape, err := f.Float32("model.embed_tokens.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{512, 64}, shape)
	require.Len(t, data, 512*64)

	// Decode the same bytes independently: encoding/json for the header,
	// encoding/binary for the values.
	raw, err := os.ReadFile(fixtureModel(t))
	require.NoError(t, err)
	header, dataSection := splitFile(t, raw)
	var entries map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(header, &entries))
	var entry struct {
		DataOffsets [2]int `json:"data_offsets"`
	}
	require.NoError(t, json.Unmarshal(entries["model.embed_tokens.weight"], &entry))
	for _, i := range []int{0, 1, 4095, 512*64 - 1} {
		bits := binary.LittleEndian.Uint32(dataSection[entry.DataOffsets[0]+4*i:])
		assert.Equal(t, math.Float32frombits(bits), data[i], "element %d", i)
	}
	assert.Len(t, names, len(entries)-1) // every entry but __metadata__
}

func TestRoundTripF32Exact(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1.5, math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc00001), math.Float32frombits(0x00000fff)}
	tensors := []Tensor{
		{Name: "b.weight", Shape: []int{2, 5}, Data: specials},
		{Name: "a.bias", Shape: []int{3}, Data: []float32{0.1, 0.2, 0.3}},
		{Name: "scalar", Shape: nil, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 4}, Data: nil},
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	require.NoError(t, Write(path, tensors, map[string]string{"step": "7"}, F32))

	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, map[string]string{"format": "pt", "step": "7"}, f.Metadata)
	assert.Equal(t, []string{"a.bias", "b.weight", "empty", "scalar"}, f.Names())
	for _, want := range tensors {
		got, shape, err := f.Float32(want.Name)
		require.NoError(t, err, want.Name)
		wantShape := want.Shape
		if wantShape == nil {
			wantShape = []int{}
		}
		assert.Equal(t, wantShape, shape, want.Name)
		require.Len(t, got, len(want.Data), want.Name)
		for i := range got {
			assert.Equal(t, math.Float32bits(want.Data[i]), math.Float32bits(got[i]), "%s[%d]", want.Name, i)
		}
	}
}

func TestWriteLayout(t *testing.T) {
	tensors := []Tensor{
		{Name: "z", Shape: []int{3}, Data: []float32{1, 2, 3}},
		{Name: "a", Shape: []int{1, 2}, Data: []float32{4, 5}},
	}
	file := encodeFile(t, tensors, map[string]string{"format": "pt", "note": "<&>"}, BF16)
	header, data := splitFile(t, file)

	assert.Zero(t, len(header)%8, "header padded to a multiple of 8")
	var entries map[string]struct {
		DType       string  `json:"dtype"`
		Shape       []int   `json:"shape"`
		DataOffsets []int64 `json:"data_offsets"`
	}
	var parsed map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(header, &parsed), "padding must be JSON whitespace")
	var metadata map[string]string
	require.NoError(t, json.Unmarshal(parsed["__metadata__"], &metadata))
	assert.Equal(t, map[string]string{"format": "pt", "note": "<&>"}, metadata)
	delete(parsed, "__metadata__")
	raw, _ := json.Marshal(parsed)
	require.NoError(t, json.Unmarshal(raw, &entries))

	// Contiguous, in the given order, little-endian bfloat16.
	assert.Equal(t, []int64{0, 6}, entries["z"].DataOffsets)
	assert.Equal(t, []int64{6, 10}, entries["a"].DataOffsets)
	assert.Equal(t, "BF16", entries["a"].DType)
	assert.Equal(t, []int{1, 2}, entries["a"].Shape)
	assert.Equal(t, []byte{0x80, 0x3f, 0x00, 0x40, 0x40, 0x40, 0x80, 0x40, 0xa0, 0x40}, data)
}

func TestWriteBF16RoundsAndReadsBack(t *testing.T) {
	in := []float32{
		math.Float32frombits(0x3f808000), // tie: stays 0x3f80 (even)
		math.Float32frombits(0x3f818000), // tie: goes to 0x3f82 (even)
		math.Float32frombits(0x3f808001), // above half: 0x3f81
		float32(math.Inf(-1)),
		float32(math.NaN()),
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, Write(path, []Tensor{{Name: "w", Shape: []int{5}, Data: in}}, nil, BF16))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	_, data := splitFile(t, raw)
	require.Len(t, data, 10)
	wantBits := []uint16{0x3f80, 0x3f82, 0x3f81, 0xff80}
	for i, want := range wantBits {
		assert.Equal(t, want, binary.LittleEndian.Uint16(data[2*i:]), "element %d", i)
	}
	nanBits := binary.LittleEndian.Uint16(data[8:])
	assert.Equal(t, uint16(0x7f80), nanBits&0x7f80, "NaN exponent")
	assert.NotZero(t, nanBits&0x7f, "NaN mantissa")

	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, _, err := f.Float32("w")
	require.NoError(t, err)
	for i, want := range wantBits {
		assert.Equal(t, math.Float32frombits(uint32(want)<<16), got[i], "element %d", i)
	}
	assert.True(t, math.IsNaN(float64(got[4])))
}

func TestReadF16(t *testing.T) {
	// 1, -2, min subnormal, +inf: little-endian halves.
	file := rawFile(`{"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}`,
		[]byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c})
	f, err := Parse("h.safetensors", file)
	require.NoError(t, err)
	got, shape, err := f.Float32("h")
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2}, shape)
	assert.Equal(t, []float32{1, -2, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}, got)
}

func TestFloat32Errors(t *testing.T) {
	file := rawFile(`{"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"odd":{"dtype":"F8_E8M0","shape":[3],"data_offsets":[8,9]}}`,
		make([]byte, 9))
	f, err := Parse("ids.safetensors", file)
	require.NoError(t, err)

	info, ok := f.Info("odd")
	require.True(t, ok)
	assert.Equal(t, DType("F8_E8M0"), info.DType, "unknown dtypes are kept")

	_, _, err = f.Float32("ids")
	require.ErrorIs(t, err, ErrUnsupportedDType)
	assert.ErrorContains(t, err, "ids.safetensors")
	assert.ErrorContains(t, err, `"ids"`)
	assert.ErrorContains(t, err, "I32")

	_, _, err = f.Float32("missing")
	require.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, `"missing"`)
	_, ok = f.Info("missing")
	assert.False(t, ok)
}

func TestInfoReturnsCopy(t *testing.T) {
	f, err := Parse("x", encodeFile(t, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil, F32))
	require.NoError(t, err)
	info, _ := f.Info("w")
	info.Shape[0] = 99
	again, _ := f.Info("w")
	assert.Equal(t, []int{2}, again.Shape)
}

func TestCloseThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	require.NoError(t, Write(path, []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil, F32))
	f, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "second Close is a no-op")
	_, _, err = f.Float32("w")
	assert.ErrorIs(t, err, ErrClosed)
}

func TestReadAfterTruncationErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.safetensors")
	require.NoError(t, Write(path, []Tensor{{Name: "w", Shape: []int{1000}, Data: make([]float32, 1000)}}, nil, F32))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, st.Size()-100))
	_, _, err = f.Float32("w")
	require.Error(t, err)
	assert.ErrorContains(t, err, `"w"`)
}

func TestWriteRejectsBadTensors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		dtype   DType
		want    string
	}{
		{"unwritable dtype", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, F16, "want F32 or BF16"},
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, F32, "empty tensor name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, F32, "reserved"},
		{"duplicate", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}, {Name: "w", Shape: []int{1}, Data: []float32{1}}}, F32, "given twice"},
		{"negative dim", []Tensor{{Name: "w", Shape: []int{-1}, Data: nil}}, F32, "negative dimension"},
		{"length mismatch", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1}}}, F32, "holds 4 elements, data has 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "bad.safetensors")
			err := Write(path, tt.tensors, nil, tt.dtype)
			require.ErrorIs(t, err, ErrInvalidTensor)
			assert.ErrorContains(t, err, tt.want)
			assert.ErrorContains(t, err, path)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing written")
		})
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, Write(path, []Tensor{{Name: "old", Shape: []int{1}, Data: []float32{1}}}, nil, F32))
	require.NoError(t, Write(path, []Tensor{{Name: "new", Shape: []int{1}, Data: []float32{2}}}, nil, F32))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"new"}, f.Names())

	err = Write(filepath.Join(dir, "missing-dir", "m.safetensors"), nil, nil, F32)
	assert.ErrorContains(t, err, "missing-dir")
}
