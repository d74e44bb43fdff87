package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
)

// tokenizerConfig is the part of tokenizer_config.json (and of
// special_tokens_map.json, which has the same token fields) this package reads.
type tokenizerConfig struct {
	BOSToken     tokenLiteral    `json:"bos_token"`
	EOSToken     tokenLiteral    `json:"eos_token"`
	PadToken     tokenLiteral    `json:"pad_token"`
	UnkToken     tokenLiteral    `json:"unk_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// tokenLiteral is a special token as the config writes it: null, a string, or
// an AddedToken object {"content": "...", ...}.
type tokenLiteral struct {
	Content string
	Set     bool
}

func (l *tokenLiteral) UnmarshalJSON(data []byte) error {
	if isJSONNull(data) {
		*l = tokenLiteral{}
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
		*l = tokenLiteral{Content: obj.Content, Set: true}
		return nil
	}
	if err := json.Unmarshal(data, &l.Content); err != nil {
		return fmt.Errorf("want null, a string or {\"content\": ...}: %w", err)
	}
	l.Set = true
	return nil
}

// applyConfig sets BOS, EOS, pad and the chat template from the config files.
func (t *Tokenizer) applyConfig(dir string, files map[string][]byte) error {
	var cfg tokenizerConfig
	configPath := filepath.Join(dir, tokenizerConfigFile)
	if err := json.Unmarshal(files[tokenizerConfigFile], &cfg); err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	if data, ok := files[specialTokensMapFile]; ok {
		var fallback tokenizerConfig
		if err := json.Unmarshal(data, &fallback); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, specialTokensMapFile), err)
		}
		for _, f := range []struct{ dst, src *tokenLiteral }{
			{&cfg.BOSToken, &fallback.BOSToken}, {&cfg.EOSToken, &fallback.EOSToken},
			{&cfg.PadToken, &fallback.PadToken}, {&cfg.UnkToken, &fallback.UnkToken},
		} {
			if !f.dst.Set {
				*f.dst = *f.src
			}
		}
	}

	t.specials = make(map[string]string)
	resolve := func(field string, lit tokenLiteral) (int32, bool, error) {
		if !lit.Set {
			return 0, false, nil
		}
		id, ok := t.TokenID(lit.Content)
		if !ok {
			return 0, false, fmt.Errorf("%s: %s %q is not a token of tokenizer.json", configPath, field, lit.Content)
		}
		t.specials[field] = lit.Content
		return id, true, nil
	}
	bos, hasBOS, err := resolve("bos_token", cfg.BOSToken)
	if err != nil {
		return err
	}
	if hasBOS {
		t.bos = bos
	}
	eos, hasEOS, err := resolve("eos_token", cfg.EOSToken)
	if err != nil {
		return err
	}
	if hasEOS {
		t.eos = append(t.eos, eos)
	}
	if t.pad, t.hasPad, err = resolve("pad_token", cfg.PadToken); err != nil {
		return err
	}
	if _, _, err := resolve("unk_token", cfg.UnkToken); err != nil {
		return err
	}
	if data, ok := files[generationConfigFile]; ok {
		ids, err := generationEOS(data)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, generationConfigFile), err)
		}
		for _, id := range ids {
			if !containsID(t.eos, id) {
				t.eos = append(t.eos, id)
			}
		}
	}
	return t.loadChatTemplate(dir, files, cfg.ChatTemplate)
}

// generationEOS reads eos_token_id, which is a number or a list of numbers.
func generationEOS(data []byte) ([]int32, error) {
	var gen struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(data, &gen); err != nil {
		return nil, err
	}
	if isJSONNull(gen.EOS) {
		return nil, nil
	}
	var one int32
	if err := json.Unmarshal(gen.EOS, &one); err == nil {
		return []int32{one}, nil
	}
	var many []int32
	if err := json.Unmarshal(gen.EOS, &many); err != nil {
		return nil, fmt.Errorf("eos_token_id: want an id or a list of ids, found %s", abbreviate(gen.EOS))
	}
	return many, nil
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
