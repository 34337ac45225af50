//! Early stopping: end a run once the validation MSE has stopped improving, and keep the
//! weights of its best epoch.

use serde::{Deserialize, Serialize};

/// Stop after `patience` epochs in a row without an improvement of more than `min_delta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    pub patience: usize,
    #[serde(default)]
    pub min_delta: f64,
}

impl EarlyStop {
    /// A patience of at least 1 epoch, and 0 ≤ min-delta.
    pub fn validate(self) -> Result<(), String> {
        if self.patience == 0 {
            return Err("early stopping needs a patience of at least 1 epoch".into());
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(format!(
                "early stopping needs a min-delta ≥ 0, not {}",
                self.min_delta
            ));
        }
        Ok(())
    }
}

/// What an epoch's validation loss means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The best so far: keep these weights.
    Best,
    /// Not better; patience is not yet spent.
    Wait,
    /// Patience spent: stop and go back to the best weights.
    Stop,
}

/// The best epoch so far and how many epochs have passed since.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    best: Option<(usize, f64)>,
    since_best: usize,
}

impl Watch {
    /// Takes epoch `epoch`'s validation loss under `rule`.
    pub fn observe(&mut self, rule: EarlyStop, epoch: usize, loss: f64) -> Verdict {
        let improved = match self.best {
            None => true,
            Some((_, best)) => loss < best - rule.min_delta,
        };
        if improved {
            self.best = Some((epoch, loss));
            self.since_best = 0;
            return Verdict::Best;
        }
        self.since_best += 1;
        if self.since_best >= rule.patience {
            Verdict::Stop
        } else {
            Verdict::Wait
        }
    }

    /// The epoch with the best validation loss so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(epoch, _)| epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn verdicts(rule: EarlyStop, losses: &[f64]) -> (Vec<Verdict>, Option<usize>) {
        let mut watch = Watch::default();
        let verdicts = (1..)
            .zip(losses)
            .map(|(epoch, &loss)| watch.observe(rule, epoch, loss))
            .collect();
        (verdicts, watch.best_epoch())
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        use Verdict::*;
        let rule = EarlyStop {
            patience: 2,
            min_delta: 0.0,
        };
        let (seen, best) = verdicts(rule, &[0.5, 0.4, 0.41, 0.3, 0.31, 0.32]);
        assert_eq!(seen, [Best, Best, Wait, Best, Wait, Stop]);
        assert_eq!(best, Some(4));
    }

    #[test]
    fn improvements_smaller_than_min_delta_do_not_count() {
        use Verdict::*;
        let rule = EarlyStop {
            patience: 2,
            min_delta: 0.01,
        };
        let (seen, best) = verdicts(rule, &[0.5, 0.495, 0.492]);
        assert_eq!(seen, [Best, Wait, Stop]);
        assert_eq!(best, Some(1));
    }

    #[test]
    fn bad_rules_are_refused() {
        let error = |patience, min_delta| {
            EarlyStop {
                patience,
                min_delta,
            }
            .validate()
            .unwrap_err()
        };
        assert_eq!(
            error(0, 0.0),
            "early stopping needs a patience of at least 1 epoch"
        );
        assert_eq!(
            error(3, -1.0),
            "early stopping needs a min-delta ≥ 0, not -1"
        );
    }
}
