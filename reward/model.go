// Package reward is the reward-model stage: a LLaMA 3 trunk with a scalar
// score head in Hugging Face's LlamaForSequenceClassification layout, trained
// on preference pairs with the Bradley–Terry objective, evaluated and used to
// score rollouts.
package reward

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

// ScoreWeight is the head's tensor name in a LlamaForSequenceClassification checkpoint.
const ScoreWeight = "score.weight"

// Model is a reward (or value) model: the trunk's final hidden state at the
// last non-pad token of each row, times the score head, is the reward.
type Model struct {
	Trunk *model.Model
	// Score (1, C) is score.weight; ScoreGrad accumulates its gradient.
	Score, ScoreGrad []float32
	// PadID marks padding when picking each row's last token (-1: none).
	PadID int32

	last   []int     // per row of the last forward: index of the scored token
	hidden []float32 // (B·T, C) of the last forward
}

// Load reads a LlamaForSequenceClassification directory (num_labels 1).
func Load(be compute.Backend, dir string) (*Model, error) {
	cfg, err := model.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if !cfg.IsSequenceClassifier() {
		return nil, fmt.Errorf("%s: architectures %v is not LlamaForSequenceClassification; use FromCausalLM to start a reward model from a causal LM", dir, cfg.Architectures)
	}
	if cfg.NumLabels != 0 && cfg.NumLabels != 1 {
		return nil, fmt.Errorf("%s: num_labels is %d; a reward model has 1", dir, cfg.NumLabels)
	}
	trunk, err := model.Load(be, dir, ScoreWeight)
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	score, shape, err := set.Float32(ScoreWeight)
	if err != nil {
		return nil, err
	}
	if err := model.CheckFinite(dir, ScoreWeight, score); err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[0] != 1 || shape[1] != cfg.HiddenSize {
		return nil, fmt.Errorf("%s: %s has shape %v, want [1 %d]", dir, ScoreWeight, shape, cfg.HiddenSize)
	}
	return newModel(trunk, score), nil
}

// FromCausalLM starts a reward model from a causal LM checkpoint: its trunk,
// and a new score head drawn from N(0, initializer_range²) as transformers does.
// The LM head is dropped.
func FromCausalLM(be compute.Backend, lm *model.Model, seed uint64) (*model.Model, *Model, error) {
	cfg := *lm.Config
	cfg.Architectures = []string{"LlamaForSequenceClassification"}
	cfg.NumLabels = 1
	trunk, err := model.New(be, &cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range trunk.Params.Tensors {
		src, ok := lm.Params.Lookup(t.Name)
		if !ok {
			return nil, nil, fmt.Errorf("reward: causal LM has no %s", t.Name)
		}
		host := make([]float32, src.Size())
		lm.Backend().Download(host, src.Buf)
		be.Upload(t.Buf, host)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5c07e))
	score := make([]float32, cfg.HiddenSize)
	std := cfg.InitializerRange
	if std == 0 {
		std = 0.02
	}
	for i := range score {
		score[i] = float32(rng.NormFloat64() * std)
	}
	return trunk, newModel(trunk, score), nil
}

func newModel(trunk *model.Model, score []float32) *Model {
	pad := int32(-1)
	if len(trunk.Config.PadTokenID) > 0 {
		pad = int32(trunk.Config.PadTokenID[0])
	}
	return &Model{Trunk: trunk, Score: score, ScoreGrad: make([]float32, len(score)), PadID: pad}
}

// lastTokens finds each row's scored position: the last token that is not
// padding (transformers' rule for LlamaForSequenceClassification); rows with
// an attention mask use its last 1 instead.
func (rm *Model) lastTokens(b *model.Batch) []int {
	out := make([]int, b.B)
	for r := 0; r < b.B; r++ {
		out[r] = 0
		for t := 0; t < b.T; t++ {
			n := r*b.T + t
			real := b.IDs[n] != rm.PadID
			if b.AttentionMask != nil {
				real = b.AttentionMask[n] != 0
			}
			if real {
				out[r] = t
			}
		}
	}
	return out
}

// Rewards runs the model and returns one reward per row. The activations are
// kept for Backward.
func (rm *Model) Rewards(b *model.Batch) ([]float64, error) {
	h, err := rm.Trunk.ForwardHidden(b)
	if err != nil {
		return nil, err
	}
	C := rm.Trunk.Config.HiddenSize
	rm.last, rm.hidden = rm.lastTokens(b), h
	out := make([]float64, b.B)
	for r, t := range rm.last {
		row := h[(r*b.T+t)*C : (r*b.T+t+1)*C]
		var s float64
		for j, v := range row {
			s += float64(v) * float64(rm.Score[j])
		}
		out[r] = s
	}
	return out, nil
}

// Backward accumulates the gradients of Σ dRewards[r]·reward[r] into the
// trunk's Grads and ScoreGrad, for the batch of the last Rewards call.
func (rm *Model) Backward(dRewards []float64) error {
	if rm.last == nil {
		return model.ErrNoForward
	}
	if len(dRewards) != len(rm.last) {
		return fmt.Errorf("reward: %d reward gradients for %d rows", len(dRewards), len(rm.last))
	}
	C := rm.Trunk.Config.HiddenSize
	T := len(rm.hidden) / C / len(rm.last)
	dh := make([]float32, len(rm.hidden))
	for r, t := range rm.last {
		n := r*T + t
		g := dRewards[r]
		for j := 0; j < C; j++ {
			dh[n*C+j] = float32(g * float64(rm.Score[j]))
			rm.ScoreGrad[j] += float32(g * float64(rm.hidden[n*C+j]))
		}
	}
	rm.last, rm.hidden = nil, nil
	return rm.Trunk.BackwardHidden(dh)
}

// ZeroGrads clears the trunk's and the head's gradients.
func (rm *Model) ZeroGrads() {
	rm.Trunk.ZeroGrads()
	clear(rm.ScoreGrad)
}

// Save writes the model as a LlamaForSequenceClassification checkpoint with
// num_labels 1, id2label/label2id and pad_token_id, as transformers does.
func (rm *Model) Save(dir string) error {
	cfg := rm.Trunk.Config
	cfg.Architectures = []string{"LlamaForSequenceClassification"}
	cfg.NumLabels = 1
	if cfg.Extra == nil {
		cfg.Extra = map[string]json.RawMessage{}
	}
	cfg.Extra["id2label"] = json.RawMessage(`{"0": "LABEL_0"}`)
	cfg.Extra["label2id"] = json.RawMessage(`{"LABEL_0": 0}`)
	if len(cfg.PadTokenID) == 0 && len(cfg.EOSTokenID) > 0 {
		cfg.PadTokenID = model.TokenIDs{cfg.EOSTokenID[0]}
	}
	score := safetensors.Tensor{Name: ScoreWeight, Shape: []int{1, cfg.HiddenSize}, Data: rm.Score}
	return rm.Trunk.Save(dir, model.SaveOptions{Extra: []safetensors.Tensor{score}})
}
