package datasets

import (
	"errors"
	"fmt"
)

// PromptOptions configures EncodePrompts.
type PromptOptions struct {
	MaxLength   int // prompts longer than this are dropped and counted; 0: no limit
	SkipBadRows bool
}

// EncodePrompts tokenizes the prompts that PPO/GRPO rollouts continue: conversational prompts
// end with the generation prompt, plain ones start with BOS. Rows of the prompt,
// prompt_completion and preference formats have prompts (completions are ignored).
func EncodePrompts(rows []Row, tok Tokenizer, opts PromptOptions) ([][]int32, Report, error) {
	var report Report
	if opts.MaxLength < 0 {
		return nil, report, fmt.Errorf("datasets: max_length %d is negative", opts.MaxLength)
	}
	prompts := make([][]int32, 0, len(rows))
	for _, row := range rows {
		ids, err := encodePromptRow(row, tok)
		if err != nil {
			if opts.SkipBadRows && errors.Is(err, ErrBadRow) {
				report.skip(err)
				continue
			}
			return nil, report, err
		}
		if opts.MaxLength > 0 && len(ids) > opts.MaxLength {
			report.Dropped++
			continue
		}
		prompts = append(prompts, ids)
	}
	report.Rows = len(prompts)
	return prompts, report, nil
}

func encodePromptRow(row Row, tok Tokenizer) ([]int32, error) {
	switch row.Format {
	case FormatPrompt, FormatPromptCompletion, FormatPreference:
	default:
		return nil, rowErrorf(row.Where, "prompt", "is missing: a %s row has no prompt to generate from", row.Format)
	}
	if !row.Prompt.Conversational() {
		ids, _ := encodePlain(tok, row.Prompt.Text)
		return withBOS(tok, ids), nil
	}
	if len(row.Prompt.Messages) == 0 {
		return nil, rowErrorf(row.Where, "prompt", "is an empty conversation")
	}
	text, err := render(tok, row.Prompt.Messages, true, row.Where, "prompt")
	if err != nil {
		return nil, err
	}
	ids, _ := encodeRendered(tok, text)
	return ids, nil
}
