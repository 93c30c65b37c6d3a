"""MediaStore: a local directory with signed URLs, or an S3 bucket."""
