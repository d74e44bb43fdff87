package ppo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// ErrInterrupted is returned when a signal stopped the run after a checkpoint
// was saved; it wraps train.ErrInterrupted.
var ErrInterrupted = fmt.Errorf("ppo: %w; a checkpoint was saved, continue with --resume", train.ErrInterrupted)

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
	// Steps is the number of rollout iterations done (resumed ones included).
	Steps int
	// MeanScore is the mean reward of the last iteration's rollouts.
	MeanScore float64
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
	Resumed   int // the iteration the run resumed from (0: a fresh run)
}

// File names in output_dir and in checkpoints, besides the policy's.
const (
	optimizerFile = "optimizer.safetensors"
	metricsFile   = "metrics.jsonl"
	stateFile     = "rl_state.json"
	// ValueModelDir is where PPO writes its value model (a
	// LlamaForSequenceClassification checkpoint) inside output_dir.
	ValueModelDir = "value_model"
)

// session is what PPO and GRPO share: the policy, its frozen reference, the
// prompts and the rollout pool, the optimizer and the checkpoint plumbing.
type session struct {
	r       *recipes.Recipe
	stage   string
	be      compute.Backend
	tok     *tokenizer.Tokenizer
	padID   int32
	policy  *model.Model
	ref     *model.Model // nil when no KL term needs it
	scorer  rollout.Scorer
	rm      *reward.Model // the reward model when reward_model is a checkpoint
	prompts []rollout.Prompt
	sampler *datasets.Sampler
	pool    *rollout.Pool
	params  []train.Param
	opt     *train.AdamW
	sched   train.Schedule
	shuffle *train.RNG // minibatch order
	ckpt    string     // checkpoint resumed from ("" for a fresh run)
	start   int
	run     *setup.Start // output_dir's lock and the run record
	guard   *train.StepGuard
	state   rlState
}

// rlState is the stage state a checkpoint keeps besides the trainer state.
type rlState struct {
	KLCoef float64 `json:"kl_coef"`
}

// stageSettings are the per-stage knobs session setup needs.
type stageSettings struct {
	refModel, rewardModel string
	needRef               bool
	workers, maxNew       int
	temperature           float64
	group                 int // completions per prompt
}

// newSession loads everything but the optimizer (the stage adds its value
// model's parameters first, then calls buildOptimizer).
func newSession(r *recipes.Recipe, stage string, st stageSettings, opts Options) (_ *session, err error) {
	if r.LoRA.Enabled {
		return nil, fmt.Errorf("%s: lora.enabled is not supported by this stage yet; train the full model (lora.enabled=false)", stage)
	}
	start, err := setup.StartRun(r, opts.Lifecycle, logWriter(opts))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			start.Close()
		}
	}()
	be := start.Backend
	s := &session{r: r, stage: stage, be: be, tok: start.Tokenizer, ckpt: start.Checkpoint, start: start.Step, run: start}
	s.padID = setup.PadID(s.tok)
	initSeed := train.DeriveSeed(r.Train.Seed, "init")
	if s.ckpt != "" {
		s.policy, err = model.Load(be, s.ckpt)
	} else {
		s.policy, err = setup.Model(be, r.Model, s.tok, initSeed)
	}
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if st.needRef {
		// The reference is the starting policy, frozen: ref_model, else model.path (or
		// model.init with the same seed), so a resumed run gets the same one.
		refCfg := r.Model
		if st.refModel != "" {
			refCfg = recipes.ModelConfig{Path: st.refModel}
		}
		if s.ref, err = setup.Model(be, refCfg, s.tok, initSeed); err != nil {
			return nil, fmt.Errorf("%s.ref_model: %w", stage, err)
		}
	}
	if s.scorer, s.rm, err = newScorer(st.rewardModel, be, s.tok); err != nil {
		return nil, fmt.Errorf("%s.%w", stage, err)
	}
	if s.prompts, err = loadPrompts(r, s.tok); err != nil {
		return nil, err
	}
	if s.sampler, err = datasets.NewSampler(len(s.prompts), r.Train.BatchSize, train.DeriveSeed(r.Train.Seed, "sampler"), r.Data.Shuffle); err != nil {
		return nil, err
	}
	perWorker := (r.Train.BatchSize*st.group + st.workers - 1) / st.workers
	s.pool, err = rollout.NewPool(rollout.Config{
		Workers: st.workers, BatchSize: perWorker,
		NewGenerator: rollout.ForkedModelGenerators(s.policy, func() compute.Backend { return cpu.NewForPool(st.workers) }),
		Scorer:       s.scorer,
		Generate: rollout.GenerateOptions{
			SamplingOptions: model.SamplingOptions{Temperature: st.temperature},
			MaxNewTokens:    st.maxNew, StopTokens: s.tok.EOS(),
			Seed: train.DeriveSeed(r.Train.Seed, "rollout"),
		},
	})
	if err != nil {
		return nil, err
	}
	s.policy.EnableGrads()
	for i, p := range s.policy.Params.Tensors {
		s.params = append(s.params, train.Param{Name: p.Name, Data: cpu.F(p.Buf), Grad: cpu.F(s.policy.Grads.Tensors[i].Buf), Decay: !p.Norm})
	}
	s.shuffle = train.NewRNG(r.Train.Seed, "minibatch")
	return s, nil
}

// maxSteps is the number of rollout iterations: train.max_steps, or epochs
// over the prompts.
func (s *session) maxSteps() int {
	return train.TotalSteps(len(s.prompts), s.r.Train.BatchSize, 1, s.r.Train.Epochs, s.r.Train.MaxSteps)
}

// buildOptimizer creates AdamW over s.params and the schedule, and restores
// the checkpoint's optimizer, sampler, RNG and stage state when resuming.
func (s *session) buildOptimizer() error {
	r := s.r
	var err error
	s.opt, err = train.NewAdamW(s.params, train.AdamWConfig{Beta1: r.Optim.Betas[0], Beta2: r.Optim.Betas[1],
		Eps: r.Optim.Eps, WeightDecay: r.Optim.WeightDecay})
	if err != nil {
		return err
	}
	// The learning rate follows the schedule over rollout iterations (TRL anneals per update).
	if s.sched, err = train.NewSchedule(r.Schedule.Type, r.Optim.LR, r.Schedule.WarmupSteps, s.maxSteps(), r.Schedule.MinLRRatio); err != nil {
		return err
	}
	s.guard = setup.Guard(s.params, s.opt, r)
	if s.ckpt == "" {
		return nil
	}
	if err := train.LoadOptimizer(filepath.Join(s.ckpt, optimizerFile), s.opt); err != nil {
		return err
	}
	ts, err := train.LoadTrainerState(s.ckpt)
	if err != nil {
		return err
	}
	var ss datasets.SamplerState
	if err := json.Unmarshal(ts.Sampler, &ss); err != nil {
		return fmt.Errorf("%s: sampler state: %w", s.ckpt, err)
	}
	if err := s.sampler.Restore(ss); err != nil {
		return fmt.Errorf("%s: %w", s.ckpt, err)
	}
	if b, ok := ts.RNGStates["minibatch"]; ok {
		if err := s.shuffle.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%s: minibatch RNG: %w", s.ckpt, err)
		}
	}
	body, err := os.ReadFile(filepath.Join(s.ckpt, stateFile))
	if err != nil {
		return fmt.Errorf("%s: %w", s.ckpt, err)
	}
	if err := json.Unmarshal(body, &s.state); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(s.ckpt, stateFile), err)
	}
	return nil
}

// nextPrompts draws iteration step's prompts, each repeated group times.
func (s *session) nextPrompts(step, group int) []rollout.Prompt {
	return promptBatch(s.prompts, s.sampler.Next(), group, step, s.r.Train.BatchSize)
}

// generate runs the pool on prompts. A signal does not cut an iteration's
// rollouts short (the loop stops after the step and saves a checkpoint); any
// other cancellation does. Samples that failed are dropped.
func (s *session) generate(ctx context.Context, prompts []rollout.Prompt) ([]rollout.Sample, rollout.Stats, int, error) {
	rc, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !train.Interrupted(ctx) {
			cancel()
		}
	})
	defer func() { stop(); cancel() }()
	samples, stats, err := s.pool.Run(rc, prompts)
	if samples == nil {
		return nil, stats, 0, fmt.Errorf("rollout: %w", err)
	}
	ok := samples[:0:0]
	for _, smp := range samples {
		if smp.Err == nil {
			ok = append(ok, smp)
		}
	}
	if len(ok) == 0 {
		return nil, stats, len(samples), fmt.Errorf("rollout: every sample failed: %w", err)
	}
	return ok, stats, len(samples) - len(ok), nil
}

// saveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically; extra writes
// the stage's own files (the value model) into the checkpoint directory.
func (s *session) saveCheckpoint(step int, extra func(dir string) error) error {
	ss := s.sampler.State()
	samplerJSON, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	rng, err := s.shuffle.MarshalBinary()
	if err != nil {
		return err
	}
	sched := s.sched
	state := &train.TrainerState{GlobalStep: step, MaxSteps: s.maxSteps(), Sampler: samplerJSON,
		RNGStates: map[string][]byte{"minibatch": rng}, Schedule: &sched, Epoch: float64(ss.Epoch)}
	_, err = train.SaveCheckpoint(s.r.OutputDir, state, func(dir string) error {
		if err := s.writeModels(dir, extra); err != nil {
			return err
		}
		if err := s.run.Record.Write(dir); err != nil {
			return err
		}
		body, err := json.MarshalIndent(s.state, "", "  ")
		if err != nil {
			return err
		}
		if err := model.WriteFileAtomic(filepath.Join(dir, stateFile), body); err != nil {
			return err
		}
		return train.SaveOptimizer(filepath.Join(dir, optimizerFile), s.opt)
	}, s.r.Train.SaveTotalLimit)
	return err
}

func (s *session) writeModels(dir string, extra func(dir string) error) error {
	if err := s.policy.Save(dir, model.SaveOptions{}); err != nil {
		return err
	}
	if err := setup.WriteTokenizer(s.tok, dir); err != nil {
		return err
	}
	if extra != nil {
		return extra(dir)
	}
	return nil
}

// saveFinal writes the policy (and the stage's extra files) into output_dir
// and plots the metrics.
func (s *session) saveFinal(extra func(dir string) error) error {
	if err := s.writeModels(s.r.OutputDir, extra); err != nil {
		return err
	}
	_, err := train.PlotMetrics(filepath.Join(s.r.OutputDir, metricsFile), s.r.OutputDir)
	return err
}

// loop runs iterations start+1..maxSteps of step, logging and checkpointing
// like the SFT loop.
func (s *session) loop(ctx context.Context, logw io.Writer, step func(ctx context.Context, step int) (map[string]float64, error), extra func(dir string) error) (*Result, error) {
	r := s.r
	total := s.maxSteps()
	metrics, err := train.OpenMetricsLog(filepath.Join(r.OutputDir, metricsFile), s.start)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	bar := train.NewProgress(logw, total, s.start, s.stage)
	res := &Result{OutputDir: r.OutputDir, Model: s.policy, Tokenizer: s.tok, Steps: s.start, Resumed: s.start}
	lastSaved := s.start
	for it := s.start + 1; it <= total; it++ {
		vals, err := step(ctx, it)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				bar.Finish()
				return res, fmt.Errorf("%s iteration %d: %w", s.stage, it, err)
			}
			return nil, fmt.Errorf("%s iteration %d: %w", s.stage, it, err)
		}
		res.Steps, res.MeanScore = it, vals["score"]
		bar.Step(it)
		if it%max(r.Train.LoggingSteps, 1) == 0 || it == total {
			if err := metrics.Log(it, vals); err != nil {
				return nil, err
			}
			bar.Log(it, vals)
		}
		interrupted := train.Interrupted(ctx)
		if (r.Train.SaveSteps > 0 && it%r.Train.SaveSteps == 0) || interrupted {
			if err := s.saveCheckpoint(it, extra); err != nil {
				return nil, err
			}
			lastSaved = it
		}
		if interrupted {
			bar.Finish()
			return res, train.InterruptedAt(ctx, ErrInterrupted, "iteration", lastSaved)
		}
	}
	bar.Finish()
	return res, nil
}

// optimizerStep clips the gradient norm and steps AdamW at iteration it's
// learning rate through the shared guard: a non-finite loss or norm stops the
// run (or is skipped within train.skip_nonfinite_steps).
func (s *session) optimizerStep(it int, loss float64) (norm, lr float64, skipped bool, err error) {
	lr = s.sched.LR(it - 1)
	norm, skipped, err = s.guard.Step(it, loss, lr)
	return norm, lr, skipped, err
}
