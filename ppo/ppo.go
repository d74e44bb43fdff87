package ppo

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/train"
)

// ppoTrainer is one PPO run: the session plus the value model.
type ppoTrainer struct {
	*session
	cfg   recipes.PPOConfig
	value *valueModel
	kl    *objective.AdaptiveKL // nil: fixed kl_coef
}

// Run trains r (stage ppo) and writes the policy to r.OutputDir and the value
// model to r.OutputDir/value_model.
func Run(ctx context.Context, r *recipes.Recipe, opts Options) (*Result, error) {
	if r.Stage != recipes.StagePPO {
		return nil, fmt.Errorf("ppo.Run: recipe stage is %q, want %q", r.Stage, recipes.StagePPO)
	}
	c := r.PPO
	s, err := newSession(r, recipes.StagePPO, stageSettings{refModel: c.RefModel, rewardModel: c.RewardModel,
		needRef: true, workers: c.RolloutWorkers, maxNew: c.ResponseLength, temperature: c.Temperature, group: 1}, opts)
	if err != nil {
		return nil, err
	}
	defer s.run.Close()
	t := &ppoTrainer{session: s, cfg: c}
	if err := t.loadValueModel(); err != nil {
		return nil, err
	}
	s.state.KLCoef = c.KLCoef
	if err := s.buildOptimizer(); err != nil {
		return nil, err
	}
	if c.KLTarget > 0 {
		t.kl = objective.NewAdaptiveKL(s.state.KLCoef, c.KLTarget, c.KLHorizon)
	}
	res, err := s.loop(ctx, logWriter(opts), t.iteration, t.writeValue)
	if err != nil {
		return res, err
	}
	return res, s.saveFinal(t.writeValue)
}

// loadValueModel builds the critic: the checkpoint's own on resume, else
// ppo.value_model, else a copy of the reward model, else the policy's trunk
// with a new score head (a reward function has no model to start from).
func (t *ppoTrainer) loadValueModel() error {
	var rm *reward.Model
	var err error
	switch {
	case t.ckpt != "":
		rm, err = reward.Load(t.be, filepath.Join(t.ckpt, ValueModelDir))
	case t.cfg.ValueModel != "":
		rm, err = reward.Load(t.be, t.cfg.ValueModel)
	case t.rm != nil:
		rm, err = reward.Load(t.be, t.cfg.RewardModel)
	default:
		_, rm, err = reward.FromCausalLM(t.be, t.policy, train.DeriveSeed(t.r.Train.Seed, "value_head"))
	}
	if err != nil {
		return fmt.Errorf("ppo.value_model: %w", err)
	}
	trunk := rm.Trunk
	trunk.EnableGrads()
	for i, p := range trunk.Params.Tensors {
		t.params = append(t.params, train.Param{Name: "value." + p.Name, Data: cpu.F(p.Buf), Grad: cpu.F(trunk.Grads.Tensors[i].Buf), Decay: !p.Norm})
	}
	t.params = append(t.params, train.Param{Name: "value." + reward.ScoreWeight, Data: rm.Score, Grad: rm.ScoreGrad, Decay: true})
	t.value = &valueModel{rm: rm}
	return nil
}

func (t *ppoTrainer) writeValue(dir string) error {
	sub := filepath.Join(dir, ValueModelDir)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	return t.value.rm.Save(sub)
}

// rollouts is one iteration's scored batch with everything PPO derives from it.
type rollouts struct {
	rb                 *rolloutBatch
	refLogp, oldValues []float64 // [B·R]
	kl                 []float64 // [B·R] masked per-token KL estimate
	rewards            []float64 // [B·R] shaped per-token rewards
	adv, returns       []float64 // [B·R]
	scores             []float64 // [B] after the missing-EOS penalty
}

// iteration is one PPO update: rollouts, advantages, then num_ppo_epochs
// passes over num_mini_batches minibatches.
func (t *ppoTrainer) iteration(ctx context.Context, it int) (map[string]float64, error) {
	t0 := time.Now()
	samples, stats, failed, err := t.generate(ctx, t.nextPrompts(it, 1))
	if err != nil {
		return nil, err
	}
	genTime := time.Since(t0)
	rb, err := newRolloutBatch(samples, t.padID)
	if err != nil {
		return nil, err
	}
	ro, vals, err := t.prepare(rb)
	if err != nil {
		return nil, err
	}
	vals["rollout/failed"] = float64(failed)
	vals["gen_tokens_per_s"] = stats.TokensPerSecond

	t1 := time.Now()
	trainTokens := 0
	var sums metricSums
	for range max(t.cfg.PPOEpochs, 1) {
		for _, idx := range minibatches(rb.B, t.cfg.NumMiniBatches, t.shuffle) {
			m, tokens, err := t.minibatchStep(ro, idx, it)
			if err != nil {
				return nil, err
			}
			sums.add(m)
			trainTokens += tokens
		}
	}
	for k, v := range sums.means() {
		vals[k] = v
	}
	vals["train_tokens_per_s"] = float64(trainTokens) / time.Since(t1).Seconds()
	vals["time/rollout_s"] = genTime.Seconds()
	if t.kl != nil {
		t.kl.Update(vals["objective/kl"], rb.B)
		t.state.KLCoef = t.kl.Value
	}
	return vals, nil
}

// prepare scores the rollouts under the reference and the value model and
// computes rewards, advantages and returns (TRL PPOTrainer's order).
func (t *ppoTrainer) prepare(rb *rolloutBatch) (*rollouts, map[string]float64, error) {
	c := t.cfg
	ro := &rollouts{rb: rb, scores: make([]float64, rb.B)}
	var err error
	if ro.refLogp, err = policyLogProbs(t.ref, rb); err != nil {
		return nil, nil, fmt.Errorf("reference: %w", err)
	}
	if ro.oldValues, err = t.value.values(rb); err != nil {
		return nil, nil, err
	}
	t.value.rb, t.value.hidden = nil, nil // no backward for the rollout pass
	eos := 0
	for b, sc := range rb.scores {
		ro.scores[b] = sc
		if rb.stopped[b] {
			eos++
		} else if c.MissingEOSPenalty > 0 {
			ro.scores[b] -= c.MissingEOSPenalty
		}
	}
	ro.rewards, ro.kl = objective.PerTokenRewards(ro.scores, rb.oldLogp, ro.refLogp, rb.mask, rb.B, rb.R, t.state.KLCoef, c.KLEstimator)
	if ro.rewards == nil {
		return nil, nil, fmt.Errorf("per-token rewards: inconsistent sizes or kl_estimator %q", c.KLEstimator)
	}
	if c.WhitenRewards {
		if ro.rewards, err = whitenMasked(ro.rewards, rb.mask, false); err != nil {
			return nil, nil, fmt.Errorf("whiten rewards: %w", err)
		}
	}
	ro.adv, ro.returns = objective.GAE(ro.rewards, ro.oldValues, rb.mask, rb.B, rb.R, c.Gamma, c.Lambda)
	if ro.adv == nil {
		return nil, nil, fmt.Errorf("GAE: inconsistent sizes")
	}
	if ro.adv, err = whitenMasked(ro.adv, rb.mask, true); err != nil {
		return nil, nil, fmt.Errorf("whiten advantages: %w", err)
	}

	vals := rolloutMetrics(rb)
	klSum, nonScore := perSequenceSums(ro.kl, rb), 0.0
	vals["objective/kl"] = klSum
	nonScore = -t.state.KLCoef * klSum
	vals["objective/non_score_reward"] = nonScore
	vals["objective/scores"] = mean(ro.scores)
	vals["objective/rlhf_reward"] = mean(ro.scores) + nonScore
	vals["val/num_eos_tokens"] = float64(eos)
	if ev := explainedVariance(ro.oldValues, ro.returns, rb.mask); !math.IsNaN(ev) {
		vals["val/explained_variance"] = ev
	}
	vals["kl_coef"] = t.state.KLCoef
	if h, ok, err := tokenEntropy(t.policy, rb); err != nil {
		return nil, nil, err
	} else if ok {
		vals["policy/entropy_avg"] = h
	}
	return ro, vals, nil
}

// minibatchStep takes one optimizer step on rows idx of the rollouts:
// loss = policy loss + vf_coef · value loss. It returns the step's metrics
// and the tokens it processed.
func (t *ppoTrainer) minibatchStep(ro *rollouts, idx []int, it int) (map[string]float64, int, error) {
	c := t.cfg
	mb := ro.rb.rows(idx)
	R := mb.R
	adv, returns, oldValues := rowsOf(ro.adv, R, idx), rowsOf(ro.returns, R, idx), rowsOf(ro.oldValues, R, idx)

	t.policy.ZeroGrads()
	t.value.rm.ZeroGrads()
	logp, err := policyLogProbs(t.policy, mb)
	if err != nil {
		return nil, 0, err
	}
	pl, err := objective.PPOPolicyLoss(logp, mb.oldLogp, adv, mb.mask, c.ClipRange)
	if err != nil {
		return nil, 0, err
	}
	if err := t.policy.Backward(mb.scatter(pl.Grads["logp"], 1)); err != nil {
		return nil, 0, fmt.Errorf("policy backward: %w", err)
	}
	values, err := t.value.values(mb)
	if err != nil {
		return nil, 0, err
	}
	vl, err := objective.PPOValueLoss(values, oldValues, returns, mb.mask, c.ClipRangeValue)
	if err != nil {
		return nil, 0, err
	}
	dValues := vl.Grads["values"]
	for i := range dValues {
		dValues[i] *= c.VFCoef
	}
	if err := t.value.backward(dValues); err != nil {
		return nil, 0, err
	}
	norm, lr, skipped, err := t.optimizerStep(it, pl.Loss+c.VFCoef*vl.Loss)
	if err != nil {
		return nil, 0, err
	}
	m := map[string]float64{
		"loss/policy_avg":     pl.Loss,
		"loss/value_avg":      vl.Loss,
		"policy/clipfrac_avg": pl.Metrics["policy/clipfrac"],
		"policy/approxkl_avg": pl.Metrics["policy/approxkl"],
		"val/ratio":           pl.Metrics["policy/ratio"],
		"val/clipfrac_avg":    vl.Metrics["value/clipfrac"],
		"grad_norm":           norm,
		"lr":                  lr,
	}
	if skipped {
		m["skipped_steps"] = 1
	}
	return m, 2 * mb.B * mb.T, nil
}
