package ppo

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/tasks"
	"github.com/posttrain/posttrain/tokenizer"
)

// TaskRewardPrefix names a built-in task's checkable reward in a recipe's
// reward_model field: "task:reverse" scores completions with
// tasks.Task.Reward against the prompt's Meta["answer"].
const TaskRewardPrefix = "task:"

// Meta keys the prompts of built-in tasks carry for their reward.
const (
	MetaPrompt = "prompt"
	MetaAnswer = "answer"
)

// newScorer resolves a recipe's reward_model: "task:NAME", the name of a
// reward function registered with rollout.RegisterReward, or a reward-model
// checkpoint directory. It also returns the reward model when one was loaded
// (PPO initialises its value model from it).
func newScorer(spec string, be compute.Backend, tok *tokenizer.Tokenizer) (rollout.Scorer, *reward.Model, error) {
	decode := func(ids []int32) string { return tasks.Completion(tok, ids) }
	if name, ok := strings.CutPrefix(spec, TaskRewardPrefix); ok {
		task, err := tasks.Lookup(name)
		if err != nil {
			return nil, nil, fmt.Errorf("reward_model %q: %w", spec, err)
		}
		return rollout.FuncScorer(TaskReward(task), decode), nil, nil
	}
	if f, ok := rollout.LookupReward(spec); ok {
		return rollout.FuncScorer(f, decode), nil, nil
	}
	if st, err := os.Stat(spec); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("reward_model %q is not task:NAME, a registered reward function (%s) or a checkpoint directory",
			spec, strings.Join(rollout.RewardNames(), ", "))
	}
	rm, err := reward.Load(be, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("reward_model: %w", err)
	}
	return &modelScorer{rm: rm}, rm, nil
}

// TaskReward adapts a task's checkable reward to a rollout reward function;
// prompts carry the problem in Meta (MetaPrompt, MetaAnswer).
func TaskReward(task tasks.Task) rollout.RewardFunc {
	return func(p rollout.Prompt, _ []int32, text string) (float64, error) {
		answer, ok := p.Meta[MetaAnswer]
		if !ok {
			return 0, fmt.Errorf("prompt %d: %w", p.ID, rollout.ErrNoAnswer)
		}
		return task.Reward(tasks.Problem{Prompt: p.Meta[MetaPrompt], Answer: answer}, text), nil
	}
}

// modelScorer scores prompt+completion with a reward model. The model is not
// safe for concurrent use, so workers take turns.
type modelScorer struct {
	mu sync.Mutex
	rm *reward.Model
}

func (s *modelScorer) Score(ctx context.Context, samples []rollout.Sample) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	T := 0
	for _, smp := range samples {
		T = max(T, len(smp.Prompt.Tokens)+len(smp.Tokens))
	}
	B := len(samples)
	ids, attn := make([]int32, B*T), make([]int32, B*T)
	for b, smp := range samples {
		n := copy(ids[b*T:], smp.Prompt.Tokens)
		n += copy(ids[b*T+n:], smp.Tokens)
		for t := range n {
			attn[b*T+t] = 1
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rm.Rewards(&model.Batch{B: B, T: T, IDs: ids, AttentionMask: attn})
}
