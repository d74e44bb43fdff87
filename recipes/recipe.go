// Package recipes holds the typed training recipes and their loader: YAML decoded into the
// structs below with unknown keys rejected, key=value overrides from the command line, and
// built-in recipes embedded in the binary (like torchtune's `tune run RECIPE k=v`).
package recipes

// Stage names a post-training stage; each has its own section in a recipe.
const (
	StageSFT    = "sft"
	StageReward = "reward"
	StageDPO    = "dpo"
	StagePPO    = "ppo"
	StageGRPO   = "grpo"
)

// Stages lists the known stages in the order the CLI shows them.
var Stages = []string{StageSFT, StageReward, StageDPO, StagePPO, StageGRPO}

// Recipe is one training run. Every field has a default (see Default); a YAML file or an
// override sets only what it names. The stage sections (SFT ... GRPO) are all present with
// their defaults, but only the one matching Stage may be written in a recipe.
type Recipe struct {
	// Name is the built-in name or the file's base name; it is not a YAML key.
	Name        string `yaml:"-"`
	Stage       string `yaml:"stage"`
	Description string `yaml:"description"`

	Model    ModelConfig    `yaml:"model"`
	Data     DataConfig     `yaml:"data"`
	Optim    OptimConfig    `yaml:"optim"`
	Schedule ScheduleConfig `yaml:"schedule"`
	Train    TrainConfig    `yaml:"train"`
	LoRA     LoRAConfig     `yaml:"lora"`

	SFT    SFTConfig    `yaml:"sft"`
	Reward RewardConfig `yaml:"reward"`
	DPO    DPOConfig    `yaml:"dpo"`
	PPO    PPOConfig    `yaml:"ppo"`
	GRPO   GRPOConfig   `yaml:"grpo"`

	// OutputDir receives checkpoint-STEP/ folders, metrics.jsonl and plots.
	OutputDir string `yaml:"output_dir"`
	// Device is auto, cpu, cuda or cuda:N.
	Device string `yaml:"device"`

	// origin records where each key was set ("file.yaml:12" or "override"), keyed by its
	// dotted path, so validation errors can point at the line that caused them.
	origin map[string]string
}

// ModelConfig says which model to train: a Hugging Face checkpoint directory (Path) or a
// freshly initialised model described by Init. Exactly one of them is set.
type ModelConfig struct {
	Path string `yaml:"path"`
	// Tokenizer is a directory with tokenizer.json; empty means Path.
	Tokenizer string     `yaml:"tokenizer"`
	Init      *ModelInit `yaml:"init,omitempty"`
	// DType of the weights during training: float32 or bfloat16 (master weights stay float32).
	DType string `yaml:"dtype"`
}

// ModelInit is the config.json of a new randomly initialised LLaMA model; keys use the
// Hugging Face names so it converts to config.json one to one. Zero values are filled in by
// Validate the way transformers does (num_key_value_heads = num_attention_heads, ...).
type ModelInit struct {
	VocabSize             int     `yaml:"vocab_size"`
	HiddenSize            int     `yaml:"hidden_size"`
	IntermediateSize      int     `yaml:"intermediate_size"`
	NumHiddenLayers       int     `yaml:"num_hidden_layers"`
	NumAttentionHeads     int     `yaml:"num_attention_heads"`
	NumKeyValueHeads      int     `yaml:"num_key_value_heads"`
	HeadDim               int     `yaml:"head_dim"`
	MaxPositionEmbeddings int     `yaml:"max_position_embeddings"`
	RopeTheta             float64 `yaml:"rope_theta"`
	RMSNormEps            float64 `yaml:"rms_norm_eps"`
	TieWordEmbeddings     bool    `yaml:"tie_word_embeddings"`
	InitializerRange      float64 `yaml:"initializer_range"`
}

// DataConfig says where the examples come from and how they become token sequences.
type DataConfig struct {
	// Train and Eval are .jsonl/.parquet paths or builtin:NAME data sets.
	Train string `yaml:"train"`
	Eval  string `yaml:"eval"`
	// EvalFraction holds out this fraction of Train for evaluation when Eval is empty.
	EvalFraction float64 `yaml:"eval_fraction"`
	// Format is auto, text, prompt_completion, messages, preference or prompt.
	Format          string `yaml:"format"`
	MaxLength       int    `yaml:"max_length"`
	MaxPromptLength int    `yaml:"max_prompt_length"`
	Packing         bool   `yaml:"packing"`
	// TruncationSide is right (drop the end) or left (drop the start).
	TruncationSide string `yaml:"truncation_side"`
	// SkipBadRows logs and skips malformed rows instead of failing the run.
	SkipBadRows bool `yaml:"skip_bad_rows"`
	Shuffle     bool `yaml:"shuffle"`
}

// OptimConfig configures AdamW.
type OptimConfig struct {
	LR          float64    `yaml:"lr"`
	Betas       [2]float64 `yaml:"betas"`
	Eps         float64    `yaml:"eps"`
	WeightDecay float64    `yaml:"weight_decay"`
	// GradClip is the max global gradient norm; 0 disables clipping.
	GradClip float64 `yaml:"grad_clip"`
}

// Schedule types.
const (
	ScheduleConstant = "constant"
	ScheduleLinear   = "linear"
	ScheduleCosine   = "cosine"
)

// ScheduleConfig configures the learning-rate schedule; every type warms up linearly from 0
// over WarmupSteps optimizer steps.
type ScheduleConfig struct {
	Type        string `yaml:"type"`
	WarmupSteps int    `yaml:"warmup_steps"`
	// MinLRRatio is the floor of the cosine schedule as a fraction of optim.lr.
	MinLRRatio float64 `yaml:"min_lr_ratio"`
}

// TrainConfig sizes the loop. One optimizer step consumes BatchSize × GradAccum examples.
type TrainConfig struct {
	BatchSize int `yaml:"batch_size"`
	GradAccum int `yaml:"grad_accum"`
	// MaxSteps, when > 0, overrides Epochs.
	MaxSteps int    `yaml:"max_steps"`
	Epochs   int    `yaml:"epochs"`
	Seed     uint64 `yaml:"seed"`
	// EvalSteps, SaveSteps and LoggingSteps are optimizer-step intervals; 0 disables.
	EvalSteps    int `yaml:"eval_steps"`
	SaveSteps    int `yaml:"save_steps"`
	LoggingSteps int `yaml:"logging_steps"`
	// SaveTotalLimit keeps only the newest N checkpoints; 0 keeps all.
	SaveTotalLimit int `yaml:"save_total_limit"`
	// OverwriteOutputDir lets a fresh run replace a previous run in output_dir
	// (its checkpoints and metrics log are removed first), as transformers'
	// overwrite_output_dir; without it such an output_dir is refused.
	OverwriteOutputDir bool `yaml:"overwrite_output_dir"`
	// SkipNonfiniteSteps skips up to N optimizer steps whose loss or gradient
	// norm is NaN or infinite (counted and logged as skipped_nonfinite); 0 stops
	// the run at the first one.
	SkipNonfiniteSteps int `yaml:"skip_nonfinite_steps"`
}

// LoRAConfig configures low-rank adapters (saved in PEFT's layout).
type LoRAConfig struct {
	Enabled       bool     `yaml:"enabled"`
	R             int      `yaml:"r"`
	Alpha         float64  `yaml:"alpha"`
	Dropout       float64  `yaml:"dropout"`
	TargetModules []string `yaml:"target_modules"`
}
