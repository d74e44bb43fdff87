package ppo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/recipes"
)

func TestBuiltinRecipesLoad(t *testing.T) {
	for name, stage := range map[string]string{
		"demo-ppo": recipes.StagePPO, "ppo-tiny": recipes.StagePPO,
		"demo-grpo": recipes.StageGRPO, "grpo-tiny": recipes.StageGRPO,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := recipes.Load(name, []string{"model.path=/tmp/sft"})
			require.NoError(t, err)
			assert.Equal(t, stage, r.Stage)
			assert.Equal(t, "/tmp/sft", r.Model.Path)
		})
	}
}
