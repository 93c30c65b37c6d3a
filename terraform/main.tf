provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({
      Application = "safechat"
      Environment = var.environment
      ManagedBy   = "terraform"
    }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "random_id" "bucket_suffix" {
  byte_length = 4
}

locals {
  name        = "${var.name_prefix}-${var.environment}"
  bucket_name = coalesce(var.bucket_name, "${local.name}-media-${random_id.bucket_suffix.hex}")
  use_kms     = var.kms_key_arn != null
  # The issuer part of an IAM OIDC provider ARN is what its condition keys are named after.
  oidc_issuer = var.kubernetes_oidc == null ? null : element(split("oidc-provider/", var.kubernetes_oidc.provider_arn), 1)
  # Services that set aws:SourceAccount when assuming a role (confused-deputy protection).
  source_account_services = [for s in var.trusted_services : s if s != "ec2.amazonaws.com"]
}

# ---------------------------------------------------------------------------------------
# Media bucket
# ---------------------------------------------------------------------------------------

resource "aws_s3_bucket" "media" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; versioning protects against deletes and overwrites here.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications; SafeChat verifies uploads itself (HeadObject on complete).
  #checkov:skip=CKV_AWS_18:Access logging is optional by design (issue #4): set var.access_log_bucket to enable aws_s3_bucket_logging.media.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default by design; SSE-KMS is enabled by setting var.kms_key_arn.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket = aws_s3_bucket.media.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # Fewer KMS requests (and lower cost) with SSE-KMS; ignored with SSE-S3.
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_cors_configuration" "media" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.media.id

  cors_rule {
    # GET/HEAD for signed download URLs, PUT for presigned direct uploads.
    allowed_methods = ["GET", "HEAD", "PUT"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["Content-Type", "Content-Length", "Content-MD5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  # Rules for noncurrent versions need versioning to exist first.
  depends_on = [aws_s3_bucket_versioning.media]

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Always present so the configuration has one shape; Disabled while transition_to_ia_days is null.
  rule {
    id     = "transition-to-standard-ia"
    status = var.transition_to_ia_days == null ? "Disabled" : "Enabled"

    filter {
      prefix = var.object_prefix
    }

    transition {
      days          = coalesce(var.transition_to_ia_days, 30)
      storage_class = "STANDARD_IA"
    }
  }
}

resource "aws_s3_bucket_logging" "media" {
  count  = var.access_log_bucket == null ? 0 : 1
  bucket = aws_s3_bucket.media.id

  target_bucket = var.access_log_bucket
  target_prefix = var.access_log_prefix
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.media.arn,
      "${aws_s3_bucket.media.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.media.arn,
      "${aws_s3_bucket.media.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "media" {
  bucket = aws_s3_bucket.media.id
  policy = data.aws_iam_policy_document.bucket.json
  # A bucket policy is refused while the public access block is being created.
  depends_on = [aws_s3_bucket_public_access_block.media]
}

# ---------------------------------------------------------------------------------------
# Service identity: a role (preferred) and, only on explicit opt-in, an IAM user with keys
# ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "media_access" {
  statement {
    sid = "MediaObjects"
    # Get covers HeadObject (size/type check on complete); no ACL, tagging or version actions.
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${aws_s3_bucket.media.arn}/${var.object_prefix}*"]
  }

  statement {
    sid       = "ListMediaPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.media.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.object_prefix, "${var.object_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = local.use_kms ? [var.kms_key_arn] : []
    content {
      sid       = "MediaKmsViaS3"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.aws_region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "media_access" {
  name        = "${local.name}-media-access"
  description = "SafeChat: read/write/delete objects under s3://${local.bucket_name}/${var.object_prefix}"
  policy      = data.aws_iam_policy_document.media_access.json
}

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = contains(var.trusted_services, "ec2.amazonaws.com") ? ["ec2.amazonaws.com"] : []
    content {
      sid     = "Ec2AssumeRole"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "Service"
        identifiers = [statement.value]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.source_account_services) > 0 ? [local.source_account_services] : []
    content {
      sid     = "ServiceAssumeRole"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "Service"
        identifiers = statement.value
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = var.kubernetes_oidc == null ? [] : [var.kubernetes_oidc]
    content {
      sid     = "KubernetesServiceAccount"
      actions = ["sts:AssumeRoleWithWebIdentity"]

      principals {
        type        = "Federated"
        identifiers = [statement.value.provider_arn]
      }

      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:sub"
        values   = ["system:serviceaccount:${statement.value.namespace}:${statement.value.service_account}"]
      }

      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "service" {
  name                 = "${local.name}-service"
  description          = "SafeChat service: media bucket access"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = length(var.trusted_services) > 0 || var.kubernetes_oidc != null
      error_message = "Nothing could assume the role: set trusted_services and/or kubernetes_oidc."
    }
  }
}

resource "aws_iam_role_policy_attachment" "service_media" {
  role       = aws_iam_role.service.name
  policy_arn = aws_iam_policy.media_access.arn
}

resource "aws_iam_instance_profile" "service" {
  count = contains(var.trusted_services, "ec2.amazonaws.com") ? 1 : 0
  name  = "${local.name}-service"
  role  = aws_iam_role.service.name
}

# Long-lived keys exist only when create_access_key = true. The policy goes through a group
# so that no policy is attached to a user directly.
resource "aws_iam_group" "media_access" {
  count = var.create_access_key ? 1 : 0
  name  = "${local.name}-media-access"
}

resource "aws_iam_group_policy_attachment" "media_access" {
  count      = var.create_access_key ? 1 : 0
  group      = aws_iam_group.media_access[0].name
  policy_arn = aws_iam_policy.media_access.arn
}

resource "aws_iam_user" "service" {
  #checkov:skip=CKV_AWS_273:Machine user for hosts that cannot assume a role, created only on explicit opt-in (var.create_access_key); people use SSO, not this user.
  count = var.create_access_key ? 1 : 0
  name  = "${local.name}-service"
}

resource "aws_iam_user_group_membership" "service" {
  count  = var.create_access_key ? 1 : 0
  user   = aws_iam_user.service[0].name
  groups = [aws_iam_group.media_access[0].name]
}

resource "aws_iam_access_key" "service" {
  count = var.create_access_key ? 1 : 0
  user  = aws_iam_user.service[0].name
}
