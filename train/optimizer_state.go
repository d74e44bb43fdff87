package train

import (
	"fmt"
	"strconv"

	"github.com/posttrain/posttrain/model/safetensors"
)

// OptimizerFile is the file name of the AdamW state inside a checkpoint directory.
const OptimizerFile = "optimizer.safetensors"

// optimizerFormat tags the metadata of OptimizerFile so a foreign file is refused.
const optimizerFormat = "posttrain-adamw-v1"

// AdamWState is what a checkpoint needs to continue AdamW exactly: the number of completed
// updates and both moments of every parameter, by name.
type AdamWState struct {
	Step     int
	ExpAvg   map[string][]float32
	ExpAvgSq map[string][]float32
}

// State returns the optimizer's state. The slices are the optimizer's own (not copies):
// write them out before the next Step.
func (o *AdamW) State() AdamWState {
	s := AdamWState{Step: o.step, ExpAvg: map[string][]float32{}, ExpAvgSq: map[string][]float32{}}
	for i, p := range o.params {
		s.ExpAvg[p.Name] = o.m[i]
		s.ExpAvgSq[p.Name] = o.v[i]
	}
	return s
}

// SetState copies s into the optimizer. Every parameter must have both moments with its
// length, and s must not hold parameters the optimizer does not have.
func (o *AdamW) SetState(s AdamWState) error {
	if s.Step < 0 {
		return fmt.Errorf("train: optimizer state step %d is negative", s.Step)
	}
	if len(s.ExpAvg) != len(o.params) || len(s.ExpAvgSq) != len(o.params) {
		return fmt.Errorf("train: optimizer state holds %d/%d moments, the optimizer has %d parameters",
			len(s.ExpAvg), len(s.ExpAvgSq), len(o.params))
	}
	for _, p := range o.params {
		m, okM := s.ExpAvg[p.Name]
		v, okV := s.ExpAvgSq[p.Name]
		if !okM || !okV {
			return fmt.Errorf("train: optimizer state has no moments for parameter %q", p.Name)
		}
		if len(m) != len(p.Data) || len(v) != len(p.Data) {
			return fmt.Errorf("train: optimizer state for %q has %d/%d values, the parameter has %d",
				p.Name, len(m), len(v), len(p.Data))
		}
	}
	for i, p := range o.params {
		copy(o.m[i], s.ExpAvg[p.Name])
		copy(o.v[i], s.ExpAvgSq[p.Name])
	}
	o.step = s.Step
	return nil
}

// SaveOptimizer writes the AdamW state to path as safetensors: for each parameter NAME the
// flat float32 tensors "exp_avg.NAME" and "exp_avg_sq.NAME" ([len(Data)]), and the step and
// hyper-parameters in the header metadata.
func SaveOptimizer(path string, o *AdamW) error {
	tensors := make([]safetensors.Tensor, 0, 2*len(o.params))
	for i, p := range o.params {
		n := len(p.Data)
		tensors = append(tensors,
			safetensors.Tensor{Name: "exp_avg." + p.Name, Shape: []int{n}, Data: o.m[i]},
			safetensors.Tensor{Name: "exp_avg_sq." + p.Name, Shape: []int{n}, Data: o.v[i]})
	}
	meta := map[string]string{
		"posttrain_format": optimizerFormat,
		"step":             strconv.Itoa(o.step),
		"beta1":            strconv.FormatFloat(o.cfg.Beta1, 'g', -1, 64),
		"beta2":            strconv.FormatFloat(o.cfg.Beta2, 'g', -1, 64),
		"eps":              strconv.FormatFloat(o.cfg.Eps, 'g', -1, 64),
		"weight_decay":     strconv.FormatFloat(o.cfg.WeightDecay, 'g', -1, 64),
	}
	if err := safetensors.Write(path, tensors, meta, safetensors.F32); err != nil {
		return fmt.Errorf("train: save optimizer state: %w", err)
	}
	return nil
}

// LoadOptimizer reads a file written by SaveOptimizer into o. The hyper-parameters of o are
// kept (a resumed run may change them on purpose); the parameter set must match exactly.
func LoadOptimizer(path string, o *AdamW) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("train: load optimizer state: %w", err)
	}
	defer f.Close()
	if got := f.Metadata["posttrain_format"]; got != optimizerFormat {
		return fmt.Errorf("train: %s: metadata posttrain_format is %q, expected %q", path, got, optimizerFormat)
	}
	step, err := strconv.Atoi(f.Metadata["step"])
	if err != nil {
		return fmt.Errorf("train: %s: metadata step %q is not an integer", path, f.Metadata["step"])
	}
	if names := f.Names(); len(names) != 2*len(o.params) {
		return fmt.Errorf("train: %s holds %d tensors, expected 2 for each of the optimizer's %d parameters",
			path, len(names), len(o.params))
	}
	s := AdamWState{Step: step, ExpAvg: map[string][]float32{}, ExpAvgSq: map[string][]float32{}}
	for _, p := range o.params {
		if s.ExpAvg[p.Name], _, err = f.Float32("exp_avg." + p.Name); err != nil {
			return fmt.Errorf("train: load optimizer state: %w", err)
		}
		if s.ExpAvgSq[p.Name], _, err = f.Float32("exp_avg_sq." + p.Name); err != nil {
			return fmt.Errorf("train: load optimizer state: %w", err)
		}
	}
	if err := o.SetState(s); err != nil {
		return fmt.Errorf("%w (reading %s)", err, path)
	}
	return nil
}
