package datasets

import (
	"fmt"
	"strings"
)

// The loss masks are derived from the rendered text, not from token counts: render the
// conversation once, find the byte spans that belong to the completion, tokenize the whole
// rendering with offsets, and label a token when it starts inside a span. A template that
// tokenizes differently in context (a merge across a turn boundary) therefore still gets the
// right mask, which counting the tokens of separately rendered pieces would not.

// byteSpan is a half-open byte range [start, end) of a rendered string.
type byteSpan struct{ start, end int }

// render applies the chat template, turning its failure (a role it rejects, a raise_exception)
// into an error on this row's field.
func render(tok Tokenizer, msgs []Message, addGenerationPrompt bool, where, field string) (string, error) {
	text, err := tok.ApplyChatTemplate(msgs, addGenerationPrompt)
	if err != nil {
		return "", rowErrorf(where, field, "is rejected by the chat template: %v", err)
	}
	return text, nil
}

// assistantSpans renders a conversation and locates each assistant turn: the text after
// render(msgs[:i], generation prompt) up to the end of render(msgs[:i+1]), i.e. the content and
// the end-of-turn token that follows it (what TRL's assistant_only_loss trains on).
func assistantSpans(tok Tokenizer, msgs []Message, where string) (string, []byteSpan, error) {
	full, err := render(tok, msgs, false, where, "messages")
	if err != nil {
		return "", nil, err
	}
	var spans []byteSpan
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		prefix, err := render(tok, msgs[:i], true, where, "messages")
		if err != nil {
			return "", nil, err
		}
		upto, err := render(tok, msgs[:i+1], false, where, "messages")
		if err != nil {
			return "", nil, err
		}
		start, ok := len(prefix), strings.HasPrefix(upto, prefix)
		if !ok && i == 0 {
			// A conversation that opens with the assistant: templates such as Llama 3's write the
			// BOS only before the first message, so render([], true) is the bare generation
			// prompt; the turn starts right after its first occurrence.
			if k := strings.Index(upto, prefix); k >= 0 && prefix != "" {
				start, ok = k+len(prefix), true
			}
		}
		if !ok || !strings.HasPrefix(full, upto) {
			return "", nil, rowErrorf(where, fmt.Sprintf("messages[%d]", i),
				"cannot be located for the loss mask: the chat template does not render the conversation "+
					"up to this assistant turn as a prefix of the whole (hint: train on all tokens, or use prompt/completion)")
		}
		spans = append(spans, byteSpan{start, len(upto)})
	}
	return full, spans, nil
}

// completionSpan renders prompt+completion and returns the span after the prompt rendered with
// its generation prompt: everything the completion adds (TRL's completion_only_loss).
func completionSpan(tok Tokenizer, prompt, completion []Message, where string) (string, byteSpan, error) {
	prefix, err := render(tok, prompt, true, where, "prompt")
	if err != nil {
		return "", byteSpan{}, err
	}
	full, err := render(tok, append(prompt[:len(prompt):len(prompt)], completion...), false, where, "completion")
	if err != nil {
		return "", byteSpan{}, err
	}
	if !strings.HasPrefix(full, prefix) {
		return "", byteSpan{}, rowErrorf(where, "completion",
			"cannot be located for the loss mask: the chat template's rendering of the prompt with a generation "+
				"prompt is not a prefix of prompt+completion (does the completion start with an assistant turn?)")
	}
	return full, byteSpan{len(prefix), len(full)}, nil
}

// labelSpans sets labels[t] = ids[t] for tokens starting inside one of spans, IgnoreIndex
// elsewhere. A token straddling the start of a span begins in the prompt and stays masked: the
// model is never asked to produce it after the generation prompt.
func labelSpans(ids []int32, offsets [][2]int, spans []byteSpan) []int32 {
	labels := make([]int32, len(ids))
	for t := range ids {
		labels[t] = IgnoreIndex
		for _, s := range spans {
			if offsets[t][0] >= s.start && offsets[t][0] < s.end {
				labels[t] = ids[t]
				break
			}
		}
	}
	return labels
}
