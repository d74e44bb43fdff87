// Package dpo is the direct preference optimisation stage (TRL's DPOTrainer):
// a policy trained on (prompt, chosen, rejected) pairs against a frozen
// reference. Like the sft recipe it reads top to bottom: setup, the reference,
// the training loop, checkpointing.
//
// Chosen and rejected completions of a batch of P pairs go through the policy
// as one concatenated batch of 2P rows; the loss (objective.DPO) is a function
// of each row's summed completion log-prob, so its gradient enters the model
// as d loss / d logp on every completion token of the row (model.Backward).
package dpo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// ErrInterrupted is returned when a signal stopped the run after a checkpoint
// was saved; it wraps train.ErrInterrupted, which the CLI reports as a clean stop.
var ErrInterrupted = fmt.Errorf("dpo: %w; a checkpoint was saved, continue with --resume", train.ErrInterrupted)

// Options are the run-time choices that are not part of the recipe.
type Options struct {
	// Lifecycle says whether to resume and whether a previous run in
	// output_dir may be replaced.
	train.Lifecycle
	// Log receives the progress bar or progress lines (nil: discarded).
	Log io.Writer
}

// Result summarises a finished run.
type Result struct {
	OutputDir string
	Steps     int
	// Metrics are the last logging window's (TRL names: loss, rewards/chosen, ...).
	Metrics map[string]float64
	// EvalMetrics are the last evaluation's, prefixed eval_ (nil without eval data).
	EvalMetrics map[string]float64
	Model       *model.Model
	Tokenizer   *tokenizer.Tokenizer
	DataReport  datasets.Report
	Resumed     int // the step the run resumed from (0: a fresh run)
}

// Files in the output directory besides the model's.
const (
	metricsFile        = "metrics.jsonl"
	referenceCacheFile = "reference_logps.json"
)

// trainer is the state of one run.
type trainer struct {
	r       *recipes.Recipe
	cfg     objective.DPOConfig
	be      compute.Backend
	tok     *tokenizer.Tokenizer
	m       *model.Model
	lora    *model.LoRA
	ref     reference // nil for reference-free losses
	params  []train.Param
	opt     *train.AdamW
	sched   train.Schedule
	sampler *datasets.Sampler
	guard   *train.StepGuard
	run     *setup.Start // output_dir's lock and the run record
	train   []Pair
	eval    []Pair
	report  datasets.Report
	padID   int32
	// maxSteps is train.max_steps, or train.epochs passes over the train pairs.
	maxSteps int
}

// Run trains r (stage dpo) and writes the final model to r.OutputDir.
func Run(ctx context.Context, r *recipes.Recipe, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if r.Stage != recipes.StageDPO {
		return nil, fmt.Errorf("dpo: recipe %q has stage %q, want %q", r.Name, r.Stage, recipes.StageDPO)
	}
	t, start, err := setupRun(r, opts.Lifecycle, opts.Log)
	if err != nil {
		return nil, err
	}
	defer t.run.Close()
	res, err := t.loop(ctx, start, opts.Log)
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
	t := &trainer{r: r, be: be, cfg: objectiveConfig(r.DPO), tok: st.Tokenizer, run: st}
	t.padID = setup.PadID(t.tok)
	if err := t.prepareData(); err != nil {
		return nil, 0, err
	}
	// The policy: with LoRA the checkpoint holds the base weights and the
	// adapter beside them; the reference must be the untouched base.
	if ckpt != "" && !r.LoRA.Enabled {
		t.m, err = model.Load(be, ckpt)
	} else {
		t.m, err = setup.Model(be, r.Model, t.tok, train.DeriveSeed(r.Train.Seed, "init"))
	}
	if err != nil {
		return nil, 0, fmt.Errorf("policy: %w", err)
	}
	if err := model.CheckTrainingShape(t.m.Config, 2*r.Train.BatchSize, r.Data.MaxLength, model.ModelSource(ckpt, r.Model.Path), !r.LoRA.Enabled); err != nil {
		return nil, 0, err // each pair is two rows
	}
	if err := t.prepareOptimizer(ckpt); err != nil {
		return nil, 0, err
	}
	if err := t.prepareReference(); err != nil {
		return nil, 0, err
	}
	if ckpt != "" {
		if err := t.restore(ckpt); err != nil {
			return nil, 0, err
		}
	}
	return t, start, nil
}

// prepareData tokenises the train and eval preference pairs and builds the sampler.
func (t *trainer) prepareData() error {
	r := t.r
	format := datasets.FormatPreference
	if r.Data.Format != "" && r.Data.Format != "auto" {
		f, err := datasets.ParseFormat(r.Data.Format)
		if err != nil {
			return err
		}
		format = f
	}
	trainRows, evalRows, rep, err := setup.Splits(r.Data, format, r.Train.Seed)
	if err != nil {
		return err
	}
	t.report = rep
	opts := datasets.PreferenceOptions{MaxLength: r.Data.MaxLength, SkipBadRows: r.Data.SkipBadRows}
	encode := func(rows []datasets.Row) ([]Pair, datasets.Report, error) {
		if len(rows) == 0 {
			return nil, datasets.Report{}, nil
		}
		ex, rep, err := datasets.EncodePreference(rows, t.tok, opts)
		if err != nil {
			return nil, rep, err
		}
		pairs := make([]Pair, len(ex))
		for i, e := range ex {
			pairs[i] = PairFromExample(e)
		}
		return pairs, rep, nil
	}
	var trainRep datasets.Report
	if t.train, trainRep, err = encode(trainRows); err != nil {
		return fmt.Errorf("data.train %s: %w", r.Data.Train, err)
	}
	t.report.Dropped += trainRep.Dropped
	if len(t.train) == 0 {
		return fmt.Errorf("data.train %s: no preference pairs left (%d dropped as longer than data.max_length %d)",
			r.Data.Train, trainRep.Dropped, r.Data.MaxLength)
	}
	// A pair whose completion was truncated away carries no loss: refuse the
	// data now rather than at the step that draws it.
	for split, pairs := range map[string][]Pair{"data.train " + r.Data.Train: t.train} {
		for i, p := range pairs {
			if err := p.check(i); err != nil {
				return fmt.Errorf("%s: %w: no loss can be computed for it; raise data.max_length (%d) or fix the row", split, err, r.Data.MaxLength)
			}
		}
	}
	if t.eval, _, err = encode(evalRows); err != nil {
		return fmt.Errorf("eval data: %w", err)
	}
	t.maxSteps = train.TotalSteps(len(t.train), r.Train.BatchSize, r.Train.GradAccum, r.Train.Epochs, r.Train.MaxSteps)
	t.sampler, err = datasets.NewSampler(len(t.train), r.Train.BatchSize, train.DeriveSeed(r.Train.Seed, "sampler"), r.Data.Shuffle)
	return err
}

// prepareOptimizer attaches LoRA when asked and builds AdamW over what trains.
func (t *trainer) prepareOptimizer(ckpt string) error {
	var err error
	if t.lora, t.params, err = setup.Trainable(t.m, t.r, ckpt); err != nil {
		return err
	}
	t.opt, t.sched, err = setup.Optimizer(t.params, t.r, t.maxSteps)
	t.guard = setup.Guard(t.params, t.opt, t.r)
	return err
}

// prepareReference sets t.ref: nothing for reference-free losses; the
// policy's base weights under LoRA (unless dpo.ref_model names another
// checkpoint); else a second model loaded from dpo.ref_model or model.path.
// With precompute_ref_log_probs the reference scores every pair once, the
// values are cached in output_dir, and the model is dropped before training.
func (t *trainer) prepareReference() error {
	r := t.r
	if !usesReference(r.DPO) {
		return nil
	}
	refPath := r.DPO.RefModel
	if refPath == "" {
		refPath = r.Model.Path
	}
	load := func() (reference, error) {
		if t.lora != nil && r.DPO.RefModel == "" {
			return &modelReference{m: t.m, lora: t.lora, padID: t.padID}, nil
		}
		mc := r.Model
		mc.Path = r.DPO.RefModel
		if mc.Path != "" {
			mc.Init = nil
		} else {
			mc.Path = r.Model.Path // model.init: the same seed rebuilds the same starting weights
		}
		m, err := setup.Model(t.be, mc, t.tok, train.DeriveSeed(r.Train.Seed, "init"))
		if err != nil {
			return nil, fmt.Errorf("reference model: %w", err)
		}
		return &modelReference{m: m, padID: t.padID}, nil
	}
	if !r.DPO.PrecomputeRefLogProbs {
		var err error
		t.ref, err = load()
		return err
	}
	splits := map[string][]Pair{"train": t.train, "eval": t.eval}
	fp := fingerprint(fmt.Sprintf("%s|init=%v|seed=%d", refPath, r.Model.Init != nil, r.Train.Seed), splits)
	path := filepath.Join(r.OutputDir, referenceCacheFile)
	cache, ok, err := loadReferenceCache(path, fp)
	if err != nil {
		return err
	}
	if !ok {
		ref, err := load()
		if err != nil {
			return err
		}
		if cache, err = precompute(ref, splits, max(r.Train.BatchSize, 1), fp); err != nil {
			return err
		}
		if err := cache.save(path); err != nil {
			return err
		}
	}
	t.ref = cache
	return nil
}

// writeModel writes the model (and adapter) with the tokenizer into dir.
func (t *trainer) writeModel(dir string) error {
	return setup.WriteModelDir(dir, t.m, t.tok, t.r.Model.Path)
}

// saveFinal writes the final model into OUTPUT_DIR and plots the metrics.
func (t *trainer) saveFinal() error {
	return setup.FinishRun(t.r.OutputDir, t.m, t.tok, t.r.Model.Path, metricsFile)
}
