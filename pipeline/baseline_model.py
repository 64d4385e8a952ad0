"""The Evaluator's baseline: the latest blessed model older than the candidate.

TFX's LatestBlessedModelStrategy picks the latest blessed model at the time it resolves.
On a re-run where the Trainer is cached, that is the candidate itself (blessed by the
previous run), so the Evaluator's inputs change and it runs again, comparing the model with
itself, and the Pusher pushes it a second time. Resolving the baseline among the models
older than the candidate gives the same baseline the candidate was first judged against:
the Evaluator and the Pusher are cached too.
"""

from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
CANDIDATE_KEY = "candidate"


class BaselineModelStrategy(latest_blessed_model_strategy.LatestBlessedModelStrategy):
    """Resolver inputs: model and model_blessing (every one so far), candidate (this run's
    Trainer output). Outputs: model and model_blessing (the baseline, or none), candidate."""

    def resolve_artifacts(self, store, input_dict):
        candidates = list(input_dict.get(CANDIDATE_KEY, []))
        oldest_candidate = min((a.id for a in candidates), default=None)
        models = [
            model
            for model in input_dict[MODEL_KEY]
            if oldest_candidate is None or model.id < oldest_candidate
        ]
        result = super().resolve_artifacts(
            store, {MODEL_KEY: models, MODEL_BLESSING_KEY: list(input_dict[MODEL_BLESSING_KEY])}
        )
        result[CANDIDATE_KEY] = candidates
        return result
