package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// ErrNoAnswer is returned by answer-checking reward functions when the prompt's
// Meta has no "answer".
var ErrNoAnswer = errors.New("rollout: prompt has no \"answer\" in Meta")

// Scorer rates samples (a reward model, or a reward function through
// FuncScorer). A Pool shares one Scorer between its workers, so it must be safe
// for concurrent use.
type Scorer interface {
	// Score returns one score per sample. To fail single samples rather than
	// the whole batch, return the scores with a SampleErrors.
	Score(ctx context.Context, samples []Sample) ([]float64, error)
}

// SampleErrors is a Scorer error aligned with its samples: nil where the
// sample was scored.
type SampleErrors []error

func (e SampleErrors) Error() string {
	n, first := 0, error(nil)
	for _, err := range e {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("rollout: %d of %d samples failed to score; first: %v", n, len(e), first)
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (e SampleErrors) Unwrap() []error { return e }

// RewardFunc scores one completion of prompt; text is its decoded form.
type RewardFunc func(prompt Prompt, completion []int32, text string) (float64, error)

var rewards = struct {
	sync.RWMutex
	byName map[string]RewardFunc
}{byName: map[string]RewardFunc{}}

// RegisterReward makes f available under name (for recipes). Like
// database/sql.Register it is meant for init functions and panics when name is
// taken or f is nil.
func RegisterReward(name string, f RewardFunc) {
	rewards.Lock()
	defer rewards.Unlock()
	if f == nil {
		panic("rollout: RegisterReward " + name + " with a nil function")
	}
	if _, dup := rewards.byName[name]; dup {
		panic("rollout: RegisterReward called twice for " + name)
	}
	rewards.byName[name] = f
}

// LookupReward returns the reward function registered under name.
func LookupReward(name string) (RewardFunc, bool) {
	rewards.RLock()
	defer rewards.RUnlock()
	f, ok := rewards.byName[name]
	return f, ok
}

// RewardNames lists the registered reward functions, sorted (for error hints).
func RewardNames() []string {
	rewards.RLock()
	defer rewards.RUnlock()
	names := make([]string, 0, len(rewards.byName))
	for n := range rewards.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	RegisterReward("exact_match", ExactMatch)
}

// ExactMatch scores 1 when the completion's text, trimmed of spaces, equals
// the prompt's Meta["answer"], and 0 otherwise.
func ExactMatch(prompt Prompt, _ []int32, text string) (float64, error) {
	want, ok := prompt.Meta["answer"]
	if !ok {
		return 0, fmt.Errorf("prompt %d: %w", prompt.ID, ErrNoAnswer)
	}
	if strings.TrimSpace(text) == strings.TrimSpace(want) {
		return 1, nil
	}
	return 0, nil
}

// FuncScorer adapts a reward function to a Scorer; decode turns a completion
// into text (a tokenizer's Decode; nil passes empty text). A reward function
// error fails only its own sample.
func FuncScorer(f RewardFunc, decode func([]int32) string) Scorer {
	return funcScorer{f: f, decode: decode}
}

type funcScorer struct {
	f      RewardFunc
	decode func([]int32) string
}

func (s funcScorer) Score(ctx context.Context, samples []Sample) ([]float64, error) {
	scores := make([]float64, len(samples))
	var errs SampleErrors
	for i, smp := range samples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		text := ""
		if s.decode != nil {
			text = s.decode(smp.Tokens)
		}
		v, err := s.f(smp.Prompt, smp.Tokens, text)
		if err != nil {
			if errs == nil {
				errs = make(SampleErrors, len(samples))
			}
			errs[i] = err
			continue
		}
		scores[i] = v
	}
	if errs != nil {
		return scores, errs
	}
	return scores, nil
}
