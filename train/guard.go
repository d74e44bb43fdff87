package train

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrNonFinite is wrapped by every error about a NaN or infinite loss, gradient
// norm or parameter; a run that hits one stops rather than writing a model full of
// NaNs.
var ErrNonFinite = errors.New("train: non-finite value")

// NonFiniteError names the quantity that went non-finite; the stage's loop
// wraps it with the step.
type NonFiniteError struct {
	Step  int
	What  string // "loss", "grad_norm" or "parameter NAME[i]"
	Value float64
}

func (e *NonFiniteError) Error() string {
	msg := fmt.Sprintf("%s is %v: training diverged; lower optim.lr, set optim.grad_clip, check the data and the input model", e.What, e.Value)
	if !strings.HasPrefix(e.What, "parameter") {
		msg += " (train.skip_nonfinite_steps=N skips up to N such steps)"
	}
	return msg
}

func (e *NonFiniteError) Unwrap() error { return ErrNonFinite }

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// FirstNonFinite returns the index of the first NaN or ±Inf in data, or -1.
func FirstNonFinite(data []float32) int {
	for i, v := range data {
		// v-v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// MaxParamMagnitude bounds a trained weight: no LLaMA weight comes near it,
// and a run whose weights pass it has diverged even while its loss is still
// finite (a huge learning rate saturates the model at grad_norm 0 and would
// otherwise write a model full of 1e10 values).
const MaxParamMagnitude = 1e6

// CheckParams returns a NonFiniteError (What "parameter NAME[i]") for the
// first parameter value that is NaN, infinite or beyond ±MaxParamMagnitude.
func CheckParams(step int, params []Param) error {
	for _, p := range params {
		if i := firstExploded(p.Data); i >= 0 {
			what := fmt.Sprintf("parameter %s[%d]", p.Name, i)
			if v := p.Data[i]; v-v == 0 {
				what += fmt.Sprintf(" (beyond ±%g)", MaxParamMagnitude)
			}
			return &NonFiniteError{Step: step, What: what, Value: float64(p.Data[i])}
		}
	}
	return nil
}

// firstExploded returns the index of the first value that is NaN, ±Inf or
// beyond ±MaxParamMagnitude, or -1.
func firstExploded(data []float32) int {
	const limit = float32(MaxParamMagnitude)
	for i, v := range data {
		// NaN fails both comparisons; ±Inf passes one.
		if !(v <= limit && v >= -limit) {
			return i
		}
	}
	return -1
}

// StepGuard is the tail that every stage's optimizer step shares: clip the
// gradients, refuse a non-finite loss or gradient norm, step the optimizer and
// check that the parameters stayed finite. A non-finite step is skipped (no
// update) while fewer than MaxSkips have been skipped, and is an error after.
type StepGuard struct {
	Params []Param
	Opt    *AdamW
	// MaxNorm is the clipping threshold (optim.grad_clip; <= 0 measures only).
	MaxNorm float64
	// MaxSkips is train.skip_nonfinite_steps; Skipped counts the steps skipped so far.
	MaxSkips, Skipped int
}

// Step clips, checks and applies one optimizer step at learning rate lr. loss
// is the step's loss (NaN-free losses only; pass 0 when a step has none to
// report). It returns the gradient norm before clipping and whether the update
// was skipped.
func (g *StepGuard) Step(step int, loss, lr float64) (norm float64, skipped bool, err error) {
	norm = ClipGradNorm(g.Params, g.MaxNorm)
	var bad *NonFiniteError
	switch {
	case !finite(loss):
		bad = &NonFiniteError{Step: step, What: "loss", Value: loss}
	case !finite(norm):
		bad = &NonFiniteError{Step: step, What: "grad_norm", Value: norm}
	}
	if bad != nil {
		if g.Skipped < g.MaxSkips {
			g.Skipped++
			return norm, true, nil
		}
		if g.MaxSkips > 0 {
			return norm, false, fmt.Errorf("%w (after skipping %d non-finite steps, train.skip_nonfinite_steps=%d)", bad, g.Skipped, g.MaxSkips)
		}
		return norm, false, bad
	}
	g.Opt.Step(lr)
	if err := CheckParams(step, g.Params); err != nil {
		return norm, false, err
	}
	return norm, false, nil
}
