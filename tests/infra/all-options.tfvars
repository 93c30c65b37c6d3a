# Every opt-in of terraform/ switched on: checkov must pass with these too (test_terraform.py).
kms_key_arn           = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000"
cors_allowed_origins  = ["https://app.example.com", "http://localhost:5173"]
transition_to_ia_days = 90
access_log_bucket     = "acme-s3-access-logs"
trusted_services      = ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]
kubernetes_oidc = {
  provider_arn    = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
  namespace       = "safechat"
  service_account = "safechat"
}
create_access_key = true
