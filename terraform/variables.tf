variable "aws_region" {
  description = "Region of the bucket; the service gets it as S3_REGION."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region code, e.g. eu-central-1."
  }
}

variable "name_prefix" {
  description = "Prefix for every resource name (bucket, role, policy)."
  type        = string
  default     = "safechat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, part of resource names and tags (e.g. prod, staging)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits, starting with a letter."
  }
}

variable "bucket_name" {
  description = "Exact bucket name. Null: <name_prefix>-<environment>-media-<random suffix>."
  type        = string
  default     = null

  validation {
    condition = var.bucket_name == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) &&
      !can(regex("\\.\\.|^\\d+\\.\\d+\\.\\d+\\.\\d+$|^xn--|-s3alias$|--ol-s3$", var.bucket_name))
    )
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, no '..', not an IP address."
  }
}

variable "object_prefix" {
  description = "Key prefix the service writes under (S3_PREFIX); its IAM policy covers only this prefix."
  type        = string
  default     = "media/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-]+(/[A-Za-z0-9!_.()'-]+)*/$", var.object_prefix))
    error_message = "object_prefix must be non-empty, end with '/', not start with '/', and use only letters, digits and !_.()'- (no wildcards)."
  }
}

variable "kms_key_arn" {
  description = "Null: SSE-S3 (AES256). A KMS key ARN: SSE-KMS with that key and an S3 bucket key; the service role may then use the key through S3 only."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key/alias ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to GET and PUT (presigned direct upload) objects. Empty: no CORS configuration."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for origin in var.cors_allowed_origins :
      can(regex("^https://[a-z0-9.-]+(:[0-9]{1,5})?$", origin)) ||
      can(regex("^http://(localhost|127\\.0\\.0\\.1)(:[0-9]{1,5})?$", origin))
    ])
    error_message = "Each CORS origin must be https://host[:port] (http only for localhost), without path or wildcard."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number between 1 and 3650."
  }
}

variable "transition_to_ia_days" {
  description = "Null: no transition. Otherwise days after which current objects move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = null

  validation {
    condition     = var.transition_to_ia_days == null || try(var.transition_to_ia_days >= 30 && floor(var.transition_to_ia_days) == var.transition_to_ia_days, false)
    error_message = "transition_to_ia_days must be null or a whole number >= 30."
  }
}

variable "access_log_bucket" {
  description = "Null: no server access logging. Otherwise an existing bucket (same account and region) receiving the access logs."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be null or a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in access_log_bucket."
  type        = string
  default     = "s3-access/safechat-media/"

  validation {
    condition     = can(regex("^([A-Za-z0-9!_.()'-]+/)+$", var.access_log_prefix))
    error_message = "access_log_prefix must end with '/' and use only letters, digits and !_.()'-."
  }
}

variable "trusted_services" {
  description = "AWS services that may assume the service role: any of ec2.amazonaws.com (an instance profile is created), ecs-tasks.amazonaws.com, lambda.amazonaws.com."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]

  validation {
    condition = alltrue([
      for s in var.trusted_services : contains(["ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "lambda.amazonaws.com"], s)
    ]) && length(distinct(var.trusted_services)) == length(var.trusted_services)
    error_message = "trusted_services may contain only ec2.amazonaws.com, ecs-tasks.amazonaws.com and lambda.amazonaws.com, each at most once."
  }
}

variable "kubernetes_oidc" {
  description = "IAM roles for service accounts (EKS/IRSA or any Kubernetes OIDC issuer registered in IAM): the OIDC provider ARN and the one service account allowed to assume the role. Null: off."
  type = object({
    provider_arn    = string
    namespace       = string
    service_account = string
  })
  default = null

  validation {
    condition = var.kubernetes_oidc == null || try(
      can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/[a-zA-Z0-9./_-]+$", var.kubernetes_oidc.provider_arn)) &&
      can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.kubernetes_oidc.namespace)) &&
      can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.kubernetes_oidc.service_account)),
      false
    )
    error_message = "kubernetes_oidc needs an IAM OIDC provider ARN and a concrete namespace and service account name (no wildcards)."
  }
}

variable "create_access_key" {
  description = "Opt-in for hosts that cannot assume a role: an IAM user with the same policy and a long-lived access key (outputs are sensitive). Prefer the role."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a bucket that still holds objects. Keep false in production."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are at most 128 and values at most 256 characters."
  }
}
