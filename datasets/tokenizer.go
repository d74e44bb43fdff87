package datasets

import (
	"fmt"
	"slices"

	"github.com/posttrain/posttrain/tokenizer"
)

// Tokenizer is what encoding needs from a tokenizer; *tokenizer.Tokenizer implements it.
type Tokenizer interface {
	// EncodeWithOffsets returns ids and, for each, its byte span [start, end) in text.
	EncodeWithOffsets(text string, opts tokenizer.EncodeOptions) (ids []int32, offsets [][2]int)
	// ApplyChatTemplate renders a conversation with the model's chat template.
	ApplyChatTemplate(messages []Message, addGenerationPrompt bool) (string, error)
	BOS() int32   // negative when the tokenizer has none
	EOS() []int32 // the first is appended to plain-text completions
}

var _ Tokenizer = (*tokenizer.Tokenizer)(nil)

// IgnoreIndex marks a label that carries no loss (PyTorch's and Hugging Face's -100).
const IgnoreIndex int32 = -100

// eosOf returns the id appended after plain-text completions.
func eosOf(tok Tokenizer) (int32, error) {
	eos := tok.EOS()
	if len(eos) == 0 {
		return 0, fmt.Errorf("datasets: the tokenizer has no EOS token; completions cannot be terminated " +
			"(set eos_token in tokenizer_config.json)")
	}
	return eos[0], nil
}

// endsWithEOS reports whether ids already end with one of the tokenizer's EOS ids (a chat
// template's end-of-turn), so a second one is not appended.
func endsWithEOS(tok Tokenizer, ids []int32) bool {
	return len(ids) > 0 && slices.Contains(tok.EOS(), ids[len(ids)-1])
}

// encodePlain tokenizes user text in safe mode: special-token literals inside it stay text.
func encodePlain(tok Tokenizer, text string) ([]int32, [][2]int) {
	return tok.EncodeWithOffsets(text, tokenizer.EncodeOptions{})
}

// encodeRendered tokenizes a chat-template rendering: its special-token literals become ids,
// and the template has written the BOS itself.
func encodeRendered(tok Tokenizer, text string) ([]int32, [][2]int) {
	return tok.EncodeWithOffsets(text, tokenizer.EncodeOptions{Special: true})
}

// withBOS prepends the tokenizer's BOS when it has one.
func withBOS(tok Tokenizer, ids []int32) []int32 {
	if bos := tok.BOS(); bos >= 0 {
		return append([]int32{bos}, ids...)
	}
	return ids
}
