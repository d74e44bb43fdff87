package datasets

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// PreferenceOptions configures EncodePreference.
type PreferenceOptions struct {
	// MaxLength drops pairs whose prompt plus longer completion exceeds it (TRL's reward trainer
	// drops, not truncates, them); 0: no limit. Drops are counted in Report.Dropped.
	MaxLength   int
	SkipBadRows bool
}

// PreferenceExample is one tokenized (prompt, chosen, rejected) triple. Prompt starts with
// BOS (written by the chat template, or prepended for plain text); Chosen and Rejected end with
// an EOS id (the template's end-of-turn, or an appended EOS for plain text).
type PreferenceExample struct {
	Prompt, Chosen, Rejected []int32
	Margin                   float32
	HasMargin                bool
}

// Sequences returns prompt+chosen and prompt+rejected as examples whose labels are the
// completion tokens: what DPO sums log-probs over and a reward model reads to its last token.
func (p PreferenceExample) Sequences() (chosen, rejected Example) {
	return completionExample(p.Prompt, p.Chosen), completionExample(p.Prompt, p.Rejected)
}

func completionExample(prompt, completion []int32) Example {
	ids := slices.Concat(prompt, completion)
	labels := slices.Clone(ids)
	for t := range prompt {
		labels[t] = IgnoreIndex
	}
	labels[0] = IgnoreIndex
	return Example{IDs: ids, Labels: labels}
}

// EncodePreference tokenizes preference rows. Prompt and completions are tokenized
// separately, as TRL does, so the prompt ids are shared by both sequences of the pair.
func EncodePreference(rows []Row, tok Tokenizer, opts PreferenceOptions) ([]PreferenceExample, Report, error) {
	var report Report
	if opts.MaxLength < 0 {
		return nil, report, fmt.Errorf("datasets: max_length %d is negative", opts.MaxLength)
	}
	eos, err := eosOf(tok)
	if err != nil {
		return nil, report, err
	}
	examples := make([]PreferenceExample, 0, len(rows))
	for _, row := range rows {
		ex, err := encodePreferenceRow(row, tok, eos)
		if err != nil {
			if opts.SkipBadRows && errors.Is(err, ErrBadRow) {
				report.skip(err)
				continue
			}
			return nil, report, err
		}
		if opts.MaxLength > 0 && len(ex.Prompt)+max(len(ex.Chosen), len(ex.Rejected)) > opts.MaxLength {
			report.Dropped++
			continue
		}
		examples = append(examples, ex)
	}
	report.Rows = len(examples)
	return examples, report, nil
}

func encodePreferenceRow(row Row, tok Tokenizer, eos int32) (PreferenceExample, error) {
	ex := PreferenceExample{Margin: row.Margin, HasMargin: row.HasMargin}
	if row.Format != FormatPreference {
		return ex, rowErrorf(row.Where, "", "is a %s row; preference training needs chosen and rejected", row.Format)
	}
	if !row.Chosen.Conversational() {
		prompt, _ := encodePlain(tok, row.Prompt.Text)
		chosen, _ := encodePlain(tok, row.Chosen.Text)
		rejected, _ := encodePlain(tok, row.Rejected.Text)
		ex.Prompt = withBOS(tok, prompt)
		ex.Chosen, ex.Rejected = append(chosen, eos), append(rejected, eos)
		return ex, nil
	}
	if len(row.Prompt.Messages) == 0 {
		return ex, rowErrorf(row.Where, "chosen", "shares no leading messages with \"rejected\"; a conversational pair needs a prompt")
	}
	promptText, err := render(tok, row.Prompt.Messages, true, row.Where, "prompt")
	if err != nil {
		return ex, err
	}
	ex.Prompt, _ = encodeRendered(tok, promptText)
	if ex.Chosen, err = renderedCompletion(tok, row.Prompt.Messages, promptText, row.Chosen.Messages, row.Where, "chosen"); err != nil {
		return ex, err
	}
	if ex.Rejected, err = renderedCompletion(tok, row.Prompt.Messages, promptText, row.Rejected.Messages, row.Where, "rejected"); err != nil {
		return ex, err
	}
	return ex, nil
}

// renderedCompletion tokenizes the text prompt+completion adds after the rendered prompt
// (with its generation prompt), ending in one EOS.
func renderedCompletion(tok Tokenizer, prompt []Message, promptText string, completion []Message, where, field string) ([]int32, error) {
	full, err := render(tok, slices.Concat(prompt, completion), false, where, field)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(full, promptText) {
		return nil, rowErrorf(where, field, "does not continue the prompt: the chat template's rendering of the prompt "+
			"with a generation prompt is not a prefix of prompt+%s (does it start with an assistant turn?)", field)
	}
	ids, _ := encodeRendered(tok, full[len(promptText):])
	if !endsWithEOS(tok, ids) {
		ids = append(ids, tok.EOS()[0])
	}
	return ids, nil
}
