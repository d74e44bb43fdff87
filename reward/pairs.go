package reward

import (
	"fmt"
	"slices"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/model"
)

// Pair is one tokenized preference pair as the reward model reads it: the
// full prompt+chosen and prompt+rejected sequences and the optional margin.
type Pair struct {
	Chosen, Rejected []int32
	Margin           float64
	HasMargin        bool
}

// PairsFrom turns encoded preference examples into pairs.
func PairsFrom(examples []datasets.PreferenceExample) []Pair {
	out := make([]Pair, len(examples))
	for i, e := range examples {
		out[i] = Pair{
			Chosen:    slices.Concat(e.Prompt, e.Chosen),
			Rejected:  slices.Concat(e.Prompt, e.Rejected),
			Margin:    float64(e.Margin),
			HasMargin: e.HasMargin,
		}
	}
	return out
}

// SequenceBatch right-pads sequences into one batch with an attention mask, so
// each row is scored at its own last token whatever the pad id is.
func SequenceBatch(seqs [][]int32, padID int32) (*model.Batch, error) {
	if len(seqs) == 0 {
		return nil, fmt.Errorf("reward: empty batch")
	}
	T := 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("reward: sequence %d of the batch is empty", i)
		}
		T = max(T, len(s))
	}
	B := len(seqs)
	b := &model.Batch{B: B, T: T, IDs: make([]int32, B*T), AttentionMask: make([]int32, B*T)}
	for r, s := range seqs {
		row := b.IDs[r*T : (r+1)*T]
		for t := range row {
			row[t] = padID
		}
		copy(row, s)
		for t := range s {
			b.AttentionMask[r*T+t] = 1
		}
	}
	return b, nil
}

// pairBatch lays N pairs out as one batch of 2N rows, chosen in rows 0..N-1 and
// rejected in rows N..2N-1 (TRL concatenates them the same way), and returns
// the margins [N] (nil when no pair carries one).
func pairBatch(pairs []Pair, padID int32) (*model.Batch, []float64, error) {
	seqs := make([][]int32, 0, 2*len(pairs))
	for _, p := range pairs {
		seqs = append(seqs, p.Chosen)
	}
	for _, p := range pairs {
		seqs = append(seqs, p.Rejected)
	}
	b, err := SequenceBatch(seqs, padID)
	if err != nil {
		return nil, nil, err
	}
	var margins []float64
	for i, p := range pairs {
		if p.HasMargin {
			if margins == nil {
				margins = make([]float64, len(pairs))
			}
			margins[i] = p.Margin
		}
	}
	return b, margins, nil
}

// PairRewards scores pairs in batches of batchSize pairs and returns the
// chosen and rejected rewards [N].
func (rm *Model) PairRewards(pairs []Pair, batchSize int) (chosen, rejected []float64, err error) {
	batchSize = max(batchSize, 1)
	for lo := 0; lo < len(pairs); lo += batchSize {
		part := pairs[lo:min(lo+batchSize, len(pairs))]
		b, _, err := pairBatch(part, rm.PadID)
		if err != nil {
			return nil, nil, err
		}
		r, err := rm.Rewards(b)
		if err != nil {
			return nil, nil, fmt.Errorf("reward: pairs %d..%d: %w", lo, lo+len(part)-1, err)
		}
		chosen = append(chosen, r[:len(part)]...)
		rejected = append(rejected, r[len(part):]...)
	}
	rm.last, rm.hidden = nil, nil
	return chosen, rejected, nil
}

// ScoreSequences returns one reward per sequence, in batches of batchSize.
func (rm *Model) ScoreSequences(seqs [][]int32, batchSize int) ([]float64, error) {
	batchSize = max(batchSize, 1)
	out := make([]float64, 0, len(seqs))
	for lo := 0; lo < len(seqs); lo += batchSize {
		b, err := SequenceBatch(seqs[lo:min(lo+batchSize, len(seqs))], rm.PadID)
		if err != nil {
			return nil, err
		}
		r, err := rm.Rewards(b)
		if err != nil {
			return nil, fmt.Errorf("reward: sequences %d..: %w", lo, err)
		}
		out = append(out, r...)
	}
	rm.last, rm.hidden = nil, nil
	return out, nil
}
