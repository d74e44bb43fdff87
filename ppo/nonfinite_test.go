package ppo

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/train"
)

// nanReward scores every completion NaN, as a broken reward model would.
const nanReward = "test:nan"

func init() {
	rollout.RegisterReward(nanReward, func(rollout.Prompt, []int32, string) (float64, error) { return math.NaN(), nil })
}

// A NaN reward makes the loss NaN: PPO and GRPO stop at the first iteration
// with an error naming it, and write no final model.
func TestNonFiniteRewardStopsTheRun(t *testing.T) {
	for _, stage := range []string{recipes.StagePPO, recipes.StageGRPO} {
		t.Run(stage, func(t *testing.T) {
			out := t.TempDir()
			r := tinyRecipe(t, stage, out)
			r.PPO.RewardModel, r.GRPO.RewardModel = nanReward, nanReward
			_, err := runStage(context.Background(), r, false)
			require.ErrorIs(t, err, train.ErrNonFinite)
			assert.Contains(t, err.Error(), stage+" iteration 1")
			_, err = os.Stat(filepath.Join(out, "model.safetensors"))
			assert.ErrorIs(t, err, os.ErrNotExist, "no final model from a diverged run")
		})
	}
}
