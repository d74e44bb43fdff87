package objective

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkObjectives measures a whole call (build the graph, differentiate,
// run) at training-step sizes: N pairs for the sequence losses and 256
// tokens per row for PPO.
func BenchmarkObjectives(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func(n int, scale float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = scale * rng.NormFloat64()
		}
		return out
	}
	for _, n := range []int{8, 256} {
		tokens := make([]int, n)
		for i := range tokens {
			tokens[i] = 64
		}
		in := DPOInputs{
			PolicyChosen: vec(n, 10), PolicyRejected: vec(n, 10), RefChosen: vec(n, 10), RefRejected: vec(n, 10),
			ChosenTokens: tokens, RejectedTokens: tokens,
		}
		b.Run(fmt.Sprintf("BradleyTerry/N=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := BradleyTerry(in.PolicyChosen, in.PolicyRejected, nil, 0.01); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("DPO-ipo-rpo/N=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := DPO(DPOConfig{Loss: DPOIPO, RPOAlpha: 1}, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, bt := range []int{8 * 256, 64 * 256} {
		logp, old, adv, mask := vec(bt, 0.1), vec(bt, 0.1), vec(bt, 1), ones(bt)
		b.Run(fmt.Sprintf("PPOPolicyLoss/BT=%d", bt), func(b *testing.B) {
			for b.Loop() {
				if _, err := PPOPolicyLoss(logp, old, adv, mask, 0.2); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("PPOValueLoss/BT=%d", bt), func(b *testing.B) {
			for b.Loop() {
				if _, err := PPOValueLoss(logp, old, adv, mask, 0.2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
