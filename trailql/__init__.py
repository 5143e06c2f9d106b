"""TrailQL: who did what to your CloudWatch Logs, from where, and when."""
