package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/model/safetensors"
)

// Adapter file names, as PEFT writes them.
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
)

// peftConfig is PEFT's adapter_config.json for a LoRA adapter.
type peftConfig struct {
	PeftType            string   `json:"peft_type"`
	TaskType            string   `json:"task_type"`
	BaseModelNameOrPath string   `json:"base_model_name_or_path"`
	R                   int      `json:"r"`
	LoraAlpha           float64  `json:"lora_alpha"`
	LoraDropout         float64  `json:"lora_dropout"`
	TargetModules       []string `json:"target_modules"`
	Bias                string   `json:"bias"`
	FanInFanOut         bool     `json:"fan_in_fan_out"`
	InferenceMode       bool     `json:"inference_mode"`
	UseRSLoRA           bool     `json:"use_rslora"`
	UseDoRA             bool     `json:"use_dora"`
	ModulesToSave       []string `json:"modules_to_save"`
	InitLoraWeights     bool     `json:"init_lora_weights"`
	LayersToTransform   any      `json:"layers_to_transform"`
	RankPattern         any      `json:"rank_pattern"`
	AlphaPattern        any      `json:"alpha_pattern"`
	Revision            any      `json:"revision"`
	AutoMapping         any      `json:"auto_mapping"`
	LayersPattern       any      `json:"layers_pattern"`
	MegatronConfig      any      `json:"megatron_config"`
	MegatronCore        string   `json:"megatron_core"`
	LoftqConfig         struct{} `json:"loftq_config"`
}

// SaveAdapter writes the attached adapters to dir as PEFT does:
// adapter_config.json and adapter_model.safetensors, names prefixed
// base_model.model. and without the adapter name.
func (m *Model) SaveAdapter(dir, baseModel string) error {
	lo := m.lora
	if lo == nil {
		return fmt.Errorf("model: no LoRA adapters attached")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	tensors := make([]safetensors.Tensor, 0, len(lo.Tensors))
	for _, t := range lo.Tensors {
		data := make([]float32, t.Size())
		m.be.Download(data, t.Buf)
		tensors = append(tensors, safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: data})
	}
	if err := safetensors.Write(filepath.Join(dir, AdapterWeightsFile), tensors, nil, safetensors.F32); err != nil {
		return err
	}
	cfg := peftConfig{PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModelNameOrPath: baseModel,
		R: lo.Config.Rank, LoraAlpha: lo.Config.Alpha, LoraDropout: lo.Config.Dropout,
		TargetModules: lo.Config.TargetModules, Bias: "none", InferenceMode: true, InitLoraWeights: true}
	body, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, AdapterConfigFile), append(body, '\n'))
}

// LoadAdapter attaches the PEFT LoRA adapter stored in dir.
func (m *Model) LoadAdapter(dir string) (*LoRA, error) {
	path := filepath.Join(dir, AdapterConfigFile)
	if err := fileio.CheckRegular(path, maxConfigBytes); err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w", err)
	}
	var pc peftConfig
	if err := json.Unmarshal(body, &pc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if pc.PeftType != "LORA" {
		return nil, fmt.Errorf("%s: peft_type %q is not supported (want LORA)", path, pc.PeftType)
	}
	if pc.UseDoRA || pc.UseRSLoRA || pc.FanInFanOut || (pc.Bias != "" && pc.Bias != "none") {
		return nil, fmt.Errorf("%s: DoRA, rsLoRA, fan_in_fan_out and LoRA biases are not supported", path)
	}
	lo, err := m.AttachLoRA(LoRAConfig{Rank: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, TargetModules: pc.TargetModules}, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := safetensors.Open(filepath.Join(dir, AdapterWeightsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, t := range lo.Tensors {
		data, shape, err := f.Float32(t.Name)
		if err != nil {
			return nil, err
		}
		if !shapeFits(shape, t.Shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", f.Path, t.Name, shape, t.Shape)
		}
		if err := CheckFinite(f.Path, t.Name, data); err != nil {
			return nil, err
		}
		m.be.Upload(t.Buf, data)
	}
	if got, want := len(f.Names()), len(lo.Tensors); got != want {
		return nil, fmt.Errorf("%s: has %d tensors, adapter_config.json implies %d", f.Path, got, want)
	}
	return lo, nil
}
