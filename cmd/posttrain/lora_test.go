package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

// TestLoRASFTSavesPEFTAdapterThatMerges trains sft-tiny with LoRA: only the
// adapter changes, it is saved in PEFT's layout, `lora merge` folds it into a
// full checkpoint, and the merged model scores like base + adapter.
func TestLoRASFTSavesPEFTAdapterThatMerges(t *testing.T) {
	tmp := t.TempDir()
	base := filepath.Join(tmp, "base")
	_, err := run(t, "run", "sft-tiny", "output_dir="+base, "max_steps=5", "save_steps=0")
	require.NoError(t, err)

	out := filepath.Join(tmp, "lora")
	_, err = run(t, "run", "sft-tiny", "output_dir="+out, "model.path="+base, "model.init=", "model.tokenizer=",
		"max_steps=6", "save_steps=3", "lora.enabled=true", "lora.r=4", "lora.alpha=8",
		"lora.target_modules=q_proj,v_proj,down_proj", "optim.lr=1e-2")
	require.NoError(t, err)
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "checkpoint-6/adapter_model.safetensors"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	var cfg map[string]any
	body, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &cfg))
	require.Equal(t, "LORA", cfg["peft_type"])
	require.Equal(t, base, cfg["base_model_name_or_path"])

	// The base weights did not move.
	for _, name := range []string{"model.layers.0.self_attn.q_proj.weight", "model.norm.weight"} {
		a, b := tensor(t, base, name), tensor(t, out, name)
		require.Equal(t, a, b, "%s is frozen under LoRA", name)
	}

	merged := filepath.Join(tmp, "merged")
	_, err = run(t, "lora", "merge", "--base", base, "--adapter", out, "--out", merged)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(merged, "tokenizer.json"))
	require.NotEqual(t, tensor(t, base, "model.layers.0.self_attn.q_proj.weight"),
		tensor(t, merged, "model.layers.0.self_attn.q_proj.weight"), "the adapter changed q_proj")

	be := cpu.New()
	withAdapter, err := model.Load(be, base)
	require.NoError(t, err)
	_, err = withAdapter.LoadAdapter(out)
	require.NoError(t, err)
	full, err := model.Load(be, merged)
	require.NoError(t, err)
	batch := &model.Batch{B: 1, T: 6, IDs: []int32{256, 258, 117, 115, 101, 114}, Labels: []int32{-100, 258, 117, 115, 101, 114}}
	a, err := withAdapter.Forward(batch)
	require.NoError(t, err)
	b, err := full.Forward(batch)
	require.NoError(t, err)
	require.InEpsilon(t, a.Loss, b.Loss, 1e-5)

	// LoRA runs resume exactly too.
	resumed := filepath.Join(tmp, "lora-resumed")
	args := []string{"run", "sft-tiny", "output_dir=" + resumed, "model.path=" + base, "model.init=", "model.tokenizer=",
		"save_steps=3", "lora.enabled=true", "lora.r=4", "lora.alpha=8", "lora.dropout=0.1",
		"lora.target_modules=q_proj,v_proj,down_proj", "optim.lr=1e-2"}
	_, err = run(t, append(args, "max_steps=3")...)
	require.NoError(t, err)
	_, err = run(t, append(args, "max_steps=6", "--resume")...)
	require.NoError(t, err)
	straight := filepath.Join(tmp, "lora-straight")
	args[2] = "output_dir=" + straight
	_, err = run(t, append(args, "max_steps=6")...)
	require.NoError(t, err)
	require.Equal(t, tensor(t, straight, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", "adapter_model.safetensors"),
		tensor(t, resumed, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", "adapter_model.safetensors"))
}

func tensor(t *testing.T, dir, name string, file ...string) []float32 {
	t.Helper()
	fname := "model.safetensors"
	if len(file) > 0 {
		fname = file[0]
	}
	f, err := safetensors.Open(filepath.Join(dir, fname))
	require.NoError(t, err)
	defer f.Close()
	data, _, err := f.Float32(name)
	require.NoError(t, err)
	return data
}
