package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

var allModules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// randomizeB gives B non-zero values so the adapters change the output.
func randomizeB(m *model.Model, lo *model.LoRA) {
	for i, t := range lo.Tensors {
		if i%2 == 1 {
			host := make([]float32, t.Size())
			for j := range host {
				host[j] = float32(math.Sin(float64(7*i+j))) * 0.05
			}
			m.Backend().Upload(t.Buf, host)
		}
	}
}

func TestLoRAStartsAsIdentityAndMergesExactly(t *testing.T) {
	e := loadExpected(t)
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	base, err := m.Forward(e.batch())
	require.NoError(t, err)
	lo, err := m.AttachLoRA(model.LoRAConfig{Rank: 4, Alpha: 8, TargetModules: allModules}, 1)
	require.NoError(t, err)
	fresh, err := m.Forward(e.batch())
	require.NoError(t, err)
	require.InDelta(t, base.Loss, fresh.Loss, 1e-9, "B = 0 leaves the model unchanged")

	randomizeB(m, lo)
	adapted, err := m.Forward(e.batch())
	require.NoError(t, err)
	require.Greater(t, math.Abs(adapted.Loss-base.Loss), 1e-4)

	lo.SetEnabled(false)
	off, err := m.Forward(e.batch())
	require.NoError(t, err)
	require.InDelta(t, base.Loss, off.Loss, 1e-9, "disabled adapters give the base model")
	lo.SetEnabled(true)

	gen, err := m.Generate([][]int32{e.Greedy[1].Prompt}, model.GenerateOptions{MaxNewTokens: 8})
	require.NoError(t, err)
	require.NoError(t, m.MergeLoRA())
	merged, err := m.Forward(e.batch())
	require.NoError(t, err)
	require.InEpsilon(t, adapted.Loss, merged.Loss, 1e-5)
	genMerged, err := m.Generate([][]int32{e.Greedy[1].Prompt}, model.GenerateOptions{MaxNewTokens: 8})
	require.NoError(t, err)
	require.Equal(t, gen, genMerged, "generation uses the adapters like the merged model")
}

func TestLoRAGradientsMatchFiniteDifferences(t *testing.T) {
	e := loadExpected(t)
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	lo, err := m.AttachLoRA(model.LoRAConfig{Rank: 2, Alpha: 4, TargetModules: allModules}, 2)
	require.NoError(t, err)
	randomizeB(m, lo)
	b := e.batch()
	probe, err := m.Forward(b)
	require.NoError(t, err)
	scale := 1 / float32(probe.NumTokens)
	lo.ZeroGrads(m.Backend())
	_, err = m.ForwardBackward(b, scale)
	require.NoError(t, err)

	be := m.Backend()
	for ti := 0; ti < len(lo.Tensors); ti += 5 { // a spread of A and B tensors
		param, grad := lo.Tensors[ti], lo.Grads[ti]
		w := make([]float32, param.Size())
		g := make([]float32, grad.Size())
		be.Download(w, param.Buf)
		be.Download(g, grad.Buf)
		for _, j := range []int{0, len(w) / 2, len(w) - 1} {
			const h = 1e-2
			orig := w[j]
			loss := func(v float32) float64 {
				w[j] = v
				be.Upload(param.Buf, w)
				out, err := m.Forward(b)
				require.NoError(t, err)
				return out.Loss
			}
			num := (loss(orig+h) - loss(orig-h)) / (2 * h)
			loss(orig)
			require.InDelta(t, num, float64(g[j]), 2e-3+2e-2*math.Abs(num), "%s[%d]", param.Name, j)
		}
	}
}

func TestAdapterSavesInPEFTLayoutAndReloads(t *testing.T) {
	e := loadExpected(t)
	be := cpu.New()
	m := loadTiny(t, be, "tiny-llama3")
	lo, err := m.AttachLoRA(model.LoRAConfig{Rank: 4, Alpha: 16, Dropout: 0.05, TargetModules: []string{"q_proj", "v_proj"}}, 3)
	require.NoError(t, err)
	randomizeB(m, lo)
	want, err := m.Forward(e.batch())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, m.SaveAdapter(dir, "tiny-llama3"))

	var cfg map[string]any
	body, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &cfg))
	require.Equal(t, "LORA", cfg["peft_type"])
	require.Equal(t, 4.0, cfg["r"])
	require.Equal(t, 16.0, cfg["lora_alpha"])
	require.Equal(t, []any{"q_proj", "v_proj"}, cfg["target_modules"])
	f, err := safetensors.Open(filepath.Join(dir, "adapter_model.safetensors"))
	require.NoError(t, err)
	info, ok := f.Info("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight")
	require.True(t, ok, "PEFT tensor names: %v", f.Names())
	require.Equal(t, []int{4, 64}, info.Shape)
	info, ok = f.Info("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
	require.True(t, ok)
	require.Equal(t, []int{64, 4}, info.Shape)
	require.Len(t, f.Names(), 2*2*2)
	f.Close()

	fresh := loadTiny(t, be, "tiny-llama3")
	_, err = fresh.LoadAdapter(dir)
	require.NoError(t, err)
	got, err := fresh.Forward(e.batch())
	require.NoError(t, err)
	require.Equal(t, want.Loss, got.Loss, "dropout is off outside training; reload is exact")
}

func TestLoRAConfigErrors(t *testing.T) {
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	_, err := m.AttachLoRA(model.LoRAConfig{Rank: 4, Alpha: 8, TargetModules: []string{"qkv"}}, 0)
	require.ErrorContains(t, err, `unknown target module "qkv"`)
	_, err = m.AttachLoRA(model.LoRAConfig{Rank: 0, Alpha: 8, TargetModules: allModules}, 0)
	require.ErrorContains(t, err, "r must be positive")
}
