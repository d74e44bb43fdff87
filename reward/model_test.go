package reward_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/reward"
)

type rmExpected struct {
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	Rewards       []float64 `json:"rewards"`
	Pairs         [][2]int  `json:"pairs"`
	BTLoss        float64   `json:"bt_loss"`
}

func (e rmExpected) batch() *model.Batch {
	b := &model.Batch{B: len(e.InputIDs), T: len(e.InputIDs[0])}
	for r := range e.InputIDs {
		b.IDs = append(b.IDs, e.InputIDs[r]...)
		b.AttentionMask = append(b.AttentionMask, e.AttentionMask[r]...)
	}
	return b
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

func TestRewardsMatchHF(t *testing.T) {
	var e rmExpected
	fixtures.JSON(t, &e, "tiny-llama3-rm", "expected.json")
	rm, err := reward.Load(cpu.New(), fixtures.Path(t, "tiny-llama3-rm"))
	require.NoError(t, err)
	got, err := rm.Rewards(e.batch())
	require.NoError(t, err)
	for i, want := range e.Rewards {
		require.InEpsilon(t, want, got[i], 1e-4, "reward %d", i)
	}
	// Without an attention mask the pad id decides the last token, as in HF.
	b := e.batch()
	b.AttentionMask = nil
	noMask, err := rm.Rewards(b)
	require.NoError(t, err)
	for i, want := range e.Rewards {
		require.InEpsilon(t, want, noMask[i], 1e-3, "reward %d without mask", i)
	}
}

func TestBradleyTerryGradientMatchesHF(t *testing.T) {
	var e rmExpected
	fixtures.JSON(t, &e, "tiny-llama3-rm", "expected.json")
	rm, err := reward.Load(cpu.New(), fixtures.Path(t, "tiny-llama3-rm"))
	require.NoError(t, err)
	rewards, err := rm.Rewards(e.batch())
	require.NoError(t, err)
	var chosen, rejected []float64
	for _, p := range e.Pairs {
		chosen = append(chosen, rewards[p[0]])
		rejected = append(rejected, rewards[p[1]])
	}
	res, err := objective.BradleyTerry(chosen, rejected, nil, 0)
	require.NoError(t, err)
	require.InEpsilon(t, e.BTLoss, res.Loss, 1e-4)
	d := make([]float64, len(rewards))
	for i, p := range e.Pairs {
		d[p[0]] += res.Grads["chosen"][i]
		d[p[1]] += res.Grads["rejected"][i]
	}
	rm.ZeroGrads()
	require.NoError(t, rm.Backward(d))

	f, err := safetensors.Open(fixtures.Path(t, "tiny-llama3-rm", "grads_bt.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	want, _, err := f.Float32(reward.ScoreWeight)
	require.NoError(t, err)
	require.Less(t, relErr(rm.ScoreGrad, want), 1e-3, "score.weight gradient")
	checked := 1
	for _, g := range rm.Trunk.Grads.Tensors {
		want, _, err := f.Float32(g.Name)
		require.NoError(t, err, g.Name)
		got := make([]float32, g.Size())
		rm.Trunk.Backend().Download(got, g.Buf)
		require.Less(t, relErr(got, want), 1e-3, g.Name)
		checked++
	}
	require.Equal(t, len(f.Names()), checked, "every fixture gradient checked")
}

func TestSavedRewardModelHasSequenceClassificationLayout(t *testing.T) {
	var e rmExpected
	fixtures.JSON(t, &e, "tiny-llama3-rm", "expected.json")
	be := cpu.New()
	rm, err := reward.Load(be, fixtures.Path(t, "tiny-llama3-rm"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, rm.Save(dir))

	var cfg map[string]any
	body, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &cfg))
	require.Equal(t, []any{"LlamaForSequenceClassification"}, cfg["architectures"])
	require.Equal(t, 1.0, cfg["num_labels"])
	require.Equal(t, map[string]any{"0": "LABEL_0"}, cfg["id2label"])
	require.Equal(t, 2.0, cfg["pad_token_id"])

	ref, err := safetensors.Open(fixtures.Path(t, "tiny-llama3-rm", "model.safetensors"))
	require.NoError(t, err)
	defer ref.Close()
	got, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	defer got.Close()
	require.Equal(t, ref.Names(), got.Names())
	for _, n := range ref.Names() {
		ri, _ := ref.Info(n)
		gi, _ := got.Info(n)
		require.Equal(t, ri.Shape, gi.Shape, n)
	}
	again, err := reward.Load(be, dir)
	require.NoError(t, err)
	r1, err := again.Rewards(e.batch())
	require.NoError(t, err)
	for i, want := range e.Rewards {
		require.InEpsilon(t, want, r1[i], 1e-4)
	}
}

func TestFromCausalLMKeepsTheTrunk(t *testing.T) {
	be := cpu.New()
	lm, err := model.Load(be, fixtures.Path(t, "tiny-llama3"))
	require.NoError(t, err)
	trunk, rm, err := reward.FromCausalLM(be, lm, 1)
	require.NoError(t, err)
	require.Nil(t, trunk.Params.LMHead)
	emb, _ := trunk.Params.Lookup("model.embed_tokens.weight")
	src, _ := lm.Params.Lookup("model.embed_tokens.weight")
	a, b := make([]float32, emb.Size()), make([]float32, src.Size())
	be.Download(a, emb.Buf)
	be.Download(b, src.Buf)
	require.Equal(t, b, a)
	require.Len(t, rm.Score, 64)
	_, err = reward.Load(be, fixtures.Path(t, "tiny-llama3"))
	require.ErrorContains(t, err, "not LlamaForSequenceClassification")
}
