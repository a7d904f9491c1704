"""Training-time additions to ESPnet's trainer: pre-flight checks and crash safety."""
