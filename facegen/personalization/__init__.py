"""Personalization: learn one person from a few photos, as a subject embedding, LoRA or DreamBooth.

options = PersonalizeOptions(method="lora", steps=200)
subject = personalize(FacePipeline.load(), "photos/alice", "alice", "alice.safetensors", options)
faces = FacePipeline.load().with_subject("alice.safetensors").generate(8, attributes="Smiling=1")
"""

from facegen.personalization.lora import DEFAULT_TARGETS, LoraSpec
from facegen.personalization.subject import METHODS, Subject, base_fingerprint, load_subject, save_subject
from facegen.personalization.training import PersonalizeOptions, personalize, photo_loss

__all__ = [
    "DEFAULT_TARGETS",
    "METHODS",
    "LoraSpec",
    "PersonalizeOptions",
    "Subject",
    "base_fingerprint",
    "load_subject",
    "personalize",
    "photo_loss",
    "save_subject",
]
