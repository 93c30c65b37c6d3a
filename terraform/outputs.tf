output "bucket_name" {
  description = "The media bucket (S3_BUCKET)."
  value       = aws_s3_bucket.media.id
}

output "bucket_arn" {
  description = "ARN of the media bucket."
  value       = aws_s3_bucket.media.arn
}

output "bucket_region" {
  description = "Region of the media bucket (S3_REGION)."
  value       = aws_s3_bucket.media.region
}

output "object_prefix" {
  description = "Key prefix the service may use (S3_PREFIX)."
  value       = var.object_prefix
}

output "service_environment" {
  description = "Environment variables for SafeChat's S3 media store (credentials come from the role)."
  value = {
    S3_BUCKET = aws_s3_bucket.media.id
    S3_REGION = aws_s3_bucket.media.region
    S3_PREFIX = var.object_prefix
  }
}

output "role_arn" {
  description = "Service role: ECS task role, Lambda execution role, or eks.amazonaws.com/role-arn annotation of the service account."
  value       = aws_iam_role.service.arn
}

output "role_name" {
  description = "Name of the service role."
  value       = aws_iam_role.service.name
}

output "instance_profile_name" {
  description = "Instance profile for EC2 (null unless ec2.amazonaws.com is trusted)."
  value       = one(aws_iam_instance_profile.service[*].name)
}

output "media_access_policy_arn" {
  description = "The least-privilege policy, to attach elsewhere if needed."
  value       = aws_iam_policy.media_access.arn
}

output "access_key_id" {
  description = "Only with create_access_key = true. Read it with `terraform output -raw access_key_id`."
  value       = one(aws_iam_access_key.service[*].id)
  sensitive   = true
}

output "secret_access_key" {
  description = "Only with create_access_key = true. Read it with `terraform output -raw secret_access_key`; it is also in the state, so protect the state."
  value       = one(aws_iam_access_key.service[*].secret)
  sensitive   = true
}
