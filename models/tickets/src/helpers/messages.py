"""Message strings of the model code."""
NO_VALID_MODEL = "Could not initiate model"
MISSING_ARTIFACT = "The model artifact {} is missing: run scripts/train-tickets-model.py"
