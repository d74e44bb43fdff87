package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/model/safetensors"
)

// ErrWeights marks a checkpoint whose tensors do not fit its config.
var ErrWeights = errors.New("model: weights do not match the config")

// Load reads a Hugging Face model directory (config.json and model.safetensors
// or sharded model-*.safetensors with model.safetensors.index.json) onto be.
// F32, BF16 and F16 tensors are converted to float32. Every tensor the config
// implies must be present with its exact shape; extra tensors are an error
// except those named in allowExtra (a reward model's score.weight, say).
func Load(be compute.Backend, dir string, allowExtra ...string) (*Model, error) {
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	m, err := New(be, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	if err := m.loadTensors(set, allowExtra); err != nil {
		return nil, err
	}
	return m, nil
}

// loadTensors copies every parameter from set, checking names and shapes.
func (m *Model) loadTensors(set *safetensors.Set, allowExtra []string) error {
	want := map[string]bool{}
	for _, t := range m.Params.Tensors {
		want[t.Name] = true
		info, file, ok := set.Info(t.Name)
		if !ok {
			return fmt.Errorf("%w: %s: tensor %q is missing", ErrWeights, set.Dir, t.Name)
		}
		if !shapeFits(info.Shape, t.Shape) {
			return fmt.Errorf("%w: %s: tensor %q has shape %v, the config implies %v", ErrWeights, file, t.Name, info.Shape, t.Shape)
		}
		data, _, err := set.Float32(t.Name)
		if err != nil {
			return err
		}
		if err := CheckFinite(file, t.Name, data); err != nil {
			return err
		}
		m.be.Upload(t.Buf, data)
	}
	for _, a := range allowExtra {
		want[a] = true
	}
	if m.Config.TieWordEmbeddings {
		// Some exports write the tied head anyway; it must equal the embedding.
		want["lm_head.weight"] = true
	}
	for _, name := range set.Names() {
		if !want[name] {
			_, file, _ := set.Info(name)
			return fmt.Errorf("%w: %s: unexpected tensor %q (not part of a LlamaForCausalLM with this config)", ErrWeights, file, name)
		}
	}
	return nil
}

// HostTensors downloads every parameter as a safetensors.Tensor, in checkpoint order.
func (m *Model) HostTensors() []safetensors.Tensor {
	out := make([]safetensors.Tensor, 0, len(m.Params.Tensors))
	for _, t := range m.Params.Tensors {
		data := make([]float32, t.Size())
		m.be.Download(data, t.Buf)
		out = append(out, safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: data})
	}
	return out
}

// SaveOptions tune Save.
type SaveOptions struct {
	// DType is the stored precision: safetensors.F32 (default) or BF16.
	DType safetensors.DType
	// MaxShardBytes splits the weights into shards above this size (0: one file).
	MaxShardBytes int64
	// Extra tensors saved beside the model's (a reward model's score.weight).
	Extra []safetensors.Tensor
}

// Save writes the model to dir in Hugging Face layout: config.json,
// generation_config.json and model.safetensors (or shards and an index).
// Files are written to temporary names and renamed into place.
func (m *Model) Save(dir string, opts SaveOptions) error {
	if opts.DType == "" {
		opts.DType = safetensors.F32
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: save: %w", err)
	}
	tensors := append(m.HostTensors(), opts.Extra...)
	if err := safetensors.WriteDir(dir, tensors, nil, opts.DType, opts.MaxShardBytes); err != nil {
		return fmt.Errorf("model: save %s: %w", dir, err)
	}
	cfg := *m.Config
	if len(cfg.Architectures) == 0 {
		cfg.Architectures = []string{"LlamaForCausalLM"}
	}
	cfg.ModelType = "llama"
	cfg.TorchDType = map[safetensors.DType]string{safetensors.F32: "float32", safetensors.BF16: "bfloat16"}[opts.DType]
	body, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("model: save config: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "config.json"), body); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, "generation_config.json"), m.generationConfig())
}

// generationConfig is the generation_config.json transformers writes beside a model.
func (m *Model) generationConfig() []byte {
	gc := map[string]any{"_from_model_config": true, "transformers_version": "4.46.0"}
	if len(m.Config.BOSTokenID) > 0 {
		gc["bos_token_id"] = m.Config.BOSTokenID
	}
	if len(m.Config.EOSTokenID) > 0 {
		gc["eos_token_id"] = m.Config.EOSTokenID
	}
	if len(m.Config.PadTokenID) > 0 {
		gc["pad_token_id"] = m.Config.PadTokenID
	}
	body, _ := json.MarshalIndent(gc, "", "  ")
	return append(body, '\n')
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers never see a half-written file. The file
// gets 0644 under the umask, as os.WriteFile(path, data, 0o644) would give,
// not os.CreateTemp's 0600: configs and tokenizers are shared with the
// weights beside them.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(fileio.SharedMode())
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
