package recipes

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// problems collects every validation failure so one run of `posttrain run` reports them all.
type problems struct {
	r    *Recipe
	errs []string
}

// addf records a problem with field path, prefixed by where the value was set.
func (p *problems) addf(path, format string, args ...any) {
	msg := path + " " + fmt.Sprintf(format, args...)
	if where, ok := p.r.origin[path]; ok {
		msg = where + ": " + msg
	}
	p.errs = append(p.errs, msg)
}

func (p *problems) oneOf(path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		p.addf(path, "must be one of %s, found %q", strings.Join(allowed, ", "), value)
	}
}

func (p *problems) positive(path string, v float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		p.addf(path, "must be > 0, found %g", v)
	}
}

func (p *problems) nonNegative(path string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		p.addf(path, "must be >= 0, found %g", v)
	}
}

// atMost checks an upper bound (the lower one is checked with its own message).
func (p *problems) atMost(path string, v, hi int) {
	if v > hi {
		p.addf(path, "must be <= %d, found %d", hi, v)
	}
}

// inRange checks lo <= v < hi.
func (p *problems) inRange(path string, v, lo, hi float64) {
	if !(v >= lo && v < hi) {
		p.addf(path, "must be in [%g, %g), found %g", lo, hi, v)
	}
}

var deviceRE = regexp.MustCompile(`^(auto|cpu|cuda|cuda:[0-9]+)$`)

// LoRA target modules: the linear layers of a LLaMA block, or PEFT's "all-linear".
var loraTargets = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "all-linear"}

// Validate checks the recipe after overrides and fills derived defaults (the model.init
// fields transformers derives). It reports every problem found, joined, wrapping ErrInvalid.
func Validate(r *Recipe) error {
	if r.origin == nil {
		r.origin = map[string]string{}
	}
	p := &problems{r: r}
	p.oneOf("stage", r.Stage, Stages...)
	validateModel(p, &r.Model)
	validateData(p, r)
	validateOptim(p, r)
	validateTrain(p, r)
	if r.LoRA.Enabled {
		validateLoRA(p, &r.LoRA)
	}
	validateStage(p, r)
	if r.OutputDir == "" {
		p.addf("output_dir", "is empty; set it in the recipe or with output_dir=DIR")
	}
	if !deviceRE.MatchString(r.Device) {
		p.addf("device", "must be auto, cpu, cuda or cuda:N, found %q", r.Device)
	}
	if len(p.errs) == 0 {
		return nil
	}
	msgs := p.errs
	name := ""
	if r.Name != "" {
		name = " " + strconv.Quote(r.Name)
	}
	return fmt.Errorf("%w%s:\n  %s", ErrInvalid, name, strings.Join(msgs, "\n  "))
}

func validateModel(p *problems, m *ModelConfig) {
	switch {
	case m.Path == "" && m.Init == nil:
		p.addf("model.path", "is empty; set model.path to a Hugging Face checkpoint or model.init for a new model")
	case m.Path != "" && m.Init != nil:
		p.addf("model.init", "cannot be combined with model.path %q; set one of them", m.Path)
	}
	p.oneOf("model.dtype", m.DType, "float32", "bfloat16")
	if m.Init == nil {
		return
	}
	in := m.Init
	required := []struct {
		key string
		v   int
	}{
		{"vocab_size", in.VocabSize}, {"hidden_size", in.HiddenSize}, {"intermediate_size", in.IntermediateSize},
		{"num_hidden_layers", in.NumHiddenLayers}, {"num_attention_heads", in.NumAttentionHeads},
	}
	for _, f := range required {
		if f.v <= 0 {
			p.addf("model.init."+f.key, "must be > 0, found %d", f.v)
		}
	}
	if in.NumAttentionHeads <= 0 || in.HiddenSize <= 0 {
		return
	}
	// Derived defaults, as LlamaConfig fills them.
	if in.NumKeyValueHeads == 0 {
		in.NumKeyValueHeads = in.NumAttentionHeads
	}
	if in.HeadDim == 0 {
		if in.HiddenSize%in.NumAttentionHeads != 0 {
			p.addf("model.init.hidden_size", "%d is not divisible by num_attention_heads %d; set head_dim", in.HiddenSize, in.NumAttentionHeads)
		}
		in.HeadDim = in.HiddenSize / in.NumAttentionHeads
	}
	if in.NumKeyValueHeads < 0 || in.NumAttentionHeads%in.NumKeyValueHeads != 0 {
		p.addf("model.init.num_key_value_heads", "must divide num_attention_heads %d, found %d", in.NumAttentionHeads, in.NumKeyValueHeads)
	}
	if in.MaxPositionEmbeddings == 0 {
		in.MaxPositionEmbeddings = 2048
	}
	if in.RopeTheta == 0 {
		in.RopeTheta = 500000
	}
	if in.RMSNormEps == 0 {
		in.RMSNormEps = 1e-5
	}
	if in.InitializerRange == 0 {
		in.InitializerRange = 0.02
	}
}

// Upper bounds checked before anything is loaded: beyond them a run would
// only end in an out-of-memory crash. The model's max_position_embeddings and
// the memory available are checked again once the model is loaded.
const (
	MaxSequenceLength = 1 << 20
	MaxBatchSize      = 1 << 16
	maxWorkers        = 1 << 10
	maxEpochs         = 1 << 16
)

func validateData(p *problems, r *Recipe) {
	d := &r.Data
	if d.Train == "" {
		p.addf("data.train", "is empty; set a .jsonl/.parquet path or builtin:NAME")
	}
	p.inRange("data.eval_fraction", d.EvalFraction, 0, 1)
	if d.Eval != "" && d.EvalFraction > 0 {
		p.addf("data.eval_fraction", "cannot be combined with data.eval %q; set one of them", d.Eval)
	}
	p.oneOf("data.format", d.Format, "auto", "text", "prompt_completion", "messages", "preference", "prompt")
	if d.MaxLength <= 0 {
		p.addf("data.max_length", "must be > 0, found %d", d.MaxLength)
	}
	if d.MaxLength > MaxSequenceLength {
		p.addf("data.max_length", "must be <= %d, found %d (it must also fit the model's max_position_embeddings)", MaxSequenceLength, d.MaxLength)
	}
	if in := r.Model.Init; in != nil && in.MaxPositionEmbeddings > 0 && d.MaxLength > in.MaxPositionEmbeddings {
		p.addf("data.max_length", "%d is beyond model.init.max_position_embeddings %d", d.MaxLength, in.MaxPositionEmbeddings)
	}
	if d.MaxPromptLength < 0 || (d.MaxLength > 0 && d.MaxPromptLength >= d.MaxLength) {
		p.addf("data.max_prompt_length", "must be in [0, max_length %d), found %d", d.MaxLength, d.MaxPromptLength)
	}
	p.oneOf("data.truncation_side", d.TruncationSide, "right", "left")
}

func validateOptim(p *problems, r *Recipe) {
	o := &r.Optim
	p.positive("optim.lr", o.LR)
	p.inRange("optim.betas", o.Betas[0], 0, 1)
	p.inRange("optim.betas", o.Betas[1], 0, 1)
	p.positive("optim.eps", o.Eps)
	p.nonNegative("optim.weight_decay", o.WeightDecay)
	p.nonNegative("optim.grad_clip", o.GradClip)

	s := &r.Schedule
	p.oneOf("schedule.type", s.Type, ScheduleConstant, ScheduleLinear, ScheduleCosine)
	if s.WarmupSteps < 0 {
		p.addf("schedule.warmup_steps", "must be >= 0, found %d", s.WarmupSteps)
	}
	if !(s.MinLRRatio >= 0 && s.MinLRRatio <= 1) {
		p.addf("schedule.min_lr_ratio", "must be in [0, 1], found %g", s.MinLRRatio)
	}
	if s.MinLRRatio != 0 && s.Type != ScheduleCosine {
		p.addf("schedule.min_lr_ratio", "applies only to schedule.type cosine, but type is %q", s.Type)
	}
}

func validateTrain(p *problems, r *Recipe) {
	t := &r.Train
	atLeast := func(path string, v, lo int) {
		if v < lo {
			p.addf(path, "must be >= %d, found %d", lo, v)
		}
	}
	atLeast("train.batch_size", t.BatchSize, 1)
	if t.BatchSize > MaxBatchSize {
		p.addf("train.batch_size", "must be <= %d, found %d (raise train.grad_accum for larger effective batches)", MaxBatchSize, t.BatchSize)
	}
	atLeast("train.grad_accum", t.GradAccum, 1)
	atLeast("train.max_steps", t.MaxSteps, 0)
	atLeast("train.epochs", t.Epochs, 0)
	atLeast("train.eval_steps", t.EvalSteps, 0)
	atLeast("train.save_steps", t.SaveSteps, 0)
	atLeast("train.logging_steps", t.LoggingSteps, 0)
	atLeast("train.save_total_limit", t.SaveTotalLimit, 0)
	atLeast("train.skip_nonfinite_steps", t.SkipNonfiniteSteps, 0)
	if t.MaxSteps == 0 && t.Epochs == 0 {
		p.addf("train.max_steps", "and train.epochs are both 0; set one of them")
	}
	// A builtin:NAME data set brings its own held-out split.
	if t.EvalSteps > 0 && r.Data.Eval == "" && r.Data.EvalFraction == 0 && !strings.HasPrefix(r.Data.Train, "builtin:") {
		p.addf("train.eval_steps", "is %d but there is no eval data; set data.eval or data.eval_fraction", t.EvalSteps)
	}
}

func validateLoRA(p *problems, l *LoRAConfig) {
	if l.R < 1 {
		p.addf("lora.r", "must be >= 1, found %d", l.R)
	}
	p.positive("lora.alpha", l.Alpha)
	p.inRange("lora.dropout", l.Dropout, 0, 1)
	if len(l.TargetModules) == 0 {
		p.addf("lora.target_modules", "is empty; name the layers to adapt, e.g. [q_proj, v_proj]")
	}
	for _, m := range l.TargetModules {
		p.oneOf("lora.target_modules", m, loraTargets...)
	}
}

// validateStage checks the active stage's section and that no other stage's section was set.
func validateStage(p *problems, r *Recipe) {
	paths := slices.Sorted(maps.Keys(r.origin))
	for _, s := range Stages {
		if s == r.Stage {
			continue
		}
		for _, path := range paths {
			if path == s || strings.HasPrefix(path, s+".") {
				p.addf(path, "belongs to stage %s, but this recipe's stage is %q", s, r.Stage)
				break
			}
		}
	}
	switch r.Stage {
	case StageReward:
		p.nonNegative("reward.center_rewards_coefficient", r.Reward.CenterRewardsCoefficient)
	case StageDPO:
		d := &r.DPO
		p.positive("dpo.beta", d.Beta)
		p.oneOf("dpo.loss_type", d.LossType, DPOSigmoid, DPOHinge, DPOIPO, DPORobust, DPOSimPO)
		p.inRange("dpo.label_smoothing", d.LabelSmoothing, 0, 0.5)
		if d.LabelSmoothing > 0 && (d.LossType == DPOHinge || d.LossType == DPOIPO) {
			p.addf("dpo.label_smoothing", "applies only to loss_type sigmoid, robust or simpo, but loss_type is %q", d.LossType)
		}
		p.nonNegative("dpo.simpo_gamma", d.SimPOGamma)
		p.nonNegative("dpo.rpo_alpha", d.RPOAlpha)
	case StagePPO:
		c := &r.PPO
		if c.RewardModel == "" {
			p.addf("ppo.reward_model", "is empty; PPO needs a reward model checkpoint")
		}
		p.oneOf("ppo.kl_estimator", c.KLEstimator, KLK1, KLK3)
		p.nonNegative("ppo.kl_coef", c.KLCoef)
		p.positive("ppo.cliprange", c.ClipRange)
		p.positive("ppo.cliprange_value", c.ClipRangeValue)
		p.nonNegative("ppo.vf_coef", c.VFCoef)
		p.inRange("ppo.gamma", c.Gamma, 0, 1.0000001)
		p.inRange("ppo.lam", c.Lambda, 0, 1.0000001)
		p.positive("ppo.temperature", c.Temperature)
		p.nonNegative("ppo.missing_eos_penalty", c.MissingEOSPenalty)
		p.nonNegative("ppo.kl_target", c.KLTarget)
		if c.KLTarget > 0 {
			p.positive("ppo.kl_horizon", c.KLHorizon)
		}
		for _, f := range []struct {
			key string
			v   int
		}{{"num_ppo_epochs", c.PPOEpochs}, {"num_mini_batches", c.NumMiniBatches}, {"response_length", c.ResponseLength}, {"rollout_workers", c.RolloutWorkers}} {
			if f.v < 1 {
				p.addf("ppo."+f.key, "must be >= 1, found %d", f.v)
			}
		}
		p.atMost("ppo.response_length", c.ResponseLength, MaxSequenceLength)
		p.atMost("ppo.rollout_workers", c.RolloutWorkers, maxWorkers)
		p.atMost("ppo.num_ppo_epochs", c.PPOEpochs, maxEpochs)
	case StageGRPO:
		g := &r.GRPO
		if g.RewardModel == "" {
			p.addf("grpo.reward_model", "is empty; GRPO needs a reward model")
		}
		if g.NumGenerations < 2 {
			p.addf("grpo.num_generations", "must be >= 2 (advantages compare completions within a group), found %d", g.NumGenerations)
		}
		p.nonNegative("grpo.beta", g.Beta)
		p.positive("grpo.epsilon", g.Epsilon)
		p.positive("grpo.temperature", g.Temperature)
		if g.MaxCompletionLength < 1 {
			p.addf("grpo.max_completion_length", "must be >= 1, found %d", g.MaxCompletionLength)
		}
		if g.RolloutWorkers < 1 {
			p.addf("grpo.rollout_workers", "must be >= 1, found %d", g.RolloutWorkers)
		}
		p.atMost("grpo.max_completion_length", g.MaxCompletionLength, MaxSequenceLength)
		p.atMost("grpo.rollout_workers", g.RolloutWorkers, maxWorkers)
		p.atMost("grpo.num_generations", g.NumGenerations, MaxBatchSize)
		p.oneOf("grpo.advantage", g.Advantage, AdvantageGRPO, AdvantageRLOO)
		if g.NumIterations < 1 {
			p.addf("grpo.num_iterations", "must be >= 1, found %d", g.NumIterations)
		}
	}
}
