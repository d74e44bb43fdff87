package model_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

func hostParams(t *testing.T, m *model.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, ht := range m.HostTensors() {
		out[ht.Name] = ht.Data
	}
	return out
}

func TestLoadSaveLoadIsBitExact(t *testing.T) {
	be := cpu.New()
	for _, name := range []string{"tiny-llama3", "tiny-llama3-ref"} {
		t.Run(name, func(t *testing.T) {
			m := loadTiny(t, be, name)
			for _, shard := range []int64{0, 40_000} {
				dir := filepath.Join(t.TempDir(), "saved")
				require.NoError(t, m.Save(dir, model.SaveOptions{MaxShardBytes: shard}))
				again, err := model.Load(be, dir)
				require.NoError(t, err)
				require.Equal(t, hostParams(t, m), hostParams(t, again), "shard limit %d", shard)
				if shard > 0 {
					require.FileExists(t, filepath.Join(dir, "model.safetensors.index.json"))
				}
			}
		})
	}
}

func TestSavedDirectoryHasHFLayout(t *testing.T) {
	be := cpu.New()
	m := loadTiny(t, be, "tiny-llama3")
	dir := t.TempDir()
	require.NoError(t, m.Save(dir, model.SaveOptions{}))

	ref, err := safetensors.Open(fixtures.Path(t, "tiny-llama3", "model.safetensors"))
	require.NoError(t, err)
	defer ref.Close()
	got, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	defer got.Close()
	require.Equal(t, ref.Names(), got.Names(), "same tensor names as transformers (no lm_head when tied)")
	for _, n := range ref.Names() {
		ri, _ := ref.Info(n)
		gi, _ := got.Info(n)
		require.Equal(t, ri.Shape, gi.Shape, n)
		require.Equal(t, safetensors.F32, gi.DType, n)
	}

	var cfg, refCfg map[string]any
	body, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &cfg))
	body, err = os.ReadFile(fixtures.Path(t, "tiny-llama3", "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &refCfg))
	for k, v := range refCfg {
		require.Equal(t, v, cfg[k], "config field %s", k)
	}
	require.FileExists(t, filepath.Join(dir, "generation_config.json"))
}

func TestSaveInBF16ThenLoadConverts(t *testing.T) {
	be := cpu.New()
	m := loadTiny(t, be, "tiny-llama3")
	dir := t.TempDir()
	require.NoError(t, m.Save(dir, model.SaveOptions{DType: safetensors.BF16}))
	again, err := model.Load(be, dir)
	require.NoError(t, err)
	require.Equal(t, "bfloat16", again.Config.TorchDType)
	want, got := hostParams(t, m), hostParams(t, again)
	for name, w := range want {
		require.Less(t, relErr(got[name], w, nil), 4e-3, "%s within bf16 precision", name)
	}
}

func TestLoadRejectsWeightsThatDoNotFitTheConfig(t *testing.T) {
	be := cpu.New()
	src := loadTiny(t, be, "tiny-llama3")
	tensors := src.HostTensors()
	cfgBody, err := os.ReadFile(fixtures.Path(t, "tiny-llama3", "config.json"))
	require.NoError(t, err)

	write := func(t *testing.T, ts []safetensors.Tensor) string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfgBody, 0o644))
		require.NoError(t, safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil, safetensors.F32))
		return dir
	}
	t.Run("missing tensor", func(t *testing.T) {
		_, err := model.Load(be, write(t, tensors[1:]))
		require.ErrorIs(t, err, model.ErrWeights)
		require.Contains(t, err.Error(), `"model.embed_tokens.weight" is missing`)
	})
	t.Run("wrong shape", func(t *testing.T) {
		bad := append([]safetensors.Tensor(nil), tensors...)
		bad[1] = safetensors.Tensor{Name: bad[1].Name, Shape: []int{bad[1].Shape[0] * 2}, Data: append(bad[1].Data, bad[1].Data...)}
		_, err := model.Load(be, write(t, bad))
		require.ErrorIs(t, err, model.ErrWeights)
		require.Contains(t, err.Error(), bad[1].Name)
		require.Contains(t, err.Error(), "the config implies [64]")
	})
	t.Run("unexpected tensor", func(t *testing.T) {
		extra := append(append([]safetensors.Tensor(nil), tensors...), safetensors.Tensor{Name: "score.weight", Shape: []int{1, 64}, Data: make([]float32, 64)})
		_, err := model.Load(be, write(t, extra))
		require.ErrorContains(t, err, `unexpected tensor "score.weight"`)
		_, err = model.Load(be, write(t, extra), "score.weight")
		require.NoError(t, err, "allowed extras load")
	})
}

func TestEstimateMemoryCountsParameters(t *testing.T) {
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	rep := model.EstimateMemory(m.Config)
	require.Equal(t, m.Params.Count(), rep.Parameters)
	cfg, err := model.ParseConfig("llama-3.2.json", []byte(llama32Config))
	require.NoError(t, err)
	// Llama 3.2 1B has 1.236 B parameters (tied embeddings).
	require.InDelta(t, 1.2358e9, float64(model.EstimateMemory(cfg).Parameters), 1e6)
}
