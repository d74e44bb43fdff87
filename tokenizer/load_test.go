package tokenizer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadLlama3(t *testing.T) {
	// Load time is measured by BenchmarkLoad, not asserted here.
	tok, err := Load(filepath.Join(fixtureDir(t), "llama3"))
	require.NoError(t, err)

	assert.Equal(t, 128256, tok.VocabSize())
	bos, ok := tok.TokenID("<|begin_of_text|>")
	require.True(t, ok)
	assert.Equal(t, bos, tok.BOS())
	eot, ok := tok.TokenID("<|eot_id|>")
	require.True(t, ok)
	assert.Equal(t, []int32{eot}, tok.EOS(), "tokenizer_config.json's eos_token is <|eot_id|>")
	_, hasPad := tok.Pad()
	assert.False(t, hasPad, "Llama 3 has no pad token")

	hello := tok.Encode("Hello", EncodeOptions{})
	require.Len(t, hello, 1)
	id, ok := tok.TokenID("Hello")
	require.True(t, ok)
	assert.Equal(t, hello[0], id, "TokenID of a vocabulary token takes its decoded text")

	files := tok.Files()
	assert.Contains(t, files, "tokenizer.json")
	assert.Contains(t, files, "tokenizer_config.json")
	assert.NotContains(t, files, "generation_config.json")
}

func TestLoadRejectsUnsupported(t *testing.T) {
	model := func(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }
	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"unigram model", func(d map[string]any) { model(d)["type"] = "Unigram" }, "model.type"},
		{"wordpiece model", func(d map[string]any) { model(d)["type"] = "WordPiece" }, "model.type"},
		{"byte fallback", func(d map[string]any) { model(d)["byte_fallback"] = true }, "byte_fallback"},
		{"dropout", func(d map[string]any) { model(d)["dropout"] = 0.1 }, "dropout"},
		{"normalizer", func(d map[string]any) { d["normalizer"] = map[string]any{"type": "NFC"} }, "normalizer"},
		{"gpt2 pre-tokenizer", func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
		}, "pre_tokenizer"},
		{"other split pattern", func(d map[string]any) {
			d["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\s+`}
		}, "pre_tokenizer"},
		{"metaspace decoder", func(d map[string]any) { d["decoder"] = map[string]any{"type": "Metaspace"} }, "decoder"},
		{"lstrip added token", func(d map[string]any) {
			d["added_tokens"].([]any)[0].(map[string]any)["lstrip"] = true
		}, "lstrip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, tc.edit), map[string]any{}))
			require.ErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "tokenizer.json")
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope"))
		assert.ErrorContains(t, err, "tokenizer.json")
	})
	t.Run("bos token not in vocabulary", func(t *testing.T) {
		_, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{"bos_token": "<|begin_of_text|>"}))
		assert.ErrorContains(t, err, "bos_token")
	})
	t.Run("merge of unknown tokens", func(t *testing.T) {
		_, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, func(d map[string]any) {
			d["model"].(map[string]any)["merges"] = []string{"x yz"}
		}), map[string]any{}))
		assert.ErrorContains(t, err, "model.merges[0]")
	})
	t.Run("truncated json", func(t *testing.T) {
		data := tinyTokenizerJSON(t, nil)
		_, err := Load(writeTinyTokenizer(t, data[:len(data)/2], map[string]any{}))
		assert.ErrorContains(t, err, "tokenizer.json")
	})
}

func TestLoadTinyTokenizer(t *testing.T) {
	pairMerges := func(d map[string]any) {
		d["model"].(map[string]any)["merges"] = [][2]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}}
	}
	for name, edit := range map[string]func(map[string]any){"string merges": nil, "pair merges": pairMerges} {
		t.Run(name, func(t *testing.T) {
			dir := writeTinyTokenizer(t, tinyTokenizerJSON(t, edit), map[string]any{
				"bos_token": map[string]any{"content": "<s>"}, "eos_token": "</s>", "pad_token": "</s>",
			})
			require.NoError(t, os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"eos_token_id": [301, 302]}`), 0o644))
			tok, err := Load(dir)
			require.NoError(t, err)

			assert.Equal(t, 303, tok.VocabSize())
			assert.Equal(t, int32(300), tok.BOS())
			assert.Equal(t, []int32{301, 302}, tok.EOS(), "config eos first, then generation_config's new ids")
			pad, ok := tok.Pad()
			assert.True(t, ok)
			assert.Equal(t, int32(301), pad)
			assert.Contains(t, tok.Files(), "generation_config.json")

			hello, _ := tok.TokenID("hello")
			w, _ := tok.TokenID(" w")
			// "<tool>" is not special: it is one token in both modes.
			assert.Equal(t, []int32{300, hello, 302, w, 'o', 'r', 'l', 'd', 301},
				tok.Encode("<s>hello<tool> world</s>", EncodeOptions{Special: true}))
			assert.Equal(t, []int32{300, '<', 's', '>', hello, 302, w, 'o', 'r', 'l', 'd', '<', '/', 's', '>'},
				tok.Encode("<s>hello<tool> world</s>", EncodeOptions{BOS: true}))
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(filepath.Join(fixtureDir(b), "llama3")); err != nil {
			b.Fatal(err)
		}
	}
}
