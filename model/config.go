package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/posttrain/posttrain/internal/fileio"
)

// ErrConfig marks a config.json that cannot describe a LLaMA 3 model.
var ErrConfig = errors.New("model: invalid config")

// RopeScaling is the `rope_scaling` block of a Llama 3.1+ config.
type RopeScaling struct {
	RopeType                      string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
}

// TokenIDs is a special-token field that Hugging Face configs write either as a
// single number or as a list (Llama 3 Instruct lists several EOS ids).
type TokenIDs []int

// UnmarshalJSON accepts null, a number or a list of numbers.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = nil
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return fmt.Errorf("token ids: want a number or a list of numbers: %w", err)
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return fmt.Errorf("token id: want a number or a list of numbers, found %s", b)
	}
	*t = TokenIDs{id}
	return nil
}

// MarshalJSON writes one id as a number and several as a list, as HF does.
func (t TokenIDs) MarshalJSON() ([]byte, error) {
	switch len(t) {
	case 0:
		return []byte("null"), nil
	case 1:
		return json.Marshal(t[0])
	default:
		return json.Marshal([]int(t))
	}
}

// First returns the first id, or -1 when there is none.
func (t TokenIDs) First() int {
	if len(t) == 0 {
		return -1
	}
	return t[0]
}

// Config holds the fields of a Hugging Face Llama config.json that this
// implementation uses. Fields it does not interpret are kept in Extra and
// written back unchanged on save.
type Config struct {
	Architectures         []string     `json:"architectures,omitempty"`
	ModelType             string       `json:"model_type"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim,omitempty"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	VocabSize             int          `json:"vocab_size"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	BOSTokenID            TokenIDs     `json:"bos_token_id"`
	EOSTokenID            TokenIDs     `json:"eos_token_id"`
	PadTokenID            TokenIDs     `json:"pad_token_id,omitempty"`
	TorchDType            string       `json:"torch_dtype,omitempty"`
	HiddenAct             string       `json:"hidden_act,omitempty"`
	AttentionBias         bool         `json:"attention_bias"`
	MLPBias               bool         `json:"mlp_bias"`
	InitializerRange      float64      `json:"initializer_range,omitempty"`
	// NumLabels is set for LlamaForSequenceClassification (reward models).
	NumLabels int `json:"num_labels,omitempty"`

	// Extra keeps every other field of the file so a save writes it back.
	Extra map[string]json.RawMessage `json:"-"`
}

// knownConfigFields lists the JSON keys Config decodes itself.
var knownConfigFields = []string{
	"architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
	"num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
	"rope_scaling", "max_position_embeddings", "vocab_size", "tie_word_embeddings",
	"bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "hidden_act",
	"attention_bias", "mlp_bias", "initializer_range", "num_labels",
}

// IsSequenceClassifier reports whether the config describes a
// LlamaForSequenceClassification (a reward or value model): the trunk without
// an LM head; the caller owns the score head.
func (c *Config) IsSequenceClassifier() bool {
	for _, a := range c.Architectures {
		if a == "LlamaForSequenceClassification" {
			return true
		}
	}
	return false
}

// HeadDimension is head_dim when the config sets it, hidden_size/num_attention_heads otherwise.
func (c *Config) HeadDimension() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.NumAttentionHeads == 0 {
		return 0
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// ParseConfig decodes and validates a config.json body; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg := &Config{
		// Defaults of transformers' LlamaConfig for fields older files omit.
		RMSNormEps:            1e-6,
		RopeTheta:             10000,
		MaxPositionEmbeddings: 2048,
		HiddenAct:             "silu",
		InitializerRange:      0.02,
	}
	type plain Config // no methods: avoids recursion
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode((*plain)(cfg)); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrConfig, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrConfig, err)
	}
	for _, k := range knownConfigFields {
		delete(all, k)
	}
	if len(all) > 0 {
		cfg.Extra = all
	}
	if cfg.NumKeyValueHeads == 0 {
		cfg.NumKeyValueHeads = cfg.NumAttentionHeads // LlamaConfig's default: multi-head attention
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// maxConfigBytes bounds config.json: real ones are a few kilobytes.
const maxConfigBytes = 16 << 20

// LoadConfig reads and validates a config.json file.
func LoadConfig(path string) (*Config, error) {
	if err := fileio.CheckRegular(path, maxConfigBytes); err != nil {
		return nil, fmt.Errorf("model: read config: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: read config: %w", err)
	}
	return ParseConfig(path, data)
}

// Validate reports the first inconsistency that would make the model unbuildable.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	positive := []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"vocab_size", c.VocabSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return bad("%s must be positive, found %d", p.name, p.v)
		}
	}
	for _, b := range configBounds {
		if v := b.get(c); v > b.max {
			return bad("%s %d is beyond the sane maximum %d (%s); the file is probably damaged or not a LLaMA config",
				b.name, v, b.max, b.why)
		}
	}
	if c.ModelType != "" && c.ModelType != "llama" {
		return bad("model_type %q is not supported (want \"llama\")", c.ModelType)
	}
	if c.HeadDim == 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		return bad("num_attention_heads (%d) does not divide hidden_size (%d); set head_dim or fix the head count",
			c.NumAttentionHeads, c.HiddenSize)
	}
	if c.HeadDim < 0 {
		return bad("head_dim must be positive, found %d", c.HeadDim)
	}
	if c.HeadDimension()%2 != 0 {
		return bad("head dimension %d must be even for rotary embeddings", c.HeadDimension())
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return bad("num_key_value_heads (%d) does not divide num_attention_heads (%d)",
			c.NumKeyValueHeads, c.NumAttentionHeads)
	}
	if c.RMSNormEps <= 0 {
		return bad("rms_norm_eps must be positive, found %g", c.RMSNormEps)
	}
	if c.RopeTheta <= 0 {
		return bad("rope_theta must be positive, found %g", c.RopeTheta)
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return bad("hidden_act %q is not supported (LLaMA uses \"silu\")", c.HiddenAct)
	}
	if c.AttentionBias || c.MLPBias {
		return bad("attention_bias and mlp_bias are not supported (LLaMA 3 has no biases)")
	}
	if rs := c.RopeScaling; rs != nil {
		switch rs.RopeType {
		case "", "default":
		case "llama3":
			if rs.Factor <= 0 || rs.LowFreqFactor <= 0 || rs.HighFreqFactor <= rs.LowFreqFactor ||
				rs.OriginalMaxPositionEmbeddings <= 0 {
				return bad("rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0; found %+v", *rs)
			}
		default:
			return bad("rope_scaling.rope_type %q is not supported (want \"llama3\", \"default\" or none)", rs.RopeType)
		}
	}
	for _, ids := range []struct {
		name string
		v    TokenIDs
	}{{"bos_token_id", c.BOSTokenID}, {"eos_token_id", c.EOSTokenID}, {"pad_token_id", c.PadTokenID}} {
		for _, id := range ids.v {
			if id < 0 || id >= c.VocabSize {
				return bad("%s %d is outside the vocabulary [0, %d)", ids.name, id, c.VocabSize)
			}
		}
	}
	return nil
}

// configBounds are upper limits far above any LLaMA-family model (Llama 3.1
// 405B: hidden 16384, ffn 53248, 126 layers, 128 heads, vocab 128256, context
// 131072). They exist so that a damaged or hostile config.json is an error
// naming the field, not a multi-terabyte allocation, an int overflow in a size
// product or a makeslice panic. They also keep every size product used below
// (vocab × hidden, layers × hidden × ffn, tokens × heads) inside int64.
var configBounds = []struct {
	name string
	max  int
	why  string
	get  func(*Config) int
}{
	{"hidden_size", 1 << 17, "8x Llama 3.1 405B", func(c *Config) int { return c.HiddenSize }},
	{"intermediate_size", 1 << 19, "8x Llama 3.1 405B", func(c *Config) int { return c.IntermediateSize }},
	{"num_hidden_layers", 1024, "8x Llama 3.1 405B", func(c *Config) int { return c.NumHiddenLayers }},
	{"num_attention_heads", 1024, "8x Llama 3.1 405B", func(c *Config) int { return c.NumAttentionHeads }},
	{"num_key_value_heads", 1024, "8x Llama 3.1 405B", func(c *Config) int { return c.NumKeyValueHeads }},
	{"head_dim", 1024, "8x the usual 128", func(c *Config) int { return c.HeadDim }},
	{"vocab_size", 1 << 22, "32x Llama 3's 128256", func(c *Config) int { return c.VocabSize }},
	{"max_position_embeddings", 1 << 24, "128x Llama 3.1's 131072", func(c *Config) int { return c.MaxPositionEmbeddings }},
	{"num_labels", 1 << 16, "a classification head", func(c *Config) int { return c.NumLabels }},
}

// UnmarshalJSON lets older configs spell rope_scaling's type as "type".
func (r *RopeScaling) UnmarshalJSON(b []byte) error {
	type plain RopeScaling
	var aux struct {
		plain
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = RopeScaling(aux.plain)
	if r.RopeType == "" {
		r.RopeType = aux.Type
	}
	return nil
}

// Marshal renders the config as Hugging Face writes it: known fields merged with
// Extra, keys sorted, two-space indent.
func (c *Config) Marshal() ([]byte, error) {
	type plain Config
	known, err := json.Marshal((*plain)(c))
	if err != nil {
		return nil, err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(known, &merged); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		if _, ok := merged[k]; !ok {
			merged[k] = v
		}
	}
	if c.HeadDim == 0 {
		merged["head_dim"] = json.RawMessage(fmt.Sprint(c.HeadDimension()))
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	sb.WriteString("{\n")
	for i, k := range keys {
		var v bytes.Buffer
		if err := json.Indent(&v, merged[k], "  ", "  "); err != nil {
			return nil, err
		}
		fmt.Fprintf(&sb, "  %q: %s", k, v.String())
		if i < len(keys)-1 {
			sb.WriteString(",")
		}
		sb.WriteString("\n")
	}
	sb.WriteString("}\n")
	return []byte(sb.String()), nil
}
