"""zipweights: lossless compression for neural-network weights."""
