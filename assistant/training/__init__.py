"""A relevance model of our own: training data, hard negatives, fine-tuning (``assistant train``)."""
