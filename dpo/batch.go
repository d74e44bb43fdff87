package dpo

import (
	"fmt"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/model"
)

// Pair is one tokenised preference pair: the completions follow the prompt
// directly (no BOS is added; the first completion token is predicted from the
// last prompt token).
type Pair struct {
	Prompt, Chosen, Rejected []int32
}

// PairFromExample converts a tokenised preference example.
func PairFromExample(ex datasets.PreferenceExample) Pair {
	return Pair{Prompt: ex.Prompt, Chosen: ex.Chosen, Rejected: ex.Rejected}
}

func (p Pair) check(i int) error {
	switch {
	case len(p.Prompt) == 0:
		return fmt.Errorf("dpo: pair %d: prompt is empty; the first completion token needs a prompt token to be predicted from", i)
	case len(p.Chosen) == 0:
		return fmt.Errorf("dpo: pair %d: chosen completion is empty", i)
	case len(p.Rejected) == 0:
		return fmt.Errorf("dpo: pair %d: rejected completion is empty", i)
	}
	return nil
}

// completionRow is prompt+completion with only the completion labelled.
func completionRow(prompt, completion []int32) datasets.Sequence {
	ids := make([]int32, 0, len(prompt)+len(completion))
	ids = append(append(ids, prompt...), completion...)
	labels := make([]int32, len(ids))
	for t := range labels {
		labels[t] = datasets.IgnoreIndex
		if t >= len(prompt) {
			labels[t] = ids[t]
		}
	}
	return datasets.Single(datasets.Example{IDs: ids, Labels: labels})
}

// concatenated builds TRL's concatenated batch of 2P rows for P pairs: row i is
// pair i's prompt+chosen, row P+i its prompt+rejected, right-padded to the
// longest row. Chosen and rejected go through the model in one forward pass.
func concatenated(pairs []Pair, padID int32) (*model.Batch, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("dpo: empty batch of pairs")
	}
	rows := make([]datasets.Sequence, 0, 2*len(pairs))
	for i, p := range pairs {
		if err := p.check(i); err != nil {
			return nil, err
		}
		rows = append(rows, completionRow(p.Prompt, p.Chosen))
	}
	for _, p := range pairs {
		rows = append(rows, completionRow(p.Prompt, p.Rejected))
	}
	b, err := datasets.Collate(rows, 0, padID)
	if err != nil {
		return nil, err
	}
	return &model.Batch{B: b.B, T: b.T, IDs: b.IDs, Labels: b.Labels, PositionIDs: b.PositionIDs, DocIDs: b.DocIDs}, nil
}

// rowStats are per-row sums over the completion tokens of a concatenated batch
// of 2P rows (chosen rows first).
type rowStats struct {
	logp      []float64 // [2P] Σ log p(token | prefix)
	tokens    []int     // [2P] completion length
	logitMean []float64 // [2P] Σ over tokens of the vocabulary-mean logit (nil when not asked)
}

// sumRows adds per-label values [B·T] into per-row sums over labelled positions.
func sumRows(b *model.Batch, perLabel []float32) []float64 {
	out := make([]float64, b.B)
	for r := range b.B {
		for t := range b.T {
			n := r*b.T + t
			if b.Labels[n] != datasets.IgnoreIndex {
				out[r] += float64(perLabel[n])
			}
		}
	}
	return out
}

func countRows(b *model.Batch) []int {
	out := make([]int, b.B)
	for n, l := range b.Labels {
		if l != datasets.IgnoreIndex {
			out[n/b.T]++
		}
	}
	return out
}

// forwardRows runs m on b and sums log-probs (and, with logits, the mean
// logits) per row. The activations stay in m for a following Backward.
func forwardRows(m *model.Model, b *model.Batch, logits bool) (rowStats, error) {
	out, err := m.Forward(b)
	if err != nil {
		return rowStats{}, err
	}
	st := rowStats{logp: sumRows(b, out.LogProbs), tokens: countRows(b)}
	if logits {
		ml, err := m.MeanLogits()
		if err != nil {
			return rowStats{}, err
		}
		st.logitMean = sumRows(b, ml)
	}
	return st, nil
}

// rowGradient spreads per-row coefficients [B] onto every labelled position,
// the dlogp [B·T] that model.Backward takes: the loss depends on a row's
// tokens only through their summed log-prob.
func rowGradient(b *model.Batch, perRow []float64) []float32 {
	d := make([]float32, b.B*b.T)
	for n, l := range b.Labels {
		if l != datasets.IgnoreIndex {
			d[n] = float32(perRow[n/b.T])
		}
	}
	return d
}

// PairLogps are the completion log-probs of one pair: the sum over the
// completion's tokens of log p(token | prompt, earlier tokens), and its mean.
type PairLogps struct {
	ChosenLogp       float64 `json:"chosen_logp"`
	RejectedLogp     float64 `json:"rejected_logp"`
	ChosenLogpMean   float64 `json:"chosen_logp_mean"`
	RejectedLogpMean float64 `json:"rejected_logp_mean"`
}

// LogProbs scores each pair's completions under m, batchSize pairs (2·batchSize
// rows) per forward pass; batchSize ≤ 0 means all at once.
func LogProbs(m *model.Model, pairs []Pair, padID int32, batchSize int) ([]PairLogps, error) {
	if batchSize <= 0 {
		batchSize = max(len(pairs), 1)
	}
	out := make([]PairLogps, 0, len(pairs))
	for lo := 0; lo < len(pairs); lo += batchSize {
		chunk := pairs[lo:min(lo+batchSize, len(pairs))]
		b, err := concatenated(chunk, padID)
		if err != nil {
			return nil, err
		}
		st, err := forwardRows(m, b, false)
		if err != nil {
			return nil, err
		}
		P := len(chunk)
		for i := range P {
			c, r := st.logp[i], st.logp[P+i]
			out = append(out, PairLogps{ChosenLogp: c, RejectedLogp: r,
				ChosenLogpMean: c / float64(st.tokens[i]), RejectedLogpMean: r / float64(st.tokens[P+i])})
		}
	}
	return out, nil
}
