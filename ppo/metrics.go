package ppo

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/train"
)

func logWriter(opts Options) io.Writer {
	if opts.Log == nil {
		return io.Discard
	}
	return opts.Log
}

// metricSums averages per-minibatch metrics over an iteration.
type metricSums struct {
	sum map[string]float64
	n   int
}

func (m *metricSums) add(vals map[string]float64) {
	if m.sum == nil {
		m.sum = map[string]float64{}
	}
	for k, v := range vals {
		m.sum[k] += v
	}
	m.n++
}

// means returns the averages; "skipped_steps" stays a count.
func (m *metricSums) means() map[string]float64 {
	out := maps.Clone(m.sum)
	for k := range out {
		if k != "skipped_steps" {
			out[k] /= float64(max(m.n, 1))
		}
	}
	return out
}

// minibatches shuffles rows 0..B−1 and cuts them into n nearly equal parts
// (TRL: a fresh permutation per PPO epoch).
func minibatches(B, n int, rng *train.RNG) [][]int {
	n = min(max(n, 1), B)
	perm := make([]int, B)
	for i := range perm {
		perm[i] = i
	}
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	out := make([][]int, 0, n)
	for k := range n {
		lo, hi := k*B/n, (k+1)*B/n
		out = append(out, slices.Clone(perm[lo:hi]))
	}
	return out
}

// whitenMasked is objective.Whiten followed by zeroing the padding, as TRL
// does for advantages and rewards.
func whitenMasked(x, mask []float64, shiftMean bool) ([]float64, error) {
	w := objective.Whiten(x, mask, shiftMean)
	if w == nil {
		return nil, fmt.Errorf("need at least two completion tokens in the batch")
	}
	for i, m := range mask {
		if m == 0 {
			w[i] = 0
		}
	}
	return w, nil
}

// rolloutMetrics are the batch's raw score and completion-length statistics.
func rolloutMetrics(rb *rolloutBatch) map[string]float64 {
	var tokens int
	for _, n := range rb.respLen {
		tokens += n
	}
	return map[string]float64{
		"score":           mean(rb.scores),
		"response_length": float64(tokens) / float64(rb.B),
		// TRL's objective/entropy: the sampled tokens' summed −log π per sequence.
		"objective/entropy": -perSequenceSums(rb.oldLogp, rb),
	}
}

// perSequenceSums is the mean over rows of each row's masked sum of x [B·R].
func perSequenceSums(x []float64, rb *rolloutBatch) float64 {
	var s float64
	for i, v := range x {
		s += v * rb.mask[i]
	}
	return s / float64(rb.B)
}

// explainedVariance is 1 − Var(returns − values)/Var(returns) over masked
// tokens: 1 for a perfect critic, ≤ 0 for one no better than a constant.
func explainedVariance(values, returns, mask []float64) float64 {
	var n, mr, md float64
	for i, m := range mask {
		n += m
		mr += m * returns[i]
		md += m * (returns[i] - values[i])
	}
	if n < 2 {
		return math.NaN()
	}
	mr, md = mr/n, md/n
	var vr, vd float64
	for i, m := range mask {
		r, d := returns[i]-mr, returns[i]-values[i]-md
		vr += m * r * r
		vd += m * d * d
	}
	if vr == 0 {
		return math.NaN()
	}
	return 1 - vd/vr
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(max(len(x), 1))
}
