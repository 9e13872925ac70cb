"""Training: the loop (accelerate), checkpoints (safetensors, atomic), logging (TensorBoard + JSONL)."""
