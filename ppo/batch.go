package ppo

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/rollout"
)

// rolloutBatch is one batch of scored rollouts laid out twice: as the model
// sees it (rows of prompt+completion, right-padded to T) and response-aligned
// ([B·R]) for the objective.
type rolloutBatch struct {
	B, T, R            int
	ids, labels, attn  []int32   // [B·T]; labels are the completion tokens, -100 elsewhere
	promptLen, respLen []int     // [B]
	mask               []float64 // [B·R] 1 on completion tokens
	oldLogp            []float64 // [B·R] the rollout policy's log-probs
	scores             []float64 // [B] reward-function or reward-model scores
	stopped            []bool    // [B] the completion ended with a stop token
}

// newRolloutBatch lays out samples; padID fills the padding (it is masked out).
func newRolloutBatch(samples []rollout.Sample, padID int32) (*rolloutBatch, error) {
	B := len(samples)
	if B == 0 {
		return nil, fmt.Errorf("ppo: rollout batch is empty")
	}
	rb := &rolloutBatch{B: B, promptLen: make([]int, B), respLen: make([]int, B),
		scores: make([]float64, B), stopped: make([]bool, B)}
	for b, s := range samples {
		if len(s.Prompt.Tokens) == 0 {
			return nil, fmt.Errorf("ppo: prompt %d is empty", s.Prompt.ID)
		}
		if len(s.LogProbs) != len(s.Tokens) {
			return nil, fmt.Errorf("ppo: prompt %d: %d log-probs for %d completion tokens", s.Prompt.ID, len(s.LogProbs), len(s.Tokens))
		}
		rb.promptLen[b], rb.respLen[b] = len(s.Prompt.Tokens), len(s.Tokens)
		rb.T = max(rb.T, len(s.Prompt.Tokens)+len(s.Tokens))
		rb.R = max(rb.R, len(s.Tokens))
		rb.scores[b], rb.stopped[b] = s.Score, s.Stopped
	}
	if rb.R == 0 {
		return nil, fmt.Errorf("ppo: every completion in the batch is empty (check the generation length)")
	}
	T, R := rb.T, rb.R
	rb.ids, rb.labels, rb.attn = make([]int32, B*T), make([]int32, B*T), make([]int32, B*T)
	rb.mask, rb.oldLogp = make([]float64, B*R), make([]float64, B*R)
	for b, s := range samples {
		row := rb.ids[b*T : (b+1)*T]
		P := copy(row, s.Prompt.Tokens)
		copy(row[P:], s.Tokens)
		for t := range T {
			rb.labels[b*T+t] = compute.IgnoreIndex
			switch {
			case t >= P+len(s.Tokens):
				row[t] = padID
			case t >= P:
				rb.labels[b*T+t] = row[t]
				rb.attn[b*T+t] = 1
			default:
				rb.attn[b*T+t] = 1
			}
		}
		for j, lp := range s.LogProbs {
			rb.mask[b*R+j] = 1
			rb.oldLogp[b*R+j] = float64(lp)
		}
	}
	return rb, nil
}

// modelBatch is the batch a policy forward pass scores (labels on completions).
func (rb *rolloutBatch) modelBatch() *model.Batch {
	return &model.Batch{B: rb.B, T: rb.T, IDs: rb.ids, Labels: rb.labels, AttentionMask: rb.attn}
}

// hiddenBatch is the same rows without labels, for the value model's trunk.
func (rb *rolloutBatch) hiddenBatch() *model.Batch {
	return &model.Batch{B: rb.B, T: rb.T, IDs: rb.ids, AttentionMask: rb.attn}
}

// gather picks the completion tokens' entries of a label-aligned [B·T] slice
// into a response-aligned [B·R] one (zeros on padding).
func (rb *rolloutBatch) gather(labelAligned []float32) []float64 {
	out := make([]float64, rb.B*rb.R)
	for b := range rb.B {
		at := b*rb.T + rb.promptLen[b]
		for j := range rb.respLen[b] {
			out[b*rb.R+j] = float64(labelAligned[at+j])
		}
	}
	return out
}

// scatter is gather's transpose: a response-aligned [B·R] gradient into the
// label-aligned [B·T] float32 layout model.Backward takes, times scale.
func (rb *rolloutBatch) scatter(respAligned []float64, scale float64) []float32 {
	out := make([]float32, rb.B*rb.T)
	for b := range rb.B {
		at := b*rb.T + rb.promptLen[b]
		for j := range rb.respLen[b] {
			out[at+j] = float32(scale * respAligned[b*rb.R+j])
		}
	}
	return out
}

// rows returns the sub-batch of the given rows, keeping T and R so
// response-aligned slices of the parent can be cut with rowsOf.
func (rb *rolloutBatch) rows(idx []int) *rolloutBatch {
	T, R := rb.T, rb.R
	sub := &rolloutBatch{B: len(idx), T: T, R: R}
	for _, b := range idx {
		sub.ids = append(sub.ids, rb.ids[b*T:(b+1)*T]...)
		sub.labels = append(sub.labels, rb.labels[b*T:(b+1)*T]...)
		sub.attn = append(sub.attn, rb.attn[b*T:(b+1)*T]...)
		sub.promptLen = append(sub.promptLen, rb.promptLen[b])
		sub.respLen = append(sub.respLen, rb.respLen[b])
		sub.scores = append(sub.scores, rb.scores[b])
		sub.stopped = append(sub.stopped, rb.stopped[b])
	}
	sub.mask = rowsOf(rb.mask, R, idx)
	sub.oldLogp = rowsOf(rb.oldLogp, R, idx)
	return sub
}

// rowsOf cuts rows idx out of a row-major [B·width] slice.
func rowsOf(x []float64, width int, idx []int) []float64 {
	out := make([]float64, 0, len(idx)*width)
	for _, b := range idx {
		out = append(out, x[b*width:(b+1)*width]...)
	}
	return out
}

// policyLogProbs runs m on the batch and returns the completion tokens'
// log-probs [B·R]; the activations stay for m.Backward.
func policyLogProbs(m *model.Model, rb *rolloutBatch) ([]float64, error) {
	out, err := m.Forward(rb.modelBatch())
	if err != nil {
		return nil, fmt.Errorf("policy forward: %w", err)
	}
	return rb.gather(out.LogProbs), nil
}

// maxEntropyLogits bounds the logits (B·T·V floats) materialised to measure
// the policy's entropy; larger batches skip the metric.
const maxEntropyLogits = 1 << 24

// tokenEntropy is the mean entropy (nats) of the policy's next-token
// distribution at the completion tokens, from full logits; ok is false when
// the batch is too large to materialise them.
func tokenEntropy(m *model.Model, rb *rolloutBatch) (float64, bool, error) {
	V := m.Config.VocabSize
	if rb.B*rb.T*V > maxEntropyLogits {
		return 0, false, nil
	}
	logits, err := m.Logits(rb.hiddenBatch()) // (B, T, V)
	if err != nil {
		return 0, false, fmt.Errorf("entropy: %w", err)
	}
	var sum float64
	var n int
	for b := range rb.B {
		for j := range rb.respLen[b] {
			// The logits at position P+j−1 predict completion token j.
			pos := b*rb.T + rb.promptLen[b] + j - 1
			sum += entropy(logits[pos*V : (pos+1)*V])
			n++
		}
	}
	return sum / float64(max(n, 1)), true, nil
}

// entropy of softmax(logits) in nats.
func entropy(logits []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var z, s float64
	for _, v := range logits {
		d := float64(v) - mx
		e := math.Exp(d)
		z += e
		s += e * d
	}
	return math.Log(z) - s/z
}
