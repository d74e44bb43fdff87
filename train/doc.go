// Package train holds the model-independent parts of every training loop: AdamW,
// learning-rate schedules, global-norm clipping, gradient-accumulation weighting,
// atomic checkpoints with resume, a JSONL metrics log with plots, a progress reporter,
// signal handling and a serialisable RNG. Stage packages (sft, reward, dpo, ppo) combine
// them with a model; nothing here knows what a model is.
package train
