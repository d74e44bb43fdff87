// Package objective holds every training objective of posttrain as a small
// differentiable expression over per-sequence or per-token statistics
// (summed log-probs, values, rewards: at most [B, T] floats).
//
// Each loss is written once as a gorgonia float64 expression graph and its
// gradient comes from symbolic differentiation; the gradient with respect to
// the log-probs (or values, or rewards) then enters the model's hand-written
// backward. The API takes and returns plain []float64; [B, T] quantities are
// flat, row-major slices (index b·T + t).
//
// Semantics and defaults follow TRL (RewardTrainer, DPOTrainer, CPOTrainer's
// SimPO, PPOTrainer, GRPOTrainer, RLOOTrainer), which users compare against.
// Plain helpers that are never differentiated (GAE, whitening, KL estimates,
// group advantages, the adaptive KL controller) are ordinary Go.
package objective
