"""Domain events: past-tense, versioned, immutable facts; imports nothing else of ours."""
