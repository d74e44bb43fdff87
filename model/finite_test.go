package model

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
)

func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	be := cpu.New()
	cfg := &Config{Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", HiddenSize: 8, IntermediateSize: 16,
		NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 2, RMSNormEps: 1e-5, RopeTheta: 10000,
		MaxPositionEmbeddings: 16, VocabSize: 12, HiddenAct: "silu", InitializerRange: 0.02, TorchDType: "float32"}
	m, err := New(be, cfg)
	require.NoError(t, err)
	m.Params.InitRandom(be, cfg, 1)
	p := m.Params.Tensors[2]
	cpu.F(p.Buf)[3] = float32(math.Inf(-1))
	dir := t.TempDir()
	require.NoError(t, m.Save(dir, SaveOptions{}))
	_, err = Load(be, dir)
	require.ErrorIs(t, err, ErrNonFiniteWeights)
	assert.Contains(t, err.Error(), `tensor "`+p.Name+`" holds -Inf at index 3`)
}
