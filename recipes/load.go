package recipes

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/posttrain/posttrain/internal/fileio"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// BuiltinInfo describes one recipe embedded in the binary.
type BuiltinInfo struct {
	Name        string
	Stage       string
	Description string
}

// Load reads a recipe, applies the key=value overrides in order and validates the result.
// A nameOrPath ending in .yaml or .yml is a file on disk; anything else names a built-in.
func Load(nameOrPath string, overrides []string) (*Recipe, error) {
	data, source, name, err := readRecipe(nameOrPath)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data, source)
	if err != nil {
		return nil, err
	}
	r.Name = name
	for _, kv := range overrides {
		if err := Override(r, kv); err != nil {
			return nil, err
		}
	}
	if err := Validate(r); err != nil {
		return nil, err
	}
	return r, nil
}

// maxRecipeBytes bounds a recipe file; real ones are a few KiB.
const maxRecipeBytes = 1 << 20

func readRecipe(nameOrPath string) (data []byte, source, name string, err error) {
	ext := filepath.Ext(nameOrPath)
	if ext == ".yaml" || ext == ".yml" {
		if err := fileio.CheckRegular(nameOrPath, maxRecipeBytes); err != nil {
			return nil, "", "", fmt.Errorf("recipes: read recipe: %w", err)
		}
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, "", "", fmt.Errorf("recipes: read recipe: %w", err)
		}
		return data, nameOrPath, strings.TrimSuffix(filepath.Base(nameOrPath), ext), nil
	}
	data, err = BuiltinYAML(nameOrPath)
	if err != nil {
		return nil, "", "", err
	}
	return data, "builtin/" + nameOrPath + ".yaml", nameOrPath, nil
}

// BuiltinYAML returns the text of the built-in recipe name.
func BuiltinYAML(name string) ([]byte, error) {
	data, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		var names []string
		for _, b := range Builtins() {
			names = append(names, b.Name)
		}
		return nil, fmt.Errorf("%w: no built-in recipe %q (built-ins: %s; a file path must end in .yaml or .yml)",
			ErrNotFound, name, strings.Join(names, ", "))
	}
	return data, nil
}

// Builtins lists the embedded recipes sorted by name, with the stage and description each
// declares.
func Builtins() []BuiltinInfo {
	entries, _ := fs.Glob(builtinFS, "builtin/*.yaml")
	var infos []BuiltinInfo
	for _, path := range entries {
		data, err := builtinFS.ReadFile(path)
		if err != nil {
			continue
		}
		var head struct {
			Stage       string `yaml:"stage"`
			Description string `yaml:"description"`
		}
		_ = yaml.Unmarshal(data, &head) // a broken built-in fails its own test; list it anyway
		infos = append(infos, BuiltinInfo{
			Name:        strings.TrimSuffix(filepath.Base(path), ".yaml"),
			Stage:       head.Stage,
			Description: head.Description,
		})
	}
	slices.SortFunc(infos, func(a, b BuiltinInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos
}

// Marshal renders the resolved recipe as YAML, e.g. to save beside the checkpoints. Only the
// active stage's section is written, so the output loads again with Load.
func (r *Recipe) Marshal() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(r); err != nil {
		return nil, fmt.Errorf("recipes: marshal %s: %w", r.Name, err)
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key := doc.Content[i].Value
		if slices.Contains(Stages, key) && key != r.Stage {
			continue
		}
		kept = append(kept, doc.Content[i], doc.Content[i+1])
	}
	doc.Content = kept
	data, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("recipes: marshal %s: %w", r.Name, err)
	}
	return data, nil
}
