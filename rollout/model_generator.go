package rollout

import (
	"context"
	"fmt"
	"slices"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
)

// ModelGenerator generates with an in-process model and its KV cache. Like the
// model it is not safe for concurrent use; a Pool gets one per worker from
// ForkedModelGenerators.
type ModelGenerator struct {
	m *model.Model
}

// NewModelGenerator generates with m on m's backend.
func NewModelGenerator(m *model.Model) *ModelGenerator { return &ModelGenerator{m: m} }

// ForkedModelGenerators returns a Config.NewGenerator that gives every worker a
// fork of m on its own backend from newBackend (e.g. cpu.New): the forks share
// m's weights, so nothing is copied and a trainer's in-place updates reach
// every worker at the next Run.
func ForkedModelGenerators(m *model.Model, newBackend func() compute.Backend) func(worker int) (Generator, error) {
	return func(worker int) (Generator, error) {
		be := newBackend()
		if be == nil {
			return nil, fmt.Errorf("rollout: backend for worker %d is nil", worker)
		}
		return NewModelGenerator(m.Fork(be)), nil
	}
}

// Generate samples a completion for each prompt (one batched KV-cache pass),
// then recomputes the policy's log-probs of the completions with one forward
// pass over prompt+completion. ctx is checked between the two passes; the
// model's own loops do not watch it.
func (g *ModelGenerator) Generate(ctx context.Context, prompts [][]int32, opts GenerateOptions) ([]Completion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stops := opts.StopTokens
	if len(stops) == 0 {
		for _, id := range g.m.Config.EOSTokenID {
			stops = append(stops, int32(id))
		}
	}
	out, err := g.m.Generate(prompts, model.GenerateOptions{
		SamplingOptions: opts.SamplingOptions,
		MaxNewTokens:    opts.MaxNewTokens,
		Seed:            opts.Seed,
		StopTokens:      stops,
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logps, err := g.completionLogProbs(prompts, out)
	if err != nil {
		return nil, err
	}
	comps := make([]Completion, len(prompts))
	for b, toks := range out {
		stopped := len(toks) > 0 && slices.Contains(stops, toks[len(toks)-1])
		comps[b] = Completion{Tokens: toks, LogProbs: logps[b], Stopped: stopped}
	}
	return comps, nil
}

// completionLogProbs returns log π(c_j | prompt, c_<j) for every completion
// token: rows prompt+completion right-padded to T, labels only on the
// completion, one forward pass. Output.LogProbs is aligned with the labels, so
// completion token j of row b sits at b·T + len(prompt) + j.
func (g *ModelGenerator) completionLogProbs(prompts, completions [][]int32) ([][]float32, error) {
	B, T := len(prompts), 0
	for b := range prompts {
		T = max(T, len(prompts[b])+len(completions[b]))
	}
	logps := make([][]float32, B)
	if T == 0 || slices.IndexFunc(completions, func(c []int32) bool { return len(c) > 0 }) < 0 {
		for b := range logps {
			logps[b] = []float32{}
		}
		return logps, nil
	}
	ids := make([]int32, B*T)
	labels := make([]int32, B*T)
	mask := make([]int32, B*T)
	for b := range prompts {
		row := b * T
		n := copy(ids[row:], prompts[b])
		copy(ids[row+n:], completions[b])
		for t := range T {
			labels[row+t] = compute.IgnoreIndex
			if t < n+len(completions[b]) {
				mask[row+t] = 1
				if t >= n {
					labels[row+t] = ids[row+t]
				}
			}
		}
	}
	res, err := g.m.Forward(&model.Batch{B: B, T: T, IDs: ids, Labels: labels, AttentionMask: mask})
	if err != nil {
		return nil, fmt.Errorf("recompute log-probs: %w", err)
	}
	for b := range prompts {
		at := b*T + len(prompts[b])
		logps[b] = slices.Clone(res.LogProbs[at : at+len(completions[b])])
	}
	return logps, nil
}
