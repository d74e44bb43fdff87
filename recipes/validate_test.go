package recipes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadMinimal(t *testing.T, extra string, overrides ...string) (*Recipe, error) {
	t.Helper()
	r, err := Parse([]byte(minimal+extra), "v.yaml")
	require.NoError(t, err)
	for _, kv := range overrides {
		require.NoError(t, Override(r, kv))
	}
	return r, Validate(r)
}

func TestValidateReportsWhereTheValueCameFrom(t *testing.T) {
	tests := []struct {
		name      string
		extra     string
		overrides []string
		want      []string
	}{
		{"negative lr by override", "", []string{"optim.lr=-1"}, []string{`override "optim.lr=-1": optim.lr must be > 0, found -1`}},
		{"zero lr in file", "optim:\n  lr: 0\n", nil, []string{"v.yaml:8: optim.lr must be > 0, found 0"}},
		{"unknown stage", "", []string{"stage=kto"}, []string{`stage must be one of sft, reward, dpo, ppo, grpo, found "kto"`}},
		{"other stage's section", "dpo:\n  beta: 0.2\n", nil, []string{`v.yaml:7: dpo belongs to stage dpo, but this recipe's stage is "sft"`}},
		{"min lr with linear", "schedule:\n  type: linear\n  min_lr_ratio: 0.1\n", nil, []string{`schedule.min_lr_ratio applies only to schedule.type cosine`}},
		{"eval without data", "", []string{"train.eval_steps=10"}, []string{"train.eval_steps is 10 but there is no eval data"}},
		{"path and init", "", []string{"model.init.vocab_size=10"}, []string{"model.init cannot be combined with model.path"}},
		{"bad device", "", []string{"device=tpu"}, []string{`device must be auto, cpu, cuda or cuda:N, found "tpu"`}},
		{"lora target", "", []string{"lora.enabled=true", "lora.target_modules=q_proj,attn"}, []string{`lora.target_modules must be one of q_proj`, `found "attn"`}},
		{"ppo needs reward model", "", []string{"stage=ppo"}, []string{"ppo.reward_model is empty"}},
		{"no steps", "", []string{"train.epochs=0"}, []string{"train.max_steps and train.epochs are both 0"}},
		{"every problem at once", "", []string{"optim.lr=0", "train.batch_size=0", "output_dir="},
			[]string{"optim.lr must be > 0", "train.batch_size must be >= 1", "output_dir is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMinimal(t, tc.extra, tc.overrides...)
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateAcceptsEachStage(t *testing.T) {
	tests := map[string][]string{
		StageSFT:    nil,
		StageReward: {"stage=reward", "reward.center_rewards_coefficient=0.01"},
		StageDPO:    {"stage=dpo", "dpo.loss_type=ipo"},
		StagePPO:    {"stage=ppo", "ppo.reward_model=/models/rm", "ppo.kl_estimator=k3"},
		StageGRPO:   {"stage=grpo", "grpo.reward_model=/models/rm"},
	}
	for stage, overrides := range tests {
		t.Run(stage, func(t *testing.T) {
			r, err := loadMinimal(t, "", overrides...)
			require.NoError(t, err)
			assert.Equal(t, stage, r.Stage)
		})
	}
}

func TestValidateFillsModelInitDefaults(t *testing.T) {
	r, err := loadMinimal(t, "", "model.path=", "model.init.vocab_size=512", "model.init.hidden_size=64",
		"model.init.intermediate_size=192", "model.init.num_hidden_layers=2", "model.init.num_attention_heads=4")
	require.NoError(t, err)
	in := r.Model.Init
	assert.Equal(t, 4, in.NumKeyValueHeads)
	assert.Equal(t, 16, in.HeadDim)
	assert.Equal(t, 500000.0, in.RopeTheta)
	assert.Equal(t, 1e-5, in.RMSNormEps)

	_, err = loadMinimal(t, "", "model.path=", "model.init.vocab_size=512", "model.init.hidden_size=64",
		"model.init.intermediate_size=192", "model.init.num_hidden_layers=2", "model.init.num_attention_heads=4",
		"model.init.num_key_value_heads=3")
	require.ErrorIs(t, err, ErrInvalid)
	assert.True(t, strings.Contains(err.Error(), "num_key_value_heads must divide num_attention_heads 4, found 3"), err.Error())
}
