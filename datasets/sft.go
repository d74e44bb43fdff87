package datasets

import (
	"errors"
	"fmt"
	"slices"
)

// LossOn says which tokens of an SFT example carry loss.
type LossOn string

const (
	LossOnCompletion LossOn = "completion" // completion / assistant tokens only (the default)
	LossOnAll        LossOn = "all"        // every token
)

// Truncation says which end of an over-long example survives (TRL's truncation_mode).
type Truncation string

const (
	KeepStart Truncation = "keep_start" // drop the end (the default)
	KeepEnd   Truncation = "keep_end"   // drop the beginning
)

// SFTOptions configures EncodeSFT.
type SFTOptions struct {
	MaxLength   int        // 0: no limit
	Truncation  Truncation // "" means KeepStart
	LossOn      LossOn     // "" means LossOnCompletion
	SkipBadRows bool       // count rows the template rejects instead of failing
}

// Example is one tokenized SFT sequence.
type Example struct {
	IDs    []int32 // [T]
	Labels []int32 // [T]: IDs[t], or IgnoreIndex where no loss is taken; Labels[0] is always IgnoreIndex
}

// LossTokens counts the positions that carry loss.
func (e Example) LossTokens() int {
	n := 0
	for _, l := range e.Labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// EncodeSFT tokenizes messages, prompt/completion and text rows and builds their labels.
func EncodeSFT(rows []Row, tok Tokenizer, opts SFTOptions) ([]Example, Report, error) {
	var report Report
	if err := opts.validate(); err != nil {
		return nil, report, err
	}
	eos, err := eosOf(tok)
	if err != nil {
		return nil, report, err
	}
	examples := make([]Example, 0, len(rows))
	for _, row := range rows {
		ex, err := encodeSFTRow(row, tok, eos, opts.LossOn == LossOnAll)
		if err != nil {
			if opts.SkipBadRows && errors.Is(err, ErrBadRow) {
				report.skip(err)
				continue
			}
			return nil, report, err
		}
		if opts.MaxLength > 0 && len(ex.IDs) > opts.MaxLength {
			ex = truncate(ex, opts.MaxLength, opts.Truncation)
			report.Truncated++
		}
		examples = append(examples, ex)
	}
	report.Rows = len(examples)
	return examples, report, nil
}

func (o *SFTOptions) validate() error {
	if o.Truncation == "" {
		o.Truncation = KeepStart
	}
	if o.LossOn == "" {
		o.LossOn = LossOnCompletion
	}
	switch {
	case o.MaxLength < 0:
		return fmt.Errorf("datasets: max_length %d is negative", o.MaxLength)
	case o.Truncation != KeepStart && o.Truncation != KeepEnd:
		return fmt.Errorf("datasets: truncation %q: want keep_start or keep_end", o.Truncation)
	case o.LossOn != LossOnCompletion && o.LossOn != LossOnAll:
		return fmt.Errorf("datasets: loss_on %q: want completion or all", o.LossOn)
	}
	return nil
}

func encodeSFTRow(row Row, tok Tokenizer, eos int32, lossOnAll bool) (Example, error) {
	var ex Example
	switch row.Format {
	case FormatMessages:
		text, spans, err := assistantSpans(tok, row.Messages, row.Where)
		if err != nil {
			return ex, err
		}
		if len(spans) == 0 && !lossOnAll {
			return ex, rowErrorf(row.Where, "messages", "has no assistant turn to learn from (hint: loss on all tokens trains on it)")
		}
		ids, offsets := encodeRendered(tok, text)
		ex = Example{IDs: ids, Labels: labelSpans(ids, offsets, spans)}
	case FormatPromptCompletion:
		if row.Prompt.Conversational() {
			text, span, err := completionSpan(tok, row.Prompt.Messages, row.Completion.Messages, row.Where)
			if err != nil {
				return ex, err
			}
			ids, offsets := encodeRendered(tok, text)
			ex = Example{IDs: ids, Labels: labelSpans(ids, offsets, []byteSpan{span})}
		} else {
			// Tokenized as one string so the prompt/completion boundary merges as it would in context;
			// BOS first and EOS last, as TRL does for plain text.
			text := row.Prompt.Text + row.Completion.Text
			ids, offsets := encodePlain(tok, text)
			labels := labelSpans(ids, offsets, []byteSpan{{len(row.Prompt.Text), len(text)}})
			ex = Example{IDs: withBOS(tok, append(ids, eos)), Labels: withBOS(tok, append(labels, eos))}
		}
	case FormatText:
		ids, _ := encodePlain(tok, row.Text)
		ids = withBOS(tok, append(ids, eos))
		ex = Example{IDs: ids, Labels: slices.Clone(ids)}
	default:
		return ex, rowErrorf(row.Where, "", "is a %s row; SFT needs messages, prompt/completion or text", row.Format)
	}
	if lossOnAll {
		ex.Labels = slices.Clone(ex.IDs)
	}
	if len(ex.Labels) > 0 {
		ex.Labels[0] = IgnoreIndex
	}
	return ex, nil
}

// truncate cuts an example to maxLen tokens from the end or the start.
func truncate(ex Example, maxLen int, side Truncation) Example {
	lo, hi := 0, maxLen
	if side == KeepEnd {
		lo, hi = len(ex.IDs)-maxLen, len(ex.IDs)
	}
	out := Example{IDs: slices.Clone(ex.IDs[lo:hi]), Labels: slices.Clone(ex.Labels[lo:hi])}
	out.Labels[0] = IgnoreIndex // its predecessor is gone
	return out
}
