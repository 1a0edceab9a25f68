MODEL_NOT_LOADED = "Could not initiate model"
