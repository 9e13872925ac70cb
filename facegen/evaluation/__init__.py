"""Evaluation: FID/KID (standard Inception via torch-fidelity), FD_attr/KID_attr and attribute consistency
(own CelebA attribute classifier), CLIP score; ``evaluate`` runs them with a recorded protocol.

    report = evaluate(images, metrics=["fid", "kid", "fd_attr"], ref="celeba:test", celeba_root=root)
    print(format_report_table(report))
"""

from facegen.evaluation.classifier import AttributeClassifier, load_attribute_classifier
from facegen.evaluation.classifier_training import train_attribute_classifier
from facegen.evaluation.distances import frechet_distance, gaussian_statistics, kernel_distance
from facegen.evaluation.evaluator import evaluate, format_report_table
from facegen.evaluation.inception import WEIGHTS_ENV as INCEPTION_WEIGHTS_ENV
from facegen.evaluation.references import parse_reference
from facegen.metric_names import (
    ALL_METRICS,
    ATTR_CONSISTENCY,
    CLIP_SCORE,
    FD_ATTR,
    FID,
    HIGHER_IS_BETTER,
    KID,
    KID_ATTR,
    LOWER_IS_BETTER,
    is_better,
)

__all__ = [
    "ALL_METRICS",
    "ATTR_CONSISTENCY",
    "CLIP_SCORE",
    "FD_ATTR",
    "FID",
    "HIGHER_IS_BETTER",
    "INCEPTION_WEIGHTS_ENV",
    "KID",
    "KID_ATTR",
    "LOWER_IS_BETTER",
    "AttributeClassifier",
    "evaluate",
    "format_report_table",
    "frechet_distance",
    "gaussian_statistics",
    "is_better",
    "kernel_distance",
    "load_attribute_classifier",
    "parse_reference",
    "train_attribute_classifier",
]
