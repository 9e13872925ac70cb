"""Training: the loop (accelerate), its callbacks and EMA, logging (TensorBoard + JSONL); checkpoints are in
``facegen.checkpoint``, the run with its evaluation in ``facegen.run``."""
