package model

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/sysmem"
)

func smallConfig() *Config {
	return &Config{HiddenSize: 64, IntermediateSize: 192, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 512, MaxPositionEmbeddings: 128, RMSNormEps: 1e-5, RopeTheta: 1e4}
}

func withAvailable(t *testing.T, bytes uint64) {
	t.Helper()
	old := available
	available = func() (sysmem.Info, bool) { return sysmem.Info{Bytes: bytes, Source: "test"}, true }
	t.Cleanup(func() { available = old })
}

func TestConfigUpperBoundsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(*Config)
	}{
		{"hidden_size", func(c *Config) { c.HiddenSize = 1 << 30; c.HeadDim = 16 }},
		{"intermediate_size", func(c *Config) { c.IntermediateSize = 1 << 40 }},
		{"num_hidden_layers", func(c *Config) { c.NumHiddenLayers = 1_000_000 }},
		{"vocab_size", func(c *Config) { c.VocabSize = 1_000_000_000 }},
		{"max_position_embeddings", func(c *Config) { c.MaxPositionEmbeddings = 1 << 40 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := smallConfig()
			tc.set(c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), "sane maximum")
		})
	}
	require.NoError(t, smallConfig().Validate())
}

func TestCheckMemoryRefusesWhatDoesNotFit(t *testing.T) {
	c := smallConfig()
	n := EstimateMemory(c).Parameters
	withAvailable(t, uint64(4*n)) // exactly the float32 weights: fits
	require.NoError(t, CheckMemory(c))

	withAvailable(t, uint64(4*n-1))
	err := CheckMemory(c)
	require.ErrorIs(t, err, ErrMemory)
	assert.Contains(t, err.Error(), "is available (test)")

	big := smallConfig()
	big.VocabSize, big.HiddenSize, big.HeadDim = 1<<22, 1<<17, 128
	withAvailable(t, 32<<30)
	err = CheckMemory(big)
	require.ErrorIs(t, err, ErrMemory)
	assert.Contains(t, err.Error(), "vocab_size 4194304 × hidden_size 131072")
	assert.Contains(t, err.Error(), "TiB")

	_, err = New(nil, big) // refused before any allocation (a nil backend would panic)
	require.ErrorIs(t, err, ErrMemory)
}

func TestLoadNamesConfigJSONWhenTheModelDoesNotFit(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig()
	c.NumHiddenLayers = 1000
	body, err := c.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), body, 0o644))
	withAvailable(t, 1<<20)
	_, err = Load(nil, dir)
	require.ErrorIs(t, err, ErrMemory)
	assert.Contains(t, err.Error(), filepath.Join(dir, "config.json"))
	assert.Contains(t, err.Error(), "num_hidden_layers 1000")
}

func TestBatchAndSequenceChecks(t *testing.T) {
	c := smallConfig()
	require.NoError(t, CheckSequenceLength(c, 128, "data.max_length"))
	err := CheckSequenceLength(c, 129, "data.max_length")
	require.ErrorIs(t, err, ErrBatch)
	assert.Contains(t, err.Error(), "data.max_length 129")
	assert.Contains(t, err.Error(), "max_position_embeddings 128")

	withAvailable(t, 1<<30)
	require.NoError(t, CheckBatchMemory(c, 8, 128, "train.batch_size × data.max_length"))
	err = CheckBatchMemory(c, 1<<20, 1<<20, "train.batch_size × data.max_length")
	require.ErrorIs(t, err, ErrMemory)
	assert.Contains(t, err.Error(), "train.batch_size × data.max_length")
}

func TestLoadConfigRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err := LoadConfig(fifo) // would block forever in os.ReadFile
	require.Error(t, err)
	assert.Contains(t, err.Error(), "named pipe")
	_, err = LoadConfig(dir)
	assert.Contains(t, err.Error(), "a directory")
}

func TestSavedFilesAreSharedLikeTheWeights(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	require.NoError(t, WriteFileAtomic(p, []byte("{}")))
	probe := filepath.Join(dir, "probe")
	require.NoError(t, os.WriteFile(probe, nil, 0o644))
	want, err := os.Stat(probe)
	require.NoError(t, err)
	got, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, want.Mode().Perm(), got.Mode().Perm(), "0644 under the umask, not CreateTemp's 0600")
}

func TestCheckTrainingShapeCountsGradientsAndMoments(t *testing.T) {
	c := smallConfig()
	n := float64(EstimateMemory(c).Parameters)
	acts := 4 * float64(arenaSize(c, 1)) * 2 * 16
	withAvailable(t, uint64(12*n+acts))
	require.NoError(t, CheckTrainingShape(c, 2, 16, "m", true))
	withAvailable(t, uint64(12*n+acts)-1)
	err := CheckTrainingShape(c, 2, 16, "m", true)
	require.ErrorIs(t, err, ErrMemory)
	assert.Contains(t, err.Error(), "m: ")
	assert.Contains(t, err.Error(), "AdamW moments")
	require.NoError(t, CheckTrainingShape(c, 2, 16, "m", false), "LoRA: no moments for the base weights")
}
