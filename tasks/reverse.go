// Package tasks holds built-in synthetic tasks with checkable answers (the
// demo's data, prompts and reward functions) and the character tokenizer the
// demo's tiny models use, so `posttrain run demo` needs no download.
package tasks

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// Problem is one prompt of a checkable task and its reference answer.
type Problem struct {
	Prompt string
	Answer string
}

// Task generates problems and grades completions.
type Task interface {
	Name() string
	// Problems returns n problems of split "train" or "eval"; the two splits
	// never share a prompt, and the same (split, n, seed) gives the same list.
	Problems(split string, n int, seed uint64) ([]Problem, error)
	// Wrong returns a plausible wrong answer to p (for preference pairs).
	Wrong(p Problem, rng *rand.Rand) string
	// Reward scores a completion: 1 for the exact answer, partial credit below.
	Reward(p Problem, completion string) float64
}

// Reverse asks for a word of lowercase letters written backwards: "reverse
// abcd" → "dcba". An untrained model scores zero; a small model learns it in
// minutes, with room left for preference and RL stages to improve.
type Reverse struct {
	MinLen, MaxLen int
}

// NewReverse returns the demo's reversal task over words of 3 to 6 letters.
func NewReverse() Reverse { return Reverse{MinLen: 5, MaxLen: 5} }

// Name implements Task.
func (Reverse) Name() string { return "reverse" }

// inEval puts one word in eight into the held-out split, by hash, so the
// split does not depend on how many problems are drawn.
func inEval(word string) bool {
	h := fnv.New32a()
	h.Write([]byte(word))
	return h.Sum32()%8 == 0
}

// Problems implements Task.
func (r Reverse) Problems(split string, n int, seed uint64) ([]Problem, error) {
	if split != "train" && split != "eval" {
		return nil, fmt.Errorf("tasks: split %q: want train or eval", split)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	seen := map[string]bool{}
	out := make([]Problem, 0, n)
	for len(out) < n {
		word := randomWord(rng, r.MinLen+rng.IntN(r.MaxLen-r.MinLen+1))
		if seen[word] || inEval(word) != (split == "eval") {
			continue
		}
		seen[word] = true
		out = append(out, Problem{Prompt: "reverse " + word, Answer: reverseString(word)})
	}
	return out, nil
}

// Wrong implements Task: a wrong answer that differs from the right one at
// most positions — the word unreversed, a random word, or the answer rotated by
// one letter — so that a small reward model can learn to tell them apart.
func (r Reverse) Wrong(p Problem, rng *rand.Rand) string {
	word := strings.TrimPrefix(p.Prompt, "reverse ")
	for {
		var w string
		switch rng.IntN(3) {
		case 0:
			w = word
		case 1:
			w = randomWord(rng, len(p.Answer))
		default:
			w = p.Answer[1:] + p.Answer[:1]
		}
		if w != p.Answer {
			return w
		}
	}
}

// Reward implements Task: 1 for the exact answer; otherwise half the fraction
// of positions right, so a policy gets signal before it is ever fully right.
func (Reverse) Reward(p Problem, completion string) float64 {
	got := strings.TrimSpace(completion)
	if got == p.Answer {
		return 1
	}
	match := 0
	for i := 0; i < min(len(got), len(p.Answer)); i++ {
		if got[i] == p.Answer[i] {
			match++
		}
	}
	return 0.5 * float64(match) / float64(max(len(got), len(p.Answer)))
}

func randomWord(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

func reverseString(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// Lookup returns a built-in task by name.
func Lookup(name string) (Task, error) {
	switch name {
	case "reverse":
		return NewReverse(), nil
	}
	return nil, fmt.Errorf("tasks: unknown task %q (built-in: reverse)", name)
}
