package ppo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/train"
)

// evenTokensReward is a dense test reward: the fraction of even token ids in
// the completion. A random tiny model almost never earns the reversal task's
// reward, and with every reward equal GRPO's advantages are all zero; this one
// varies between the completions of a group, so every stage has a signal.
const evenTokensReward = "test:even-tokens"

func init() {
	rollout.RegisterReward(evenTokensReward, func(_ rollout.Prompt, completion []int32, _ string) (float64, error) {
		if len(completion) == 0 {
			return 0, nil
		}
		even := 0
		for _, id := range completion {
			if id%2 == 0 {
				even++
			}
		}
		return float64(even) / float64(len(completion)), nil
	})
}

// tinyRecipe is a fresh one-layer model on the built-in reversal prompts,
// rewarded by evenTokensReward: a few iterations take well under a second.
func tinyRecipe(t *testing.T, stage, out string, overrides ...string) *recipes.Recipe {
	t.Helper()
	r := recipes.Default()
	r.Stage = stage
	r.Model.Tokenizer = "builtin:chars"
	r.Model.Init = &recipes.ModelInit{VocabSize: 264, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 1, MaxPositionEmbeddings: 128, RopeTheta: 10000, TieWordEmbeddings: true}
	r.Data.Train, r.Data.Format, r.Data.MaxLength = "builtin:reverse-prompts", "prompt", 64
	r.Optim.LR = 1e-3
	r.Train.BatchSize, r.Train.MaxSteps, r.Train.SaveSteps, r.Train.LoggingSteps = 4, 3, 0, 1
	r.PPO.RewardModel, r.PPO.ResponseLength, r.PPO.NumMiniBatches, r.PPO.PPOEpochs = evenTokensReward, 4, 2, 2
	r.PPO.MissingEOSPenalty = 0.5
	r.GRPO.RewardModel, r.GRPO.MaxCompletionLength, r.GRPO.NumGenerations, r.GRPO.Beta = evenTokensReward, 4, 3, 0.04
	r.OutputDir = out
	require.NoError(t, recipes.Validate(r))
	for _, kv := range overrides {
		require.NoError(t, applyOverride(r, kv))
	}
	return r
}

// applyOverride sets the few knobs these tests vary.
func applyOverride(r *recipes.Recipe, kv string) error {
	switch kv {
	case "save_steps=1":
		r.Train.SaveSteps = 1
	case "advantage=rloo":
		r.GRPO.Advantage = recipes.AdvantageRLOO
	case "kl_target=1":
		r.PPO.KLTarget = 1
	default:
		return fmt.Errorf("unknown test override %q", kv)
	}
	return nil
}

func weights(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	m, err := model.Load(cpu.New(), dir)
	require.NoError(t, err)
	out := map[string][]float32{}
	for _, p := range m.Params.Tensors {
		out[p.Name] = append([]float32(nil), cpu.F(p.Buf)...)
	}
	return out
}

func lifecycle(resume bool) train.Lifecycle {
	if resume {
		return train.Lifecycle{Resume: train.ResumeLatest}
	}
	return train.Lifecycle{}
}

func runStage(ctx context.Context, r *recipes.Recipe, resume bool) (*Result, error) {
	if r.Stage == recipes.StagePPO {
		return Run(ctx, r, Options{Lifecycle: lifecycle(resume)})
	}
	return RunGRPO(ctx, r, Options{Lifecycle: lifecycle(resume)})
}

func TestStagesTrainAndWriteOutputs(t *testing.T) {
	for _, tc := range []struct {
		name, stage string
		overrides   []string
		metrics     []string
	}{
		{"ppo", recipes.StagePPO, nil, []string{"objective/kl", "loss/value_avg", "val/clipfrac_avg", "policy/entropy_avg", "train_tokens_per_s", "gen_tokens_per_s", "response_length"}},
		{"ppo adaptive kl", recipes.StagePPO, []string{"kl_target=1"}, []string{"kl_coef"}},
		{"grpo", recipes.StageGRPO, nil, []string{"objective/kl", "loss/policy_avg", "reward_std", "policy/clipfrac_avg"}},
		{"rloo", recipes.StageGRPO, []string{"advantage=rloo"}, []string{"loss/policy_avg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			r := tinyRecipe(t, tc.stage, out, tc.overrides...)
			before := weights(t, mustSaveInitial(t, r))
			res, err := runStage(context.Background(), r, false)
			require.NoError(t, err)
			assert.Equal(t, 3, res.Steps)
			after := weights(t, out)
			assert.NotEqual(t, before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"], "the policy trained")
			recs, err := train.ReadMetrics(filepath.Join(out, metricsFile))
			require.NoError(t, err)
			require.Len(t, recs, 3)
			for _, key := range append(tc.metrics, "score", "lr", "grad_norm") {
				assert.Contains(t, recs[2].Values, key)
			}
			_, err = os.Stat(filepath.Join(out, "tokenizer.json"))
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(out, ValueModelDir, "config.json"))
			assert.Equal(t, tc.stage == recipes.StagePPO, err == nil, "only PPO writes a value model")
		})
	}
}

// mustSaveInitial writes the model a recipe starts from (model.init with
// the run's seed) so tests can compare weights before and after.
func mustSaveInitial(t *testing.T, r *recipes.Recipe) string {
	t.Helper()
	dir := t.TempDir()
	s, err := newSession(r, r.Stage, stageSettings{rewardModel: "task:reverse", workers: 1, maxNew: 1, temperature: 1, group: 1}, Options{})
	require.NoError(t, err)
	defer s.run.Close()
	require.NoError(t, s.policy.Save(dir, model.SaveOptions{}))
	return dir
}

// TestInterruptAndResumeIsExact stops a run after its first iteration as a
// signal would, resumes it, and expects the weights of an uninterrupted run.
func TestInterruptAndResumeIsExact(t *testing.T) {
	for _, stage := range []string{recipes.StagePPO, recipes.StageGRPO} {
		t.Run(stage, func(t *testing.T) {
			straight := tinyRecipe(t, stage, t.TempDir())
			_, err := runStage(context.Background(), straight, false)
			require.NoError(t, err)

			out := t.TempDir()
			r := tinyRecipe(t, stage, out, "save_steps=1")
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(fmt.Errorf("%w by test", train.ErrInterrupted))
			res, err := runStage(ctx, r, false)
			require.ErrorIs(t, err, train.ErrInterrupted)
			assert.Equal(t, 1, res.Steps, "the iteration in flight finishes")
			_, err = os.Stat(filepath.Join(out, "checkpoint-1", stateFile))
			require.NoError(t, err)

			res, err = runStage(context.Background(), r, true)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Resumed)
			assert.Equal(t, 3, res.Steps)
			want, got := weights(t, straight.OutputDir), weights(t, out)
			for name, w := range want {
				require.Equal(t, w, got[name], "%s differs after resume", name)
			}
		})
	}
}

func TestCancelledContextStopsTheRun(t *testing.T) {
	r := tinyRecipe(t, recipes.StageGRPO, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RunGRPO(ctx, r, Options{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestRunRejectsBadRecipes(t *testing.T) {
	r := tinyRecipe(t, recipes.StagePPO, t.TempDir())
	_, err := RunGRPO(context.Background(), r, Options{})
	require.ErrorContains(t, err, "want \"grpo\"")

	r.PPO.RewardModel = "no-such-reward"
	_, err = Run(context.Background(), r, Options{})
	require.ErrorContains(t, err, "not task:NAME")

	r = tinyRecipe(t, recipes.StageGRPO, t.TempDir())
	r.LoRA.Enabled = true
	_, err = RunGRPO(context.Background(), r, Options{})
	require.ErrorContains(t, err, "lora")
}
