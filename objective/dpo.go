package objective

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// DPO loss types (TRL DPOTrainer's loss_type; "simpo" is CPOTrainer's).
const (
	DPOSigmoid = "sigmoid" // −log σ(β·z); with LabelSmoothing > 0 it is cDPO
	DPOHinge   = "hinge"   // relu(1 − β·z) (SLiC)
	DPOIPO     = "ipo"     // (z − 1/(2β))² on per-token-averaged log-probs
	DPORobust  = "robust"  // rDPO, unbiased under label noise LabelSmoothing
	DPOSimPO   = "simpo"   // reference-free, per-token-averaged, target margin γ
)

// DPOConfig selects the loss. The zero value is TRL's default: sigmoid, β 0.1.
type DPOConfig struct {
	Loss           string  // one of the DPO* constants; "" means "sigmoid"
	Beta           float64 // 0 means 0.1
	LabelSmoothing float64 // ε: cDPO (sigmoid, simpo) in [0, 0.5], robust in [0, 0.5)
	ReferenceFree  bool    // reference log-ratios taken as 0
	SimPOGamma     float64 // SimPO target reward margin γ (TRL simpo_gamma; TRL's default is 0.5)
	RPOAlpha       float64 // > 0 adds α·(mean per-token NLL of the chosen completions), TRL rpo_alpha
}

// DPOInputs holds N preference pairs. Log-probs are summed over each
// completion's tokens, as the model returns them.
type DPOInputs struct {
	PolicyChosen, PolicyRejected []float64 // [N]
	RefChosen, RefRejected       []float64 // [N]; nil when ReferenceFree or SimPO
	// ChosenTokens, RejectedTokens [N] are completion lengths: needed by ipo
	// and simpo (per-token averages) and by RPO (ChosenTokens).
	ChosenTokens, RejectedTokens []int
}

func (c DPOConfig) withDefaults() DPOConfig {
	if c.Loss == "" {
		c.Loss = DPOSigmoid
	}
	if c.Beta == 0 {
		c.Beta = 0.1
	}
	return c
}

func (c DPOConfig) validate() error {
	const fn = "DPO"
	switch c.Loss {
	case DPOSigmoid, DPOHinge, DPOIPO, DPORobust, DPOSimPO:
	default:
		return fmt.Errorf("%w: %s: Loss %q is unknown, want sigmoid, hinge, ipo, robust or simpo", ErrInput, fn, c.Loss)
	}
	if !(c.Beta > 0) || math.IsInf(c.Beta, 0) {
		return fmt.Errorf("%w: %s: Beta = %v, want a finite value > 0", ErrInput, fn, c.Beta)
	}
	eps := c.LabelSmoothing
	switch {
	case eps < 0 || math.IsNaN(eps):
		return fmt.Errorf("%w: %s: LabelSmoothing = %v, want ≥ 0", ErrInput, fn, eps)
	case eps > 0 && (c.Loss == DPOHinge || c.Loss == DPOIPO):
		return fmt.Errorf("%w: %s: LabelSmoothing = %v has no meaning for loss %q (only sigmoid, robust, simpo)", ErrInput, fn, eps, c.Loss)
	case c.Loss == DPORobust && eps >= 0.5:
		return fmt.Errorf("%w: %s: LabelSmoothing = %v, robust needs < 0.5 (it divides by 1 − 2ε)", ErrInput, fn, eps)
	case eps > 0.5:
		return fmt.Errorf("%w: %s: LabelSmoothing = %v, want ≤ 0.5", ErrInput, fn, eps)
	}
	if c.RPOAlpha < 0 || math.IsNaN(c.RPOAlpha) {
		return fmt.Errorf("%w: %s: RPOAlpha = %v, want ≥ 0", ErrInput, fn, c.RPOAlpha)
	}
	return nil
}

// usesReference tells whether the loss compares against a reference model.
func (c DPOConfig) usesReference() bool { return !c.ReferenceFree && c.Loss != DPOSimPO }

// averagesPerToken tells whether log-probs enter the loss divided by their
// completion length (TRL: ipo in DPOTrainer, ipo and simpo in CPOTrainer).
func (c DPOConfig) averagesPerToken() bool { return c.Loss == DPOIPO || c.Loss == DPOSimPO }

func (in DPOInputs) validate(c DPOConfig) error {
	const fn = "DPO"
	if err := checkNonEmpty(fn, "PolicyChosen", in.PolicyChosen); err != nil {
		return err
	}
	n := len(in.PolicyChosen)
	if err := checkLen(fn, "PolicyRejected", in.PolicyRejected, n); err != nil {
		return err
	}
	if c.usesReference() {
		if err := checkLen(fn, "RefChosen", in.RefChosen, n); err != nil {
			return fmt.Errorf("%w (hint: set ReferenceFree for a reference-free loss)", err)
		}
		if err := checkLen(fn, "RefRejected", in.RefRejected, n); err != nil {
			return fmt.Errorf("%w (hint: set ReferenceFree for a reference-free loss)", err)
		}
	}
	checkTokens := func(field string, tokens []int) error {
		if len(tokens) != n {
			return fmt.Errorf("%w: %s: %s has %d values, want %d (loss %q, RPOAlpha %v needs completion lengths)", ErrInput, fn, field, len(tokens), n, c.Loss, c.RPOAlpha)
		}
		for i, t := range tokens {
			if t <= 0 {
				return fmt.Errorf("%w: %s: %s[%d] = %d, want a completion length ≥ 1", ErrInput, fn, field, i, t)
			}
		}
		return nil
	}
	if c.averagesPerToken() || c.RPOAlpha > 0 {
		if err := checkTokens("ChosenTokens", in.ChosenTokens); err != nil {
			return err
		}
	}
	if c.averagesPerToken() {
		if err := checkTokens("RejectedTokens", in.RejectedTokens); err != nil {
			return err
		}
	}
	return nil
}

// DPO evaluates the DPO-family loss over N pairs, TRL's dpo_loss:
//
//	z = (π_c − π_r) − (ref_c − ref_r)        (per-token averages for ipo)
//	z = (π_c/|c| − π_r/|r|) − γ/β           (simpo, no reference)
//	loss = mean_i ℓ(z_i) [+ α·NLL]          NLL = −Σπ_c / Σ|c|
//
// with ℓ chosen by cfg.Loss (see the DPO* constants). Grads holds
// "policy_chosen" and "policy_rejected" [N], with respect to the summed
// log-probs given. Metrics (TRL names): "rewards/chosen", "rewards/rejected"
// (β·(π − ref), batch means; β·π/|y| for simpo), "rewards/accuracies"
// (strict: ties are wrong), "rewards/margins", "logps/chosen",
// "logps/rejected" (averaged per token for ipo and simpo, as TRL logs
// them), "loss", and "nll_loss" when RPOAlpha > 0. The logits/* metrics need
// the model's logits and are left to the caller.
func DPO(cfg DPOConfig, in DPOInputs) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if err := in.validate(cfg); err != nil {
		return Result{}, err
	}
	n := len(in.PolicyChosen)

	// Per-pair factors that turn a summed log-prob into the quantity the loss
	// compares: 1, or 1/|y| when the loss averages per token.
	chosenScale, rejectedScale := ones(n), ones(n)
	if cfg.averagesPerToken() {
		chosenScale, rejectedScale = reciprocals(in.ChosenTokens), reciprocals(in.RejectedTokens)
	}
	refChosen, refRejected := make([]float64, n), make([]float64, n) // reference-free: 0
	if cfg.usesReference() {
		refChosen, refRejected = hadamard(in.RefChosen, chosenScale), hadamard(in.RefRejected, rejectedScale)
	}

	e := newExprGraph()
	policyChosen := e.param("policy_chosen", in.PolicyChosen)
	policyRejected := e.param("policy_rejected", in.PolicyRejected)
	chosenLogps := e.mul(policyChosen, e.constant(chosenScale))       // [N]
	rejectedLogps := e.mul(policyRejected, e.constant(rejectedScale)) // [N]
	z := e.sub(chosenLogps, rejectedLogps)
	if cfg.Loss == DPOSimPO {
		z = e.sub(z, e.scalar(cfg.SimPOGamma/cfg.Beta))
	} else {
		z = e.sub(z, e.constant(subtract(refChosen, refRejected)))
	}
	loss := e.mean(dpoPairLoss(e, cfg, z))
	if cfg.RPOAlpha > 0 {
		loss = e.add(loss, e.scale(e.sum(policyChosen), -cfg.RPOAlpha/float64(sumInts(in.ChosenTokens))))
	}
	value, grads, err := e.evaluate(loss)
	if err != nil {
		return Result{}, fmt.Errorf("DPO %s: %w", cfg.Loss, err)
	}

	// Metrics, in plain Go from the inputs (TRL computes them detached).
	chosen, rejected := hadamard(in.PolicyChosen, chosenScale), hadamard(in.PolicyRejected, rejectedScale)
	chosenRewards := scaled(subtract(chosen, refChosen), cfg.Beta)
	rejectedRewards := scaled(subtract(rejected, refRejected), cfg.Beta)
	metrics := map[string]float64{
		"loss":               value,
		"rewards/chosen":     mean(chosenRewards),
		"rewards/rejected":   mean(rejectedRewards),
		"rewards/accuracies": fractionGreater(chosenRewards, rejectedRewards),
		"rewards/margins":    mean(chosenRewards) - mean(rejectedRewards),
		"logps/chosen":       mean(chosen),
		"logps/rejected":     mean(rejected),
	}
	if cfg.RPOAlpha > 0 {
		metrics["nll_loss"] = -sum(in.PolicyChosen) / float64(sumInts(in.ChosenTokens))
	}
	return Result{Loss: value, Grads: grads, Metrics: metrics}, nil
}

// dpoPairLoss is ℓ(z) [N] for each loss type, β and ε from cfg:
//
//	sigmoid, simpo: −(1−ε)·log σ(βz) − ε·log σ(−βz)
//	robust:         (−(1−ε)·log σ(βz) + ε·log σ(−βz)) / (1 − 2ε)
//	hinge:          relu(1 − βz)
//	ipo:            (z − 1/(2β))²
func dpoPairLoss(e *exprGraph, cfg DPOConfig, z *G.Node) *G.Node {
	beta, eps := cfg.Beta, cfg.LabelSmoothing
	switch cfg.Loss {
	case DPOHinge:
		return e.relu(e.sub(e.scalar(1), e.scale(z, beta)))
	case DPOIPO:
		return e.square(e.sub(z, e.scalar(1/(2*beta))))
	case DPORobust:
		agree := e.scale(e.logSigmoid(e.scale(z, beta)), -(1-eps)/(1-2*eps))
		flip := e.scale(e.logSigmoid(e.scale(z, -beta)), eps/(1-2*eps))
		return e.add(agree, flip)
	default: // sigmoid (cDPO when ε > 0) and simpo
		agree := e.scale(e.logSigmoid(e.scale(z, beta)), -(1 - eps))
		if eps == 0 {
			return agree
		}
		return e.sub(agree, e.scale(e.logSigmoid(e.scale(z, -beta)), eps))
	}
}
