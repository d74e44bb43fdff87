package recipes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverrideSetsTypedValues(t *testing.T) {
	tests := []struct {
		kv    string
		check func(t *testing.T, r *Recipe)
	}{
		{"optim.lr=1e-5", func(t *testing.T, r *Recipe) { assert.Equal(t, 1e-5, r.Optim.LR) }},
		{" optim.weight_decay = 0.1", func(t *testing.T, r *Recipe) { assert.Equal(t, 0.1, r.Optim.WeightDecay) }},
		{"optim.betas=0.9,0.95", func(t *testing.T, r *Recipe) { assert.Equal(t, [2]float64{0.9, 0.95}, r.Optim.Betas) }},
		{"optim.betas=[0.8, 0.9]", func(t *testing.T, r *Recipe) { assert.Equal(t, [2]float64{0.8, 0.9}, r.Optim.Betas) }},
		{"lora.enabled=true", func(t *testing.T, r *Recipe) { assert.True(t, r.LoRA.Enabled) }},
		{"data.shuffle=false", func(t *testing.T, r *Recipe) { assert.False(t, r.Data.Shuffle) }},
		{"lora.target_modules=q_proj,k_proj,o_proj", func(t *testing.T, r *Recipe) {
			assert.Equal(t, []string{"q_proj", "k_proj", "o_proj"}, r.LoRA.TargetModules)
		}},
		{"lora.target_modules=[ 'q_proj', \"v_proj\" ]", func(t *testing.T, r *Recipe) {
			assert.Equal(t, []string{"q_proj", "v_proj"}, r.LoRA.TargetModules)
		}},
		{"lora.target_modules=", func(t *testing.T, r *Recipe) { assert.Empty(t, r.LoRA.TargetModules) }},
		{"train.seed=1234", func(t *testing.T, r *Recipe) { assert.Equal(t, uint64(1234), r.Train.Seed) }},
		{"train.max_steps=0x10", func(t *testing.T, r *Recipe) { assert.Equal(t, 16, r.Train.MaxSteps) }},
		{"output_dir=runs/a=b", func(t *testing.T, r *Recipe) { assert.Equal(t, "runs/a=b", r.OutputDir) }},
		{"model.path=", func(t *testing.T, r *Recipe) { assert.Empty(t, r.Model.Path) }},
		{"model.init.hidden_size=32", func(t *testing.T, r *Recipe) {
			require.NotNil(t, r.Model.Init)
			assert.Equal(t, 32, r.Model.Init.HiddenSize)
		}},
		{"dpo.beta=0.5", func(t *testing.T, r *Recipe) { assert.Equal(t, 0.5, r.DPO.Beta) }},
	}
	for _, tc := range tests {
		t.Run(tc.kv, func(t *testing.T) {
			r := Default()
			require.NoError(t, Override(r, tc.kv))
			tc.check(t, r)
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		kv       string
		sentinel error
		contains []string
	}{
		{"optim.lrr=1", ErrUnknownKey, []string{`override "optim.lrr=1": unknown key "optim.lrr"`, "valid keys in optim: betas, eps, grad_clip, lr, weight_decay", `did you mean "lr"`}},
		{"optimizer.lr=1", ErrUnknownKey, []string{`unknown key "optimizer"`, "valid keys at the top level:"}},
		{"optim.lr.x=1", ErrUnknownKey, []string{"optim.lr is a number and has no key \"x\""}},
		{"optim.lr=abc", ErrBadValue, []string{`optim.lr: expected a number, found "abc"`}},
		{"train.batch_size=1.5", ErrBadValue, []string{`train.batch_size: expected an integer, found "1.5"`}},
		{"lora.enabled=maybe", ErrBadValue, []string{"lora.enabled: expected true or false"}},
		{"optim.betas=0.9", ErrBadValue, []string{"optim.betas: expected a list of 2 numbers, found 1 items"}},
		{"optim.betas=0.5,x", ErrBadValue, []string{"optim.betas[1]"}},
		{"train.seed=-3", ErrBadValue, []string{"train.seed: expected a non-negative integer"}},
		{"optim=1", ErrBadValue, []string{"optim is a section; set one of its keys as optim.KEY=VALUE (keys: betas, eps"}},
		{"optim.lr", ErrBadValue, []string{"expected key=value"}},
		{"=3", ErrBadValue, []string{"expected key=value"}},
		{"lora.target_modules=q_proj,", ErrBadValue, []string{`lora.target_modules[1]: expected a list of strings, found an empty item in "q_proj,"`}},
		{"lora.alpha=", ErrBadValue, []string{`lora.alpha: expected a number, found ""`}},
	}
	for _, tc := range tests {
		t.Run(tc.kv, func(t *testing.T) {
			r := Default()
			before := *r
			err := Override(r, tc.kv)
			require.ErrorIs(t, err, tc.sentinel)
			for _, c := range tc.contains {
				assert.Contains(t, err.Error(), c)
			}
			assert.Equal(t, before.Optim, r.Optim, "a failed override changes nothing")
			assert.Equal(t, before.LoRA, r.LoRA, "a failed override changes nothing")
		})
	}
}

func TestShortKeysOverrideTheirSection(t *testing.T) {
	r := Default()
	require.NoError(t, Override(r, "max_steps=40"))
	require.NoError(t, Override(r, "save_steps=5"))
	require.NoError(t, Override(r, "lr=2e-4"))
	require.Equal(t, 40, r.Train.MaxSteps)
	require.Equal(t, 5, r.Train.SaveSteps)
	require.Equal(t, 2e-4, r.Optim.LR)
}

func TestEmptyValueRemovesAnOptionalSection(t *testing.T) {
	r, err := Load("sft-tiny", []string{"model.init=", "model.path=/m"})
	require.NoError(t, err)
	require.Nil(t, r.Model.Init)
	require.Equal(t, "/m", r.Model.Path)
}
