package train

import (
	"fmt"
	"math"
)

// Schedule kinds, as in recipes.ScheduleConfig.Type.
const (
	ScheduleConstant = "constant"
	ScheduleLinear   = "linear"
	ScheduleCosine   = "cosine"
)

// Schedule maps an optimizer step to a learning rate with the formulas of Hugging Face's
// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
// get_cosine_with_min_lr_schedule_with_warmup (num_cycles 0.5). It is a plain value so it
// can be stored in a checkpoint's trainer state.
type Schedule struct {
	Kind        string  `json:"kind"`
	BaseLR      float64 `json:"base_lr"`
	WarmupSteps int     `json:"warmup_steps"`
	TotalSteps  int     `json:"total_steps"`
	// MinLRRatio is the cosine floor as a fraction of BaseLR (min_lr_rate in transformers).
	MinLRRatio float64 `json:"min_lr_ratio"`
}

// NewSchedule checks the arguments and returns the schedule.
func NewSchedule(kind string, baseLR float64, warmupSteps, totalSteps int, minLRRatio float64) (Schedule, error) {
	s := Schedule{Kind: kind, BaseLR: baseLR, WarmupSteps: warmupSteps, TotalSteps: totalSteps, MinLRRatio: minLRRatio}
	switch {
	case kind != ScheduleConstant && kind != ScheduleLinear && kind != ScheduleCosine:
		return s, fmt.Errorf("train: schedule kind %q: expected constant, linear or cosine", kind)
	case !(baseLR > 0):
		return s, fmt.Errorf("train: schedule base lr must be > 0, got %g", baseLR)
	case warmupSteps < 0:
		return s, fmt.Errorf("train: schedule warmup steps must be >= 0, got %d", warmupSteps)
	case totalSteps < 0:
		return s, fmt.Errorf("train: schedule total steps must be >= 0, got %d", totalSteps)
	case !(minLRRatio >= 0 && minLRRatio <= 1):
		return s, fmt.Errorf("train: schedule min lr ratio must be in [0, 1], got %g", minLRRatio)
	}
	return s, nil
}

// LR returns the learning rate for the update that follows `step` completed updates: the
// first optimizer step uses LR(0). As in transformers, LR(0) is 0 when there is warmup.
func (s Schedule) LR(step int) float64 {
	return s.BaseLR * s.Factor(step)
}

// Factor is the multiplier of BaseLR at step (the lr_lambda of transformers).
func (s Schedule) Factor(step int) float64 {
	if step < s.WarmupSteps {
		return float64(step) / float64(max(1, s.WarmupSteps))
	}
	decaySteps := float64(max(1, s.TotalSteps-s.WarmupSteps))
	switch s.Kind {
	case ScheduleLinear:
		return max(0, float64(s.TotalSteps-step)/decaySteps)
	case ScheduleCosine:
		progress := float64(step-s.WarmupSteps) / decaySteps
		factor := 0.5 * (1 + math.Cos(math.Pi*2*0.5*progress))
		return max(0, factor*(1-s.MinLRRatio)+s.MinLRRatio)
	}
	return 1
}
