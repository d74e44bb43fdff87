// Package datasets turns training data on disk into the token batches the trainers consume.
//
// The pipeline is:
//
//	Load (JSONL / Parquet files or shard directories)  -> []Row      (validated records, TRL field names)
//	EncodeSFT / EncodePreference / EncodePrompts        -> token ids (+ labels with -100 masks)
//	Pack (best-fit decreasing) or Single                -> []Sequence (position ids, document ids)
//	Sampler (seeded, resumable) + Collate               -> Batch      (B×T, row-major)
//
// Labels follow the Hugging Face convention: Labels[t] is the token at position t (or -100 when
// it carries no loss) and the loss at position t compares the logits at t-1 with Labels[t].
// The first token of every document is therefore always -100: nothing before it in the same
// document predicts it.
//
// Bad input never disappears silently: every rejected row is either an error naming
// file:line and the field, or (with SkipBadRows) counted in a Report.
package datasets
