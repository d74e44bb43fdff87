package objective

// BradleyTerry is TRL RewardTrainer's pairwise reward loss over N pairs:
//
//	loss = −mean log σ(r_c − r_r − margin) + centerCoef·mean((r_c + r_r)²)
//
// rChosen, rRejected [N] are the scalar rewards of each pair; margin [N] is
// the optional per-pair margin (nil means 0); centerCoef is TRL's
// center_rewards_coefficient (0 turns centring off). Grads holds "chosen"
// and "rejected" [N]. Metrics: "loss", "accuracy" (fraction with
// r_c > r_r strictly, margin not applied: ties are wrong), "rewards/chosen",
// "rewards/rejected", "rewards/margins" (batch means).
func BradleyTerry(rChosen, rRejected, margin []float64, centerCoef float64) (Result, error) {
	const fn = "BradleyTerry"
	if err := checkNonEmpty(fn, "rChosen", rChosen); err != nil {
		return Result{}, err
	}
	n := len(rChosen)
	if err := checkLen(fn, "rRejected", rRejected, n); err != nil {
		return Result{}, err
	}
	if margin != nil {
		if err := checkLen(fn, "margin", margin, n); err != nil {
			return Result{}, err
		}
	}

	e := newExprGraph()
	chosen := e.param("chosen", rChosen)
	rejected := e.param("rejected", rRejected)
	diff := e.sub(chosen, rejected) // [N]
	if margin != nil {
		diff = e.sub(diff, e.constant(margin))
	}
	loss := e.neg(e.mean(e.logSigmoid(diff)))
	if centerCoef != 0 {
		centring := e.mean(e.square(e.add(chosen, rejected)))
		loss = e.add(loss, e.scale(centring, centerCoef))
	}
	value, grads, err := e.evaluate(loss)
	if err != nil {
		return Result{}, err
	}

	meanChosen, meanRejected := mean(rChosen), mean(rRejected)
	return Result{
		Loss:  value,
		Grads: grads,
		Metrics: map[string]float64{
			"loss":             value,
			"accuracy":         fractionGreater(rChosen, rRejected),
			"rewards/chosen":   meanChosen,
			"rewards/rejected": meanRejected,
			"rewards/margins":  meanChosen - meanRejected,
		},
	}, nil
}
