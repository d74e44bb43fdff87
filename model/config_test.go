package model_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
)

func TestConfigReadsLlama3Fields(t *testing.T) {
	cfg, err := model.LoadConfig(fixtures.Path(t, "tiny-llama3", "config.json"))
	require.NoError(t, err)
	require.Equal(t, 64, cfg.HiddenSize)
	require.Equal(t, 192, cfg.IntermediateSize)
	require.Equal(t, 2, cfg.NumHiddenLayers)
	require.Equal(t, 4, cfg.NumAttentionHeads)
	require.Equal(t, 2, cfg.NumKeyValueHeads)
	require.Equal(t, 16, cfg.HeadDimension())
	require.Equal(t, 512, cfg.VocabSize)
	require.True(t, cfg.TieWordEmbeddings)
	require.Equal(t, "llama3", cfg.RopeScaling.RopeType)
	require.Equal(t, 8192, cfg.RopeScaling.OriginalMaxPositionEmbeddings)
	require.Equal(t, model.TokenIDs{0}, cfg.BOSTokenID)
	require.Equal(t, model.TokenIDs{2}, cfg.PadTokenID)
	require.Equal(t, "float32", cfg.TorchDType)
}

// llama32Config is shaped like meta-llama/Llama-3.2-1B-Instruct's config.json
// (eos as a list, bf16, head_dim given), shrunk to a tiny vocabulary.
const llama32Config = `{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64,
  "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256
}`

func TestConfigListsAndExtraFieldsRoundTrip(t *testing.T) {
	cfg, err := model.ParseConfig("llama-3.2.json", []byte(llama32Config))
	require.NoError(t, err)
	require.Equal(t, model.TokenIDs{128001, 128008, 128009}, cfg.EOSTokenID)
	require.Empty(t, cfg.PadTokenID)
	require.Equal(t, 64, cfg.HeadDimension())

	body, err := cfg.Marshal()
	require.NoError(t, err)
	var written map[string]any
	require.NoError(t, json.Unmarshal(body, &written))
	require.Equal(t, "4.45.0.dev0", written["transformers_version"], "unknown fields are written back")
	require.Equal(t, []any{128001.0, 128008.0, 128009.0}, written["eos_token_id"])
	require.Equal(t, 128000.0, written["bos_token_id"], "a single id stays a number")

	again, err := model.ParseConfig("again.json", body)
	require.NoError(t, err)
	require.Equal(t, cfg.EOSTokenID, again.EOSTokenID)
	require.Equal(t, *cfg.RopeScaling, *again.RopeScaling)
}

func TestConfigRejectsInconsistentShapes(t *testing.T) {
	base := map[string]any{
		"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 128, "model_type": "llama",
	}
	cases := []struct {
		name   string
		change map[string]any
		want   string
	}{
		{"heads do not divide hidden", map[string]any{"num_attention_heads": 6}, "does not divide hidden_size"},
		{"kv heads do not divide heads", map[string]any{"num_key_value_heads": 3}, "num_key_value_heads (3) does not divide num_attention_heads (4)"},
		{"unknown rope type", map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 4}}, `rope_type "yarn" is not supported`},
		{"llama3 rope without factors", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3"}}, "rope_scaling llama3 needs"},
		{"zero layers", map[string]any{"num_hidden_layers": 0}, "num_hidden_layers must be positive"},
		{"eos outside vocab", map[string]any{"eos_token_id": []int{1, 100}}, "eos_token_id 100 is outside the vocabulary"},
		{"eos of the wrong type", map[string]any{"eos_token_id": "x"}, "token id"},
		{"other model type", map[string]any{"model_type": "mistral"}, `model_type "mistral"`},
		{"biases", map[string]any{"attention_bias": true}, "not supported"},
		{"odd head dim", map[string]any{"head_dim": 15}, "must be even"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]any{}
			for k, v := range base {
				c[k] = v
			}
			for k, v := range tc.change {
				c[k] = v
			}
			body, err := json.Marshal(c)
			require.NoError(t, err)
			_, err = model.ParseConfig("bad/config.json", body)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "bad/config.json"), "error names the file: %v", err)
		})
	}
	// An explicit head_dim lifts the divisibility requirement, as in HF.
	c := map[string]any{}
	for k, v := range base {
		c[k] = v
	}
	c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"] = 6, 3, 16
	body, _ := json.Marshal(c)
	_, err := model.ParseConfig("ok.json", body)
	require.NoError(t, err)
}

func TestRopeTypeSpelledAsTypeIsAccepted(t *testing.T) {
	body := `{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
	"vocab_size": 10, "rope_scaling": {"type": "default"}}`
	cfg, err := model.ParseConfig("old.json", []byte(body))
	require.NoError(t, err)
	require.Equal(t, 2, cfg.NumKeyValueHeads, "num_key_value_heads defaults to num_attention_heads")
	require.Equal(t, "default", cfg.RopeScaling.RopeType)
}
