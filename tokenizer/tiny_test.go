package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// tinyTokenizerJSON builds a small but complete Llama 3 style tokenizer.json:
// the 256 byte tokens, a few merges, and the added tokens <s> (special),
// </s> (special) and <tool> (not special). edit may change the decoded JSON
// before it is written, to make unsupported variants.
func tinyTokenizerJSON(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = b
	}
	merges := [][2]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}}
	for _, m := range merges {
		vocab[m[0]+m[1]] = len(vocab)
	}
	mergeStrings := make([]string, len(merges))
	for i, m := range merges {
		mergeStrings[i] = m[0] + " " + m[1]
	}
	added := func(id int, content string, special bool) map[string]any {
		return map[string]any{"id": id, "content": content, "special": special,
			"single_word": false, "lstrip": false, "rstrip": false, "normalized": false}
	}
	doc := map[string]any{
		"version":      "1.0",
		"added_tokens": []any{added(300, "<s>", true), added(301, "</s>", true), added(302, "<tool>", false)},
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3SplitPattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
			"vocab": vocab, "merges": mergeStrings},
	}
	if edit != nil {
		edit(doc)
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	return data
}

// writeTinyTokenizer writes tokenizer.json and tokenizer_config.json to a
// temporary directory and returns it.
func writeTinyTokenizer(t *testing.T, tokenizerJSON []byte, config map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), tokenizerJSON, 0o644))
	data, err := json.Marshal(config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), data, 0o644))
	return dir
}
