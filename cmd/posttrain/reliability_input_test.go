package main

// The inputs-and-resources half of issue 12: bad inputs thrown at the CLI
// must end in a clear error that names the file, line or field, never in a
// panic, a hang or lost data. Every case runs the real binary under a
// deadline; the tally at the end is what the tester counted.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/internal/fixtures"
)

// caseTimeout bounds one command. The slowest case (a template that runs to
// its step limit) takes about two seconds on the 2-core machine; a hang is
// anything that runs past this.
const caseTimeout = 30 * time.Second

// badInput is one hostile input and what the user must be told.
type badInput struct {
	name string
	// args builds the command line; dir is a fresh temporary directory.
	args func(t *testing.T, dir string) []string
	// want are substrings of the error (stderr), all required: the file, the
	// field or line, and what was expected.
	want []string
	// succeed marks inputs that are accepted with a warning on stdout.
	succeed bool
}

// tally counts outcomes across the suite.
type tally struct {
	mu                                  sync.Mutex
	tried, clear, panics, hangs, losses int
}

func (c *tally) String() string {
	return fmt.Sprintf("inputs tried %d, clear errors %d, panics %d, hangs %d, data lost %d",
		c.tried, c.clear, c.panics, c.hangs, c.losses)
}

// boundedRun runs the binary with a deadline and returns stdout, stderr, and
// whether it exited non-zero or timed out.
func boundedRun(args ...string) (stdout, stderr string, failed, timedOut bool) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return out.String(), errOut.String(), err != nil, errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// snapshot hashes every regular file under dir, to prove inputs survive.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			sums[p] = sha256.Sum256(b)
		}
		return nil
	})
	return sums
}

func looksLikeCrash(s string) bool {
	for _, sign := range []string{"panic:", "goroutine ", "fatal error:", "runtime error", "SIGSEGV"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// writeJSON writes v as JSON to dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func writeText(t *testing.T, dir, name, body string) string {
	t.Helper()
	return writeFileAt(t, filepath.Join(dir, name), body)
}

func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	return p
}

// tinyConfig is the fixture model's config as a map, to be broken by a case.
func tinyConfig(t *testing.T) map[string]any {
	t.Helper()
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, fixtures.Path(t, "tiny-llama3", "config.json")), &cfg))
	return cfg
}

// modelWithConfig makes dir/name a model directory: the fixture's weights
// (linked) beside a config.json edited by edit.
func modelWithConfig(t *testing.T, dir, name string, edit func(map[string]any)) string {
	t.Helper()
	m := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(m, 0o755))
	require.NoError(t, os.Symlink(fixtures.Path(t, "tiny-llama3", "model.safetensors"), filepath.Join(m, "model.safetensors")))
	cfg := tinyConfig(t)
	edit(cfg)
	writeJSON(t, m, "config.json", cfg)
	return m
}

// tokenizerWith makes a tokenizer directory from the Llama 3 fixture with a
// tokenizer_config.json edited by edit (tokenizer.json linked).
func tokenizerWith(t *testing.T, dir string, edit func(map[string]any)) string {
	t.Helper()
	src := fixtures.Path(t, "tokenizer", "llama3")
	tok := filepath.Join(dir, "tok")
	require.NoError(t, os.MkdirAll(tok, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(src, "tokenizer.json"), filepath.Join(tok, "tokenizer.json")))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(src, "tokenizer_config.json")), &cfg))
	edit(cfg)
	writeJSON(t, tok, "tokenizer_config.json", cfg)
	return tok
}

func batch(t *testing.T, dir string, b map[string]any) string {
	return writeJSON(t, dir, "batch.json", b)
}

// sftRun runs the sft-tiny recipe for one step on data, into dir/out.
func sftRun(dir, data string, extra ...string) []string {
	return append([]string{"run", "sft-tiny", "output_dir=" + filepath.Join(dir, "out"), "data.train=" + data,
		"max_steps=1", "train.eval_steps=0", "device=cpu"}, extra...)
}

func hostileInputs(t *testing.T) []badInput {
	tiny := fixtures.Path(t, "tiny-llama3")
	llama3Tok := fixtures.Path(t, "tokenizer", "llama3")
	gen := func(extra ...string) func(*testing.T, string) []string {
		return func(*testing.T, string) []string {
			return append([]string{"generate", "--model", tiny, "--prompt-ids", "1,2,3", "--device", "cpu"}, extra...)
		}
	}
	configCase := func(name string, edit func(map[string]any), want ...string) badInput {
		return badInput{name: "model init: " + name, want: append([]string{"config.json"}, want...),
			args: func(t *testing.T, dir string) []string {
				cfg := tinyConfig(t)
				edit(cfg)
				return []string{"model", "init", "--config", writeJSON(t, dir, "config.json", cfg), "--out", filepath.Join(dir, "out")}
			}}
	}
	chatTemplate := func(name, src string, want ...string) badInput {
		return badInput{name: "chat-template: " + name,
			want: append([]string{"tokenizer_config.json chat_template", "template exceeded a limit"}, want...),
			args: func(t *testing.T, dir string) []string {
				tok := tokenizerWith(t, dir, func(c map[string]any) { c["chat_template"] = src })
				msgs := writeJSON(t, dir, "m.json", []map[string]string{{"role": "user", "content": "hi"}})
				return []string{"chat-template", "--tokenizer", tok, "--messages", msgs}
			}}
	}
	dataCase := func(name, body string, want ...string) badInput {
		return badInput{name: "run sft data: " + name, want: want,
			args: func(t *testing.T, dir string) []string {
				return sftRun(dir, writeText(t, dir, "train.jsonl", body))
			}}
	}
	good := `{"messages":[{"role":"user","content":"abc"},{"role":"assistant","content":"cba"}]}` + "\n"
	return []badInput{
		// Model configs: absurd sizes are errors naming config.json and the field.
		configCase("hidden_size 10^9", func(c map[string]any) { c["hidden_size"] = 1_000_000_000 }, "hidden_size 1000000000", "sane maximum"),
		configCase("vocab_size 10^9", func(c map[string]any) { c["vocab_size"] = 1_000_000_000 }, "vocab_size"),
		configCase("num_hidden_layers 10^6", func(c map[string]any) { c["num_hidden_layers"] = 1_000_000 }, "num_hidden_layers"),
		configCase("intermediate_size 2^40", func(c map[string]any) { c["intermediate_size"] = 1 << 40 }, "intermediate_size"),
		configCase("max_position_embeddings 2^40", func(c map[string]any) { c["max_position_embeddings"] = 1 << 40 }, "max_position_embeddings"),
		configCase("negative heads", func(c map[string]any) { c["num_attention_heads"] = -4 }, "num_attention_heads must be positive"),
		configCase("heads not dividing", func(c map[string]any) { c["num_key_value_heads"] = 3 }, "num_key_value_heads (3)"),
		configCase("more than memory (256 TiB)", func(c map[string]any) {
			c["vocab_size"], c["hidden_size"], c["head_dim"], c["num_hidden_layers"], c["intermediate_size"] = 1<<22, 1<<17, 128, 1024, 1<<19
		}, "not enough memory", "num_hidden_layers 1024", "available"),
		configCase("string for an int", func(c map[string]any) { c["hidden_size"] = "64" }, "hidden_size"),
		{name: "model init: config is a FIFO", want: []string{"config.json", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				return []string{"model", "init", "--config", mkfifo(t, dir, "config.json"), "--out", filepath.Join(dir, "out")}
			}},
		{name: "model init: config is a directory", want: []string{"a directory"},
			args: func(t *testing.T, dir string) []string {
				return []string{"model", "init", "--config", dir, "--out", filepath.Join(dir, "out")}
			}},
		{name: "model inspect: absurd config", want: []string{"config.json", "vocab_size 1000000000"},
			args: func(t *testing.T, dir string) []string {
				return []string{"model", "inspect", modelWithConfig(t, dir, "m", func(c map[string]any) { c["vocab_size"] = 1_000_000_000 })}
			}},
		{name: "model inspect: model larger than memory warns", succeed: true, want: []string{"warning", "exceed", "available"},
			args: func(t *testing.T, dir string) []string {
				return []string{"model", "inspect", modelWithConfig(t, dir, "m", func(c map[string]any) {
					c["vocab_size"], c["hidden_size"], c["head_dim"], c["num_hidden_layers"], c["intermediate_size"] = 1<<22, 1<<17, 128, 1024, 1<<19
				})}
			}},
		{name: "model inspect: weights file is a FIFO", want: []string{"model.safetensors", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				m := filepath.Join(dir, "m")
				writeJSON(t, m, "config.json", tinyConfig(t))
				mkfifo(t, m, "model.safetensors")
				return []string{"model", "inspect", m}
			}},
		{name: "generate: model config.json is a FIFO", want: []string{"config.json", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				mkfifo(t, dir, "m/config.json")
				return []string{"generate", "--model", filepath.Join(dir, "m"), "--prompt-ids", "1"}
			}},

		// generate: sampling and length flags.
		{name: "generate: negative temperature", args: gen("--temperature", "-1"), want: []string{"--temperature", ">= 0"}},
		{name: "generate: NaN temperature", args: gen("--temperature", "NaN"), want: []string{"--temperature", "NaN"}},
		{name: "generate: infinite temperature", args: gen("--temperature", "+Inf"), want: []string{"--temperature"}},
		{name: "generate: top-p 0", args: gen("--top-p", "0"), want: []string{"--top-p", "(0, 1]"}},
		{name: "generate: top-p 1.5", args: gen("--top-p", "1.5"), want: []string{"--top-p", "1.5"}},
		{name: "generate: top-p NaN", args: gen("--top-p", "nan"), want: []string{"--top-p"}},
		{name: "generate: negative top-k", args: gen("--top-k", "-3"), want: []string{"--top-k", "-3"}},
		{name: "generate: negative max-new-tokens", args: gen("--max-new-tokens", "-1"), want: []string{"--max-new-tokens", "-1"}},
		{name: "generate: max-new-tokens 10^9", args: gen("--max-new-tokens", "1000000000"),
			want: []string{"--max-new-tokens", "max_position_embeddings 131072", "at most 131069 new tokens"}},
		{name: "generate: max-new-tokens just beyond the context", args: gen("--max-new-tokens", "131070"),
			want: []string{"max_position_embeddings"}},
		{name: "generate: prompt id outside the vocabulary", args: gen("--prompt-ids", "1,99999"), want: []string{"99999", "vocabulary"}},
		{name: "generate: prompt id not a number", args: gen("--prompt-ids", "1,x"), want: []string{"--prompt-ids", "item 2"}},

		// tokenize.
		{name: "tokenize --decode: id outside the vocabulary", want: []string{"--text", "ids[1] = 999999999", "not in the vocabulary"},
			args: func(*testing.T, string) []string {
				return []string{"tokenize", "--tokenizer", llama3Tok, "--decode", "--text", "[1, 999999999]"}
			}},
		{name: "tokenize --decode: negative id in a JSONL file", want: []string{"ids.jsonl:2", "ids[0] = -5"},
			args: func(t *testing.T, dir string) []string {
				return []string{"tokenize", "--tokenizer", llama3Tok, "--decode", "--jsonl", writeText(t, dir, "ids.jsonl", "[1,2]\n[-5]\n")}
			}},
		{name: "tokenize: --jsonl is a FIFO", want: []string{"named pipe", `"-"`},
			args: func(t *testing.T, dir string) []string {
				return []string{"tokenize", "--tokenizer", llama3Tok, "--jsonl", mkfifo(t, dir, "in.jsonl")}
			}},
		{name: "tokenize: JSONL line of 9 MB", want: []string{"in.jsonl:2", "longer than 8388608 bytes"},
			args: func(t *testing.T, dir string) []string {
				in := writeText(t, dir, "in.jsonl", `{"text":"a"}`+"\n"+`{"text":"`+strings.Repeat("a", 9<<20)+`"}`+"\n")
				return []string{"tokenize", "--tokenizer", llama3Tok, "--jsonl", in}
			}},
		{name: "tokenize: vocab id 10^9 in tokenizer.json", want: []string{"tokenizer.json", "1000000000", "beyond the largest id"},
			args: func(t *testing.T, dir string) []string {
				body := readFile(t, filepath.Join(llama3Tok, "tokenizer.json"))
				body = bytes.Replace(body, []byte(`"vocab": {`), []byte(`"vocab": {"zzabsurd": 1000000000, `), 1)
				tok := filepath.Join(dir, "tok")
				writeText(t, tok, "tokenizer.json", string(body))
				require.NoError(t, os.Symlink(filepath.Join(llama3Tok, "tokenizer_config.json"), filepath.Join(tok, "tokenizer_config.json")))
				return []string{"tokenize", "--tokenizer", tok, "--text", "hi"}
			}},
		{name: "tokenize: tokenizer.json is a FIFO", want: []string{"tokenizer.json", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				tok := filepath.Join(dir, "tok")
				mkfifo(t, tok, "tokenizer.json")
				return []string{"tokenize", "--tokenizer", tok, "--text", "hi"}
			}},

		// Chat templates: loops, recursion and huge strings stop at a limit.
		chatTemplate("infinite recursion", `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`, "nested more than 64"),
		chatTemplate("string doubling", `{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}`, "bytes"),
		chatTemplate("huge repetition", `{{ 'x' * 100000000000 }}`, "repeated"),
		chatTemplate("huge range", `{% for i in range(10**15) %}{% endfor %}`, "range of"),
		chatTemplate("endless nested loop", `{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}`, "steps"),
		chatTemplate("deep nesting", strings.Repeat("{% if true %}", 300)+strings.Repeat("{% endif %}", 300), "nested more than 256"),
		{name: "chat-template: messages file with invalid UTF-8", want: []string{"m.json", "invalid UTF-8 at byte 30"},
			args: func(t *testing.T, dir string) []string {
				msgs := writeText(t, dir, "m.json", "[{\"role\":\"user\",\"content\":\"caf\xe9\"}]")
				return []string{"chat-template", "--tokenizer", llama3Tok, "--messages", msgs}
			}},
		{name: "chat-template: messages file is a FIFO", want: []string{"m.json", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				return []string{"chat-template", "--tokenizer", llama3Tok, "--messages", mkfifo(t, dir, "m.json")}
			}},

		// debug commands: batches.
		{name: "debug forward: every label ignored", want: []string{"batch.json", "no label carries a loss"},
			args: func(t *testing.T, dir string) []string {
				b := batch(t, dir, map[string]any{"input_ids": [][]int{{1, 2, 3}}, "labels": [][]int{{-100, -100, -100}}})
				return []string{"debug", "forward", "--model", tiny, "--batch", b, "--out", filepath.Join(dir, "o.safetensors"), "--device", "cpu"}
			}},
		{name: "debug forward: attention_mask of 2", want: []string{"batch.json", "attention_mask[0][1] = 2", "0 (padding) or 1"},
			args: func(t *testing.T, dir string) []string {
				b := batch(t, dir, map[string]any{"input_ids": [][]int{{1, 2, 3}}, "attention_mask": [][]int{{1, 2, 1}}})
				return []string{"debug", "forward", "--model", tiny, "--batch", b, "--out", filepath.Join(dir, "o.safetensors"), "--device", "cpu"}
			}},
		{name: "debug forward: row longer than the context", want: []string{"batch.json", "max_position_embeddings 131072"},
			args: func(t *testing.T, dir string) []string {
				b := batch(t, dir, map[string]any{"input_ids": [][]int{make([]int, 131073)}})
				return []string{"debug", "forward", "--model", tiny, "--batch", b, "--out", filepath.Join(dir, "o.safetensors"), "--device", "cpu"}
			}},
		{name: "debug forward: batch is a FIFO", want: []string{"batch.json", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				return []string{"debug", "forward", "--model", tiny, "--batch", mkfifo(t, dir, "batch.json"), "--out", filepath.Join(dir, "o.safetensors")}
			}},
		{name: "debug reward: attention_mask of -1", want: []string{"batch.json", "attention_mask", "want 0 (padding) or 1"},
			args: func(t *testing.T, dir string) []string {
				b := batch(t, dir, map[string]any{"input_ids": [][]int{{1, 2, 3}}, "attention_mask": [][]int{{1, 1, -1}}})
				return []string{"debug", "reward", "--model", fixtures.Path(t, "tiny-llama3-rm"), "--batch", b, "--device", "cpu"}
			}},
		{name: "debug logps: batch size 0", want: []string{"--batch-size", "found 0"},
			args: func(t *testing.T, dir string) []string {
				return []string{"debug", "logps", "--model", tiny, "--pairs", fixtures.Path(t, "dpo_expected.json"), "--batch-size", "0"}
			}},

		// bench, reward, lora flags.
		{name: "bench train: zero dim", want: []string{"--dim", ">= 1"},
			args: func(*testing.T, string) []string { return []string{"bench", "train", "--dim", "0"} }},
		{name: "bench train: batch × seq beyond memory", want: []string{"--batch × --seq", "available"},
			args: func(*testing.T, string) []string {
				return []string{"bench", "train", "--batch", "1000000", "--seq", "100000", "--device", "cpu"}
			}},
		{name: "bench generate: negative new tokens", want: []string{"--new", "found -1"},
			args: func(*testing.T, string) []string { return []string{"bench", "generate", "--new", "-1"} }},
		{name: "bench train: vocab 10^9", want: []string{"vocab_size 1000000000"},
			args: func(*testing.T, string) []string { return []string{"bench", "train", "--vocab", "1000000000"} }},
		{name: "reward score: negative batch size", want: []string{"--batch-size", "-1"},
			args: func(t *testing.T, dir string) []string {
				return []string{"reward", "score", "--model", fixtures.Path(t, "tiny-llama3-rm"), "--data", "x.jsonl", "--batch-size", "-1"}
			}},
		{name: "reward eval: negative max length", want: []string{"--max-length", "-5"},
			args: func(t *testing.T, dir string) []string {
				return []string{"reward", "eval", "--model", fixtures.Path(t, "tiny-llama3-rm"), "--data", "x.jsonl", "--max-length", "-5"}
			}},
		{name: "lora merge: r of 10^9 in adapter_config.json", want: []string{"adapter_config.json", "r must be <="},
			args: func(t *testing.T, dir string) []string {
				ad := filepath.Join(dir, "adapter")
				writeJSON(t, ad, "adapter_config.json", map[string]any{"peft_type": "LORA", "r": 1_000_000_000, "lora_alpha": 16,
					"target_modules": []string{"q_proj"}})
				return []string{"lora", "merge", "--base", tiny, "--adapter", ad, "--out", filepath.Join(dir, "out")}
			}},
		{name: "lora merge: NaN-like alpha", want: []string{"adapter_config.json", "alpha"},
			args: func(t *testing.T, dir string) []string {
				ad := filepath.Join(dir, "adapter")
				writeJSON(t, ad, "adapter_config.json", map[string]any{"peft_type": "LORA", "r": 4, "lora_alpha": -1,
					"target_modules": []string{"q_proj"}})
				return []string{"lora", "merge", "--base", tiny, "--adapter", ad, "--out", filepath.Join(dir, "out")}
			}},

		// Recipes.
		{name: "run: YAML syntax error names its line", want: []string{"r.yaml:3: did not find expected key"},
			args: func(t *testing.T, dir string) []string {
				return []string{"run", writeText(t, dir, "r.yaml", "stage: sft\noutput_dir: x\n- oops\n")}
			}},
		{name: "run: unclosed list names its line", want: []string{"r.yaml:2:"},
			args: func(t *testing.T, dir string) []string {
				return []string{"run", writeText(t, dir, "r.yaml", "stage: sft\ndata: [a, b\n")}
			}},
		{name: "run: invalid UTF-8 in a key", want: []string{"r.yaml:3:5", "invalid UTF-8"},
			args: func(t *testing.T, dir string) []string {
				return []string{"run", writeText(t, dir, "r.yaml", "stage: sft\nmodel:\n  pa\xffth: x\n")}
			}},
		{name: "run: recipe is a FIFO", want: []string{"r.yaml", "named pipe"},
			args: func(t *testing.T, dir string) []string { return []string{"run", mkfifo(t, dir, "r.yaml")} }},
		{name: "run: data.max_length 10^9", want: []string{"data.max_length must be <= 1048576"},
			args: func(t *testing.T, dir string) []string {
				return sftRun(dir, "builtin:reverse", "data.max_length=1000000000")
			}},
		{name: "run: batch_size 10^9", want: []string{"train.batch_size must be <= 65536"},
			args: func(t *testing.T, dir string) []string {
				return sftRun(dir, "builtin:reverse", "batch_size=1000000000")
			}},
		{name: "run: batch beyond memory", want: []string{"model.init", "train.batch_size × data.max_length = 65536 × 256", "available"},
			args: func(t *testing.T, dir string) []string {
				return sftRun(dir, "builtin:reverse", "batch_size=65536", "data.max_length=256")
			}},
		{name: "run: data.max_length beyond model.init max_position_embeddings", want: []string{"data.max_length 1000", "max_position_embeddings 256"},
			args: func(t *testing.T, dir string) []string { return sftRun(dir, "builtin:reverse", "data.max_length=1000") }},
		{name: "run: data.max_length beyond a loaded model's context", want: []string{"m: ", "data.max_length 200", "max_position_embeddings 100"},
			args: func(t *testing.T, dir string) []string {
				m := modelWithConfig(t, dir, "m", func(c map[string]any) { c["max_position_embeddings"] = 100 })
				r := writeText(t, dir, "r.yaml", fmt.Sprintf("stage: sft\nmodel:\n  path: %s\n  tokenizer: builtin:chars\ndata:\n  train: %s\n  max_length: 200\n"+
					"train:\n  batch_size: 1\n  max_steps: 1\noutput_dir: %s\ndevice: cpu\n", m,
					writeText(t, dir, "train.jsonl", `{"text":"hello"}`+"\n"), filepath.Join(dir, "out")))
				return []string{"run", r}
			}},

		// Data rows.
		dataCase("line of 9 MB", good+`{"text":"`+strings.Repeat("a", 9<<20)+`"}`+"\n", "train.jsonl:2", "more than the 8388608 a row may have"),
		dataCase("invalid UTF-8", good+"{\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"},{\"role\":\"assistant\",\"content\":\"x\"}]}\n",
			"train.jsonl:2", "invalid UTF-8 at byte offset"),
		dataCase("lone surrogate escape", good+`{"messages":[{"role":"user","content":"a\udc00"},{"role":"assistant","content":"x"}]}`+"\n",
			"train.jsonl:2", "surrogate"),
		dataCase("unknown role", good+`{"messages":[{"role":"usr","content":"abc"},{"role":"assistant","content":"cba"}]}`+"\n",
			"train.jsonl:2", `"messages[0].role" is "usr"`, "known role"),
		dataCase("system after the user", good+`{"messages":[{"role":"user","content":"abc"},{"role":"system","content":"x"},{"role":"assistant","content":"cba"}]}`+"\n",
			"train.jsonl:2", `"messages[1].role" is "system" after a "user" message`),
		{name: "run sft data: file is a FIFO", want: []string{"train.jsonl", "named pipe"},
			args: func(t *testing.T, dir string) []string { return sftRun(dir, mkfifo(t, dir, "train.jsonl")) }},
		{name: "run sft data: directory holding a FIFO", want: []string{"b.jsonl", "named pipe"},
			args: func(t *testing.T, dir string) []string {
				writeText(t, dir, "data/a.jsonl", good)
				mkfifo(t, dir, "data/b.jsonl")
				return sftRun(dir, filepath.Join(dir, "data"))
			}},
	}
}

func TestReliabilityHostileInputs(t *testing.T) {
	var count tally
	for _, in := range hostileInputs(t) {
		t.Run(in.name, func(t *testing.T) {
			dir := t.TempDir()
			args := in.args(t, dir)
			before := snapshot(t, dir)
			start := time.Now()
			stdout, stderr, failed, timedOut := boundedRun(args...)
			elapsed := time.Since(start)

			count.mu.Lock()
			defer count.mu.Unlock()
			count.tried++
			crashed := looksLikeCrash(stdout + stderr)
			if crashed {
				count.panics++
			}
			if timedOut {
				count.hangs++
			}
			after := snapshot(t, dir)
			lost := 0
			for p, sum := range before {
				if after[p] != sum {
					lost++
				}
			}
			if lost > 0 {
				count.losses++
			}
			text := stderr
			if in.succeed {
				text = stdout
			}
			clear := !crashed && !timedOut && failed != in.succeed
			for _, w := range in.want {
				clear = clear && strings.Contains(text, w)
			}
			if clear {
				count.clear++
			}
			assert.False(t, timedOut, "hung: ran past %v", caseTimeout)
			assert.False(t, crashed, "crashed:\n%s", stderr)
			assert.Zero(t, lost, "input files changed or vanished")
			assert.Equal(t, !in.succeed, failed, "exit status (stderr: %s)", stderr)
			for _, w := range in.want {
				assert.Contains(t, text, w)
			}
			t.Logf("%.2fs: %s", elapsed.Seconds(), strings.TrimSpace(lastLine(stderr+"\n"+stdout)))
		})
	}
	t.Logf("issue 12 inputs: %s", &count)
	assert.Equal(t, count.tried, count.clear, "every input must end in a clear message: %s", &count)
}

// TestOutputFilesAreSharedUnderTheUmask checks what `model init` writes:
// every file gets the mode os.WriteFile(…, 0o644) would give, the weights and
// the small JSON files alike.
func TestOutputFilesAreSharedUnderTheUmask(t *testing.T) {
	dir := t.TempDir()
	cfg := writeJSON(t, dir, "config.json", tinyConfig(t))
	out := filepath.Join(dir, "out")
	_, err := run(t, "model", "init", "--config", cfg, "--out", out)
	require.NoError(t, err)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, fileio.SharedMode(), fi.Mode().Perm(), e.Name())
	}
}
