package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testTensors returns n tensors "t0".."t{n-1}" of 4 float32 each (16 bytes in F32).
func testTensors(n int) []Tensor {
	tensors := make([]Tensor, n)
	for i := range tensors {
		base := float32(10 * i)
		tensors[i] = Tensor{Name: "t" + string(rune('0'+i)), Shape: []int{2, 2}, Data: []float32{base, base + 1, base + 2, base + 3}}
	}
	return tensors
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenDirFixture(t *testing.T) {
	s, err := OpenDir(fixtures.Path(t, "tiny-llama3"))
	require.NoError(t, err)
	defer s.Close()
	info, path, ok := s.Info("model.embed_tokens.weight")
	require.True(t, ok)
	assert.Equal(t, []int{512, 64}, info.Shape)
	assert.Equal(t, "model.safetensors", filepath.Base(path))
	_, _, ok = s.Info("lm_head.weight")
	assert.False(t, ok)
	data, shape, err := s.Float32("model.norm.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{64}, shape)
	assert.Len(t, data, 64)
}

func TestWriteDirShardedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tensors := testTensors(5)
	// 16 bytes each; 40-byte shards hold two tensors: [t0 t1] [t2 t3] [t4].
	require.NoError(t, WriteDir(dir, tensors, map[string]string{"epoch": "1"}, F32, 40))

	assert.ElementsMatch(t, []string{
		"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
		"model-00003-of-00003.safetensors", "model.safetensors.index.json",
	}, dirNames(t, dir))

	raw, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	require.NoError(t, err)
	var index struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	require.NoError(t, json.Unmarshal(raw, &index))
	assert.Equal(t, map[string]any{"total_size": float64(5 * 16)}, index.Metadata)
	assert.Equal(t, map[string]string{
		"t0": "model-00001-of-00003.safetensors", "t1": "model-00001-of-00003.safetensors",
		"t2": "model-00002-of-00003.safetensors", "t3": "model-00002-of-00003.safetensors",
		"t4": "model-00003-of-00003.safetensors",
	}, index.WeightMap)

	s, err := OpenDir(dir)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, []string{"t0", "t1", "t2", "t3", "t4"}, s.Names())
	for _, want := range tensors {
		got, shape, err := s.Float32(want.Name)
		require.NoError(t, err)
		assert.Equal(t, want.Shape, shape)
		assert.Equal(t, want.Data, got)
		_, path, ok := s.Info(want.Name)
		require.True(t, ok)
		assert.Equal(t, filepath.Join(dir, index.WeightMap[want.Name]), path)
	}
	shard, err := Open(filepath.Join(dir, "model-00002-of-00003.safetensors"))
	require.NoError(t, err)
	defer shard.Close()
	assert.Equal(t, map[string]string{"format": "pt", "epoch": "1"}, shard.Metadata)

	_, _, err = s.Float32("nope")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestWriteDirShardPlan(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		sizes    []int // float32 elements per tensor
		want     [][]string
	}{
		{"never shard", 0, []int{4, 4, 4}, [][]string{{"t0", "t1", "t2"}}},
		{"negative never shards", -1, []int{4, 4}, [][]string{{"t0", "t1"}}},
		{"fits exactly", 48, []int{4, 4, 4}, [][]string{{"t0", "t1", "t2"}}},
		{"big tensor alone", 20, []int{1, 10, 1}, [][]string{{"t0"}, {"t1"}, {"t2"}}},
		{"fill in order", 32, []int{4, 2, 2, 4}, [][]string{{"t0", "t1", "t2"}, {"t3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tensors := make([]Tensor, len(tt.sizes))
			for i, n := range tt.sizes {
				tensors[i] = Tensor{Name: "t" + string(rune('0'+i)), Shape: []int{n}, Data: make([]float32, n)}
			}
			shards, total := planShards(tensors, F32, tt.maxBytes)
			var got [][]string
			for _, s := range shards {
				var names []string
				for _, t := range s {
					names = append(names, t.Name)
				}
				got = append(got, names)
			}
			assert.Equal(t, tt.want, got)
			sum := 0
			for _, n := range tt.sizes {
				sum += 4 * n
			}
			assert.Equal(t, int64(sum), total)
		})
	}
}

func TestWriteDirReplacesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"config.json", "adapter_model.safetensors", "model-notes.txt"}
	for _, name := range keep {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}

	// Sharded into 3, then 2 shards: the third old shard goes.
	require.NoError(t, WriteDir(dir, testTensors(5), nil, F32, 40))
	require.NoError(t, WriteDir(dir, testTensors(4), nil, BF16, 16))
	assert.ElementsMatch(t, append(slices.Clone(keep),
		"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"),
		dirNames(t, dir))
	s, err := OpenDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"t0", "t1", "t2", "t3"}, s.Names())
	info, _, _ := s.Info("t3")
	assert.Equal(t, BF16, info.DType)
	require.NoError(t, s.Close())

	// Then one file: shards and index go.
	require.NoError(t, WriteDir(dir, testTensors(2), nil, F32, 0))
	assert.ElementsMatch(t, append(slices.Clone(keep), "model.safetensors"), dirNames(t, dir))

	// Then sharded again: the single file goes.
	require.NoError(t, WriteDir(dir, testTensors(3), nil, F32, 16))
	assert.ElementsMatch(t, append(slices.Clone(keep),
		"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
		"model-00003-of-00003.safetensors", "model.safetensors.index.json"), dirNames(t, dir))
}

func TestWriteDirRejectsBadTensorsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, testTensors(2), nil, F32, 0))
	bad := append(testTensors(3), Tensor{Name: "t0", Shape: []int{1}, Data: []float32{1}})
	err := WriteDir(dir, bad, nil, F32, 16)
	require.ErrorIs(t, err, ErrInvalidTensor)
	assert.Equal(t, []string{"model.safetensors"}, dirNames(t, dir), "the earlier save is untouched")
}

func TestOpenDirPrefersSingleFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, testTensors(3), nil, F32, 16))
	require.NoError(t, Write(filepath.Join(dir, "model.safetensors"), testTensors(1), nil, F32))
	s, err := OpenDir(dir)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, []string{"t0"}, s.Names())
}

func TestOpenDirEmpty(t *testing.T) {
	_, err := OpenDir(t.TempDir())
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "model.safetensors.index.json")
}

// writeShardedDir writes shard files (name -> tensors) and a literal index.
func writeShardedDir(t *testing.T, shards map[string][]Tensor, index string) string {
	t.Helper()
	dir := t.TempDir()
	for name, tensors := range shards {
		require.NoError(t, Write(filepath.Join(dir, name), tensors, nil, F32))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(index), 0o644))
	return dir
}

func TestOpenDirRejectsBadIndex(t *testing.T) {
	a := Tensor{Name: "a", Shape: []int{1}, Data: []float32{1}}
	b := Tensor{Name: "b", Shape: []int{1}, Data: []float32{2}}
	two := map[string][]Tensor{"s1.safetensors": {a}, "s2.safetensors": {b}}
	tests := []struct {
		name   string
		shards map[string][]Tensor
		index  string
		want   string
	}{
		{"not json", two, `{"weight_map":`, "not valid JSON"},
		{"not an object", two, `[]`, "not a JSON object"},
		{"no weight_map", two, `{"metadata":{}}`, `"weight_map" is missing`},
		{"weight_map not object", two, `{"weight_map":["a"]}`, "weight_map is an array"},
		{"shard not string", two, `{"weight_map":{"a":1}}`, `weight_map["a"]: want a string`},
		{"absolute shard", two, `{"weight_map":{"a":"/etc/passwd"}}`, "absolute path"},
		{"separator in shard", two, `{"weight_map":{"a":"sub/s1.safetensors"}}`, "path separator"},
		{"backslash in shard", two, `{"weight_map":{"a":"sub\\s1.safetensors"}}`, "path separator"},
		{"dot-dot shard", two, `{"weight_map":{"a":".."}}`, `contains ".."`},
		{"dot-dot in name", two, `{"weight_map":{"a":"..s1.safetensors"}}`, `contains ".."`},
		{"empty shard name", two, `{"weight_map":{"a":""}}`, "not a file name"},
		{"missing shard", two, `{"weight_map":{"a":"s1.safetensors","b":"s3.safetensors"}}`, `shard "s3.safetensors" (holding tensor "b") is missing`},
		{"weight not in shard", two, `{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}`, `tensor "b" is mapped to s1.safetensors, which does not contain it`},
		{"tensor mapped to two shards", two, `{"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}}`, `key "a" appears twice`},
		{"tensor stored in two shards", map[string][]Tensor{"s1.safetensors": {a}, "s2.safetensors": {a, b}},
			`{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, `tensor "a" is stored in two shards`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeShardedDir(t, tt.shards, tt.index)
			s, err := OpenDir(dir)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, ErrBadIndex)
			assert.ErrorContains(t, err, filepath.Join(dir, "model.safetensors.index.json"))
			assert.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("malformed shard", func(t *testing.T) {
		dir := writeShardedDir(t, two, `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "s2.safetensors"), []byte{1}, 0o644))
		_, err := OpenDir(dir)
		assert.ErrorIs(t, err, ErrMalformed)
		assert.ErrorContains(t, err, "s2.safetensors")
	})
}
