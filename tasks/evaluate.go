package tasks

import (
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/tokenizer"
)

// Score is a task's result on a set of problems.
type Score struct {
	Accuracy   float64 `json:"accuracy"`    // exact-match fraction
	MeanReward float64 `json:"mean_reward"` // mean of Task.Reward
}

// Evaluate answers each problem greedily with the model (prompted through the
// chat template, as in training) and grades the answers.
func Evaluate(m *model.Model, tok *tokenizer.Tokenizer, task Task, problems []Problem, maxNewTokens, batchSize int) (Score, error) {
	return EvaluateSampled(m, tok, task, problems, maxNewTokens, batchSize, model.SamplingOptions{}, 0)
}

// EvaluateSampled is Evaluate with answers drawn with sampling (a zero
// Temperature is greedy) from seed: the score a policy's own samples get,
// which is what an RL stage learns from.
func EvaluateSampled(m *model.Model, tok *tokenizer.Tokenizer, task Task, problems []Problem, maxNewTokens, batchSize int, sampling model.SamplingOptions, seed uint64) (Score, error) {
	if batchSize <= 0 {
		batchSize = 32
	}
	var s Score
	for lo := 0; lo < len(problems); lo += batchSize {
		batch := problems[lo:min(lo+batchSize, len(problems))]
		prompts := make([][]int32, len(batch))
		for i, p := range batch {
			ids, err := PromptIDs(tok, p.Prompt)
			if err != nil {
				return Score{}, err
			}
			prompts[i] = ids
		}
		outs, err := m.Generate(prompts, model.GenerateOptions{SamplingOptions: sampling, Seed: seed + uint64(lo),
			MaxNewTokens: maxNewTokens, StopTokens: tok.EOS()})
		if err != nil {
			return Score{}, err
		}
		for i, p := range batch {
			r := task.Reward(p, Completion(tok, outs[i]))
			s.MeanReward += r
			if r == 1 {
				s.Accuracy++
			}
		}
	}
	n := float64(len(problems))
	s.Accuracy /= n
	s.MeanReward /= n
	return s, nil
}

// PromptIDs renders a one-turn user prompt with the chat template and the
// assistant header, the way the model sees prompts in training.
func PromptIDs(tok *tokenizer.Tokenizer, prompt string) ([]int32, error) {
	text, err := tok.ApplyChatTemplate([]tokenizer.Message{{Role: "user", Content: prompt}}, true)
	if err != nil {
		return nil, err
	}
	return tok.Encode(text, tokenizer.EncodeOptions{Special: true}), nil
}

// Completion decodes generated ids up to (not including) the first stop token.
func Completion(tok *tokenizer.Tokenizer, ids []int32) string {
	eos := tok.EOS()
	for i, id := range ids {
		for _, e := range eos {
			if id == e {
				return tok.Decode(ids[:i])
			}
		}
	}
	return tok.Decode(ids)
}
