"""Message strings of the model code."""
NO_VALID_MODEL = "Could not initiate model"
