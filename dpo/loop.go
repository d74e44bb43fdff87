package dpo

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"time"

	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/train"
)

// scorePairs runs the reference and then the policy on the pairs at idx of a
// split (data), one concatenated batch of chosen and rejected rows, and
// returns the loss terms, the loss gradient per row and the batch.
func (t *trainer) scorePairs(split string, data []Pair, idx []int) (objective.Result, []float64, *model.Batch, error) {
	pairs := pick(data, idx)
	var refChosen, refRejected []float64
	if t.ref != nil {
		// Before the policy's forward: a LoRA reference runs on the same model.
		var err error
		if refChosen, refRejected, err = t.ref.logps(split, idx, pairs); err != nil {
			return objective.Result{}, nil, nil, err
		}
	}
	b, err := concatenated(pairs, t.padID)
	if err != nil {
		return objective.Result{}, nil, nil, err
	}
	st, err := forwardRows(t.m, b, true)
	if err != nil {
		return objective.Result{}, nil, nil, err
	}
	res, perRow, err := pairLoss(t.cfg, st, refChosen, refRejected)
	return res, perRow, b, err
}

// microStep runs forward, loss and backward for the pairs at idx of the
// training split, with the gradient scaled by scale (1/grad_accum: each
// micro-batch's loss is a mean over its pairs, as in TRL).
func (t *trainer) microStep(idx []int, scale float64) (map[string]float64, error) {
	res, perRow, b, err := t.scorePairs("train", t.train, idx)
	if err != nil {
		return nil, err
	}
	for i := range perRow {
		perRow[i] *= scale
	}
	if err := t.m.Backward(rowGradient(b, perRow)); err != nil {
		return nil, err
	}
	return res.Metrics, nil
}

func pick(pairs []Pair, idx []int) []Pair {
	out := make([]Pair, len(idx))
	for i, j := range idx {
		out[i] = pairs[j]
	}
	return out
}

// step runs one optimizer step over grad_accum micro-batches and returns its
// metrics (averaged over the micro-batches) and its lr, grad_norm and speed.
func (t *trainer) step(step int) (map[string]float64, map[string]float64, error) {
	t0 := time.Now()
	t.m.ZeroGrads()
	if t.lora != nil {
		t.lora.ZeroGrads(t.be)
		t.lora.SetTraining(true)
		defer t.lora.SetTraining(false)
	}
	accum := max(t.r.Train.GradAccum, 1)
	w := newWindow()
	pairs := 0
	for range accum {
		idx := t.sampler.Next()
		metrics, err := t.microStep(idx, 1/float64(accum))
		if err != nil {
			return nil, nil, err
		}
		w.add(metrics)
		pairs += len(idx)
	}
	lr := t.sched.LR(step - 1)
	means := w.mean("")
	norm, _, err := t.guard.Step(step, means["loss"], lr)
	if err != nil {
		return nil, nil, err
	}
	extra := map[string]float64{"lr": lr, "grad_norm": norm, "pairs_per_s": float64(pairs) / time.Since(t0).Seconds()}
	if t.guard.Skipped > 0 {
		extra[train.MetricSkippedNonfinite] = float64(t.guard.Skipped)
	}
	return means, extra, nil
}

// Evaluate returns the metrics over the eval split, TRL-named with an eval_
// prefix, each averaged over eval batches as TRL's evaluation loop does.
func (t *trainer) evaluate() (map[string]float64, error) {
	if len(t.eval) == 0 {
		return nil, nil
	}
	if t.lora != nil {
		t.lora.SetTraining(false)
	}
	w := newWindow()
	bs := max(t.r.Train.BatchSize, 1)
	for lo := 0; lo < len(t.eval); lo += bs {
		idx := make([]int, 0, bs)
		for j := lo; j < min(lo+bs, len(t.eval)); j++ {
			idx = append(idx, j)
		}
		res, _, _, err := t.scorePairs("eval", t.eval, idx)
		if err != nil {
			return nil, err
		}
		w.add(res.Metrics)
	}
	return w.mean("eval_"), nil
}

// loop runs steps start+1..max_steps, logging, evaluating and checkpointing.
func (t *trainer) loop(ctx context.Context, start int, logw io.Writer) (*Result, error) {
	r := t.r
	metrics, err := train.OpenMetricsLog(filepath.Join(r.OutputDir, metricsFile), start)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	bar := train.NewProgress(logw, t.maxSteps, start, "dpo")
	res := &Result{OutputDir: r.OutputDir, Model: t.m, Tokenizer: t.tok, DataReport: t.report, Steps: start}
	win := newWindow()
	lastSaved := start
	for step := start + 1; step <= t.maxSteps; step++ {
		stepMetrics, extra, err := t.step(step)
		if err != nil {
			return nil, fmt.Errorf("dpo step %d: %w", step, err)
		}
		win.add(stepMetrics)
		res.Steps = step
		vals := map[string]float64{}
		if step%max(r.Train.LoggingSteps, 1) == 0 || step == t.maxSteps {
			vals = win.mean("")
			res.Metrics = maps.Clone(vals)
		}
		if r.Train.EvalSteps > 0 && (step%r.Train.EvalSteps == 0 || step == t.maxSteps) {
			ev, err := t.evaluate()
			if err != nil {
				return nil, fmt.Errorf("dpo eval at step %d: %w", step, err)
			}
			for k, v := range ev {
				vals[k] = v
			}
			if ev != nil {
				res.EvalMetrics = ev
			}
		}
		bar.Step(step)
		if len(vals) > 0 {
			for k, v := range extra {
				vals[k] = v
				if res.Metrics != nil {
					res.Metrics[k] = v
				}
			}
			if err := metrics.Log(step, vals); err != nil {
				return nil, err
			}
			bar.Log(step, vals)
		}
		interrupted := train.Interrupted(ctx)
		if (r.Train.SaveSteps > 0 && step%r.Train.SaveSteps == 0) || interrupted {
			if err := t.saveCheckpoint(step); err != nil {
				return nil, err
			}
			lastSaved = step
		}
		if interrupted {
			bar.Finish()
			return res, train.InterruptedAt(ctx, ErrInterrupted, "step", lastSaved)
		}
	}
	bar.Finish()
	return res, nil
}

// saveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically.
func (t *trainer) saveCheckpoint(step int) error {
	return setup.SaveCheckpoint(t.r.OutputDir, step, t.r.Train.SaveTotalLimit, t.state(), t.writeModel)
}

// restore loads the optimizer, sampler and RNG state of a checkpoint.
func (t *trainer) restore(dir string) error { return setup.Restore(dir, t.state()) }

// state is what a checkpoint holds besides the model.
func (t *trainer) state() setup.TrainState {
	return setup.TrainState{Optimizer: t.opt, Sampler: t.sampler, Schedule: t.sched, LoRA: t.lora, MaxSteps: t.maxSteps, Record: t.run.Record}
}
