package recipes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimal is a valid SFT recipe that sets only what has no default.
const minimal = `stage: sft
model:
  path: /models/tiny
data:
  train: data/train.jsonl
output_dir: out
`

func TestBuiltinsLoadAndValidate(t *testing.T) {
	infos := Builtins()
	var names []string
	for _, b := range infos {
		names = append(names, b.Name)
		assert.NotEmpty(t, b.Description, "built-in %s has no description", b.Name)
		assert.Contains(t, Stages, b.Stage, "built-in %s", b.Name)
	}
	assert.Subset(t, names, []string{"sft-tiny", "demo-reward", "demo-dpo", "demo-ppo", "demo-grpo"})
	assert.IsIncreasing(t, names)
	for _, b := range infos {
		t.Run(b.Name, func(t *testing.T) {
			r, err := Load(b.Name, nil)
			require.NoError(t, err)
			assert.Equal(t, b.Name, r.Name)
			assert.Equal(t, b.Stage, r.Stage)
		})
	}
}

func TestParseKeepsDefaultsForOmittedKeys(t *testing.T) {
	r, err := Parse([]byte(minimal+"optim:\n  lr: 2.0e-5\n"), "m.yaml")
	require.NoError(t, err)
	want := Default()
	assert.Equal(t, 2e-5, r.Optim.LR)
	assert.Equal(t, want.Optim.Betas, r.Optim.Betas)
	assert.Equal(t, want.Optim.Eps, r.Optim.Eps)
	assert.Equal(t, want.Train, r.Train)
	assert.Equal(t, want.LoRA.TargetModules, r.LoRA.TargetModules)
	assert.Equal(t, "/models/tiny", r.Model.Path)
	require.NoError(t, Validate(r))
}

func TestParseUnknownKey(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		key      string
		section  string
		line     string
		contains []string
	}{
		{
			name:     "top level",
			yaml:     minimal + "outptu_dir: x\n",
			key:      "outptu_dir",
			line:     "r.yaml:7:",
			contains: []string{`unknown key "outptu_dir"`, "valid keys at the top level:", "data, description, device,", `(did you mean "output_dir"?)`},
		},
		{
			name:     "nested",
			yaml:     minimal + "optim:\n  lr: 1.0e-5\n  learning_rate: 1.0e-5\n",
			key:      "optim.learning_rate",
			section:  "optim",
			line:     "r.yaml:9:",
			contains: []string{`unknown key "optim.learning_rate"`, "valid keys in optim: betas, eps, grad_clip, lr, weight_decay"},
		},
		{
			name:     "deeply nested",
			yaml:     "model:\n  init:\n    hiden_size: 8\n",
			key:      "model.init.hiden_size",
			section:  "model.init",
			line:     "r.yaml:3:",
			contains: []string{"valid keys in model.init:", "hidden_size", `(did you mean "hidden_size"?)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "r.yaml")
			require.ErrorIs(t, err, ErrUnknownKey)
			var ke *KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, tc.key, ke.Key)
			assert.Equal(t, tc.section, ke.Section)
			assert.Contains(t, err.Error(), tc.line)
			for _, c := range tc.contains {
				assert.Contains(t, err.Error(), c)
			}
		})
	}
}

func TestParseRejectsWrongTypes(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"fraction into int", "train:\n  batch_size: 1.5\n", `r.yaml:2: train.batch_size: expected an integer, found "1.5"`},
		{"string into float", "optim:\n  lr: fast\n", `r.yaml:2: optim.lr: expected a number, found "fast"`},
		{"yes is not a bool", "lora:\n  enabled: yes\n", `lora.enabled: expected true or false, found "yes"`},
		{"scalar for a list", "lora:\n  target_modules: q_proj\n", "lora.target_modules: expected a list of strings"},
		{"wrong array length", "optim:\n  betas: [0.9]\n", "optim.betas: expected a list of 2 numbers, found 1 items"},
		{"scalar for a section", "optim: 3\n", `optim: expected a section of keys, found "3"`},
		{"negative seed", "train:\n  seed: -1\n", "train.seed: expected a non-negative integer"},
		{"missing value", "model:\n  path:\n", "model.path: expected a string, found no value"},
		{"syntax", "optim: [\n", "r.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "r.yaml")
			require.ErrorIs(t, err, ErrBadValue)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseRejectsEmptyAndMultiDocument(t *testing.T) {
	_, err := Parse([]byte("# nothing\n"), "e.yaml")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Parse([]byte(minimal+"---\nstage: dpo\n"), "e.yaml")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "more than one YAML document")
}

func TestLoadFromFileWithOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yml")
	require.NoError(t, os.WriteFile(path, []byte(minimal), 0o644))
	r, err := Load(path, []string{"optim.lr=3e-4", "train.max_steps=12", "lora.enabled=true"})
	require.NoError(t, err)
	assert.Equal(t, "mine", r.Name)
	assert.Equal(t, 3e-4, r.Optim.LR)
	assert.Equal(t, 12, r.Train.MaxSteps)
	assert.True(t, r.LoRA.Enabled)

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.yaml")
}

func TestLoadUnknownBuiltinListsBuiltins(t *testing.T) {
	_, err := Load("no-such-recipe", nil)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), `"no-such-recipe"`)
	assert.Contains(t, err.Error(), "demo-dpo")
	assert.Contains(t, err.Error(), "sft-tiny")
}

func TestMarshalRoundTrips(t *testing.T) {
	for _, b := range Builtins() {
		t.Run(b.Name, func(t *testing.T) {
			r, err := Load(b.Name, []string{"optim.lr=0.125"})
			require.NoError(t, err)
			data, err := r.Marshal()
			require.NoError(t, err)
			again, err := Parse(data, "marshalled.yaml")
			require.NoError(t, err, "%s", data)
			require.NoError(t, Validate(again))
			again.Name, again.origin, r.origin = r.Name, nil, nil
			assert.Equal(t, r, again)
		})
	}
}

func TestParseErrorsWrapSentinels(t *testing.T) {
	_, err := Parse([]byte("stage: [sft]\n"), "s.yaml")
	assert.True(t, errors.Is(err, ErrBadValue), "%v", err)
}
