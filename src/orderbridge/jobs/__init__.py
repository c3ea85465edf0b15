"""Jobs: task functions with serialisable arguments and the embedded scheduler that runs them."""
