package datasets

import (
	"fmt"

	"github.com/posttrain/posttrain/tokenizer"
)

// Format names a dataset layout, with TRL's field names.
type Format string

const (
	FormatAuto             Format = "auto"              // detect from the first row's fields
	FormatMessages         Format = "messages"          // {"messages": [{role, content}, ...]}
	FormatPromptCompletion Format = "prompt_completion" // {"prompt", "completion"}: plain or conversational
	FormatText             Format = "text"              // {"text"}: language modelling
	FormatPreference       Format = "preference"        // {"prompt"?, "chosen", "rejected", "margin"?}
	FormatPrompt           Format = "prompt"            // {"prompt"}: prompt-only, for PPO/GRPO rollouts
)

// ParseFormat accepts the names a recipe may use; "" means auto.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "", FormatAuto:
		return FormatAuto, nil
	case FormatMessages, FormatPromptCompletion, FormatText, FormatPreference, FormatPrompt:
		return f, nil
	}
	return "", fmt.Errorf("datasets: unknown format %q (want auto, messages, prompt_completion, text, preference or prompt)", s)
}

// Message is one conversation turn, as in the "messages" field of a chat dataset; it is the
// tokenizer's type so conversations go to the chat template without copying.
type Message = tokenizer.Message

// Content is a prompt, completion, chosen or rejected field: plain text, or a conversation
// (TRL's "conversational" form) when Messages is non-nil.
type Content struct {
	Text     string
	Messages []Message
}

// Conversational reports whether the field held a list of messages.
func (c Content) Conversational() bool { return c.Messages != nil }

// Row is one validated record. Which fields are set depends on Format:
//
//	messages:          Messages
//	prompt_completion: Prompt, Completion (both plain or both conversational)
//	text:              Text
//	preference:        Prompt (explicit, or the shared prefix of an implicit-prompt pair), Chosen, Rejected, Margin
//	prompt:            Prompt
type Row struct {
	Where      string // "file:line" (JSONL) or "file:row N" (Parquet), for error messages downstream
	Format     Format
	Messages   []Message
	Text       string
	Prompt     Content
	Completion Content
	Chosen     Content
	Rejected   Content
	Margin     float32 // reward-model margin (TRL's "margin" column)
	HasMargin  bool
}
