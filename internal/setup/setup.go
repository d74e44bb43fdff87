// Package setup holds what every training stage does before its loop: pick
// the backend, load the tokenizer, the model and the data named by a recipe,
// and write model directories with their tokenizer files.
package setup

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/compute/cuda"
	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tasks"
	"github.com/posttrain/posttrain/tokenizer"
)

// CharTokenizer is the recipe value that selects the built-in character tokenizer.
const CharTokenizer = "builtin:chars"

// Backend returns the compute backend for a recipe's device field: cpu,
// cuda (cuda:N for device N) or auto (the GPU when one is usable).
func Backend(device string) (compute.Backend, error) {
	switch {
	case device == "cpu":
		return cpu.New(), nil
	case device == "" || device == "auto":
		if _, ok := cuda.Available(); ok {
			return cuda.New()
		}
		return cpu.New(), nil
	case strings.HasPrefix(device, "cuda"):
		var o cuda.Options
		if n, ok := strings.CutPrefix(device, "cuda:"); ok {
			if _, err := fmt.Sscanf(n, "%d", &o.Device); err != nil {
				return nil, fmt.Errorf("device %q: want cuda or cuda:N", device)
			}
		} else if device != "cuda" {
			return nil, fmt.Errorf("device %q: want cuda or cuda:N", device)
		}
		be, err := cuda.NewWithOptions(o)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w (use device=cpu on machines without a GPU)", device, err)
		}
		return be, nil
	}
	return nil, fmt.Errorf("device %q: want auto, cpu or cuda", device)
}

// Tokenizer loads the tokenizer a recipe names: a directory, the built-in
// character tokenizer, or (when empty) the model directory's own.
func Tokenizer(spec, modelDir string) (*tokenizer.Tokenizer, error) {
	switch spec {
	case CharTokenizer:
		dir, err := os.MkdirTemp("", "posttrain-chars-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := tasks.WriteCharTokenizer(dir); err != nil {
			return nil, err
		}
		return tokenizer.Load(dir)
	case "":
		if modelDir == "" {
			return nil, fmt.Errorf("model.tokenizer is empty and there is no model.path to take one from")
		}
		return tokenizer.Load(modelDir)
	}
	return tokenizer.Load(spec)
}

// Model loads model.path, or builds model.init with seeded random weights.
func Model(be compute.Backend, mc recipes.ModelConfig, tok *tokenizer.Tokenizer, seed uint64, allowExtra ...string) (*model.Model, error) {
	if mc.Path != "" {
		m, err := model.Load(be, mc.Path, allowExtra...)
		if err != nil {
			return nil, err
		}
		if tok != nil && tok.VocabSize() > m.Config.VocabSize {
			return nil, fmt.Errorf("model %s has vocab_size %d but the tokenizer has %d tokens: ids past %d would not fit; use the model's own tokenizer",
				mc.Path, m.Config.VocabSize, tok.VocabSize(), m.Config.VocabSize-1)
		}
		return m, nil
	}
	if mc.Init == nil {
		return nil, fmt.Errorf("recipe: set model.path or model.init")
	}
	cfg := InitConfig(mc.Init, tok)
	m, err := model.New(be, cfg)
	if err != nil {
		return nil, fmt.Errorf("model.init: %w", err)
	}
	m.Params.InitRandom(be, cfg, seed)
	return m, nil
}

// InitConfig turns a recipe's model.init block into a Hugging Face config,
// taking special-token ids from the tokenizer.
func InitConfig(in *recipes.ModelInit, tok *tokenizer.Tokenizer) *model.Config {
	cfg := &model.Config{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: in.HiddenSize, IntermediateSize: in.IntermediateSize, NumHiddenLayers: in.NumHiddenLayers,
		NumAttentionHeads: in.NumAttentionHeads, NumKeyValueHeads: in.NumKeyValueHeads, HeadDim: in.HeadDim,
		RMSNormEps: in.RMSNormEps, RopeTheta: in.RopeTheta, MaxPositionEmbeddings: in.MaxPositionEmbeddings,
		VocabSize: in.VocabSize, TieWordEmbeddings: in.TieWordEmbeddings, HiddenAct: "silu",
		InitializerRange: in.InitializerRange, TorchDType: "float32",
	}
	if cfg.NumKeyValueHeads == 0 {
		cfg.NumKeyValueHeads = cfg.NumAttentionHeads
	}
	if cfg.RMSNormEps == 0 {
		cfg.RMSNormEps = 1e-5
	}
	if cfg.RopeTheta == 0 {
		cfg.RopeTheta = 500000
	}
	if cfg.MaxPositionEmbeddings == 0 {
		cfg.MaxPositionEmbeddings = 2048
	}
	if cfg.InitializerRange == 0 {
		cfg.InitializerRange = 0.02
	}
	if tok != nil {
		if cfg.VocabSize == 0 {
			cfg.VocabSize = tok.VocabSize()
		}
		if b := tok.BOS(); b >= 0 {
			cfg.BOSTokenID = model.TokenIDs{int(b)}
		}
		for _, e := range tok.EOS() {
			cfg.EOSTokenID = append(cfg.EOSTokenID, int(e))
		}
		if p, ok := tok.Pad(); ok {
			cfg.PadTokenID = model.TokenIDs{int(p)}
		}
	}
	return cfg
}

// PadID is the id used to pad batches: the tokenizer's pad token, else its first EOS.
func PadID(tok *tokenizer.Tokenizer) int32 {
	if p, ok := tok.Pad(); ok {
		return p
	}
	if eos := tok.EOS(); len(eos) > 0 {
		return eos[0]
	}
	return 0
}

// Splits returns the train and eval rows a recipe's data block names. Without
// data.eval, eval_fraction of the training rows (chosen by seed) are held out.
func Splits(dc recipes.DataConfig, format datasets.Format, seed uint64) (train, eval []datasets.Row, rep datasets.Report, err error) {
	load := func(path, split string) ([]datasets.Row, datasets.Report, error) {
		if tasks.IsBuiltin(path) {
			rows, err := tasks.BuiltinRows(path, split, seed)
			return rows, datasets.Report{Rows: len(rows)}, err
		}
		return datasets.Load(path, datasets.LoadOptions{Format: format, SkipBadRows: dc.SkipBadRows})
	}
	if dc.Train == "" {
		return nil, nil, rep, fmt.Errorf("recipe: data.train is empty")
	}
	train, rep, err = load(dc.Train, "train")
	if err != nil {
		return nil, nil, rep, err
	}
	switch {
	case dc.Eval != "":
		eval, _, err = load(dc.Eval, "eval")
	case tasks.IsBuiltin(dc.Train):
		eval, _, err = load(dc.Train, "eval")
	case dc.EvalFraction > 0:
		rng := rand.New(rand.NewPCG(seed, 0xe7a1))
		perm := rng.Perm(len(train))
		nEval := max(1, int(float64(len(train))*dc.EvalFraction))
		held := map[int]bool{}
		for _, i := range perm[:nEval] {
			held[i] = true
		}
		var keep []datasets.Row
		for i, r := range train {
			if held[i] {
				eval = append(eval, r)
			} else {
				keep = append(keep, r)
			}
		}
		train = keep
	}
	return train, eval, rep, err
}

// WriteTokenizer copies the tokenizer's files into dir.
func WriteTokenizer(tok *tokenizer.Tokenizer, dir string) error {
	for name, body := range tok.Files() {
		if err := model.WriteFileAtomic(filepath.Join(dir, name), body); err != nil {
			return err
		}
	}
	return nil
}
