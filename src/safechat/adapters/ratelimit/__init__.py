"""RateLimiter: token buckets in memory and in Redis."""
