package ppo

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/recipes"
)

// grpoTrainer is one GRPO or RLOO run: no value model; the baseline is the
// other completions of the same prompt.
type grpoTrainer struct {
	*session
	cfg recipes.GRPOConfig
}

// RunGRPO trains r (stage grpo): num_generations completions per prompt,
// advantages normalised within each group (advantage grpo) or against the
// leave-one-out mean (advantage rloo), broadcast to every completion token,
// the clipped surrogate, and β · k3 KL to the reference when beta > 0. The
// policy is written to r.OutputDir.
func RunGRPO(ctx context.Context, r *recipes.Recipe, opts Options) (*Result, error) {
	if r.Stage != recipes.StageGRPO {
		return nil, fmt.Errorf("ppo.RunGRPO: recipe stage is %q, want %q", r.Stage, recipes.StageGRPO)
	}
	c := r.GRPO
	s, err := newSession(r, recipes.StageGRPO, stageSettings{refModel: c.RefModel, rewardModel: c.RewardModel,
		needRef: c.Beta > 0, workers: c.RolloutWorkers, maxNew: c.MaxCompletionLength, temperature: c.Temperature,
		group: c.NumGenerations}, opts)
	if err != nil {
		return nil, err
	}
	defer s.run.Close()
	if err := s.buildOptimizer(); err != nil {
		return nil, err
	}
	t := &grpoTrainer{session: s, cfg: c}
	res, err := s.loop(ctx, logWriter(opts), t.iteration, nil)
	if err != nil {
		return res, err
	}
	return res, s.saveFinal(nil)
}

// groupAdvantages returns one advantage per completion for groups of k
// contiguous scores.
func groupAdvantages(scores []float64, k int, estimator string, scale bool) ([]float64, error) {
	var adv []float64
	switch estimator {
	case recipes.AdvantageGRPO:
		adv = objective.GRPOAdvantages(scores, k, scale)
	case recipes.AdvantageRLOO:
		adv = objective.RLOOAdvantages(scores, k)
	default:
		return nil, fmt.Errorf("grpo.advantage %q: want grpo or rloo", estimator)
	}
	if adv == nil {
		return nil, fmt.Errorf("%s advantages: %d scores do not form groups of %d", estimator, len(scores), k)
	}
	return adv, nil
}

// iteration is one GRPO update: k completions for each of batch_size prompts,
// group advantages, then num_iterations optimizer steps on the whole batch.
func (t *grpoTrainer) iteration(ctx context.Context, it int) (map[string]float64, error) {
	c := t.cfg
	k := c.NumGenerations
	t0 := time.Now()
	samples, stats, failed, err := t.generate(ctx, t.nextPrompts(it, k))
	if err != nil {
		return nil, err
	}
	if failed > 0 {
		// A failed sample breaks its group; GRPO needs whole groups.
		return nil, fmt.Errorf("rollout: %d samples failed", failed)
	}
	genTime := time.Since(t0)
	rb, err := newRolloutBatch(samples, t.padID)
	if err != nil {
		return nil, err
	}
	seqAdv, err := groupAdvantages(rb.scores, k, c.Advantage, c.ScaleRewards)
	if err != nil {
		return nil, err
	}
	adv := make([]float64, rb.B*rb.R)
	for i := range adv {
		adv[i] = seqAdv[i/rb.R] * rb.mask[i]
	}
	vals := rolloutMetrics(rb)
	vals["gen_tokens_per_s"] = stats.TokensPerSecond
	vals["time/rollout_s"] = genTime.Seconds()
	vals["reward_std"] = groupStd(rb.scores, k)
	var refLogp []float64
	if c.Beta > 0 {
		if refLogp, err = policyLogProbs(t.ref, rb); err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
	}
	if h, ok, err := tokenEntropy(t.policy, rb); err != nil {
		return nil, err
	} else if ok {
		vals["policy/entropy_avg"] = h
	}

	t1 := time.Now()
	var sums metricSums
	for range max(c.NumIterations, 1) {
		m, err := t.step(rb, adv, refLogp, it)
		if err != nil {
			return nil, err
		}
		sums.add(m)
	}
	for key, v := range sums.means() {
		vals[key] = v
	}
	vals["train_tokens_per_s"] = float64(c.NumIterations*rb.B*rb.T) / time.Since(t1).Seconds()
	return vals, nil
}

// step is one optimizer step on the whole batch: the clipped surrogate (the
// ratio is 1 on the first iteration, as in TRL with μ = 1) plus β·KL.
func (t *grpoTrainer) step(rb *rolloutBatch, adv, refLogp []float64, it int) (map[string]float64, error) {
	t.policy.ZeroGrads()
	logp, err := policyLogProbs(t.policy, rb)
	if err != nil {
		return nil, err
	}
	pl, err := objective.PPOPolicyLoss(logp, rb.oldLogp, adv, rb.mask, t.cfg.Epsilon)
	if err != nil {
		return nil, err
	}
	dlogp := pl.Grads["logp"]
	m := map[string]float64{
		"loss/policy_avg":     pl.Loss,
		"policy/clipfrac_avg": pl.Metrics["policy/clipfrac"],
		"policy/approxkl_avg": pl.Metrics["policy/approxkl"],
	}
	if refLogp != nil {
		kl, dkl, err := klLoss(logp, refLogp, rb.mask, t.cfg.Beta)
		if err != nil {
			return nil, err
		}
		for i := range dlogp {
			dlogp[i] += dkl[i]
		}
		m["objective/kl"] = kl / t.cfg.Beta // mean per-token k3
		m["loss/kl"] = kl
	}
	if err := t.policy.Backward(rb.scatter(dlogp, 1)); err != nil {
		return nil, fmt.Errorf("policy backward: %w", err)
	}
	loss := pl.Loss
	if v, ok := m["loss/kl"]; ok {
		loss += v
	}
	norm, lr, skipped, err := t.optimizerStep(it, loss)
	if err != nil {
		return nil, err
	}
	m["grad_norm"], m["lr"] = norm, lr
	if skipped {
		m["skipped_steps"] = 1
	}
	return m, nil
}

// groupStd is the mean within-group standard deviation of the scores: 0 means
// no group had a signal to learn from.
func groupStd(scores []float64, k int) float64 {
	var total float64
	groups := 0
	for lo := 0; lo+k <= len(scores); lo += k {
		g := scores[lo : lo+k]
		mu := mean(g)
		var ss float64
		for _, v := range g {
			ss += (v - mu) * (v - mu)
		}
		total += math.Sqrt(ss / float64(k))
		groups++
	}
	return total / float64(max(groups, 1))
}
