package demo_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/demo"
)

// TestDemoEveryStageImprovesTheTask runs the whole built-in demo (a few
// minutes on 2 cores) and checks the acceptance of each stage on held-out
// prompts: SFT learns the task, the reward model ranks pairs, and DPO, PPO and
// GRPO each raise the SFT model's accuracy and reward.
func TestDemoEveryStageImprovesTheTask(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, err := demo.Run(context.Background(), []string{"output_dir=" + out}, demo.Options{})
	require.NoError(t, err)
	body, err := os.ReadFile(filepath.Join(out, "summary.json"))
	require.NoError(t, err)
	var s demo.Summary
	require.NoError(t, json.Unmarshal(body, &s))

	require.Less(t, s.SFT.AccuracyBefore, 0.05, "an untrained model cannot do the task")
	require.Greater(t, s.SFT.AccuracyAfter, 0.2)
	require.GreaterOrEqual(t, s.Reward.Accuracy, 0.9)
	require.Greater(t, s.DPO.AccuracyAfter, s.DPO.AccuracyBefore)
	for name, rl := range map[string]demo.RLScore{"ppo": s.PPO, "grpo": s.GRPO} {
		require.Greater(t, rl.RewardAfter, rl.RewardBefore, name)
		require.Greater(t, rl.AccuracyAfter, rl.AccuracyBefore, name)
	}
	for _, dir := range []string{"sft", "reward", "dpo", "ppo", "grpo"} {
		require.FileExists(t, filepath.Join(out, dir, "model.safetensors"))
	}
}
