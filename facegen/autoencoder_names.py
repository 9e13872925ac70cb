"""The autoencoder kinds and the spatial downsampling of each, torch-free: what config validation reads before
anything is built. Each class's ``downsample`` is read from here (kl: diffusers' 4-level VAEs, as SD and FLUX)."""

AUTOENCODER_DOWNSAMPLE = {"identity": 1, "taef2": 8, "kl": 8}
AUTOENCODERS = tuple(AUTOENCODER_DOWNSAMPLE)
