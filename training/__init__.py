"""Training and evaluation of nextword models: corpora, the training loop, type-through evaluation."""
