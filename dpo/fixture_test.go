package dpo

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
	"github.com/posttrain/posttrain/objective"
)

// dpoExpected is ../shared/fixtures/dpo_expected.json.
type dpoExpected struct {
	Pairs []struct {
		Prompt   []int32 `json:"prompt"`
		Chosen   []int32 `json:"chosen"`
		Rejected []int32 `json:"rejected"`
	} `json:"pairs"`
	// RawLogps holds per pair policy_chosen_logp, ref_rejected_logp_mean, ...
	RawLogps    []map[string]float64 `json:"logps"`
	Beta        float64              `json:"beta"`
	SigmoidLoss float64              `json:"sigmoid_loss"`
}

func loadDPOExpected(t *testing.T) (dpoExpected, []Pair) {
	t.Helper()
	var e dpoExpected
	fixtures.JSON(t, &e, "dpo_expected.json")
	require.Len(t, e.RawLogps, len(e.Pairs))
	pairs := make([]Pair, len(e.Pairs))
	for i, p := range e.Pairs {
		pairs[i] = Pair{Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected}
	}
	return e, pairs
}

func loadFixtureModel(t *testing.T, name string) *model.Model {
	t.Helper()
	m, err := model.Load(cpu.New(), fixtures.Path(t, name))
	require.NoError(t, err)
	return m
}

// fixturePad is an id the fixture pairs never score (padding carries no loss).
const fixturePad = 0

func requireRel(t *testing.T, want, got, tol float64, msg string, args ...any) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(got-want), tol*math.Abs(want), append([]any{msg + ": got %v want %v"}, append(args, got, want)...)...)
}

func TestLogProbsMatchHF(t *testing.T) {
	e, pairs := loadDPOExpected(t)
	for _, tc := range []struct{ model, prefix string }{{"tiny-llama3", "policy"}, {"tiny-llama3-ref", "ref"}} {
		t.Run(tc.model, func(t *testing.T) {
			m := loadFixtureModel(t, tc.model)
			for _, batchSize := range []int{1, 3} { // alone and padded into one batch
				got, err := LogProbs(m, pairs, fixturePad, batchSize)
				require.NoError(t, err)
				require.Len(t, got, len(pairs))
				for i, want := range e.RawLogps {
					requireRel(t, want[tc.prefix+"_chosen_logp"], got[i].ChosenLogp, 1e-4, "pair %d chosen", i)
					requireRel(t, want[tc.prefix+"_rejected_logp"], got[i].RejectedLogp, 1e-4, "pair %d rejected", i)
					requireRel(t, want[tc.prefix+"_chosen_logp_mean"], got[i].ChosenLogpMean, 1e-4, "pair %d chosen mean", i)
					requireRel(t, want[tc.prefix+"_rejected_logp_mean"], got[i].RejectedLogpMean, 1e-4, "pair %d rejected mean", i)
				}
			}
		})
	}
}

// TestSigmoidLossAndGradientMatchHF runs one training micro-step's path
// (reference per batch, concatenated policy forward, objective, backward) on
// the fixture pairs and checks the loss and every parameter's gradient.
func TestSigmoidLossAndGradientMatchHF(t *testing.T) {
	e, pairs := loadDPOExpected(t)
	policy := loadFixtureModel(t, "tiny-llama3")
	ref := &modelReference{m: loadFixtureModel(t, "tiny-llama3-ref"), padID: fixturePad}
	refChosen, refRejected, err := ref.logps("train", nil, pairs)
	require.NoError(t, err)

	b, err := concatenated(pairs, fixturePad)
	require.NoError(t, err)
	st, err := forwardRows(policy, b, true)
	require.NoError(t, err)
	res, perRow, err := pairLoss(objective.DPOConfig{Loss: objective.DPOSigmoid, Beta: e.Beta}, st, refChosen, refRejected)
	require.NoError(t, err)
	requireRel(t, e.SigmoidLoss, res.Loss, 1e-4, "sigmoid loss")
	requireRel(t, e.SigmoidLoss, res.Metrics["loss"], 1e-4, "loss metric")

	policy.ZeroGrads()
	require.NoError(t, policy.Backward(rowGradient(b, perRow)))
	f, err := safetensors.Open(fixtures.Path(t, "tiny-llama3", "grads_dpo.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	checked := 0
	for _, g := range policy.Grads.Tensors {
		want, shape, err := f.Float32(g.Name)
		require.NoError(t, err, "fixture has no gradient for %s", g.Name)
		require.Equal(t, g.Shape, shape, g.Name)
		got := make([]float32, g.Size())
		policy.Backend().Download(got, g.Buf)
		require.Less(t, relNorm(got, want), 1e-3, "gradient of %s", g.Name)
		checked++
	}
	require.Equal(t, len(f.Names()), checked, "every gradient in the fixture is checked")
}

// relNorm is ‖got − want‖ / ‖want‖.
func relNorm(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// TestLogitMetricsAreMeanCompletionLogits checks logits/chosen and
// logits/rejected (from model.MeanLogits) against the full logits: the mean
// over the completion tokens' predicting positions and the whole vocabulary.
func TestLogitMetricsAreMeanCompletionLogits(t *testing.T) {
	_, pairs := loadDPOExpected(t)
	m := loadFixtureModel(t, "tiny-llama3")
	b, err := concatenated(pairs, fixturePad)
	require.NoError(t, err)
	logits, err := m.Logits(b)
	require.NoError(t, err)
	V, P := m.Config.VocabSize, len(pairs)
	var sums [2]float64
	var counts [2]int
	for n, l := range b.Labels {
		if l == -100 {
			continue
		}
		half := 0
		if n/b.T >= P {
			half = 1
		}
		for v := range V {
			sums[half] += float64(logits[(n-1)*V+v]) // position n-1 predicts label n
		}
		counts[half] += V
	}
	st, err := forwardRows(m, b, true)
	require.NoError(t, err)
	res, _, err := pairLoss(objective.DPOConfig{ReferenceFree: true}, st, nil, nil)
	require.NoError(t, err)
	requireRel(t, sums[0]/float64(counts[0]), res.Metrics["logits/chosen"], 1e-4, "logits/chosen")
	requireRel(t, sums[1]/float64(counts[1]), res.Metrics["logits/rejected"], 1e-4, "logits/rejected")
}
