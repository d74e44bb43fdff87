// Package sft is the supervised fine-tuning stage: a recipe in, a fine-tuned
// checkpoint out. Like a torchtune recipe it reads top to bottom: setup, the
// training loop, checkpointing, cleanup.
package sft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// ErrInterrupted is returned when a signal stopped the run after a checkpoint was saved.
var ErrInterrupted = errors.New("sft: interrupted; a checkpoint was saved, continue with --resume")

// Options are the run-time choices that are not part of the recipe.
type Options struct {
	// Lifecycle says whether to resume and whether a previous run in
	// output_dir may be replaced.
	train.Lifecycle
	// Log receives the progress bar or progress lines (nil: discarded).
	Log io.Writer
	// EvalHook, when set, runs after each evaluation with the model being
	// trained; its metrics are logged with the step, and stop ends training
	// early (the model of that step becomes the final model).
	EvalHook func(step int, m *model.Model, tok *tokenizer.Tokenizer) (metrics map[string]float64, stop bool, err error)
}

// Result summarises a finished run.
type Result struct {
	OutputDir  string
	Steps      int
	TrainLoss  float64
	EvalLoss   float64
	Model      *model.Model
	Tokenizer  *tokenizer.Tokenizer
	DataReport datasets.Report
	Resumed    int // the step the run resumed from (0: a fresh run)
}

// trainer is the state of one run.
type trainer struct {
	r       *recipes.Recipe
	be      compute.Backend
	tok     *tokenizer.Tokenizer
	m       *model.Model
	lora    *model.LoRA
	params  []train.Param
	opt     *train.AdamW
	sched   train.Schedule
	sampler *datasets.Sampler
	guard   *train.StepGuard
	run     *setup.Start // output_dir's lock and the run record
	train   []datasets.Sequence
	eval    []datasets.Sequence
	padID   int32
	report  datasets.Report // rows skipped or truncated while loading and encoding
}

// Run trains r (stage sft) and writes the final model to r.OutputDir.
func Run(ctx context.Context, r *recipes.Recipe, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	t, start, err := setupRun(r, opts.Lifecycle, opts.Log)
	if err != nil {
		return nil, err
	}
	defer t.run.Close()
	res, err := t.loop(ctx, start, opts)
	if err != nil {
		return res, err
	}
	res.Resumed = start
	return res, t.saveFinal()
}

// setupRun builds the trainer, from scratch or from the newest checkpoint.
func setupRun(r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (_ *trainer, _ int, err error) {
	st, err := setup.StartRun(r, lc, log)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	be, ckpt, start := st.Backend, st.Checkpoint, st.Step
	t := &trainer{r: r, be: be, tok: st.Tokenizer, run: st}
	t.padID = setup.PadID(t.tok)
	if ckpt != "" {
		t.m, err = model.Load(be, ckpt)
	} else {
		t.m, err = setup.Model(be, r.Model, t.tok, train.DeriveSeed(r.Train.Seed, "init"))
	}
	if err != nil {
		return nil, 0, err
	}
	if err := model.CheckTrainingShape(t.m.Config, r.Train.BatchSize, r.Data.MaxLength, model.ModelSource(ckpt, r.Model.Path), !r.LoRA.Enabled); err != nil {
		return nil, 0, err
	}
	if err := t.prepareData(); err != nil {
		return nil, 0, err
	}
	if err := t.prepareOptimizer(ckpt); err != nil {
		return nil, 0, err
	}
	if ckpt != "" {
		if err := t.restore(ckpt); err != nil {
			return nil, 0, err
		}
	}
	return t, start, nil
}

// prepareData tokenises the train and eval splits and builds the sampler.
func (t *trainer) prepareData() error {
	r := t.r
	format := datasets.FormatAuto
	if r.Data.Format != "" {
		f, err := datasets.ParseFormat(r.Data.Format)
		if err != nil {
			return err
		}
		format = f
	}
	trainRows, evalRows, loadRep, err := setup.Splits(r.Data, format, r.Train.Seed)
	if err != nil {
		return err
	}
	opts := datasets.SFTOptions{MaxLength: r.Data.MaxLength, SkipBadRows: r.Data.SkipBadRows, LossOn: datasets.LossOnAll}
	if r.SFT.CompletionOnlyLoss {
		opts.LossOn = datasets.LossOnCompletion
	}
	if r.Data.TruncationSide == "left" {
		opts.Truncation = datasets.KeepEnd
	}
	t.report = loadRep
	encode := func(rows []datasets.Row) ([]datasets.Sequence, error) {
		if len(rows) == 0 {
			return nil, nil
		}
		ex, rep, err := datasets.EncodeSFT(rows, t.tok, opts)
		if err != nil {
			return nil, err
		}
		t.report.Skipped += rep.Skipped
		t.report.Truncated += rep.Truncated
		t.report.SkippedReasons = append(t.report.SkippedReasons, rep.SkippedReasons...)
		if r.Data.Packing {
			return datasets.Pack(ex, r.Data.MaxLength)
		}
		seqs := make([]datasets.Sequence, len(ex))
		for i, e := range ex {
			seqs[i] = datasets.Single(e)
		}
		return seqs, nil
	}
	if t.train, err = encode(trainRows); err != nil {
		return err
	}
	if t.eval, err = encode(evalRows); err != nil {
		return err
	}
	lossTokens := 0
	for _, seq := range t.train {
		lossTokens += train.LossTokens(seq.Labels)
	}
	hint := fmt.Sprintf("raise data.max_length (%d)", r.Data.MaxLength)
	if r.SFT.CompletionOnlyLoss {
		hint += ", check that rows have a non-empty completion, or set sft.completion_only_loss=false"
	}
	if err := setup.RequireLoss(fmt.Sprintf("data.train %s (%d rows)", r.Data.Train, len(t.train)), lossTokens, hint); err != nil {
		return err
	}
	t.sampler, err = datasets.NewSampler(len(t.train), r.Train.BatchSize, train.DeriveSeed(r.Train.Seed, "sampler"), true)
	return err
}

// prepareOptimizer attaches LoRA when asked and builds AdamW over what trains.
func (t *trainer) prepareOptimizer(ckpt string) error {
	var err error
	if t.lora, t.params, err = setup.Trainable(t.m, t.r, ckpt); err != nil {
		return err
	}
	t.opt, t.sched, err = setup.Optimizer(t.params, t.r, t.r.Train.MaxSteps)
	t.guard = setup.Guard(t.params, t.opt, t.r)
	return err
}

// Checkpoint file names besides the model's.
const (
	metricsFile = "metrics.jsonl"
)

// restore loads the optimizer, sampler and RNG state of a checkpoint.
func (t *trainer) restore(dir string) error { return setup.Restore(dir, t.state()) }

// state is what a checkpoint holds besides the model.
func (t *trainer) state() setup.TrainState {
	return setup.TrainState{Optimizer: t.opt, Sampler: t.sampler, Schedule: t.sched, LoRA: t.lora, MaxSteps: t.r.Train.MaxSteps, Record: t.run.Record}
}

// microBatches draws one optimizer step's micro-batches.
func (t *trainer) microBatches() ([]datasets.Batch, int, error) {
	var out []datasets.Batch
	total := 0
	for range max(t.r.Train.GradAccum, 1) {
		idx := t.sampler.Next()
		rows := make([]datasets.Sequence, len(idx))
		for i, j := range idx {
			rows[i] = t.train[j]
		}
		b, err := datasets.Collate(rows, 0, t.padID)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, b)
		total += b.LossTokens
	}
	return out, total, nil
}

func modelBatch(b datasets.Batch) *model.Batch {
	return &model.Batch{B: b.B, T: b.T, IDs: b.IDs, Labels: b.Labels, PositionIDs: b.PositionIDs, DocIDs: b.DocIDs}
}

// step runs one optimizer step and returns its logged metrics.
func (t *trainer) step(step int) (map[string]float64, error) {
	t0 := time.Now()
	micro, total, err := t.microBatches()
	if err != nil {
		return nil, err
	}
	t.m.ZeroGrads()
	if t.lora != nil {
		t.lora.ZeroGrads(t.be)
		t.lora.SetTraining(true)
		defer t.lora.SetTraining(false)
	}
	acc := train.NewAccumulation(total)
	tokens := 0
	for _, b := range micro {
		out, err := t.m.ForwardBackward(modelBatch(b), float32(acc.Scale()))
		if err != nil {
			return nil, err
		}
		if out.NumTokens > 0 {
			acc.Add(out.Loss*float64(out.NumTokens), out.NumTokens)
		}
		tokens += b.B * b.T
	}
	lr := t.sched.LR(step - 1)
	norm, _, err := t.guard.Step(step, acc.Loss(), lr)
	if err != nil {
		return nil, err
	}
	vals := map[string]float64{"loss": acc.Loss(), "lr": lr, "grad_norm": norm,
		"tokens_per_s": float64(tokens) / time.Since(t0).Seconds()}
	if t.guard.Skipped > 0 {
		vals[train.MetricSkippedNonfinite] = float64(t.guard.Skipped)
	}
	return vals, nil
}

// evaluate returns the token-mean loss over the eval split.
func (t *trainer) evaluate() (float64, error) {
	if len(t.eval) == 0 {
		return math.NaN(), nil
	}
	var sum float64
	var n int
	bs := max(t.r.Train.BatchSize, 1)
	for lo := 0; lo < len(t.eval); lo += bs {
		b, err := datasets.Collate(t.eval[lo:min(lo+bs, len(t.eval))], 0, t.padID)
		if err != nil {
			return 0, err
		}
		out, err := t.m.Forward(modelBatch(b))
		if err != nil {
			return 0, err
		}
		if out.NumTokens > 0 {
			sum += out.Loss * float64(out.NumTokens)
			n += out.NumTokens
		}
	}
	return sum / float64(max(n, 1)), nil
}

// loop runs steps start+1..max_steps, logging, evaluating and checkpointing.
func (t *trainer) loop(ctx context.Context, start int, opts Options) (*Result, error) {
	logw := opts.Log
	r := t.r
	metrics, err := train.OpenMetricsLog(filepath.Join(r.OutputDir, metricsFile), start)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	bar := train.NewProgress(logw, r.Train.MaxSteps, start, "sft")
	res := &Result{OutputDir: r.OutputDir, Model: t.m, Tokenizer: t.tok, EvalLoss: math.NaN(), DataReport: t.report}
	lastSaved := start
	stopEarly := false
	for step := start + 1; step <= r.Train.MaxSteps; step++ {
		vals, err := t.step(step)
		if err != nil {
			return nil, fmt.Errorf("sft step %d: %w", step, err)
		}
		res.TrainLoss, res.Steps = vals["loss"], step
		if r.Train.EvalSteps > 0 && (step%r.Train.EvalSteps == 0 || step == r.Train.MaxSteps) {
			if res.EvalLoss, err = t.evaluate(); err != nil {
				return nil, err
			}
			vals["eval_loss"] = res.EvalLoss
			if opts.EvalHook != nil {
				extra, stop, err := opts.EvalHook(step, t.m, t.tok)
				if err != nil {
					return nil, err
				}
				for k, v := range extra {
					vals[k] = v
				}
				stopEarly = stop
			}
		}
		bar.Step(step)
		if step%max(r.Train.LoggingSteps, 1) == 0 || step == r.Train.MaxSteps || vals["eval_loss"] != 0 {
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
		if stopEarly {
			break
		}
	}
	bar.Finish()
	if res.Steps == 0 {
		res.Steps = start
	}
	return res, nil
}

// saveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically.
func (t *trainer) saveCheckpoint(step int) error {
	return setup.SaveCheckpoint(t.r.OutputDir, step, t.r.Train.SaveTotalLimit, t.state(), t.writeModel)
}

// writeModel writes the model (and adapter) with the tokenizer into dir.
func (t *trainer) writeModel(dir string) error {
	return setup.WriteModelDir(dir, t.m, t.tok, t.r.Model.Path)
}

// saveFinal writes the final model into OUTPUT_DIR and plots the metrics.
func (t *trainer) saveFinal() error {
	return setup.FinishRun(t.r.OutputDir, t.m, t.tok, t.r.Model.Path, metricsFile)
}
