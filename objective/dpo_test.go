package objective

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
)

func TestDPOHandWorked(t *testing.T) {
	// One pair, default config (sigmoid, β 0.1): z = (−10 − −12) − (−11 − −11) = 2,
	// loss = log(1 + e^−0.2) = 0.5981388693815918,
	// d/dπ_c = −β(1 − σ(0.2)) = −0.045016600268752205 = −d/dπ_r.
	res, err := DPO(DPOConfig{}, DPOInputs{
		PolicyChosen: []float64{-10}, PolicyRejected: []float64{-12},
		RefChosen: []float64{-11}, RefRejected: []float64{-11},
	})
	require.NoError(t, err)
	assert.InDelta(t, 0.5981388693815918, res.Loss, 1e-15)
	assert.InDelta(t, -0.045016600268752205, res.Grads["policy_chosen"][0], 1e-15)
	assert.InDelta(t, 0.045016600268752205, res.Grads["policy_rejected"][0], 1e-15)
	assert.InDelta(t, 0.1, res.Metrics["rewards/chosen"], 1e-15)
	assert.InDelta(t, -0.1, res.Metrics["rewards/rejected"], 1e-15)
	assert.InDelta(t, 0.2, res.Metrics["rewards/margins"], 1e-15)
	assert.Equal(t, 1.0, res.Metrics["rewards/accuracies"])
	assert.Equal(t, -10.0, res.Metrics["logps/chosen"])
	assert.Equal(t, -12.0, res.Metrics["logps/rejected"])
}

// dpoClosedForm is the DPO family written out pair by pair, independent of
// the graph code: loss, d loss/d π_c and d loss/d π_r.
func dpoClosedForm(cfg DPOConfig, in DPOInputs) (loss float64, gradChosen, gradRejected []float64) {
	beta, eps := cfg.Beta, cfg.LabelSmoothing
	if beta == 0 {
		beta = 0.1
	}
	n := len(in.PolicyChosen)
	gradChosen, gradRejected = make([]float64, n), make([]float64, n)
	var totalChosenTokens float64
	for _, c := range in.ChosenTokens {
		totalChosenTokens += float64(c)
	}
	for i := 0; i < n; i++ {
		sc, sr := 1.0, 1.0
		if cfg.Loss == "ipo" || cfg.Loss == "simpo" {
			sc, sr = 1/float64(in.ChosenTokens[i]), 1/float64(in.RejectedTokens[i])
		}
		z := in.PolicyChosen[i]*sc - in.PolicyRejected[i]*sr
		switch {
		case cfg.Loss == "simpo":
			z -= cfg.SimPOGamma / beta
		case !cfg.ReferenceFree:
			z -= in.RefChosen[i]*sc - in.RefRejected[i]*sr
		}
		var l, dl float64 // ℓ(z), dℓ/dz
		switch cfg.Loss {
		case "", "sigmoid", "simpo":
			l = (1-eps)*negLogSigmoid(beta*z) + eps*negLogSigmoid(-beta*z)
			dl = -beta*(1-eps)*(1-sigmoid(beta*z)) + eps*beta*sigmoid(beta*z)
		case "robust":
			l = ((1-eps)*negLogSigmoid(beta*z) - eps*negLogSigmoid(-beta*z)) / (1 - 2*eps)
			dl = (-beta*(1-eps)*(1-sigmoid(beta*z)) - eps*beta*sigmoid(beta*z)) / (1 - 2*eps)
		case "hinge":
			if 1-beta*z > 0 {
				l, dl = 1-beta*z, -beta
			}
		case "ipo":
			d := z - 1/(2*beta)
			l, dl = d*d, 2*d
		}
		loss += l / float64(n)
		gradChosen[i] = dl * sc / float64(n)
		gradRejected[i] = -dl * sr / float64(n)
		if cfg.RPOAlpha > 0 {
			loss -= cfg.RPOAlpha * in.PolicyChosen[i] / totalChosenTokens
			gradChosen[i] -= cfg.RPOAlpha / totalChosenTokens
		}
	}
	return loss, gradChosen, gradRejected
}

func TestDPOVariantsClosedFormAndFiniteDifferences(t *testing.T) {
	// Four pairs; with β 0.1 pair 3 has z = 15, so hinge is inactive there
	// and active for the others.
	in := DPOInputs{
		PolicyChosen:   []float64{-12.5, -30.25, -8, -20},
		PolicyRejected: []float64{-14, -28.5, -9.5, -36},
		RefChosen:      []float64{-13, -29, -8.5, -21},
		RefRejected:    []float64{-13.5, -29.5, -9, -22},
		ChosenTokens:   []int{5, 12, 3, 8},
		RejectedTokens: []int{6, 10, 4, 9},
	}
	cases := []DPOConfig{
		{},
		{Loss: "sigmoid", Beta: 0.5},
		{Loss: "sigmoid", LabelSmoothing: 0.1}, // cDPO
		{Loss: "robust", LabelSmoothing: 0.2},
		{Loss: "robust"},
		{Loss: "hinge"},
		{Loss: "ipo", Beta: 0.5},
		{Loss: "sigmoid", ReferenceFree: true},
		{Loss: "simpo", Beta: 2, SimPOGamma: 0.5},
		{Loss: "simpo", Beta: 2, SimPOGamma: 1, LabelSmoothing: 0.05},
		{Loss: "sigmoid", RPOAlpha: 1},
		{Loss: "ipo", RPOAlpha: 0.5},
	}
	for _, cfg := range cases {
		name := cfg.Loss
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			res, err := DPO(cfg, in)
			require.NoError(t, err)
			wantLoss, wantChosen, wantRejected := dpoClosedForm(cfg, in)
			assert.InDelta(t, wantLoss, res.Loss, 1e-13*(1+math.Abs(wantLoss)))
			requireClose(t, wantChosen, res.Grads["policy_chosen"], 1e-13, "policy_chosen grad")
			requireClose(t, wantRejected, res.Grads["policy_rejected"], 1e-13, "policy_rejected grad")

			requireFiniteDifference(t, "policy_chosen", res.Grads["policy_chosen"], in.PolicyChosen, func(x []float64) float64 {
				moved := in
				moved.PolicyChosen = x
				r, err := DPO(cfg, moved)
				require.NoError(t, err)
				return r.Loss
			})
			requireFiniteDifference(t, "policy_rejected", res.Grads["policy_rejected"], in.PolicyRejected, func(x []float64) float64 {
				moved := in
				moved.PolicyRejected = x
				r, err := DPO(cfg, moved)
				require.NoError(t, err)
				return r.Loss
			})
		})
	}
}

func TestDPOHingeIsFlatBeyondTheMargin(t *testing.T) {
	// z = 15 > 1/β = 10: the hinge loss and its gradient vanish.
	res, err := DPO(DPOConfig{Loss: "hinge"}, DPOInputs{
		PolicyChosen: []float64{-8}, PolicyRejected: []float64{-24},
		RefChosen: []float64{-10}, RefRejected: []float64{-11},
	})
	require.NoError(t, err)
	assert.Equal(t, 0.0, res.Loss)
	assert.Equal(t, 0.0, res.Grads["policy_chosen"][0])
}

func TestDPOMetrics(t *testing.T) {
	t.Run("accuracies are strict", func(t *testing.T) {
		// Pair 0: rewards 0.1 vs −0.1 (right); pair 1: 0 vs 0 (a tie: wrong).
		res, err := DPO(DPOConfig{}, DPOInputs{
			PolicyChosen: []float64{-10, -5}, PolicyRejected: []float64{-12, -7},
			RefChosen: []float64{-11, -5}, RefRejected: []float64{-11, -7},
		})
		require.NoError(t, err)
		assert.Equal(t, 0.5, res.Metrics["rewards/accuracies"])
		assert.InDelta(t, 0.05, res.Metrics["rewards/chosen"], 1e-15)
		assert.InDelta(t, -0.05, res.Metrics["rewards/rejected"], 1e-15)
		assert.InDelta(t, 0.1, res.Metrics["rewards/margins"], 1e-15)
		assert.Equal(t, -7.5, res.Metrics["logps/chosen"])
		assert.Equal(t, res.Loss, res.Metrics["loss"])
		assert.NotContains(t, res.Metrics, "nll_loss")
	})
	t.Run("simpo rewards are beta times per-token logps", func(t *testing.T) {
		res, err := DPO(DPOConfig{Loss: "simpo", Beta: 2, SimPOGamma: 0.5}, DPOInputs{
			PolicyChosen: []float64{-6}, PolicyRejected: []float64{-12},
			ChosenTokens: []int{3}, RejectedTokens: []int{4},
		})
		require.NoError(t, err)
		assert.InDelta(t, -4.0, res.Metrics["rewards/chosen"], 1e-15)   // 2·(−6/3)
		assert.InDelta(t, -6.0, res.Metrics["rewards/rejected"], 1e-15) // 2·(−12/4)
		assert.InDelta(t, -2.0, res.Metrics["logps/chosen"], 1e-15)
		// z = −2 − (−3) − 0.5/2 = 0.75, loss = log(1 + e^−1.5).
		assert.InDelta(t, math.Log1p(math.Exp(-1.5)), res.Loss, 1e-15)
	})
	t.Run("rpo reports nll_loss", func(t *testing.T) {
		res, err := DPO(DPOConfig{RPOAlpha: 1}, DPOInputs{
			PolicyChosen: []float64{-6, -10}, PolicyRejected: []float64{-12, -1},
			RefChosen: []float64{-6, -10}, RefRejected: []float64{-12, -1},
			ChosenTokens: []int{3, 5},
		})
		require.NoError(t, err)
		assert.InDelta(t, 2.0, res.Metrics["nll_loss"], 1e-15) // 16 / 8 tokens
		assert.InDelta(t, math.Ln2+2, res.Loss, 1e-15)         // z = 0 for both pairs
	})
}

// TestDPOMatchesFixture cross-checks the sigmoid loss against the value TRL's
// formula gives on log-probs computed by Hugging Face transformers.
func TestDPOMatchesFixture(t *testing.T) {
	raw, err := os.ReadFile(fixtures.Path(t, "dpo_expected.json"))
	require.NoError(t, err)
	var fixture struct {
		Logps []struct {
			PolicyChosen   float64 `json:"policy_chosen_logp"`
			PolicyRejected float64 `json:"policy_rejected_logp"`
			RefChosen      float64 `json:"ref_chosen_logp"`
			RefRejected    float64 `json:"ref_rejected_logp"`
		} `json:"logps"`
		Beta        float64 `json:"beta"`
		SigmoidLoss float64 `json:"sigmoid_loss"`
	}
	require.NoError(t, json.Unmarshal(raw, &fixture))
	require.NotEmpty(t, fixture.Logps)
	var in DPOInputs
	for _, p := range fixture.Logps {
		in.PolicyChosen = append(in.PolicyChosen, p.PolicyChosen)
		in.PolicyRejected = append(in.PolicyRejected, p.PolicyRejected)
		in.RefChosen = append(in.RefChosen, p.RefChosen)
		in.RefRejected = append(in.RefRejected, p.RefRejected)
	}
	res, err := DPO(DPOConfig{Loss: "sigmoid", Beta: fixture.Beta}, in)
	require.NoError(t, err)
	assert.InEpsilon(t, fixture.SigmoidLoss, res.Loss, 1e-6)
}

func TestDPORejectsBadInput(t *testing.T) {
	pair := DPOInputs{
		PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2},
		RefChosen: []float64{-1}, RefRejected: []float64{-2},
	}
	cases := []struct {
		name string
		cfg  DPOConfig
		in   DPOInputs
		want string
	}{
		{"unknown loss", DPOConfig{Loss: "kto"}, pair, `Loss "kto" is unknown`},
		{"negative beta", DPOConfig{Beta: -1}, pair, "Beta = -1"},
		{"robust needs eps below half", DPOConfig{Loss: "robust", LabelSmoothing: 0.5}, pair, "robust needs < 0.5"},
		{"hinge has no label smoothing", DPOConfig{Loss: "hinge", LabelSmoothing: 0.1}, pair, "no meaning"},
		{"missing reference", DPOConfig{}, DPOInputs{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}}, "RefChosen has 0 values, want 1"},
		{"ipo needs lengths", DPOConfig{Loss: "ipo"}, pair, "ChosenTokens has 0 values"},
		{"zero length", DPOConfig{Loss: "simpo"}, DPOInputs{PolicyChosen: []float64{-1}, PolicyRejected: []float64{-2}, ChosenTokens: []int{1}, RejectedTokens: []int{0}}, "RejectedTokens[0] = 0"},
		{"empty batch", DPOConfig{}, DPOInputs{}, "PolicyChosen is empty"},
		{"ragged", DPOConfig{ReferenceFree: true}, DPOInputs{PolicyChosen: []float64{-1, -2}, PolicyRejected: []float64{-2}}, "PolicyRejected has 1 values, want 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DPO(tc.cfg, tc.in)
			require.ErrorIs(t, err, ErrInput)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
