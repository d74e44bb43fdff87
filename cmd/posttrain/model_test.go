package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model/safetensors"
)

type greedyCase struct {
	Prompt []int32 `json:"prompt"`
	Output []int32 `json:"output"`
}

func TestGenerateCLIMatchesHFGreedy(t *testing.T) {
	var e struct {
		Greedy []greedyCase `json:"greedy"`
	}
	fixtures.JSON(t, &e, "tiny-llama3", "expected.json")
	dir := fixtures.Path(t, "tiny-llama3")
	for i, g := range e.Greedy {
		ids := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(g.Prompt)), ","), "[]")
		out, err := run(t, "generate", "--model", dir, "--prompt-ids", ids, "--max-new-tokens", "16", "--temperature", "0")
		require.NoError(t, err)
		var got []int32
		require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &got), "last line is a JSON array: %q", out)
		// The fixture was generated without a stop token; eos id 1 never occurs in it.
		require.Equal(t, g.Output, got, "prompt %d", i)
	}
}

func TestDebugForwardCLIMatchesHF(t *testing.T) {
	dir := fixtures.Path(t, "tiny-llama3")
	outPath := filepath.Join(t.TempDir(), "dump.safetensors")
	stdout, err := run(t, "debug", "forward", "--model", dir, "--batch", filepath.Join(dir, "expected.json"), "--out", outPath)
	require.NoError(t, err)

	var e struct {
		Loss          float64   `json:"loss"`
		AttentionMask [][]int32 `json:"attention_mask"`
	}
	fixtures.JSON(t, &e, "tiny-llama3", "expected.json")
	var got struct {
		Loss float64 `json:"loss"`
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(stdout)), &got))
	require.InEpsilon(t, e.Loss, got.Loss, 1e-4)

	dump, err := safetensors.Open(outPath)
	require.NoError(t, err)
	defer dump.Close()
	compare := func(refFile, refName, gotName string, keep func(int) bool, tol float64) {
		ref, err := safetensors.Open(filepath.Join(dir, refFile))
		require.NoError(t, err)
		defer ref.Close()
		want, wantShape, err := ref.Float32(refName)
		require.NoError(t, err)
		have, haveShape, err := dump.Float32(gotName)
		require.NoError(t, err, gotName)
		require.Equal(t, wantShape, haveShape, gotName)
		require.Less(t, relErr(have, want, keep), tol, gotName)
	}
	V := 512
	T := len(e.AttentionMask[0])
	compare("logits_sft.safetensors", "logits", "logits", func(i int) bool {
		tok := i / V
		return e.AttentionMask[tok/T][tok%T] == 1
	}, 1e-4)
	grads, err := safetensors.Open(filepath.Join(dir, "grads_sft.safetensors"))
	require.NoError(t, err)
	names := grads.Names()
	grads.Close()
	require.NotEmpty(t, names)
	for _, n := range names {
		compare("grads_sft.safetensors", n, "grad."+n, nil, 1e-3)
	}
}

func TestModelInitInspectAndGenerate(t *testing.T) {
	tmp := t.TempDir()
	cfgPath := filepath.Join(tmp, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"hidden_size": 32, "intermediate_size": 64,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,
		"max_position_embeddings": 256, "rope_theta": 500000, "rms_norm_eps": 1e-5,
		"bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": true}`), 0o644))
	out := filepath.Join(tmp, "model")
	_, err := run(t, "model", "init", "--config", cfgPath, "--out", out, "--seed", "3")
	require.NoError(t, err)
	for _, f := range []string{"config.json", "model.safetensors", "generation_config.json"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	info, err := run(t, "model", "inspect", out, "--json")
	require.NoError(t, err)
	var rep struct {
		Parameters int            `json:"parameters"`
		DTypes     map[string]int `json:"dtypes"`
	}
	require.NoError(t, json.Unmarshal([]byte(info), &rep))
	// embed 50·32 + 2 layers·(2·32 + 32·32 + 2·16·32 + 32·32 + 3·64·32) + norm 32
	require.Equal(t, 50*32+2*(2*32+32*32+2*16*32+32*32+3*64*32)+32, rep.Parameters)
	require.Equal(t, map[string]int{"F32": 2*9 + 2}, rep.DTypes)

	text, err := run(t, "model", "inspect", out)
	require.NoError(t, err)
	require.Contains(t, text, "training memory")

	a, err := run(t, "generate", "--model", out, "--prompt-ids", "5,6,7", "--max-new-tokens", "8", "--temperature", "0.8", "--top-k", "10", "--seed", "4")
	require.NoError(t, err)
	b, err := run(t, "generate", "--model", out, "--prompt-ids", "5,6,7", "--max-new-tokens", "8", "--temperature", "0.8", "--top-k", "10", "--seed", "4")
	require.NoError(t, err)
	require.Equal(t, lastLine(a), lastLine(b), "seeded sampling is reproducible")

	_, err = run(t, "generate", "--model", out, "--prompt-ids", "5,x")
	require.ErrorContains(t, err, `item 2 ("x") is not an integer`)
	_, err = run(t, "generate", "--model", out, "--prompt-ids", "5,99")
	require.ErrorContains(t, err, "outside the vocabulary")
}
