"""The contract every model class of this folder follows, as in the Python model API template:
a `model` attribute that init() fills, init() to load once, run() to predict."""
from abc import ABC, abstractmethod


class ModelBlueprint(ABC):
    @property
    @abstractmethod
    def model(self):
        """The loaded model; a falsy value after init() means the model could not start."""

    @abstractmethod
    def init(self):
        """Loads the model artifact. Called once, before any request."""

    @abstractmethod
    def run(self, records):
        """Predicts for the request body (a dict) and returns a JSON-serialisable value."""
