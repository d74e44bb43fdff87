package dpo

import (
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/recipes"
)

// objectiveConfig maps a recipe's dpo section onto the objective's config.
func objectiveConfig(c recipes.DPOConfig) objective.DPOConfig {
	return objective.DPOConfig{Loss: c.LossType, Beta: c.Beta, LabelSmoothing: c.LabelSmoothing,
		ReferenceFree: c.ReferenceFree, SimPOGamma: c.SimPOGamma, RPOAlpha: c.RPOAlpha}
}

// usesReference tells whether cfg's loss reads a reference model at all.
func usesReference(c recipes.DPOConfig) bool {
	return !c.ReferenceFree && c.LossType != recipes.DPOSimPO
}

// pairLoss evaluates the loss of P pairs from the policy's statistics over
// the concatenated batch (st, 2P rows, chosen first) and the reference's
// log-probs (nil for reference-free losses). It returns the loss with its
// metrics, TRL's logits/* included, and d loss / d summed log-prob per row
// [2P]: the coefficient of every completion token of that row.
func pairLoss(cfg objective.DPOConfig, st rowStats, refChosen, refRejected []float64) (objective.Result, []float64, error) {
	P := len(st.logp) / 2
	in := objective.DPOInputs{
		PolicyChosen: st.logp[:P], PolicyRejected: st.logp[P:],
		RefChosen: refChosen, RefRejected: refRejected,
		ChosenTokens: st.tokens[:P], RejectedTokens: st.tokens[P:],
	}
	res, err := objective.DPO(cfg, in)
	if err != nil {
		return objective.Result{}, nil, err
	}
	perRow := append(append(make([]float64, 0, 2*P), res.Grads["policy_chosen"]...), res.Grads["policy_rejected"]...)
	if st.logitMean != nil {
		res.Metrics["logits/chosen"] = ratio(sumF(st.logitMean[:P]), sumI(st.tokens[:P]))
		res.Metrics["logits/rejected"] = ratio(sumF(st.logitMean[P:]), sumI(st.tokens[P:]))
	}
	return res, perRow, nil
}

func sumF(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

func sumI(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

func ratio(a float64, b int) float64 { return a / float64(max(b, 1)) }

// window averages metrics over the steps (or batches) since it was last
// reset, as TRL averages its stored metrics at each log.
type window struct {
	sums map[string]float64
	n    map[string]int
}

func newWindow() *window { return &window{sums: map[string]float64{}, n: map[string]int{}} }

func (w *window) add(metrics map[string]float64) {
	for k, v := range metrics {
		w.sums[k] += v
		w.n[k]++
	}
}

// mean returns the averages with each key prefixed, and resets the window.
func (w *window) mean(prefix string) map[string]float64 {
	out := make(map[string]float64, len(w.sums))
	for k, s := range w.sums {
		out[prefix+k] = s / float64(w.n[k])
	}
	w.sums, w.n = map[string]float64{}, map[string]int{}
	return out
}
