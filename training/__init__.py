"""Training the reader of answer quality III from the SQuAD articles that
../shared/train/split.json marks `train`, and from nothing else."""
