package tasks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// CharTokenizerVocabSize is the vocabulary of the built-in character tokenizer:
// 256 byte tokens and 8 special tokens.
const CharTokenizerVocabSize = 264

// Special tokens of the character tokenizer, with Llama 3's names so chat
// templates and stop tokens work as they do for real checkpoints.
const (
	BOSToken = "<|begin_of_text|>"
	EOSToken = "<|end_of_text|>"
	EOTToken = "<|eot_id|>"
	PadToken = "<|finetune_right_pad_id|>"
)

var charSpecials = []string{BOSToken, EOSToken, "<|start_header_id|>", "<|end_header_id|>", EOTToken,
	PadToken, "<|reserved_special_token_0|>", "<|reserved_special_token_1|>"}

// llama3ChatTemplate is the Llama 3 Instruct chat template.
const llama3ChatTemplate = "{% set loop_messages = messages %}{% for message in loop_messages %}" +
	"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
	"{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

// bytesToUnicode is GPT-2's reversible map from bytes to printable runes that
// byte-level BPE vocabularies are written in.
func bytesToUnicode() [256]rune {
	var out [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// CharTokenizerFiles returns tokenizer.json and tokenizer_config.json for a
// byte-level BPE tokenizer without merges (one token per byte) that uses Llama
// 3's pre-tokenizer, special tokens and chat template. It needs no download,
// loads in Hugging Face tokenizers as well as here, and keeps the demo's
// vocabulary (and so its model) tiny.
func CharTokenizerFiles() (map[string][]byte, error) {
	b2u := bytesToUnicode()
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(b2u[b])] = b
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	decoder := map[string]any{}
	for i, s := range charSpecials {
		addedTokens = append(addedTokens, added{ID: 256 + i, Content: s, Special: true})
		decoder[fmt.Sprint(256+i)] = map[string]any{"content": s, "lstrip": false, "normalized": false,
			"rstrip": false, "single_word": false, "special": true}
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": addedTokens, "normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
				"behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
			"vocab": vocab, "merges": []string{}},
	}
	cfg := map[string]any{
		"added_tokens_decoder": decoder, "bos_token": BOSToken, "eos_token": EOTToken, "pad_token": PadToken,
		"chat_template": llama3ChatTemplate, "clean_up_tokenization_spaces": false,
		"model_input_names": []string{"input_ids", "attention_mask"}, "model_max_length": 512,
		"tokenizer_class": "PreTrainedTokenizerFast",
	}
	tj, err := json.MarshalIndent(tok, "", " ")
	if err != nil {
		return nil, err
	}
	cj, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"tokenizer.json": tj, "tokenizer_config.json": cj}, nil
}

// WriteCharTokenizer writes the character tokenizer's files into dir.
func WriteCharTokenizer(dir string) error {
	files, err := CharTokenizerFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
