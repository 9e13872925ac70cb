"""Face datasets (CelebA, image folders), preprocessing, and the decoded-once cache that training reads."""

from facegen.data.attributes import (
    CELEBA_ATTRIBUTES,
    read_attribute_file,
    read_identity_file,
    read_partition_file,
)
from facegen.data.base import ImageFileDataset
from facegen.data.builders import DATASET_KINDS, build_dataset, resolve_crop
from facegen.data.cache import ImageCache, build_cache, cache_path_for, load_or_build_cache
from facegen.data.celeba import SPLITS, CelebA
from facegen.data.download import download_celeba, how_to_get_celeba
from facegen.data.folder import IMAGE_EXTENSIONS, ImageFolder
from facegen.data.prefetch import Prefetcher
from facegen.data.transforms import PREPROCESSING, preprocess, random_hflip, to_model_range, to_uint8

__all__ = [
    "CELEBA_ATTRIBUTES",
    "DATASET_KINDS",
    "IMAGE_EXTENSIONS",
    "PREPROCESSING",
    "SPLITS",
    "CelebA",
    "ImageCache",
    "ImageFileDataset",
    "ImageFolder",
    "Prefetcher",
    "build_cache",
    "build_dataset",
    "cache_path_for",
    "download_celeba",
    "how_to_get_celeba",
    "load_or_build_cache",
    "preprocess",
    "random_hflip",
    "read_attribute_file",
    "read_identity_file",
    "read_partition_file",
    "resolve_crop",
    "to_model_range",
    "to_uint8",
]
