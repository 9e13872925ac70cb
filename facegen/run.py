"""A training run as ``facegen train`` starts it: the Trainer with the callbacks its config asks for (sample
grids; evaluation, which scores EMA samples through the pipeline and moves ``best``)."""

from __future__ import annotations

from facegen.checkpoint import load_best, mark_best
from facegen.config import Config
from facegen.training.callbacks import Callback, SampleLogger
from facegen.training.trainer import Trainer, TrainState
from facegen.utils.io import atomic_write_json


class PeriodicEvaluation:
    """Checkpoint, score EMA samples (``eval.*``), log ``eval/<metric>`` and move ``best`` when it improves."""

    at_end = False

    def __init__(self, every: int) -> None:
        self.every = every

    def __call__(self, state: TrainState) -> None:
        from facegen.evaluation import is_better
        from facegen.pipeline import FacePipeline
        from facegen.scoring import score

        cfg, ec = state.cfg, state.cfg.eval
        path = state.save()
        if state.is_main:
            pipe = FacePipeline(state.ema, state.objective, cfg, state.device, state.autoencoder, path)
            report = score(
                pipe,
                ec.metrics,
                ec.num_samples,
                ec.ref,
                cfg.data.root if cfg.data.dataset == "celeba" else None,
                seed=cfg.seed,
                steps=ec.steps,
                progress=False,
                max_reference_images=ec.max_reference_images,
                inception_weights=ec.inception_weights,
            )
            atomic_write_json(state.run_dir / "eval" / f"step_{state.step:08d}.json", report)
            values = {name: report["metrics"][name] for name in ec.metrics}
            state.logger.scalars(state.step, values, prefix="eval")
            value, best = values[ec.best_metric], load_best(state.ckpt_root)
            if best is None or best["metric"] != ec.best_metric or is_better(ec.best_metric, value, best["value"]):
                mark_best(state.ckpt_root, path, ec.best_metric, value)
        state.wait_for_everyone()


def callbacks_from_config(cfg: Config) -> list[Callback]:
    return [
        SampleLogger(cfg.train.sample_every, cfg.train.num_sample_images, cfg.seed),
        PeriodicEvaluation(cfg.eval.every),
    ]


def train(cfg: Config, resume: str | None = None, stop_at: int | None = None, overwrite: bool = False) -> dict:
    """Train with sample grids and periodic evaluation; the Trainer holds the run folder's lock meanwhile."""
    trainer = Trainer(cfg, resume, overwrite, callbacks_from_config(cfg))
    try:
        return trainer.train(stop_at)
    finally:
        trainer.close()
