package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestNewPoolRejectsBadConfig(t *testing.T) {
	gen := sameGenerator(genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) { return echo(p, o), nil }))
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative workers", Config{Workers: -1, NewGenerator: gen}, "Workers"},
		{"negative queue", Config{QueueSize: -2, NewGenerator: gen}, "QueueSize"},
		{"negative batch", Config{BatchSize: -3, NewGenerator: gen}, "BatchSize"},
		{"no generator", Config{}, "NewGenerator"},
		{"negative max tokens", Config{NewGenerator: gen, Generate: GenerateOptions{MaxNewTokens: -1}}, "MaxNewTokens"},
		{"nil generator", Config{NewGenerator: func(int) (Generator, error) { return nil, nil }}, "returned nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPool(c.cfg)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	t.Run("factory error names the worker", func(t *testing.T) {
		_, err := NewPool(Config{Workers: 3, NewGenerator: func(w int) (Generator, error) {
			if w == 2 {
				return nil, errors.New("no device")
			}
			return gen(w)
		}})
		require.ErrorContains(t, err, "worker 2: no device")
	})
	t.Run("defaults", func(t *testing.T) {
		p, err := NewPool(Config{NewGenerator: gen})
		require.NoError(t, err)
		assert.Equal(t, 1, p.Config().Workers)
		assert.Equal(t, 1, p.Config().QueueSize)
		assert.Equal(t, 8, p.Config().BatchSize)
	})
}

func TestRunReturnsSamplesInPromptOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Later prompts finish first, so completion order differs from prompt order.
	slowFirst := genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
		time.Sleep(time.Duration(100-p[0][0]) * 50 * time.Microsecond)
		return echo(p, o), nil
	})
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			pool, err := NewPool(Config{Workers: workers, BatchSize: 2, NewGenerator: sameGenerator(slowFirst)})
			require.NoError(t, err)
			prompts := makePrompts(11)
			samples, st, err := pool.Run(context.Background(), prompts)
			require.NoError(t, err)
			require.Len(t, samples, 11)
			perWorker := 0
			for i, s := range samples {
				assert.Equal(t, i, s.Prompt.ID)
				assert.Equal(t, prompts[i].Tokens[0]+1, s.Tokens[0])
				assert.NoError(t, s.Err)
				assert.Less(t, s.Worker, workers)
			}
			for _, w := range st.Workers {
				perWorker += w.Samples
			}
			assert.Equal(t, 11, perWorker)
			assert.Equal(t, 6, st.Batches)
			assert.Equal(t, 22, st.GeneratedTokens)
			assert.Positive(t, st.TokensPerSecond)
			assert.Zero(t, st.Retries)
			assert.Zero(t, st.Failed)
		})
	}
}

func TestRunSeedsDependOnBatchNotWorker(t *testing.T) {
	gen := sameGenerator(genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) { return echo(p, o), nil }))
	run := func(workers int, seed uint64) []Sample {
		pool, err := NewPool(Config{Workers: workers, BatchSize: 3, NewGenerator: gen, Generate: GenerateOptions{Seed: seed}})
		require.NoError(t, err)
		s, _, err := pool.Run(context.Background(), makePrompts(9))
		require.NoError(t, err)
		return s
	}
	a, b, c := run(1, 5), run(3, 5), run(3, 6)
	for i := range a {
		assert.Equal(t, a[i].Tokens, b[i].Tokens, "prompt %d", i)
	}
	assert.NotEqual(t, a[0].Tokens[1], a[3].Tokens[1], "batches get different seeds")
	assert.NotEqual(t, a[0].Tokens[1], c[0].Tokens[1], "the base seed changes every batch seed")
}

func TestRunRespectsQueueBound(t *testing.T) {
	defer goleak.VerifyNone(t)
	const workers, queue = 2, 3
	gate := make(chan struct{})
	var inFlight, maxInFlight atomic.Int64
	blocked := genFunc(func(ctx context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		<-gate
		return echo(p, o), nil
	})
	pool, err := NewPool(Config{Workers: workers, QueueSize: queue, BatchSize: 1, NewGenerator: sameGenerator(blocked)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var st Stats
	wg.Go(func() {
		_, st, err = pool.Run(context.Background(), makePrompts(20))
	})
	require.Eventually(t, func() bool { return inFlight.Load() == workers && pool.dispatched.Load() == workers+queue },
		5*time.Second, time.Millisecond)
	// Every worker is blocked and the queue is full: exactly workers+queue
	// batches have left the feeder (st.MaxQueued below bounds the queue too).
	assert.EqualValues(t, workers+queue, pool.dispatched.Load(), "batches taken while every worker is busy")
	close(gate)
	wg.Wait()
	require.NoError(t, err)
	assert.EqualValues(t, workers, maxInFlight.Load())
	assert.LessOrEqual(t, st.MaxQueued, queue)
	assert.EqualValues(t, 20, pool.dispatched.Load())
}

func TestRunSurvivesFailingWorkers(t *testing.T) {
	var failOnce atomic.Bool
	cases := []struct {
		name string
		// fail reports whether worker w fails a batch starting with prompt first,
		// and how: "panic" or "error".
		fail      func(w, first int) string
		wantErr   error
		wantRetry int
	}{
		{"panic once, retried on another worker", func(w, first int) string {
			if first == 4 && failOnce.CompareAndSwap(false, true) {
				return "panic"
			}
			return ""
		}, nil, 1},
		{"error once, retried", func(w, first int) string {
			if first == 2 && failOnce.CompareAndSwap(false, true) {
				return "error"
			}
			return ""
		}, nil, 1},
		{"panic on every worker", func(w, first int) string {
			if first == 4 {
				return "panic"
			}
			return ""
		}, ErrWorkerPanic, 1},
		{"error on every worker", func(w, first int) string {
			if first == 2 {
				return "error"
			}
			return ""
		}, errBoom, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			failOnce.Store(false)
			var failedOn sync.Map // first prompt -> failing worker
			pool, err := NewPool(Config{Workers: 3, BatchSize: 2, NewGenerator: func(w int) (Generator, error) {
				return genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
					first := int(p[0][0] / 10)
					switch c.fail(w, first) {
					case "panic":
						failedOn.Store(first, w)
						panic(fmt.Sprintf("kernel exploded on worker %d", w))
					case "error":
						failedOn.Store(first, w)
						return nil, errBoom
					}
					return echo(p, o), nil
				}), nil
			}})
			require.NoError(t, err)
			samples, st, err := pool.Run(context.Background(), makePrompts(7))
			require.Len(t, samples, 7, "no sample is lost")
			assert.Equal(t, c.wantRetry, st.Retries)
			for i, s := range samples {
				assert.Equal(t, i, s.Prompt.ID)
			}
			if c.wantErr == nil {
				require.NoError(t, err)
				for _, s := range samples {
					require.NoError(t, s.Err)
				}
				var failedFirst, failedWorker any
				failedOn.Range(func(k, v any) bool { failedFirst, failedWorker = k, v; return true })
				retried := samples[failedFirst.(int)]
				assert.NotEqual(t, failedWorker, retried.Worker, "the retry runs on another worker")
				return
			}
			require.ErrorIs(t, err, c.wantErr)
			var werr *WorkerError
			require.ErrorAs(t, err, &werr)
			first := werr.PromptIDs[0]
			assert.Equal(t, []int{first, first + 1}, werr.PromptIDs)
			assert.Contains(t, err.Error(), fmt.Sprintf("prompt %d", first))
			assert.Contains(t, err.Error(), fmt.Sprintf("worker %d", werr.Worker))
			if c.wantErr == ErrWorkerPanic {
				assert.Contains(t, err.Error(), "kernel exploded")
				assert.NotEmpty(t, werr.Stack)
			}
			assert.Equal(t, 2, st.Failed)
			for i, s := range samples {
				if i == first || i == first+1 {
					require.ErrorIs(t, s.Err, c.wantErr)
					assert.Empty(t, s.Tokens)
					continue
				}
				require.NoError(t, s.Err, "prompt %d", i)
				assert.Equal(t, int32(10*i+1), s.Tokens[0])
			}
		})
	}
}

var errBoom = errors.New("inference server returned 500")

func TestRunSingleWorkerRetriesOnItself(t *testing.T) {
	defer goleak.VerifyNone(t)
	var calls atomic.Int64
	flaky := genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
		if calls.Add(1) == 1 {
			panic("first call")
		}
		return echo(p, o), nil
	})
	pool, err := NewPool(Config{Workers: 1, BatchSize: 4, NewGenerator: sameGenerator(flaky)})
	require.NoError(t, err)
	samples, st, err := pool.Run(context.Background(), makePrompts(8))
	require.NoError(t, err)
	assert.Len(t, samples, 8)
	assert.Equal(t, 1, st.Retries)
	assert.Equal(t, 1, st.Workers[0].Failures)
	assert.Equal(t, 2, st.Workers[0].Batches)
}

func TestRunCancellation(t *testing.T) {
	// calls counts Generate calls: every one blocks until ctx ends, so a Run
	// that stops promptly makes at most one per worker; one that kept going
	// after the cancellation would work through all 50 prompts.
	var calls atomic.Int64
	waitForCtx := genFunc(func(ctx context.Context, _ [][]int32, _ GenerateOptions) ([]Completion, error) {
		calls.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"already cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"cancelled mid-run", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			pool, err := NewPool(Config{Workers: 3, QueueSize: 1, BatchSize: 1, NewGenerator: sameGenerator(waitForCtx)})
			require.NoError(t, err)
			ctx, cancel := c.ctx()
			defer cancel()
			calls.Store(0)
			samples, st, err := pool.Run(ctx, makePrompts(50))
			require.ErrorIs(t, err, c.want)
			assert.Nil(t, samples)
			assert.LessOrEqual(t, calls.Load(), int64(3), "no batch starts after the context ends")
			assert.Zero(t, st.Retries, "a cancelled attempt is not retried")
		})
	}
	t.Run("pool is reusable after a cancelled run", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		pool, err := NewPool(Config{Workers: 2, BatchSize: 2, NewGenerator: sameGenerator(genFunc(
			func(ctx context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
				return echo(p, o), nil
			}))})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err = pool.Run(ctx, makePrompts(4))
		require.ErrorIs(t, err, context.Canceled)
		samples, _, err := pool.Run(context.Background(), makePrompts(4))
		require.NoError(t, err)
		assert.Len(t, samples, 4)
	})
}

func TestRunEmpty(t *testing.T) {
	pool, err := NewPool(Config{NewGenerator: sameGenerator(genFunc(
		func(context.Context, [][]int32, GenerateOptions) ([]Completion, error) { panic("not called") }))})
	require.NoError(t, err)
	samples, st, err := pool.Run(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, samples)
	assert.Zero(t, st.Batches)
}

func TestRunRejectsWrongCompletionCount(t *testing.T) {
	short := genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
		return echo(p, o)[:len(p)-1], nil
	})
	pool, err := NewPool(Config{Workers: 2, BatchSize: 3, NewGenerator: sameGenerator(short)})
	require.NoError(t, err)
	samples, st, err := pool.Run(context.Background(), makePrompts(3))
	require.ErrorContains(t, err, "got 2 completions for 3 prompts")
	assert.Len(t, samples, 3)
	assert.Equal(t, 3, st.Failed)
}
