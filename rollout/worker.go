package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sourcegraph/conc/panics"
)

// ErrWorkerPanic marks a batch attempt that ended in a panic.
var ErrWorkerPanic = errors.New("rollout: worker panicked")

// WorkerError is one failed attempt at a batch: which worker, which prompts, why.
type WorkerError struct {
	Worker    int
	PromptIDs []int
	Err       error
	// Stack is the panicking goroutine's stack; nil for a returned error.
	Stack []byte
}

func (e *WorkerError) Error() string {
	return fmt.Sprintf("rollout: worker %d failed on prompts %v: %v", e.Worker, e.PromptIDs, e.Err)
}

func (e *WorkerError) Unwrap() error { return e.Err }

// runState is what one Run's workers share.
type runState struct {
	queue <-chan *batch
	// retries[w] holds batches handed to worker w after another worker failed
	// them; buffered for every batch so handing one on never blocks.
	retries  []chan *batch
	outcomes chan outcome // buffered for every batch: workers never block on it
	retried  atomic.Int64
}

// work is worker w's loop: retries first, then the shared queue, until ctx
// ends (Run cancels it once every batch has an outcome).
func (p *Pool) work(ctx context.Context, w int, run *runState, st *WorkerStats) {
	queue := run.queue
	for {
		select {
		case b := <-run.retries[w]:
			p.handle(ctx, w, b, run, st)
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return
		case b := <-run.retries[w]:
			p.handle(ctx, w, b, run, st)
		case b, ok := <-queue:
			if !ok {
				queue = nil // drained: wait for retries or the end
				continue
			}
			p.handle(ctx, w, b, run, st)
		}
	}
}

// handle runs one attempt at b and either reports its outcome or, after a
// first failure, passes it to the next worker.
func (p *Pool) handle(ctx context.Context, w int, b *batch, run *runState, st *WorkerStats) {
	samples, err := p.attempt(ctx, w, b)
	if err == nil {
		st.Batches++
		st.Samples += len(samples)
		for _, s := range samples {
			st.Tokens += len(s.Tokens)
		}
		run.outcomes <- outcome{b: b, samples: samples}
		return
	}
	if ctx.Err() != nil {
		return // Run is returning ctx.Err(); the batch needs no outcome
	}
	st.Failures++
	if b.failedBy < 0 {
		b.failedBy, b.firstErr = w, err
		run.retried.Add(1)
		run.retries[(w+1)%len(run.retries)] <- b
		return
	}
	run.outcomes <- outcome{b: b, err: errors.Join(b.firstErr, err)}
}

// attempt generates and scores b on worker w, turning a panic into a
// WorkerError.
func (p *Pool) attempt(ctx context.Context, w int, b *batch) (samples []Sample, err error) {
	var c panics.Catcher
	c.Try(func() { samples, err = p.generateAndScore(ctx, w, b) })
	if r := c.Recovered(); r != nil {
		return nil, &WorkerError{Worker: w, PromptIDs: promptIDs(b.prompts),
			Err: fmt.Errorf("%w: %v", ErrWorkerPanic, r.Value), Stack: r.Stack}
	}
	if err != nil {
		return nil, &WorkerError{Worker: w, PromptIDs: promptIDs(b.prompts), Err: err}
	}
	return samples, nil
}

func (p *Pool) generateAndScore(ctx context.Context, w int, b *batch) ([]Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tokens := make([][]int32, len(b.prompts))
	for i, pr := range b.prompts {
		tokens[i] = pr.Tokens
	}
	opts := p.cfg.Generate
	opts.Seed = b.seed
	comps, err := p.gens[w].Generate(ctx, tokens, opts)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if len(comps) != len(b.prompts) {
		return nil, fmt.Errorf("generate: got %d completions for %d prompts", len(comps), len(b.prompts))
	}
	samples := make([]Sample, len(b.prompts))
	for i, pr := range b.prompts {
		samples[i] = Sample{Prompt: pr, Completion: comps[i], Worker: w}
	}
	if p.cfg.Scorer == nil {
		return samples, nil
	}
	scores, err := p.cfg.Scorer.Score(ctx, samples)
	return samples, applyScores(samples, scores, err)
}

// applyScores stores scores in samples. A SampleErrors fails single samples;
// any other error fails them all but keeps their completions. It returns only
// errors that should fail the attempt (cancellation, a malformed answer).
func applyScores(samples []Sample, scores []float64, err error) error {
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("score: %w", err)
	}
	var perSample SampleErrors
	if errors.As(err, &perSample) && len(perSample) == len(samples) {
		err = nil
	} else {
		perSample = nil
	}
	if err == nil && len(scores) != len(samples) {
		return fmt.Errorf("score: got %d scores for %d samples", len(scores), len(samples))
	}
	for i := range samples {
		sErr := err
		if perSample != nil {
			sErr = perSample[i]
		}
		if sErr != nil {
			samples[i].Err = fmt.Errorf("rollout: score prompt %d: %w", samples[i].Prompt.ID, sErr)
			continue
		}
		samples[i].Score = scores[i]
	}
	return nil
}

func promptIDs(ps []Prompt) []int {
	ids := make([]int, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// batchSeed mixes the base seed with the batch's prompt ids (splitmix64 steps).
func batchSeed(base uint64, prompts []Prompt) uint64 {
	h := splitmix64(base)
	for _, p := range prompts {
		h = splitmix64(h ^ uint64(p.ID))
	}
	return h
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
