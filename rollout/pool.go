package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
)

// ErrConfig marks a Pool configuration that cannot run.
var ErrConfig = errors.New("rollout: invalid pool config")

// Config configures a Pool.
type Config struct {
	// Workers is the number of batches generated at once (default 1).
	Workers int
	// QueueSize bounds the batches waiting for a free worker; while it is full
	// no more prompts are taken (default Workers).
	QueueSize int
	// BatchSize is the number of prompts a worker generates together (default 8).
	BatchSize int
	// NewGenerator builds worker w's generator, once, in NewPool. Each
	// generator is used by one worker only (ForkedModelGenerators gives every
	// worker a fork of one model that shares its weights).
	NewGenerator func(worker int) (Generator, error)
	// Scorer rates the samples; shared by all workers. Nil leaves scores 0.
	Scorer Scorer
	// Generate holds the sampling options; Generate.Seed is the base seed.
	Generate GenerateOptions
}

// Stats describe one Run.
type Stats struct {
	Prompts, Batches int
	// GeneratedTokens counts completion tokens of the returned samples.
	GeneratedTokens int
	Duration        time.Duration
	TokensPerSecond float64
	// Workers [Config.Workers] holds per-worker counts.
	Workers []WorkerStats
	// Retries counts batches that failed once and were run again.
	Retries int
	// Failed counts samples returned with Err.
	Failed int
	// MaxQueued is the most batches seen waiting in the queue (≤ QueueSize).
	MaxQueued int
}

// WorkerStats are one worker's counts in a Run.
type WorkerStats struct {
	Batches, Samples, Tokens int
	// Failures counts failed attempts (errors and panics) on this worker.
	Failures int
}

// Pool runs prompts through a fixed set of workers. Its generators are built
// once and reused by every Run, so a model-backed pool sees weights the
// trainer updated in place from the next Run on. Run calls are serialised.
type Pool struct {
	cfg  Config
	gens []Generator
	mu   sync.Mutex
	// dispatched counts batches handed to the queue in the current Run (tests
	// check back-pressure with it).
	dispatched atomic.Int64
}

// NewPool validates cfg, fills its defaults and builds one generator per worker.
func NewPool(cfg Config) (*Pool, error) {
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = cfg.Workers
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 8
	}
	switch {
	case cfg.Workers < 0:
		return nil, fmt.Errorf("%w: Workers must be positive, found %d", ErrConfig, cfg.Workers)
	case cfg.QueueSize < 0:
		return nil, fmt.Errorf("%w: QueueSize must be positive, found %d", ErrConfig, cfg.QueueSize)
	case cfg.BatchSize < 0:
		return nil, fmt.Errorf("%w: BatchSize must be positive, found %d", ErrConfig, cfg.BatchSize)
	case cfg.NewGenerator == nil:
		return nil, fmt.Errorf("%w: NewGenerator is nil", ErrConfig)
	case cfg.Generate.MaxNewTokens < 0:
		return nil, fmt.Errorf("%w: Generate.MaxNewTokens must not be negative, found %d", ErrConfig, cfg.Generate.MaxNewTokens)
	}
	p := &Pool{cfg: cfg, gens: make([]Generator, cfg.Workers)}
	for w := range p.gens {
		g, err := cfg.NewGenerator(w)
		if err != nil {
			return nil, fmt.Errorf("rollout: build generator for worker %d: %w", w, err)
		}
		if g == nil {
			return nil, fmt.Errorf("%w: NewGenerator(%d) returned nil", ErrConfig, w)
		}
		p.gens[w] = g
	}
	return p, nil
}

// Config returns the pool's configuration with defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// batch is a slice of consecutive prompts, the unit a worker takes.
type batch struct {
	first   int // index of prompts[0] in Run's input
	prompts []Prompt
	seed    uint64
	// failedBy is the worker whose attempt failed (-1 before any failure) and
	// firstErr that attempt's error; a batch is retried once.
	failedBy int
	firstErr error
}

// outcome is a batch's final result: its samples, or the error of both attempts.
type outcome struct {
	b       *batch
	samples []Sample
	err     error
}

// Run generates and scores a completion for every prompt and returns the
// samples in prompt order. A batch whose worker errors or panics is retried
// once on the next worker; if that fails too its samples come back with Err
// set. Scoring errors fail single samples. When any sample failed, Run also
// returns an error naming the first failed prompt. When ctx ends, Run returns
// ctx.Err() after the in-flight batches stop (a Generator should watch ctx).
// Run leaves no goroutines behind once its Generators have returned.
func (p *Pool) Run(ctx context.Context, prompts []Prompt) ([]Sample, Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	W := p.cfg.Workers
	batches := p.split(prompts)
	stats := Stats{Prompts: len(prompts), Batches: len(batches), Workers: make([]WorkerStats, W)}
	if len(batches) == 0 {
		return nil, stats, ctx.Err()
	}
	p.dispatched.Store(0)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	queue := make(chan *batch, p.cfg.QueueSize)
	retries := make([]chan *batch, W)
	for w := range retries {
		retries[w] = make(chan *batch, len(batches))
	}
	run := &runState{queue: queue, retries: retries, outcomes: make(chan outcome, len(batches))}
	var maxQueued int
	var wg conc.WaitGroup
	wg.Go(func() { maxQueued = p.feed(runCtx, queue, batches) })
	for w := range W {
		wg.Go(func() { p.work(runCtx, w, run, &stats.Workers[w]) })
	}

	samples := make([]Sample, len(prompts))
	var runErr error
	for got := 0; got < len(batches) && runErr == nil; got++ {
		select {
		case o := <-run.outcomes:
			p.place(samples, o)
		case <-ctx.Done():
			runErr = ctx.Err()
		}
	}
	stop()
	if r := wg.WaitAndRecover(); r != nil && runErr == nil {
		runErr = fmt.Errorf("rollout: internal error: %w", r.AsError())
	}
	stats.MaxQueued = maxQueued
	stats.Retries = int(run.retried.Load())
	stats.Duration = time.Since(start)
	if runErr != nil {
		return nil, stats, runErr
	}
	return samples, summarise(&stats, samples), firstFailure(samples)
}

// split cuts prompts into batches of BatchSize and derives each batch's seed
// from the base seed and its prompt ids, so a batch samples the same tokens
// whichever worker runs it.
func (p *Pool) split(prompts []Prompt) []*batch {
	var out []*batch
	for i := 0; i < len(prompts); i += p.cfg.BatchSize {
		ps := prompts[i:min(i+p.cfg.BatchSize, len(prompts))]
		out = append(out, &batch{first: i, prompts: ps, seed: batchSeed(p.cfg.Generate.Seed, ps), failedBy: -1})
	}
	return out
}

// feed hands batches to the workers through the bounded queue, blocking while
// it is full, and returns the deepest the queue got.
func (p *Pool) feed(ctx context.Context, queue chan<- *batch, batches []*batch) int {
	defer close(queue)
	deepest := 0
	for _, b := range batches {
		select {
		case queue <- b:
			p.dispatched.Add(1)
			deepest = max(deepest, len(queue))
		case <-ctx.Done():
			return deepest
		}
	}
	return deepest
}

// place copies an outcome's samples (or its error) into prompt order.
func (p *Pool) place(samples []Sample, o outcome) {
	for i, pr := range o.b.prompts {
		if o.err != nil {
			samples[o.b.first+i] = Sample{Prompt: pr, Err: o.err, Worker: -1}
			continue
		}
		samples[o.b.first+i] = o.samples[i]
	}
}

func summarise(st *Stats, samples []Sample) Stats {
	for _, s := range samples {
		st.GeneratedTokens += len(s.Tokens)
		if s.Err != nil {
			st.Failed++
		}
	}
	if secs := st.Duration.Seconds(); secs > 0 {
		st.TokensPerSecond = float64(st.GeneratedTokens) / secs
	}
	return *st
}

// firstFailure wraps the first failed sample's error with a count, or is nil.
func firstFailure(samples []Sample) error {
	n, first := 0, -1
	for i, s := range samples {
		if s.Err != nil {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("rollout: %d of %d samples failed; first, prompt %d: %w", n, len(samples), samples[first].Prompt.ID, samples[first].Err)
}
