// Package tokenizer implements the byte-level BPE tokenizer of Llama 3 family
// models from Hugging Face's tokenizer.json and tokenizer_config.json: encoding
// with or without special-token parsing, exact and streaming decoding, and chat
// templates rendered from the model's own Jinja template.
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import "errors"

// ErrUnsupported reports a tokenizer.json that this package cannot reproduce
// exactly (another model type, normalizer, pre-tokenizer or option). Encoding it
// anyway would give wrong ids silently, so Load refuses it.
var ErrUnsupported = errors.New("tokenizer: unsupported tokenizer.json")

// Tokenizer is a loaded byte-level BPE tokenizer.
type Tokenizer struct {
	vocab        map[string]int32 // raw bytes of a token -> id (tokens of the BPE model)
	tokenBytes   [][]byte         // id -> raw bytes, added tokens included; nil for unused ids
	byteID       [256]int32       // id of each single-byte token
	merges       map[uint64]merge // pairKey(left, right) -> merge rule
	ignoreMerges bool             // a pre-token found whole in vocab is one token (tiktoken behaviour)

	added       map[string]int32 // added-token literal -> id
	specialTrie *literalTrie     // all added tokens, matched when EncodeOptions.Special
	textTrie    *literalTrie     // added tokens that are not special, always matched; nil if none
	cache       *pieceCache

	bos      int32   // -1 if the config names none
	eos      []int32 // tokenizer_config.json's eos_token first, then generation_config.json's
	pad      int32
	hasPad   bool
	specials map[string]string // bos_token, eos_token, ... as passed to the chat template

	chat  *chatTemplate // nil if the config has no chat_template
	files map[string][]byte
}

// EncodeOptions selects how Encode treats its text.
type EncodeOptions struct {
	// Special parses special-token literals such as "<|eot_id|>" into their ids.
	// Leave it false for user content, where such literals are ordinary text.
	Special bool
	// BOS puts the begin-of-text id first (if the tokenizer has one).
	BOS bool
}

// VocabSize returns the number of ids, added tokens included (one more than the
// largest id).
func (t *Tokenizer) VocabSize() int { return len(t.tokenBytes) }

// BOS returns the begin-of-text id, or -1 if tokenizer_config.json names none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the ids that end generation: tokenizer_config.json's eos_token
// (for Llama 3 Instruct <|eot_id|>), then those of generation_config.json's
// eos_token_id that are not already listed. The caller must not modify it.
func (t *Tokenizer) EOS() []int32 { return t.eos }

// Pad returns the padding id and whether tokenizer_config.json names one.
func (t *Tokenizer) Pad() (int32, bool) { return t.pad, t.hasPad }

// TokenID returns the id of a token given as its literal text: an added token
// such as "<|eot_id|>", or the decoded text of a vocabulary token such as " the".
func (t *Tokenizer) TokenID(literal string) (int32, bool) {
	if id, ok := t.added[literal]; ok {
		return id, true
	}
	id, ok := t.vocab[literal]
	return id, ok
}

// Files returns the raw bytes of the files Load read, by file name
// (tokenizer.json, tokenizer_config.json, and special_tokens_map.json,
// generation_config.json and chat_template.jinja where present), so that a
// checkpoint can be written with the tokenizer it was trained with. The caller
// must not modify the bytes.
func (t *Tokenizer) Files() map[string][]byte { return t.files }
