package setup

import (
	"fmt"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

// Trainable enables m's gradients and returns what the optimizer updates:
// every parameter (norms without weight decay), or, when the recipe enables
// LoRA, only the adapters — fresh ones, or those of the checkpoint ckpt being
// resumed.
func Trainable(m *model.Model, r *recipes.Recipe, ckpt string) (*model.LoRA, []train.Param, error) {
	m.EnableGrads()
	var params []train.Param
	if !r.LoRA.Enabled {
		for i, p := range m.Params.Tensors {
			g := m.Grads.Tensors[i]
			params = append(params, train.Param{Name: p.Name, Data: cpu.F(p.Buf), Grad: cpu.F(g.Buf), Decay: !p.Norm})
		}
		return nil, params, nil
	}
	var lo *model.LoRA
	var err error
	if ckpt != "" {
		lo, err = m.LoadAdapter(ckpt)
	} else {
		cfg := model.LoRAConfig{Rank: r.LoRA.R, Alpha: r.LoRA.Alpha, Dropout: r.LoRA.Dropout, TargetModules: r.LoRA.TargetModules}
		lo, err = m.AttachLoRA(cfg, train.DeriveSeed(r.Train.Seed, "lora"))
	}
	if err != nil {
		return nil, nil, err
	}
	for i, p := range lo.Tensors {
		params = append(params, train.Param{Name: p.Name, Data: cpu.F(p.Buf), Grad: cpu.F(lo.Grads[i].Buf), Decay: true})
	}
	return lo, params, nil
}

// Optimizer builds the recipe's AdamW over params and its learning-rate
// schedule over totalSteps optimizer steps.
func Optimizer(params []train.Param, r *recipes.Recipe, totalSteps int) (*train.AdamW, train.Schedule, error) {
	opt, err := train.NewAdamW(params, train.AdamWConfig{Beta1: r.Optim.Betas[0], Beta2: r.Optim.Betas[1],
		Eps: r.Optim.Eps, WeightDecay: r.Optim.WeightDecay})
	if err != nil {
		return nil, train.Schedule{}, err
	}
	sched, err := train.NewSchedule(r.Schedule.Type, r.Optim.LR, r.Schedule.WarmupSteps, totalSteps, r.Schedule.MinLRRatio)
	return opt, sched, err
}

// Guard is the optimizer step every stage's loop calls: clipping at
// optim.grad_clip, non-finite checks and train.skip_nonfinite_steps.
func Guard(params []train.Param, opt *train.AdamW, r *recipes.Recipe) *train.StepGuard {
	return &train.StepGuard{Params: params, Opt: opt, MaxNorm: r.Optim.GradClip, MaxSkips: r.Train.SkipNonfiniteSteps}
}

// RequireLoss refuses to train on a split in which no position carries a loss
// (every completion masked or truncated away): the run would log loss 0 and
// change nothing. what describes the split for the message.
func RequireLoss(what string, lossTokens int, hint string) error {
	if lossTokens > 0 {
		return nil
	}
	return fmt.Errorf("%s: no token carries a loss (every completion was masked or truncated away), so training would change nothing; %s", what, hint)
}
