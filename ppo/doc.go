// Package ppo holds the on-policy RL stages: PPO with a value model (Run) and
// GRPO / RLOO without one (RunGRPO). Each iteration draws a batch of prompts,
// has the rollout pool continue and score them with the current policy, turns
// the scores into advantages (GAE over per-token KL-shaped rewards for PPO,
// group-relative or leave-one-out for GRPO/RLOO) and takes optimizer steps on
// the clipped surrogate from the objective package. Defaults follow TRL.
//
// Shape letters: B rollouts in a batch, T tokens of a model row
// (prompt+completion, right-padded), R tokens of the longest completion, C the
// hidden size, V the vocabulary. Per-token quantities the objective sees are
// response-aligned [B·R] slices (index b·R + j for completion token j).
package ppo
