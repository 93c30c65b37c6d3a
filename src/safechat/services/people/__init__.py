"""People (protocol §8): direct conversations, the user directory, blocks, bans, mutes."""
