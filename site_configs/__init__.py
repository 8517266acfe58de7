"""Site files (one TOML per machine), shipped as package data."""
