//go:build demo

// The whole-pipeline demo takes minutes on 2 cores, so it is kept out of the
// README's `go test ./...` and run as its own CI step:
//
//	go test -tags demo -timeout 60m ./demo -demo.seeds=1,2,3
//
// (POSTTRAIN_BLAS=go runs it on the pure-Go GEMM.)
package demo_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/demo"
)

var seeds = flag.String("demo.seeds", "42", "comma-separated seeds; the demo runs once per seed")

// Margins each stage must clear on held-out prompts, on any seed and GEMM
// path. A later stage's gain is measured as the share of the SFT model's
// remaining errors it fixes (after−before)/(1−before): SFT stops where the
// model's own samples are right half the time, which is 54% to 90% greedy
// accuracy depending on the seed, so an absolute gain would ask more of a
// stage the closer the start is to perfect. The margins sit well inside what
// was measured across seeds and GEMM paths (the closing notes list them).
const (
	untrainedMaxAccuracy = 0.05 // the untrained model never answers right
	sftMinAccuracy       = 0.3
	rewardMinAccuracy    = 0.8 // held-out pairs ranked right (ties count as wrong)
	dpoMinErrorsFixed    = 0.3
	rlMinErrorsFixed     = 0.1 // PPO and GRPO, greedily or in their own samples
	rlMaxLoss            = 0.05
)

// errorsFixed is the share of the remaining errors (1−before) a stage fixed.
func errorsFixed(before, after float64) float64 {
	if before >= 1 {
		return 0
	}
	return (after - before) / (1 - before)
}

// TestDemoEveryStageImprovesTheTask runs the whole built-in demo once per seed
// and checks the acceptance of each stage on held-out prompts: SFT learns the
// task, the reward model ranks pairs, and DPO, PPO and GRPO each raise the SFT
// model's accuracy and reward.
func TestDemoEveryStageImprovesTheTask(t *testing.T) {
	t.Logf("GEMM: %s", cpu.New().BLAS())
	for _, seed := range strings.Split(*seeds, ",") {
		t.Run("seed="+seed, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "demo")
			_, err := demo.Run(context.Background(), []string{"output_dir=" + out, "seed=" + seed}, demo.Options{})
			require.NoError(t, err)
			body, err := os.ReadFile(filepath.Join(out, "summary.json"))
			require.NoError(t, err)
			var s demo.Summary
			require.NoError(t, json.Unmarshal(body, &s))
			t.Logf("seed %s: SFT %.3f -> %.3f; reward model %.3f; DPO %.3f -> %.3f", seed,
				s.SFT.AccuracyBefore, s.SFT.AccuracyAfter, s.Reward.Accuracy, s.DPO.AccuracyBefore, s.DPO.AccuracyAfter)
			for name, rl := range map[string]demo.RLScore{"PPO": s.PPO, "GRPO": s.GRPO} {
				t.Logf("seed %s: %s greedy acc %.3f -> %.3f (reward %.3f -> %.3f); sampled at T=%g acc %.3f -> %.3f (reward %.3f -> %.3f)",
					seed, name, rl.AccuracyBefore, rl.AccuracyAfter, rl.RewardBefore, rl.RewardAfter, rl.Temperature,
					rl.SampledAccuracyBefore, rl.SampledAccuracyAfter, rl.SampledRewardBefore, rl.SampledRewardAfter)
			}

			require.Less(t, s.SFT.AccuracyBefore, untrainedMaxAccuracy, "an untrained model cannot do the task")
			require.GreaterOrEqual(t, s.SFT.AccuracyAfter, sftMinAccuracy, "SFT")
			require.GreaterOrEqual(t, s.Reward.Accuracy, rewardMinAccuracy, "reward model")
			require.GreaterOrEqual(t, errorsFixed(s.DPO.AccuracyBefore, s.DPO.AccuracyAfter), dpoMinErrorsFixed, "DPO: share of errors fixed")
			// An RL stage optimises the reward of its own samples; the demo
			// reports greedy answers. It must fix a share of the errors in one
			// of the two, and lose neither beyond the noise of 200 prompts: on
			// a seed whose SFT model is right 90% of the time greedily but in
			// only 69% of its samples, PPO moved the greedy answers far more
			// than the samples (0.905 -> 0.955; 0.685 -> 0.71), and on another
			// it was the reverse at 30 iterations.
			for name, rl := range map[string]demo.RLScore{"PPO": s.PPO, "GRPO": s.GRPO} {
				greedy := errorsFixed(rl.AccuracyBefore, rl.AccuracyAfter)
				sampled := errorsFixed(rl.SampledAccuracyBefore, rl.SampledAccuracyAfter)
				require.GreaterOrEqual(t, max(greedy, sampled), rlMinErrorsFixed, name+": share of wrong answers fixed, greedy or sampled")
				require.GreaterOrEqual(t, rl.AccuracyAfter, rl.AccuracyBefore-rlMaxLoss, name+": greedy accuracy")
				require.GreaterOrEqual(t, rl.SampledAccuracyAfter, rl.SampledAccuracyBefore-rlMaxLoss, name+": sampled accuracy")
				require.Greater(t, rl.SampledRewardAfter, rl.SampledRewardBefore, name+": the reward it optimises")
			}
			for _, dir := range []string{"sft", "reward", "dpo", "ppo", "grpo"} {
				require.FileExists(t, filepath.Join(out, dir, "model.safetensors"))
			}
		})
	}
}
