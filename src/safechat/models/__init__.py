"""Wire models: inbound events and REST bodies (validated), outbound shapes."""
