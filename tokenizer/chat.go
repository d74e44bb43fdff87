package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/posttrain/posttrain/tokenizer/internal/jinja"
)

// Message is one turn of a conversation, as chat templates expect it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ErrTemplateLimit marks a chat template stopped by a render limit.
var ErrTemplateLimit = jinja.ErrLimit

// ErrNoChatTemplate reports a tokenizer whose config has no chat template.
var ErrNoChatTemplate = errors.New("tokenizer: no chat_template in tokenizer_config.json or chat_template.jinja")

// chatTemplate is the model's Jinja template, compiled on first use so that a
// template this engine cannot parse does not stop plain tokenization.
//
// Templates render through github.com/ardanlabs/jinja, a pure-Go Jinja engine
// written for Hub chat templates (it is tested on Llama 3.2, Qwen 3, Mistral,
// Gemma and others, and has raise_exception, strftime_now, namespace and the
// Python string methods those templates call). nikolalohinski/gonja and
// flosch/pongo2 are general engines without those HF-specific globals, and
// pongo2 follows Django rather than Jinja syntax.
//
// The engine is vendored in tokenizer/internal/jinja with render limits (see
// its NOTICE): a template is data downloaded with a model, so it may loop,
// recurse or build huge strings. Every render runs under jinja.DefaultLimits:
// 10 s, 5M evaluation steps, 64 MiB of output, 512 MiB built in total and
// 64 nested macro calls, and a source of at most 1 MiB. A template that hits
// one fails with an error naming its file (ErrTemplateLimit).
type chatTemplate struct {
	origin string // file (and field) it came from, for error messages
	source string

	once     sync.Once
	compiled *jinja.Template
	err      error
}

// loadChatTemplate takes chat_template.jinja if present (the layout of recent
// transformers versions), else tokenizer_config.json's chat_template: a string,
// or a list of named templates of which "default" is used.
func (t *Tokenizer) loadChatTemplate(dir string, files map[string][]byte, field json.RawMessage) error {
	if data, ok := files[chatTemplateFile]; ok {
		t.chat = &chatTemplate{origin: filepath.Join(dir, chatTemplateFile), source: string(data)}
		return nil
	}
	if isJSONNull(field) {
		return nil
	}
	origin := filepath.Join(dir, tokenizerConfigFile) + " chat_template"
	var source string
	if err := json.Unmarshal(field, &source); err == nil {
		t.chat = &chatTemplate{origin: origin, source: source}
		return nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(field, &named); err != nil {
		return fmt.Errorf("%s: want a string or a list of {name, template}: %w", origin, err)
	}
	for _, n := range named {
		if n.Name == "default" {
			t.chat = &chatTemplate{origin: origin + " (default)", source: n.Template}
			return nil
		}
	}
	return fmt.Errorf("%s: a list of named templates without one named \"default\"", origin)
}

// ApplyChatTemplate renders messages with the model's chat template, as
// transformers' apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...) does: the template sees messages,
// add_generation_prompt and the special tokens (bos_token, eos_token, and
// pad_token/unk_token where set). Encode the result with Special set; the
// template writes the BOS itself. Errors from the template, raise_exception
// included, name the template's file.
func (t *Tokenizer) ApplyChatTemplate(messages []Message, addGenerationPrompt bool) (string, error) {
	if t.chat == nil {
		return "", ErrNoChatTemplate
	}
	c := t.chat
	c.once.Do(func() {
		c.compiled, c.err = jinja.Compile(c.source)
	})
	if c.err != nil {
		return "", fmt.Errorf("tokenizer: compile %s: %w", c.origin, c.err)
	}
	if !utf8.ValidString(c.source) {
		return "", fmt.Errorf("tokenizer: %s: the chat template is not valid UTF-8", c.origin)
	}
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	data := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": addGenerationPrompt,
	}
	for field, literal := range t.specials {
		data[field] = literal
	}
	out, err := c.compiled.Render(data)
	if errors.Is(err, jinja.ErrLimit) {
		return "", fmt.Errorf("tokenizer: render %s: %w (chat templates need far less: "+
			"is this template from a trusted model repository?)", c.origin, err)
	}
	if err != nil {
		return "", fmt.Errorf("tokenizer: render %s: %w", c.origin, err)
	}
	return out, nil
}
