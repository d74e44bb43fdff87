package reward

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

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
var ErrInterrupted = fmt.Errorf("reward: a checkpoint was saved, continue with --resume: %w", train.ErrInterrupted)

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
	TrainLoss float64
	// Eval is the held-out evaluation of the final model (nil without eval data);
	// its files are in OutputDir.
	Eval      *Evaluation
	Model     *Model
	Tokenizer *tokenizer.Tokenizer
	// TrainDropped and EvalDropped count pairs left out for length.
	TrainDropped, EvalDropped int
	Resumed                   int // the step the run resumed from (0: a fresh run)
}

// trainer is the state of one run.
type trainer struct {
	r        *recipes.Recipe
	be       compute.Backend
	tok      *tokenizer.Tokenizer
	rm       *Model
	lora     *model.LoRA
	params   []train.Param
	opt      *train.AdamW
	sched    train.Schedule
	maxSteps int
	sampler  *datasets.Sampler
	guard    *train.StepGuard
	run      *setup.Start // output_dir's lock and the run record
	train    []Pair
	eval     []Pair
	dropped  [2]int // train, eval
}

// Run trains r (stage reward) and writes the final reward model, its held-out
// evaluation (metrics, per-pair rewards, histogram) and the metric plots to
// r.OutputDir. With LoRA the adapters are merged into the saved model.
func Run(ctx context.Context, r *recipes.Recipe, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if r.Stage != recipes.StageReward {
		return nil, fmt.Errorf("reward: recipe %q has stage %q, want %q", r.Name, r.Stage, recipes.StageReward)
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
	if res.Eval, err = t.evaluate(); err != nil {
		return res, err
	}
	return res, t.saveFinal(res.Eval)
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
	if ckpt != "" {
		t.rm, err = Load(be, ckpt)
	} else {
		t.rm, err = initialModel(be, r, t.tok)
	}
	if err != nil {
		return nil, 0, err
	}
	if err := model.CheckTrainingShape(t.rm.Trunk.Config, 2*r.Train.BatchSize, r.Data.MaxLength, model.ModelSource(ckpt, r.Model.Path), !r.LoRA.Enabled); err != nil {
		return nil, 0, err // each pair is two rows
	}
	if t.rm.PadID < 0 {
		t.rm.PadID = setup.PadID(t.tok)
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

// initialModel loads model.path as a reward model when it is one, and
// otherwise starts one from the causal LM (model.path or model.init) with a
// new score head.
func initialModel(be compute.Backend, r *recipes.Recipe, tok *tokenizer.Tokenizer) (*Model, error) {
	if r.Model.Path != "" {
		cfg, err := model.LoadConfig(filepath.Join(r.Model.Path, "config.json"))
		if err != nil {
			return nil, fmt.Errorf("model.path: %w", err)
		}
		if cfg.IsSequenceClassifier() {
			return Load(be, r.Model.Path)
		}
	}
	lm, err := setup.Model(be, r.Model, tok, train.DeriveSeed(r.Train.Seed, "init"))
	if err != nil {
		return nil, err
	}
	_, rm, err := FromCausalLM(be, lm, train.DeriveSeed(r.Train.Seed, "score"))
	return rm, err
}

// EncodePairs loads and tokenizes the train and eval preference pairs a
// recipe's data block names; dropped counts the pairs over data.max_length.
func EncodePairs(r *recipes.Recipe, tok *tokenizer.Tokenizer) (trainPairs, evalPairs []Pair, dropped [2]int, err error) {
	format := datasets.FormatAuto
	if r.Data.Format != "" {
		if format, err = datasets.ParseFormat(r.Data.Format); err != nil {
			return nil, nil, dropped, err
		}
	}
	trainRows, evalRows, _, err := setup.Splits(r.Data, format, r.Train.Seed)
	if err != nil {
		return nil, nil, dropped, err
	}
	opts := datasets.PreferenceOptions{MaxLength: r.Data.MaxLength, SkipBadRows: r.Data.SkipBadRows}
	for i, rows := range [][]datasets.Row{trainRows, evalRows} {
		if len(rows) == 0 {
			continue
		}
		ex, rep, err := datasets.EncodePreference(rows, tok, opts)
		if err != nil {
			return nil, nil, dropped, err
		}
		dropped[i] = rep.Dropped
		if i == 0 {
			trainPairs = PairsFrom(ex)
		} else {
			evalPairs = PairsFrom(ex)
		}
	}
	if len(trainPairs) == 0 {
		return nil, nil, dropped, fmt.Errorf("data.train %s: no preference pairs left (%d dropped for data.max_length %d)",
			r.Data.Train, dropped[0], r.Data.MaxLength)
	}
	return trainPairs, evalPairs, dropped, nil
}

// prepareData tokenises the splits and builds the sampler.
func (t *trainer) prepareData() error {
	var err error
	t.train, t.eval, t.dropped, err = EncodePairs(t.r, t.tok)
	if err != nil {
		return err
	}
	tc := t.r.Train
	t.maxSteps = train.TotalSteps(len(t.train), tc.BatchSize, max(tc.GradAccum, 1), tc.Epochs, tc.MaxSteps)
	t.sampler, err = datasets.NewSampler(len(t.train), tc.BatchSize, train.DeriveSeed(tc.Seed, "sampler"), t.r.Data.Shuffle)
	return err
}

// prepareOptimizer attaches LoRA when asked and builds AdamW over what trains:
// every trunk tensor, or only the adapters, and always the score head (PEFT's
// modules_to_save for sequence classification).
func (t *trainer) prepareOptimizer(ckpt string) error {
	var err error
	if t.lora, t.params, err = setup.Trainable(t.rm.Trunk, t.r, ckpt); err != nil {
		return err
	}
	t.params = append(t.params, train.Param{Name: ScoreWeight, Data: t.rm.Score, Grad: t.rm.ScoreGrad, Decay: true})
	t.opt, t.sched, err = setup.Optimizer(t.params, t.r, t.maxSteps)
	t.guard = setup.Guard(t.params, t.opt, t.r)
	return err
}

// stepStats accumulates one optimizer step's pair statistics over its micro-batches.
type stepStats struct {
	pairs, correct         int
	loss, chosen, rejected float64 // sums over pairs
}

// step runs one optimizer step and returns its logged metrics. Every
// micro-batch holds its pairs' chosen and rejected sequences in one batch; the
// loss is the mean over all pairs of the step, so each micro-batch's
// gradient is weighted by its share of the pairs.
func (t *trainer) step(step int) (vals map[string]float64, err error) {
	t0 := time.Now()
	var micro [][]Pair
	total := 0
	for range max(t.r.Train.GradAccum, 1) {
		idx := t.sampler.Next()
		part := make([]Pair, len(idx))
		for i, j := range idx {
			part[i] = t.train[j]
		}
		micro = append(micro, part)
		total += len(part)
	}
	t.rm.ZeroGrads()
	if t.lora != nil {
		t.lora.ZeroGrads(t.be)
		t.lora.SetTraining(true)
		defer t.lora.SetTraining(false)
	}
	var st stepStats
	tokens := 0
	for _, part := range micro {
		b, margins, err := pairBatch(part, t.rm.PadID)
		if err != nil {
			return nil, err
		}
		res, err := t.rm.pairLossBackward(b, margins, t.r.Reward.CenterRewardsCoefficient, float64(len(part))/float64(total))
		if err != nil {
			return nil, err
		}
		n := float64(len(part))
		st.pairs += len(part)
		st.correct += int(math.Round(res.Metrics["accuracy"] * n))
		st.loss += res.Loss * n
		st.chosen += res.Metrics["rewards/chosen"] * n
		st.rejected += res.Metrics["rewards/rejected"] * n
		tokens += b.B * b.T
	}
	n := float64(st.pairs)
	lr := t.sched.LR(step - 1)
	norm, _, err := t.guard.Step(step, st.loss/n, lr)
	if err != nil {
		return nil, err
	}
	vals = map[string]float64{"loss": st.loss / n, "accuracy": float64(st.correct) / n,
		"rewards/chosen": st.chosen / n, "rewards/rejected": st.rejected / n,
		"rewards/margins": (st.chosen - st.rejected) / n,
		"lr":              lr, "grad_norm": norm, "tokens_per_s": float64(tokens) / time.Since(t0).Seconds()}
	if t.guard.Skipped > 0 {
		vals[train.MetricSkippedNonfinite] = float64(t.guard.Skipped)
	}
	return vals, nil
}

// pairLossBackward scores a pair batch (chosen rows first, then rejected),
// evaluates the Bradley–Terry objective and accumulates scale × its gradient
// into the model's gradients.
func (rm *Model) pairLossBackward(b *model.Batch, margins []float64, centerCoef, scale float64) (objective.Result, error) {
	rewards, err := rm.Rewards(b)
	if err != nil {
		return objective.Result{}, err
	}
	n := b.B / 2
	res, err := objective.BradleyTerry(rewards[:n], rewards[n:], margins, centerCoef)
	if err != nil {
		return objective.Result{}, err
	}
	d := make([]float64, b.B)
	for i := range n {
		d[i] = scale * res.Grads["chosen"][i]
		d[n+i] = scale * res.Grads["rejected"][i]
	}
	return res, rm.Backward(d)
}

// evaluate runs the held-out evaluation (nil without eval pairs).
func (t *trainer) evaluate() (*Evaluation, error) {
	if len(t.eval) == 0 {
		return nil, nil
	}
	return t.rm.Evaluate(t.eval, t.r.Train.BatchSize, t.dropped[1])
}

// loop runs steps start+1..maxSteps, logging, evaluating and checkpointing.
func (t *trainer) loop(ctx context.Context, start int, logw io.Writer) (*Result, error) {
	r := t.r
	metrics, err := train.OpenMetricsLog(filepath.Join(r.OutputDir, train.MetricsFile), start)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	bar := train.NewProgress(logw, t.maxSteps, start, "reward")
	res := &Result{OutputDir: r.OutputDir, Model: t.rm, Tokenizer: t.tok, TrainDropped: t.dropped[0], EvalDropped: t.dropped[1]}
	lastSaved := start
	for step := start + 1; step <= t.maxSteps; step++ {
		vals, err := t.step(step)
		if err != nil {
			return nil, fmt.Errorf("reward step %d: %w", step, err)
		}
		res.TrainLoss, res.Steps = vals["loss"], step
		evaluated := false
		if r.Train.EvalSteps > 0 && step%r.Train.EvalSteps == 0 && len(t.eval) > 0 {
			ev, err := t.evaluate()
			if err != nil {
				return nil, err
			}
			for k, v := range ev.Metrics.scalars() {
				vals[train.EvalPrefix+k] = v
			}
			evaluated = true
		}
		bar.Step(step)
		if step%max(r.Train.LoggingSteps, 1) == 0 || step == t.maxSteps || evaluated {
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
	if res.Steps == 0 {
		res.Steps = start
	}
	return res, nil
}

// scalars are the metrics logged at every evaluation (eval_ prefixed).
func (m Metrics) scalars() map[string]float64 {
	return map[string]float64{"accuracy": m.Accuracy, "rewards/margins": m.MeanMargin,
		"rewards/chosen": m.ChosenMean, "rewards/rejected": m.RejectedMean}
}
