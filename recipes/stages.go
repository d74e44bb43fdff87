package recipes

// SFTConfig holds the supervised fine-tuning options.
type SFTConfig struct {
	// CompletionOnlyLoss masks prompt and user tokens so only completions and assistant
	// turns are trained on (TRL's default).
	CompletionOnlyLoss bool `yaml:"completion_only_loss"`
}

// RewardConfig holds the reward-model options: loss −log σ(r_c − r_r − margin) plus
// CenterRewardsCoefficient · mean((r_c + r_r)²).
type RewardConfig struct {
	CenterRewardsCoefficient float64 `yaml:"center_rewards_coefficient"`
}

// DPO loss types.
const (
	DPOSigmoid = "sigmoid"
	DPOHinge   = "hinge"
	DPOIPO     = "ipo"
	DPORobust  = "robust"
	DPOSimPO   = "simpo" // length-normalised, target margin simpo_gamma, no reference
)

// DPOConfig holds the direct preference optimisation options.
type DPOConfig struct {
	// RefModel is the frozen reference checkpoint; empty means a copy of model.path.
	RefModel string  `yaml:"ref_model"`
	Beta     float64 `yaml:"beta"`
	LossType string  `yaml:"loss_type"`
	// LabelSmoothing > 0 gives conservative DPO (sigmoid) or robust DPO.
	LabelSmoothing float64 `yaml:"label_smoothing"`
	ReferenceFree  bool    `yaml:"reference_free"`
	// SimPOGamma is SimPO's target reward margin γ (loss_type simpo).
	SimPOGamma float64 `yaml:"simpo_gamma"`
	// RPOAlpha > 0 adds α times the chosen completions' per-token NLL (RPO); 0 disables.
	RPOAlpha float64 `yaml:"rpo_alpha"`
	// PrecomputeRefLogProbs scores the whole data set with the reference once before
	// training and caches the result in output_dir, so no reference is held while training
	// (ignored by losses without a reference).
	PrecomputeRefLogProbs bool `yaml:"precompute_ref_log_probs"`
}

// KL estimators for PPO's per-token penalty.
const (
	KLK1 = "k1"
	KLK3 = "k3"
)

// PPOConfig holds the PPO options (defaults from TRL).
type PPOConfig struct {
	RefModel    string `yaml:"ref_model"`
	RewardModel string `yaml:"reward_model"`
	// ValueModel initialises the value head's trunk; empty means reward_model.
	ValueModel     string  `yaml:"value_model"`
	KLCoef         float64 `yaml:"kl_coef"`
	KLEstimator    string  `yaml:"kl_estimator"`
	ClipRange      float64 `yaml:"cliprange"`
	ClipRangeValue float64 `yaml:"cliprange_value"`
	VFCoef         float64 `yaml:"vf_coef"`
	Gamma          float64 `yaml:"gamma"`
	Lambda         float64 `yaml:"lam"`
	PPOEpochs      int     `yaml:"num_ppo_epochs"`
	NumMiniBatches int     `yaml:"num_mini_batches"`
	WhitenRewards  bool    `yaml:"whiten_rewards"`
	// MissingEOSPenalty is subtracted from the score of responses without EOS; 0 disables.
	MissingEOSPenalty float64 `yaml:"missing_eos_penalty"`
	ResponseLength    int     `yaml:"response_length"`
	Temperature       float64 `yaml:"temperature"`
	RolloutWorkers    int     `yaml:"rollout_workers"`
	// KLTarget > 0 turns on the adaptive KL controller (Ziegler et al.): kl_coef
	// moves towards this per-sequence KL over KLHorizon rollouts.
	KLTarget  float64 `yaml:"kl_target"`
	KLHorizon float64 `yaml:"kl_horizon"`
}

// GRPOConfig holds the group-relative policy optimisation options.
type GRPOConfig struct {
	RefModel            string  `yaml:"ref_model"`
	RewardModel         string  `yaml:"reward_model"`
	NumGenerations      int     `yaml:"num_generations"`
	Beta                float64 `yaml:"beta"`
	Epsilon             float64 `yaml:"epsilon"`
	MaxCompletionLength int     `yaml:"max_completion_length"`
	Temperature         float64 `yaml:"temperature"`
	// ScaleRewards divides each group's advantages by its standard deviation.
	ScaleRewards   bool `yaml:"scale_rewards"`
	RolloutWorkers int  `yaml:"rollout_workers"`
	// Advantage is grpo (group-normalised) or rloo (leave-one-out baseline).
	Advantage string `yaml:"advantage"`
	// NumIterations is the number of optimizer steps per rollout batch (TRL's μ).
	NumIterations int `yaml:"num_iterations"`
}

// GRPO advantage estimators.
const (
	AdvantageGRPO = "grpo"
	AdvantageRLOO = "rloo"
)

// Default returns a recipe with every default filled in: Hugging Face TrainingArguments for
// the optimizer and loop, TRL for the stage sections, PEFT for LoRA.
func Default() *Recipe {
	return &Recipe{
		Stage: StageSFT,
		Model: ModelConfig{DType: "float32"},
		Data: DataConfig{
			Format:         "auto",
			MaxLength:      1024,
			TruncationSide: "right",
			Shuffle:        true,
		},
		Optim: OptimConfig{
			LR:       5e-5,
			Betas:    [2]float64{0.9, 0.999},
			Eps:      1e-8,
			GradClip: 1.0,
		},
		Schedule: ScheduleConfig{Type: ScheduleLinear},
		Train: TrainConfig{
			BatchSize:    8,
			GradAccum:    1,
			Epochs:       3,
			Seed:         42,
			SaveSteps:    500,
			LoggingSteps: 10,
		},
		LoRA: LoRAConfig{
			R:             8,
			Alpha:         16,
			Dropout:       0.05,
			TargetModules: []string{"q_proj", "v_proj"},
		},
		SFT:    SFTConfig{CompletionOnlyLoss: true},
		Reward: RewardConfig{},
		DPO:    DPOConfig{Beta: 0.1, LossType: DPOSigmoid, SimPOGamma: 0.5},
		PPO: PPOConfig{
			KLCoef:         0.05,
			KLEstimator:    KLK1,
			ClipRange:      0.2,
			ClipRangeValue: 0.2,
			VFCoef:         0.1,
			Gamma:          1.0,
			Lambda:         0.95,
			PPOEpochs:      4,
			NumMiniBatches: 1,
			ResponseLength: 53,
			Temperature:    0.7,
			RolloutWorkers: 1,
			KLHorizon:      10000,
		},
		GRPO: GRPOConfig{
			NumGenerations:      8,
			Epsilon:             0.2,
			MaxCompletionLength: 256,
			Temperature:         1.0,
			ScaleRewards:        true,
			RolloutWorkers:      1,
			Advantage:           AdvantageGRPO,
			NumIterations:       1,
		},
		Device: "auto",
	}
}
