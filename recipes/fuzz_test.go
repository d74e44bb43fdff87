package recipes

import (
	"strings"
	"testing"
)

// FuzzParseRecipe decodes arbitrary bytes as a recipe. It must never panic,
// and every error names the recipe file; a recipe that parses is validated
// (which must not panic either).
//
//	go test -run=NONE -fuzz=FuzzParseRecipe -fuzztime=10s ./recipes
func FuzzParseRecipe(f *testing.F) {
	for _, name := range []string{"sft-tiny"} {
		if data, err := BuiltinYAML(name); err == nil {
			f.Add(data)
		}
	}
	for _, seed := range []string{
		"stage: sft\nmodel:\n  path: m\ndata:\n  train: d.jsonl\n  max_length: 64\ntrain:\n  batch_size: 2\n  max_steps: 1\n",
		"stage: sft\n- item\n",
		"stage: sft\ndata: [a, b\n",
		"stage: sft\nmodel:\n  pa\xffth: x\n",
		"a: &x [*x]\n",
		"stage: dpo\ndpo:\n  beta: .inf\n",
		"---\nstage: sft\n---\nstage: dpo\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the recipe: %v", err)
			}
			return
		}
		_ = Validate(r)
	})
}
