"""Sales orders: the model, booking, shipping, cancellation and queries."""
