package dpo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/recipes"
)

func TestDPORecipeValidation(t *testing.T) {
	for _, tc := range []struct {
		overrides []string
		problem   string // "" = valid
	}{
		{[]string{"dpo.loss_type=simpo", "dpo.simpo_gamma=1"}, ""},
		{[]string{"dpo.loss_type=robust", "dpo.label_smoothing=0.1"}, ""},
		{[]string{"dpo.loss_type=hinge", "dpo.label_smoothing=0.1"}, "dpo.label_smoothing"},
		{[]string{"dpo.loss_type=kto"}, "dpo.loss_type"},
		{[]string{"dpo.rpo_alpha=-1"}, "dpo.rpo_alpha"},
		{[]string{"dpo.beta=0"}, "dpo.beta"},
	} {
		t.Run(tc.problem+tc.overrides[0], func(t *testing.T) {
			r, err := recipes.Load(DemoRecipe, tc.overrides)
			if tc.problem == "" {
				require.NoError(t, err)
				cfg := objectiveConfig(r.DPO)
				assert.Equal(t, r.DPO.LossType, cfg.Loss)
				assert.Equal(t, r.DPO.SimPOGamma, cfg.SimPOGamma)
				assert.Equal(t, r.DPO.LabelSmoothing, cfg.LabelSmoothing)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.problem)
		})
	}
	r, err := recipes.Load(DemoRecipe, nil)
	require.NoError(t, err)
	assert.Equal(t, objective.DPOSigmoid, r.DPO.LossType)
	assert.True(t, usesReference(r.DPO))
	r.DPO.LossType = recipes.DPOSimPO
	assert.False(t, usesReference(r.DPO), "simpo has no reference")
}
