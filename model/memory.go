package model

// MemoryReport estimates the memory a model needs, from its config alone.
type MemoryReport struct {
	Parameters                int     `json:"parameters"`
	WeightsF32GiB             float64 `json:"weights_f32_gib"`
	WeightsBF16GiB            float64 `json:"weights_bf16_gib"`
	KVCacheMiBPer1KTokens     float64 `json:"kv_cache_mib_per_1k_tokens"`
	TrainStateGiB             float64 `json:"train_state_gib"`
	ActivationsGiBPer1KTokens float64 `json:"activations_gib_per_1k_tokens"`
}

// EstimateMemory counts parameters and the float32 bytes of weights,
// gradients, AdamW moments (16 bytes a parameter), the KV cache and the
// training arena (the activations this package keeps per token).
func EstimateMemory(cfg *Config) MemoryReport {
	C, F, L, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.VocabSize
	HD := cfg.HeadDimension()
	QD, KVD := cfg.NumAttentionHeads*HD, cfg.NumKeyValueHeads*HD
	perLayer := 2*C + QD*C + 2*KVD*C + C*QD + 3*F*C
	n := V*C + L*perLayer + C
	if !cfg.TieWordEmbeddings {
		n += V * C
	}
	const kTok = 1000
	return MemoryReport{
		Parameters:                n,
		WeightsF32GiB:             gib(4 * float64(n)),
		WeightsBF16GiB:            gib(2 * float64(n)),
		KVCacheMiBPer1KTokens:     4 * float64(2*L*KVD*kTok) / (1 << 20),
		TrainStateGiB:             gib(16 * float64(n)),
		ActivationsGiBPer1KTokens: gib(4 * float64(arenaSize(cfg, kTok))),
	}
}
